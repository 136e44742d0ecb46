import Layers

/// A trained linear readout, y = x Wᵀ + b, on the last axis.
final class Readout: Module {
    let weight: Parameter, bias: Parameter

    init(_ inputSize: Int, _ outputSize: Int) {
        let bound = 1 / Double(inputSize).squareRoot()
        weight = Parameter(Tensor.randomUniform([outputSize, inputSize], low: -bound, high: bound))
        bias = Parameter(Tensor(zeros: [outputSize]))
    }

    override func forward(_ x: Tensor) -> Tensor {
        let flat = x.reshaped(to: [-1, x.shape.last!])
        let y = matmul(flat, weight.value, transposeB: true) + bias.value
        return y.reshaped(to: Array(x.shape.dropLast()) + [weight.value.shape[0]])
    }
}

/// Mean cross-entropy of logits [N, C] against class indices, over the rows where `valid`.
func maskedCrossEntropy(_ logits: Tensor, _ targets: [Int], valid: [Bool]? = nil) -> Tensor {
    let valid = valid ?? targets.map { _ in true }
    let classes = logits.shape[1]
    let oneHot = Tensor.oneHot(IndexTensor(targets.map { max($0, 0) }), classCount: classes, dtype: logits.dtype)
    let weights = Tensor(valid.map { $0 ? 1 : 0 }, shape: [targets.count, 1], dtype: logits.dtype)
    return -(logits.logSoftmax(along: 1) * oneHot * weights).sum() / Double(max(valid.filter { $0 }.count, 1))
}

/// The index of the largest entry of each row of a [N, C] tensor.
func argmaxRows(_ logits: Tensor) -> [Int] {
    let (rows, columns) = (logits.shape[0], logits.shape[1])
    let values = logits.scalars
    return (0..<rows).map { row in
        let slice = values[(row * columns)..<((row + 1) * columns)]
        return slice.firstIndex(of: slice.max()!)! - row * columns
    }
}
