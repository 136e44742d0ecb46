import Foundation

/// A learning-rate schedule: the learning rate at each step (counted from 0), given the
/// rate a parameter group started with. Schedules are values, built from torch's
/// `lr_scheduler` shapes and composed with ``followed(by:atStep:)`` (torch's `SequentialLR`)
/// and ``chained(with:)`` (torch's `ChainedScheduler`):
///
///     let schedule = LearningRateSchedule.linear(from: 0.1, over: 5)
///         .followed(by: .cosineAnnealing(period: 95), atStep: 5)
///     for step in 0..<100 {
///         optimizer.apply(schedule, atStep: step)
///         ...  // backward
///         optimizer.step()
///     }
///
/// The closed forms below equal torch's recursive updates up to rounding.
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
    public static func step(size: Int, gamma: Double = 0.1) -> LearningRateSchedule {
        requireOption(size > 0, "LearningRateSchedule.step", "size \(size) is not positive")
        return multiplicative { step in pow(gamma, Double(step / size)) }
    }

    /// The rate multiplied by `gamma` every step (torch's `ExponentialLR`).
    public static func exponential(gamma: Double) -> LearningRateSchedule {
        multiplicative { step in pow(gamma, Double(step)) }
    }

    /// Cosine annealing from the initial rate down to `minimum` over `period` steps, then back
    /// up over the next `period` (torch's `CosineAnnealingLR`, `T_max` and `eta_min`):
    /// minimum + (initial − minimum)·(1 + cos(π·step/period))/2.
    public static func cosineAnnealing(period: Int, minimum: Double = 0) -> LearningRateSchedule {
        requireOption(period > 0, "LearningRateSchedule.cosineAnnealing", "period \(period) is not positive")
        return LearningRateSchedule { step, initial in
            minimum + (initial - minimum) * (1 + cos(Double.pi * Double(step) / Double(period))) / 2
        }
    }

    /// The rate multiplied by a factor going linearly from `startFactor` to `endFactor` over
    /// `steps` steps, then constant (torch's `LinearLR`; a linear warm-up with the defaults).
    public static func linear(from startFactor: Double = 1.0 / 3, to endFactor: Double = 1, over steps: Int = 5) -> LearningRateSchedule {
        requireOption(steps > 0, "LearningRateSchedule.linear", "steps \(steps) is not positive")
        return multiplicative { step in
            startFactor + (endFactor - startFactor) * Double(min(step, steps)) / Double(steps)
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
    /// ``ParameterGroup/initialLearningRate``. Call it before the step it is for.
    public func apply(_ schedule: LearningRateSchedule, atStep step: Int) {
        for index in groups.indices {
            groups[index].options.learningRate = schedule.learningRate(atStep: step, initialRate: groups[index].initialLearningRate)
        }
    }
}
