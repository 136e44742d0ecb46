/// How a loss combines its per-element values.
public enum Reduction: Sendable {
    /// The mean over the counted elements.
    case mean
    /// The sum.
    case sum
    /// The per-element values.
    case none
}

/// Cross-entropy of logits [N, C] against class indices [N], PyTorch's `cross_entropy`:
/// −log softmax(logits)[target], computed stably. Targets equal to `ignoreIndex` contribute
/// 0 and are left out of the mean (the mean divides by the number of other targets).
/// For sequences, reshape logits [B, T, C] to [B·T, C] and targets to [B·T].
public func crossEntropy(logits: Tensor, targets: IndexTensor, ignoreIndex: Int? = nil,
                         reduction: Reduction = .mean) -> Tensor {
    guard logits.rank == 2, targets.values.count == logits.shape[0] else {
        opFailure("crossEntropy", "logits \(logits.shape) and targets \(targets.shape) do not pair up as [N, C] and [N]")
    }
    let classes = logits.shape[1]
    let kept = targets.values.map { $0 != ignoreIndex }
    if let bad = zip(targets.values, kept).first(where: { target, isKept in isKept && !(0..<classes).contains(target) }) {
        opFailure("crossEntropy", "target \(bad.0) is out of range for \(classes) classes")
    }
    let picked = Tensor.oneHot(IndexTensor(zip(targets.values, kept).map { $1 ? $0 : 0 }), classCount: classes, dtype: logits.dtype)
    let weights = Tensor(kept.map { $0 ? 1 : 0 }, shape: [kept.count], dtype: logits.dtype)
    let losses = -(logits.logSoftmax(along: 1) * picked).sum(along: [1]) * weights
    switch reduction {
    case .none: return losses
    case .sum: return losses.sum()
    case .mean: return losses.sum() / Double(max(kept.filter { $0 }.count, 1))
    }
}
