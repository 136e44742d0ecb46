import Foundation

/// A learning-rate schedule: the learning rate at each step (counted from 0), given the
/// rate a parameter group started with. Schedules are values, built from torch's
/// `lr_scheduler` shapes and composed with ``followed(by:atStep:)`` (torch's `SequentialLR`)
/// and ``chained(with:)`` (torch's `ChainedScheduler`):
///
///     let schedule = try LearningRateSchedule.linear(from: 0.1, over: 5)
///         .followed(by: .cosineAnnealing(period: 95), atStep: 5)
///     for step in 0..<100 {
///         try optimizer.apply(schedule, atStep: step)
///         ...  // backward
///         optimizer.step()
///     }
///
/// The closed forms below equal torch's recursive updates up to rounding. The constructors
/// throw an ``OptimizerOptionError`` for a parameter out of range.
public struct LearningRateSchedule: Sendable {
    private let rate: @Sendable (_ step: Int, _ initial: Double) -> Double

    /// A schedule computing the rate with `rate(step, initialRate)` (torch's `LambdaLR` when
    /// it returns `initialRate · factor(step)`).
    public init(_ rate: @escaping @Sendable (_ step: Int, _ initialRate: Double) -> Double) {
        self.rate = rate
    }

    /// The learning rate at `step` of a group that started at `initialRate`.
    public func learningRate(atStep step: Int, initialRate: Double) -> Double {
        rate(step, initialRate)
    }

    /// The initial rate at every step.
    public static let constant = LearningRateSchedule { _, initial in initial }

    /// The rate multiplied by `factor(step)`.
    public static func multiplicative(_ factor: @escaping @Sendable (Int) -> Double) -> LearningRateSchedule {
        LearningRateSchedule { step, initial in initial * factor(step) }
    }

