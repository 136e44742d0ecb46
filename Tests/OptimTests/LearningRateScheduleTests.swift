import Foundation
import Testing
import Optim

/// The rates of `schedule` over the first `count` steps from an initial rate of 1.
private func rates(_ schedule: LearningRateSchedule, _ count: Int, initial: Double = 1) -> [Double] {
    (0..<count).map { schedule.learningRate(atStep: $0, initialRate: initial) }
}

@Suite struct LearningRateScheduleTests {
    // Each schedule and both combinators are checked against torch's schedulers in
    // TorchParityTests; these pin the shapes with values worked out by hand.

    @Test func stepAndExponentialMultiplyByGamma() throws {
        #expect(try rates(.step(size: 2, gamma: 0.5), 5) == [1, 1, 0.5, 0.5, 0.25])
        #expect(try rates(.exponential(gamma: 0.5), 4, initial: 8) == [8, 4, 2, 1])
        #expect(rates(.constant, 3, initial: 0.3) == [0.3, 0.3, 0.3])
    }

    @Test func cosineAnnealingReachesTheMinimumAfterOnePeriod() throws {
        let schedule = try LearningRateSchedule.cosineAnnealing(period: 4, minimum: 0.1)
        let expected = [1, 0.1 + 0.9 * (1 + cos(Double.pi / 4)) / 2, 0.55, 0.1 + 0.9 * (1 + cos(3 * Double.pi / 4)) / 2, 0.1]
        for (rate, value) in zip(rates(schedule, 5), expected) { #expect(abs(rate - value) < 1e-15) }
        #expect(abs(schedule.learningRate(atStep: 8, initialRate: 1) - 1) < 1e-15)  // back up after another period
    }

    @Test func linearWarmUpThenConstant() throws {
        let warmUp = try LearningRateSchedule.linear(from: 0.25, to: 1, over: 3)
        #expect(rates(warmUp, 5, initial: 4) == [1, 2, 3, 4, 4])
    }

    @Test func followedByRestartsTheNextScheduleAtTheMilestone() throws {
        let schedule = try LearningRateSchedule.linear(from: 0.5, to: 1, over: 2)
            .followed(by: .exponential(gamma: 0.5), atStep: 2)
        #expect(rates(schedule, 5) == [0.5, 0.75, 1, 0.5, 0.25])
    }

    @Test func chainedMultipliesTheFactors() throws {
        let schedule = try LearningRateSchedule.step(size: 2, gamma: 0.5).chained(with: .exponential(gamma: 0.1))
        let expected = [1, 0.1, 0.5 * 0.01, 0.5 * 0.001]
        for (rate, value) in zip(rates(schedule, 4), expected) { #expect(abs(rate - value) < 1e-18) }
    }

    @Test func multiStepConstantAndPolynomialByHand() throws {
        #expect(try rates(.multiStep(milestones: [1, 3, 3], gamma: 0.5), 5) == [1, 0.5, 0.5, 0.125, 0.125])  // a repeated milestone counts twice
        #expect(try rates(.constantFactor(0.25, over: 2), 4, initial: 4) == [1, 1, 4, 4])
        #expect(try rates(.polynomial(over: 4, power: 2), 6, initial: 16) == [16, 9, 4, 1, 0, 0])
    }

    /// Periods 2, 4, 8 with T_mult 2: positions restart at steps 2 and 6.
    @Test func warmRestartsRestartAtGrowingPeriods() throws {
        let schedule = try LearningRateSchedule.cosineAnnealingWarmRestarts(period: 2, periodMultiplier: 2)
        let expected = [1, 0.5, 1, (1 + cos(Double.pi / 4)) / 2, 0.5, (1 + cos(3 * Double.pi / 4)) / 2, 1]
        for (rate, value) in zip(rates(schedule, 7), expected) { #expect(abs(rate - value) < 1e-15) }
    }

    /// One cycle of 11 steps, warm-up 0.5 (peak at step 4.5): linear from 1 to 10, then to 0.01.
    @Test func oneCycleRisesThenDecays() throws {
        let schedule = try LearningRateSchedule.oneCycle(maximum: 10, totalSteps: 11, warmUpFraction: 0.5, annealing: .linear,
                                                     divisionFactor: 10, finalDivisionFactor: 100)
        let values = rates(schedule, 11, initial: 123)  // the group's own rate is not used
        #expect(abs(values[0] - 1) < 1e-15 && abs(values[2] - (1 + 9 * 2 / 4.5)) < 1e-13)
        #expect(abs(values[10] - 0.01) < 1e-15 && abs(values[5] - (10 + (0.01 - 10) * 0.5 / 5.5)) < 1e-13)
    }

    @Test func applyingSetsEachGroupFromItsInitialRate() throws {
        let optimizer = try SGD([Parameter(Tensor(ones: [1]))], options: .init(learningRate: 0.2))
        try optimizer.addParameterGroup([Parameter(Tensor(ones: [1]))]) { $0.learningRate = 0.02 }
        let schedule = try LearningRateSchedule.step(size: 1, gamma: 0.5)
        try optimizer.apply(schedule, atStep: 1)
        try optimizer.apply(schedule, atStep: 2)  // from the initial rates, not compounding
        #expect(optimizer.learningRates == [0.05, 0.005])
    }
}
