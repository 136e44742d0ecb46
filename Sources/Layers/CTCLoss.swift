import AutoGrad

/// Connectionist temporal classification loss, PyTorch's `torch.nn.functional.ctc_loss`:
/// −log p(target | input), summed over every alignment of the target to the input frames.
///
/// - Parameters:
///   - logProbabilities: [time, batch, classes], log-probabilities over the classes at each
///     frame (`logSoftmax(along: 2)` of a network's outputs).
///   - targets: [batch, maxTargetLength], padded; row b's first `targetLengths[b]` entries
///     are its labels, none of which may be `blank`.
///   - inputLengths: the valid frames of each batch entry (each ≤ time).
///   - targetLengths: the labels of each batch entry (0 is allowed: only blanks).
///   - blank: the class that means "no label at this frame".
///   - reduction: `.none` gives the [batch] losses; `.sum` their sum; `.mean`, as in PyTorch,
///     divides each loss by its target length (at least 1) and then averages over the batch.
///   - zeroInfinity: an impossible alignment (an input too short for its target) gives +∞
///     and a NaN gradient, as in PyTorch; with `true` it gives 0 and a zero gradient.
///
/// Computed in log space (see the recursions on the primitive below), so long inputs do not
/// underflow. The gradient flows to `logProbabilities` only.
public func ctcLoss(logProbabilities: Tensor, targets: IndexTensor, inputLengths: [Int], targetLengths: [Int],
                    blank: Int = 0, reduction: Reduction = .mean, zeroInfinity: Bool = false) -> Tensor {
    guard logProbabilities.rank == 3 else {
        opFailure("ctcLoss", "log-probabilities of shape \(logProbabilities.shape) are not [time, batch, classes]")
    }
    let (time, batch, classes) = (logProbabilities.shape[0], logProbabilities.shape[1], logProbabilities.shape[2])
    guard targets.rank == 2, targets.shape[0] == batch, inputLengths.count == batch, targetLengths.count == batch else {
        opFailure("ctcLoss", "targets \(targets.shape), \(inputLengths.count) input lengths and \(targetLengths.count) target lengths do not fit a batch of \(batch) (log-probabilities \(logProbabilities.shape))")
    }
    guard (0..<classes).contains(blank) else { opFailure("ctcLoss", "blank \(blank) is not one of \(classes) classes") }
    if let bad = inputLengths.first(where: { !(0...time).contains($0) }) {
        opFailure("ctcLoss", "input length \(bad) is out of range for \(time) frames")
    }
    if let bad = targetLengths.first(where: { !(0...targets.shape[1]).contains($0) }) {
        opFailure("ctcLoss", "target length \(bad) is out of range for targets of shape \(targets.shape)")
    }
    let labels = (0..<batch).map { b in Array(targets.values[(b * targets.shape[1])..<(b * targets.shape[1] + targetLengths[b])]) }
    for (b, row) in labels.enumerated() {
        if let bad = row.first(where: { !(0..<classes).contains($0) || $0 == blank }) {
            opFailure("ctcLoss", "target \(bad) of batch entry \(b) is the blank (\(blank)) or not one of \(classes) classes")
        }
    }
    let losses = apply(CTCLossPrimitive(labels: labels, inputLengths: inputLengths, blank: blank,
                                        zeroInfinity: zeroInfinity), [logProbabilities])
    switch reduction {
    case .none: return losses
    case .sum: return losses.sum()
    case .mean:
        let divisors = Tensor(targetLengths.map { Double(Swift.max($0, 1)) }, dtype: losses.dtype)
        return (losses / divisors).mean()
    }
}

/// The per-sequence CTC loss as one primitive, from log-probabilities [T, B, C] to losses [B].
///
/// With l′ the target with a blank before, between and after its labels (length S = 2L + 1)
/// and y_t(c) the log-probability of class c at frame t, the forward variable
///
///     α_0(0) = y_0(blank),  α_0(1) = y_0(l′_1),  α_0(s) = −∞ for s > 1
///     α_t(s) = y_t(l′_s) + logΣexp(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2))
///
/// where the s − 2 term is dropped when l′_s is blank or equals l′_{s−2} (a repeated label
/// needs a blank between its copies). The loss is −logΣexp(α_{T−1}(S−1), α_{T−1}(S−2)); with
/// T = 0 it is 0 for an empty target and +∞ otherwise. The backward variable is the mirror
///
///     β_{T−1}(S−1) = y_{T−1}(blank),  β_{T−1}(S−2) = y_{T−1}(l′_{S−2})
///     β_t(s) = y_t(l′_s) + logΣexp(β_{t+1}(s), β_{t+1}(s+1), β_{t+1}(s+2))
///
/// (the s + 2 term dropped likewise), and since both include y_t(l′_s), the gradient is
///
///     ∂loss/∂y_t(c) = −exp(logΣexp_{s : l′_s = c}(α_t(s) + β_t(s)) + loss − y_t(c))
///
/// for t below the input length, 0 beyond: minus the posterior occupancy of class c at
/// frame t. (PyTorch's kernel adds exp(y_t(c)) to this, which only cancels when the input
/// comes from a log-softmax; through `logSoftmax` the two agree exactly, and this one is the
/// true derivative, which the gradient checker can verify on any input.) The pullback
/// recomputes α rather than keeping it from the forward (the primitive API keeps only
/// inputs and output), and it is not itself differentiable in the log-probabilities.
struct CTCLossPrimitive: Primitive {
    let labels: [[Int]]
    let inputLengths: [Int]
    let blank: Int
    let zeroInfinity: Bool
    var name: String { "ctc_loss" }
    var attributes: [(name: String, value: Attribute)] {
        [("blank", .int(blank)), ("targets", .ints(labels.flatMap { $0 })), ("targetLengths", .ints(labels.map(\.count))),
         ("inputLengths", .ints(inputLengths))] + (zeroInfinity ? [("zeroInfinity", .bool(true))] : [])
    }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes[0].count == 3, shapes[0][1] == labels.count else {
            throw ShapeError(name, "log-probabilities \(shapes[0]) are not [time, \(labels.count), classes]")
        }
        return [shapes[0][1]]
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let lattice = CTCLattice(inputs[0])
        let losses = labels.indices.map { b -> Double in
            let loss = lattice.negativeLogLikelihood(b, extended(b), length: inputLengths[b])
            return loss.isInfinite && zeroInfinity ? 0 : loss
        }
        return Tensor(losses, dtype: inputs[0].dtype)
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let lattice = CTCLattice(inputs[0])
        var result = [Double](repeating: 0, count: lattice.time * lattice.batch * lattice.classes)
        for b in labels.indices {
            let sequence = extended(b), length = inputLengths[b]
            let loss = lattice.negativeLogLikelihood(b, sequence, length: length)
            if loss.isInfinite && zeroInfinity { continue }
            lattice.addOccupancyGradient(b, sequence, length: length, loss: loss, into: &result)
        }
        let occupancy = Tensor(result, shape: inputs[0].shape, dtype: inputs[0].dtype)
        return [occupancy * gradient.reshaped(to: [1, lattice.batch, 1])]
    }

    /// l′: the labels with a blank before, between and after them.
    private func extended(_ b: Int) -> [Int] {
        labels[b].reduce(into: [blank]) { $0 += [$1, blank] }
    }
}

