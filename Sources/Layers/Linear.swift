/// A fully connected layer, PyTorch's `nn.Linear`: y = x Wᵀ + b over the last axis of any
/// input ([batch, in], [batch, time, in], …).
///
/// | parameter | shape | initialization (PyTorch's default) |
/// |---|---|---|
/// | `weight` | out × in | U(−1/√in, 1/√in) |
/// | `bias` | out | U(−1/√in, 1/√in) |
open class Linear: Module, UnaryLayer {
    public let weight: Parameter
    public let bias: Parameter?

    /// A layer whose weight and bias are drawn from `generator`.
    public init(_ inputSize: Int, _ outputSize: Int, bias: Bool = true, using generator: inout RandomGenerator) {
        (weight, self.bias) = Linear.initialParameters(inputSize, outputSize, bias: bias, using: &generator)
        super.init()
    }

    /// A layer whose weight and bias are drawn from the calling thread's generator (see
    /// `RandomGenerator.seedThread(_:)`).
    public init(_ inputSize: Int, _ outputSize: Int, bias: Bool = true) {
        (weight, self.bias) = RandomGenerator.withThreadGenerator {
            Linear.initialParameters(inputSize, outputSize, bias: bias, using: &$0)
        }
        super.init()
    }

    private static func initialParameters(_ inputSize: Int, _ outputSize: Int, bias: Bool,
                                          using generator: inout RandomGenerator) -> (Parameter, Parameter?) {
        let bound = 1 / Double(inputSize).squareRoot()
        let weight = Parameter(Tensor.randomUniform([outputSize, inputSize], low: -bound, high: bound, using: &generator))
        return (weight, bias ? Parameter(Tensor.randomUniform([outputSize], low: -bound, high: bound, using: &generator)) : nil)
    }

    /// y = x Wᵀ + b over the last axis.
    open func forward(_ input: Tensor) -> Tensor {
        guard input.rank >= 1, input.shape.last == weight.value.shape[1] else {
            opFailure("Linear", "input of shape \(input.shape) does not end in \(weight.value.shape[1]) features")
        }
        let rows = input.rank == 2 ? input : input.reshaped(to: [-1, weight.value.shape[1]])
        let output = affine(rows, weight, bias)
        return input.rank == 2 ? output : output.reshaped(to: Array(input.shape.dropLast()) + [weight.value.shape[0]])
    }
}
