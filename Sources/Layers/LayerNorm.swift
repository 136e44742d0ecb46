/// Layer normalization, PyTorch's `nn.LayerNorm`: over the trailing `shape.count` axes,
///
///     y = (x − mean) / √(var + ε) ⊙ weight + bias          var biased (divides by n)
///
/// | parameter | shape | initialization |
/// |---|---|---|
/// | `weight` | shape | ones |
/// | `bias` | shape | zeros |
open class LayerNorm: Module, UnaryLayer {
    public let normalizedShape: [Int]
    public let epsilon: Double
    public let weight: Parameter?
    public let bias: Parameter?

    public init(_ normalizedShape: [Int], epsilon: Double = 1e-5, elementwiseAffine: Bool = true) {
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        weight = elementwiseAffine ? Parameter(Tensor(ones: normalizedShape)) : nil
        bias = elementwiseAffine ? Parameter(Tensor(zeros: normalizedShape)) : nil
        super.init()
    }

    /// The normalized input, scaled and shifted.
    open func forward(_ input: Tensor) -> Tensor {
        guard input.shape.suffix(normalizedShape.count).elementsEqual(normalizedShape) else {
            opFailure("LayerNorm", "input of shape \(input.shape) does not end in \(normalizedShape)")
        }
        let axes = Array((input.rank - normalizedShape.count)..<input.rank)
        let centered = input - input.mean(along: axes, keepDims: true)
        let variance = (centered * centered).mean(along: axes, keepDims: true)
        let normalized = centered / (variance + epsilon).sqrt()
        guard let weight, let bias else { return normalized }
        return normalized * weight.value + bias.value
    }
}