/// The log-probabilities [T, B, C] read once as Doubles, and the α–β recursions over them.
private struct CTCLattice {
    let values: [Double]
    let time: Int, batch: Int, classes: Int

    init(_ logProbabilities: Tensor) {
        values = logProbabilities.scalars
        (time, batch, classes) = (logProbabilities.shape[0], logProbabilities.shape[1], logProbabilities.shape[2])
    }

    func y(_ t: Int, _ b: Int, _ c: Int) -> Double { values[(t * batch + b) * classes + c] }

    /// α_t(s) for t < length, row-major [length, S].
    func alpha(_ b: Int, _ sequence: [Int], length: Int) -> [Double] {
        let width = sequence.count
        var alpha = [Double](repeating: -.infinity, count: length * width)
        guard length > 0 else { return alpha }
        alpha[0] = y(0, b, sequence[0])
        if width > 1 { alpha[1] = y(0, b, sequence[1]) }
        for t in 1..<length {
            for s in 0..<width {
                let previous = (t - 1) * width + s
                var sum = alpha[previous]
                if s >= 1 { sum = logAddExp(sum, alpha[previous - 1]) }
                if s >= 2 && sequence[s] != sequence[s - 2] { sum = logAddExp(sum, alpha[previous - 2]) }
                alpha[t * width + s] = sum + y(t, b, sequence[s])
            }
        }
        return alpha
    }

    /// β_t(s) for t < length, row-major [length, S].
    func beta(_ b: Int, _ sequence: [Int], length: Int) -> [Double] {
        let width = sequence.count
        var beta = [Double](repeating: -.infinity, count: length * width)
        guard length > 0 else { return beta }
        let last = (length - 1) * width
        beta[last + width - 1] = y(length - 1, b, sequence[width - 1])
        if width > 1 { beta[last + width - 2] = y(length - 1, b, sequence[width - 2]) }
        for t in stride(from: length - 2, through: 0, by: -1) {
            for s in 0..<width {
                let next = (t + 1) * width + s
                var sum = beta[next]
                if s + 1 < width { sum = logAddExp(sum, beta[next + 1]) }
                if s + 2 < width && sequence[s] != sequence[s + 2] { sum = logAddExp(sum, beta[next + 2]) }
                beta[t * width + s] = sum + y(t, b, sequence[s])
            }
        }
        return beta
    }

    /// −log p(labels | input) for batch entry `b` (the blank-only sequence when S = 1).
    func negativeLogLikelihood(_ b: Int, _ sequence: [Int], length: Int) -> Double {
        guard length > 0 else { return sequence.count == 1 ? 0 : .infinity }
        let alpha = alpha(b, sequence, length: length), end = length * sequence.count
        return -(sequence.count > 1 ? logAddExp(alpha[end - 1], alpha[end - 2]) : alpha[end - 1])
    }

    /// Writes −exp(logΣexp(α + β over s with l′_s = c) + loss − y_t(c)) into `gradient`
    /// [T, B, C] for t < length.
    func addOccupancyGradient(_ b: Int, _ sequence: [Int], length: Int, loss: Double, into gradient: inout [Double]) {
        let alpha = alpha(b, sequence, length: length), beta = beta(b, sequence, length: length)
        let width = sequence.count
        var combined = [Double](repeating: -.infinity, count: classes)
        for t in 0..<length {
            for c in 0..<classes { combined[c] = -.infinity }
            for s in 0..<width {
                combined[sequence[s]] = logAddExp(combined[sequence[s]], alpha[t * width + s] + beta[t * width + s])
            }
            for c in 0..<classes {
                gradient[(t * batch + b) * classes + c] = -Double.exp(combined[c] + loss - y(t, b, c))
            }
        }
    }
}

/// log(eᵃ + eᵇ) without overflow; −∞ is the identity.
@inline(__always)
func logAddExp(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    let larger = Swift.max(a, b)
    return larger + Double.log1p(Double.exp(-Swift.abs(a - b)))
}
