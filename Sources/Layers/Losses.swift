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
/// For sequences see ``sequenceCrossEntropy(logits:targets:mask:)``.
public func crossEntropy(logits: Tensor, targets: IndexTensor, ignoreIndex: Int? = nil,
                         reduction: Reduction = .mean) -> Tensor {
    guard logits.rank == 2 else { opFailure("crossEntropy", "logits of shape \(logits.shape) are not [N, C]") }
    return nllLoss(logProbabilities: logits.logSoftmax(along: 1), targets: targets, ignoreIndex: ignoreIndex, reduction: reduction)
}

/// Negative log-likelihood of log-probabilities [N, C] at class indices [N], PyTorch's
/// `nll_loss` (same `ignoreIndex` and mean semantics as ``crossEntropy(logits:targets:ignoreIndex:reduction:)``).
public func nllLoss(logProbabilities: Tensor, targets: IndexTensor, ignoreIndex: Int? = nil,
                    reduction: Reduction = .mean) -> Tensor {
    guard logProbabilities.rank == 2, targets.values.count == logProbabilities.shape[0] else {
        opFailure("nllLoss", "log-probabilities \(logProbabilities.shape) and targets \(targets.shape) do not pair up as [N, C] and [N]")
    }
    let classes = logProbabilities.shape[1]
    if let bad = targets.values.first(where: { $0 != ignoreIndex && !(0..<classes).contains($0) }) {
        opFailure("nllLoss", "target \(bad) is out of range for \(classes) classes")
    }
    // Ops all the way (the targets' one-hot rows, zero where ignored, and their count), so a
    // traced training step takes the targets as an input.
    let picked = Tensor.oneHot(targets, classCount: classes, dtype: logProbabilities.dtype, ignoring: ignoreIndex)
        .reshaped(to: logProbabilities.shape)  // targets of any shape with N elements
    let losses = -(logProbabilities * picked).sum(along: [1])
    switch reduction {
    case .none: return losses
    case .sum: return losses.sum()
    case .mean: return losses.sum() / maximum(picked.sum(), Tensor(1, dtype: picked.dtype))
    }
}

/// Mean squared error, PyTorch's `mse_loss`.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    guard prediction.shape == target.shape else {
        opFailure("mseLoss", "prediction \(prediction.shape) and target \(target.shape) differ")
    }
    let difference = prediction - target
    return reduce(difference * difference, reduction, count: prediction.count)
}

/// Binary cross-entropy of logits against targets in [0, 1], PyTorch's
/// `binary_cross_entropy_with_logits`, as (1 − t)·x + log(1 + e^−x): stable (softplus never
/// overflows) and with the gradient σ(x) − t everywhere, including x = 0, where a form built
/// from relu and abs would give −t.
public func binaryCrossEntropyWithLogits(logits: Tensor, targets: Tensor, reduction: Reduction = .mean) -> Tensor {
    guard logits.shape == targets.shape else {
        opFailure("binaryCrossEntropyWithLogits", "logits \(logits.shape) and targets \(targets.shape) differ")
    }
    return reduce((1 - targets) * logits + (-logits).softplus(), reduction, count: logits.count)
}

/// Cross-entropy over a padded batch of sequences: logits [B, T, C], targets [B, T]; the mean
/// runs over the positions `mask` marks valid (e.g. `Mask(lengths:maxLength:)`).
public func sequenceCrossEntropy(logits: Tensor, targets: IndexTensor, mask: Mask) -> Tensor {
    guard logits.rank == 3, targets.shape == Array(logits.shape.prefix(2)), mask.shape == targets.shape else {
        opFailure("sequenceCrossEntropy", "logits \(logits.shape), targets \(targets.shape) and mask \(mask.shape) do not pair up as [B, T, C], [B, T], [B, T]")
    }
    let ignored = -1
    let kept = IndexTensor(zip(targets.values, mask.values).map { $1 ? $0 : ignored })
    return crossEntropy(logits: logits.reshaped(to: [-1, logits.shape[2]]), targets: kept, ignoreIndex: ignored)
}

extension Mask {
    /// A batch-first [lengths.count, maxLength] mask, true where t < length.
    public init(lengths: [Int], maxLength: Int) {
        self.init(lengths.flatMap { length in (0..<maxLength).map { $0 < length } }, shape: [lengths.count, maxLength])
    }
}

private func reduce(_ losses: Tensor, _ reduction: Reduction, count: Int) -> Tensor {
    switch reduction {
    case .none: return losses
    case .sum: return losses.sum()
    case .mean: return losses.sum() / Double(max(count, 1))
    }
}
