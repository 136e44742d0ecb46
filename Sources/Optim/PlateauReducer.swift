import AutoGrad

/// Reduces the learning rate when a metric stops improving (torch's `ReduceLROnPlateau`): after
/// more than `patience` steps without improvement, every group's rate is multiplied by
/// `factor` (not below `minimumRate`), then `cooldown` steps pass before counting again.
/// Unlike a ``LearningRateSchedule`` it depends on the metric, so it keeps state; save it with
/// ``stateDictionary()`` next to the optimizer's to resume exactly.
///
///     let reducer = try PlateauReducer(factor: 0.5, patience: 2)
///     for epoch in 0..<epochs {
///         train(optimizer)
///         try reducer.step(metric: validationLoss(), optimizer: optimizer)
///     }
public final class PlateauReducer {
    /// Whether the metric improves by going down (a loss) or up (an accuracy).
    public enum Mode: String, Sendable { case minimize, maximize }
    /// Whether `threshold` is a fraction of the best value or an absolute amount.
    public enum ThresholdMode: String, Sendable { case relative, absolute }

    public let mode: Mode
    /// The factor a rate is multiplied by on a plateau (< 1).
    public let factor: Double
    /// Steps without improvement tolerated before reducing.
    public let patience: Int
    /// How much better than the best a value must be to count as an improvement.
    public let threshold: Double
    public let thresholdMode: ThresholdMode
    /// Steps after a reduction during which bad steps are not counted.
    public let cooldown: Int
    /// The lowest rate a reduction goes to.
    public let minimumRate: Double
    /// Reductions smaller than this are skipped.
    public let epsilon: Double

    /// The best metric so far (torch's `best`).
    public private(set) var best: Double
    /// Consecutive steps without improvement (torch's `num_bad_epochs`).
    public private(set) var badSteps = 0
    /// Steps of cooldown left (torch's `cooldown_counter`).
    public private(set) var cooldownRemaining = 0
    /// Steps recorded so far (torch's `last_epoch`).
    public private(set) var stepCount = 0

    /// A reducer with torch's defaults; throws if `factor` is not in [0, 1) (torch: below 1),
    /// or a count, the threshold, the minimum rate or ε is negative.
    public init(mode: Mode = .minimize, factor: Double = 0.1, patience: Int = 10, threshold: Double = 1e-4,
                thresholdMode: ThresholdMode = .relative, cooldown: Int = 0, minimumRate: Double = 0,
                epsilon: Double = 1e-8) throws(OptimizerOptionError) {
        try require((0..<1).contains(factor), "PlateauReducer", "factor", factor, "in [0, 1)")
        try require(patience >= 0, "PlateauReducer", "patience", patience, "≥ 0")
        try require(cooldown >= 0, "PlateauReducer", "cooldown", cooldown, "≥ 0")
        try requireNonNegative(threshold, "PlateauReducer", "threshold")
        try requireNonNegative(minimumRate, "PlateauReducer", "minimumRate")
        try requireNonNegative(epsilon, "PlateauReducer", "epsilon")
        (self.mode, self.factor, self.patience, self.threshold) = (mode, factor, patience, threshold)
        (self.thresholdMode, self.cooldown, self.minimumRate, self.epsilon) = (thresholdMode, cooldown, minimumRate, epsilon)
        best = mode == .minimize ? .infinity : -.infinity
    }

    /// Records `metric` and, on a plateau, reduces `optimizer`'s learning rates (throwing
    /// only if the optimizer rejects them, which valid options and a reducer's rates never do).
    public func step(metric: Double, optimizer: any OptimizerProtocol) throws(OptimizerOptionError) {
        stepCount += 1
        if isImprovement(metric) {
            best = metric
            badSteps = 0
        } else {
            badSteps += 1
        }
        if cooldownRemaining > 0 {
            cooldownRemaining -= 1
            badSteps = 0
        }
        guard badSteps > patience else { return }
        try optimizer.setLearningRates(optimizer.learningRates.map { old in
            let new = max(old * factor, minimumRate)
            return old - new > epsilon ? new : old
        })
        cooldownRemaining = cooldown
        badSteps = 0
    }

    private func isImprovement(_ value: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.minimize, .relative): value < best * (1 - threshold)
        case (.minimize, .absolute): value < best - threshold
        case (.maximize, .relative): value > best * (threshold + 1)
        case (.maximize, .absolute): value > best + threshold
        }
    }

    /// The counters, as scalar tensors keyed by torch's names, for a checkpoint.
    public func stateDictionary() -> [String: Tensor] {
        ["best": Tensor(best, dtype: .float64), "num_bad_epochs": Tensor(Double(badSteps), dtype: .float64),
         "cooldown_counter": Tensor(Double(cooldownRemaining), dtype: .float64), "last_epoch": Tensor(Double(stepCount), dtype: .float64)]
    }

    /// Restores the counters saved by ``stateDictionary()``; throws, changing nothing, if an
    /// entry is missing or not a whole number where one is needed.
    public func load(state: [String: Tensor]) throws(OptimizerStateError) {
        func value(_ key: String) throws(OptimizerStateError) -> Double {
            guard let tensor = state[key] else { throw .missingEntry(key: key) }
            guard tensor.count == 1 else { throw .shapeMismatch(key: key, expected: [], found: tensor.shape) }
            return tensor.scalars[0]
        }
        var counters: [Int] = []
        for key in ["num_bad_epochs", "cooldown_counter", "last_epoch"] {
            guard let count = Int(exactly: try value(key)), count >= 0 else { throw .invalidStep(key: key) }
            counters.append(count)
        }
        best = try value("best")
        (badSteps, cooldownRemaining, stepCount) = (counters[0], counters[1], counters[2])
    }
}