    /// The rate multiplied by `gamma` every `size` steps (torch's `StepLR`).
    public static func step(size: Int, gamma: Double = 0.1) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require(size > 0, "LearningRateSchedule.step", "size", size, "positive")
        try requireNonNegative(gamma, "LearningRateSchedule.step", "gamma")
        return multiplicative { step in pow(gamma, Double(step / size)) }
    }

    /// The rate multiplied by `gamma` every step (torch's `ExponentialLR`).
    public static func exponential(gamma: Double) throws(OptimizerOptionError) -> LearningRateSchedule {
        try requireNonNegative(gamma, "LearningRateSchedule.exponential", "gamma")
        return multiplicative { step in pow(gamma, Double(step)) }
    }

    /// Cosine annealing from the initial rate down to `minimum` over `period` steps, then back
    /// up over the next `period` (torch's `CosineAnnealingLR`, `T_max` and `eta_min`):
    /// minimum + (initial − minimum)·(1 + cos(π·step/period))/2.
    public static func cosineAnnealing(period: Int, minimum: Double = 0) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require(period > 0, "LearningRateSchedule.cosineAnnealing", "period", period, "positive")
        try requireNonNegative(minimum, "LearningRateSchedule.cosineAnnealing", "minimum")
        return LearningRateSchedule { step, initial in
            minimum + (initial - minimum) * (1 + cos(Double.pi * Double(step) / Double(period))) / 2
        }
    }

    /// The rate multiplied by a factor going linearly from `startFactor` to `endFactor` over
    /// `steps` steps, then constant (torch's `LinearLR`; a linear warm-up with the defaults).
    public static func linear(from startFactor: Double = 1.0 / 3, to endFactor: Double = 1,
                              over steps: Int = 5) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require(steps > 0, "LearningRateSchedule.linear", "steps", steps, "positive")
        // torch: 0 < start_factor ≤ 1 and 0 ≤ end_factor ≤ 1.
        try require(startFactor > 0 && startFactor <= 1, "LearningRateSchedule.linear", "startFactor", startFactor, "in (0, 1]")
        try require((0...1).contains(endFactor), "LearningRateSchedule.linear", "endFactor", endFactor, "in [0, 1]")
        return multiplicative { step in
            startFactor + (endFactor - startFactor) * Double(min(step, steps)) / Double(steps)
        }
    }

    /// The rate multiplied by `gamma` at each of `milestones` (torch's `MultiStepLR`): by
    /// gamma^k once k milestones are ≤ step.
    public static func multiStep(milestones: [Int], gamma: Double = 0.1) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require(milestones.allSatisfy { $0 >= 0 }, "LearningRateSchedule.multiStep", "milestones", milestones, "all ≥ 0")
        try requireNonNegative(gamma, "LearningRateSchedule.multiStep", "gamma")
        return multiplicative { step in pow(gamma, Double(milestones.filter { $0 <= step }.count)) }
    }

    /// The rate multiplied by `factor` for the first `steps` steps, then the initial rate
    /// (torch's `ConstantLR`).
    public static func constantFactor(_ factor: Double = 1.0 / 3, over steps: Int = 5) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require((0...1).contains(factor), "LearningRateSchedule.constantFactor", "factor", factor, "in [0, 1]")
        try require(steps >= 0, "LearningRateSchedule.constantFactor", "steps", steps, "≥ 0")
        return multiplicative { step in step < steps ? factor : 1 }
    }

    /// The rate decayed polynomially to zero over `steps` steps (torch's `PolynomialLR`):
    /// initial · (1 − min(step, steps)/steps)^power.
    public static func polynomial(over steps: Int = 5, power: Double = 1) throws(OptimizerOptionError) -> LearningRateSchedule {
        try require(steps > 0, "LearningRateSchedule.polynomial", "steps", steps, "positive")
        try requireNonNegative(power, "LearningRateSchedule.polynomial", "power")
        return multiplicative { step in pow(1 - Double(min(step, steps)) / Double(steps), power) }
    }

    /// Cosine annealing restarted every period, the periods growing by `periodMultiplier`
    /// (torch's `CosineAnnealingWarmRestarts`, `T_0`, `T_mult`, `eta_min`): within a period of
    /// length Tᵢ at position t, minimum + (initial − minimum)·(1 + cos(π·t/Tᵢ))/2.
    public static func cosineAnnealingWarmRestarts(period: Int, periodMultiplier: Int = 1,
                                                   minimum: Double = 0) throws(OptimizerOptionError) -> LearningRateSchedule {
        let owner = "LearningRateSchedule.cosineAnnealingWarmRestarts"
        try require(period > 0, owner, "period", period, "positive")
        try require(periodMultiplier >= 1, owner, "periodMultiplier", periodMultiplier, "≥ 1")
        try requireNonNegative(minimum, owner, "minimum")
        return LearningRateSchedule { step, initial in
            var (position, length) = (step, period)
            while position >= length {
                position -= length
                length *= periodMultiplier
            }
            return minimum + (initial - minimum) * (1 + cos(Double.pi * Double(position) / Double(length))) / 2
        }
    }

    /// How ``oneCycle(maximum:totalSteps:warmUpFraction:annealing:divisionFactor:finalDivisionFactor:threePhase:)``
    /// moves between its rates.
    public enum Annealing: String, Sendable {
        /// end + (start − end)·(1 + cos(π·t))/2 (torch's `'cos'`).
        case cosine
        /// start + (end − start)·t (torch's `'linear'`).
        case linear

        func callAsFunction(from start: Double, to end: Double, fraction: Double) -> Double {
            switch self {
            case .cosine: end + (start - end) / 2 * (cos(Double.pi * fraction) + 1)
            case .linear: (end - start) * fraction + start
            }
        }
    }

    /// The one-cycle policy (torch's `OneCycleLR` with `cycle_momentum=False`): from
    /// maximum/divisionFactor up to `maximum` over the first `warmUpFraction` of `totalSteps`,
    /// then down to maximum/(divisionFactor·finalDivisionFactor); with `threePhase`, back down
    /// to the start symmetrically first, then the final decay. The group's own initial rate is
    /// not used, as in torch.
    public static func oneCycle(maximum: Double, totalSteps: Int, warmUpFraction: Double = 0.3, annealing: Annealing = .cosine,
                                divisionFactor: Double = 25, finalDivisionFactor: Double = 1e4,
                                threePhase: Bool = false) throws(OptimizerOptionError) -> LearningRateSchedule {
        let owner = "LearningRateSchedule.oneCycle"
        try requireNonNegative(maximum, owner, "maximum")
        try require(totalSteps > 0, owner, "totalSteps", totalSteps, "positive")
        try require((0...1).contains(warmUpFraction), owner, "warmUpFraction", warmUpFraction, "in [0, 1]")
        try require(divisionFactor.isFinite && divisionFactor > 0, owner, "divisionFactor", divisionFactor, "finite and > 0")
        try require(finalDivisionFactor.isFinite && finalDivisionFactor > 0, owner, "finalDivisionFactor", finalDivisionFactor, "finite and > 0")
        let start = maximum / divisionFactor, end = start / finalDivisionFactor
        let peak = warmUpFraction * Double(totalSteps) - 1
        // Each phase: the step it ends at and the rates it goes between (torch's phase table).
        let phases: [(end: Double, from: Double, to: Double)] = threePhase
            ? [(peak, start, maximum), (2 * warmUpFraction * Double(totalSteps) - 2, maximum, start), (Double(totalSteps - 1), start, end)]
            : [(peak, start, maximum), (Double(totalSteps - 1), maximum, end)]
        return LearningRateSchedule { step, _ in
            var phaseStart = 0.0
            for (index, phase) in phases.enumerated() {
                if Double(step) <= phase.end || index == phases.count - 1 {
                    return annealing(from: phase.from, to: phase.to, fraction: (Double(step) - phaseStart) / (phase.end - phaseStart))
                }
                phaseStart = phase.end
            }
            return end
        }
    }

    /// This schedule before `milestone`, then `next` restarted from its step 0 (torch's
    /// `SequentialLR` with one milestone; chain calls for more).
    public func followed(by next: LearningRateSchedule, atStep milestone: Int) -> LearningRateSchedule {
        LearningRateSchedule { step, initial in
            step < milestone ? rate(step, initial) : next.rate(step - milestone, initial)
        }
    }

    /// `other` applied to the rate this schedule gives, at every step (torch's
    /// `ChainedScheduler`): for multiplicative schedules, the product of their factors.
    public func chained(with other: LearningRateSchedule) -> LearningRateSchedule {
        LearningRateSchedule { step, initial in other.rate(step, rate(step, initial)) }
    }
}

extension Optimizer {
    /// Sets every group's learning rate to `schedule`'s value at `step`, from the group's
    /// ``ParameterGroup/initialLearningRate``. Call it before the step it is for. Throws,
    /// changing nothing, if a rate is out of range (a custom schedule's negative rate).
    public func apply(_ schedule: LearningRateSchedule, atStep step: Int) throws(OptimizerOptionError) {
        try setLearningRates(groups.map { schedule.learningRate(atStep: step, initialRate: $0.initialLearningRate) })
    }
}
