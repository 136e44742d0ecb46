import Foundation
import Testing
import Optim

/// Options a user defines get the shared checks (learning rate and weight decay) by default.
private struct PlainOptions: OptimizerOptions {
    var learningRate = 0.1, weightDecay = 0.0
}

private final class PlainDescent: Optimizer<PlainOptions> {}

private func parameters() -> [Parameter] { [Parameter(Tensor(ones: [2])), Parameter(Tensor(ones: [1]))] }

/// Every value out of range is refused with a thrown ``OptimizerOptionError`` naming its owner
/// and option, wherever it can reach an optimizer, a schedule or a plateau reducer.
@Suite struct OptionValidationTests {
    /// (owner, option, the call that must throw)
    private static let rejected: [(String, String, @Sendable () throws -> Void)] = [
        ("SGD", "learningRate", { _ = try SGD(parameters(), options: .init(learningRate: -0.1)) }),
        ("SGD", "learningRate", { _ = try SGD(parameters(), options: .init(learningRate: .nan)) }),
        ("SGD", "learningRate", { _ = try SGD(parameters(), options: .init(learningRate: .infinity)) }),
        ("SGD", "momentum", { _ = try SGD(parameters(), options: .init(momentum: -0.5)) }),
        ("SGD", "dampening", { _ = try SGD(parameters(), options: .init(momentum: 0.9, dampening: -1)) }),
        ("SGD", "weightDecay", { _ = try SGD(parameters(), options: .init(weightDecay: -1e-4)) }),
        ("SGD", "nesterov", { _ = try SGD(parameters(), options: .init(momentum: 0, nesterov: true)) }),
        ("SGD", "nesterov", { _ = try SGD(parameters(), options: .init(momentum: 0.9, dampening: 0.1, nesterov: true)) }),
        ("Adam", "learningRate", { _ = try Adam(parameters(), options: .init(learningRate: -1)) }),
        ("Adam", "beta1", { _ = try Adam(parameters(), options: .init(beta1: 1)) }),
        ("Adam", "beta2", { _ = try Adam(parameters(), options: .init(beta2: -0.1)) }),
        ("Adam", "epsilon", { _ = try Adam(parameters(), options: .init(epsilon: -1e-8)) }),
        ("Adam", "weightDecay", { _ = try Adam(parameters(), options: .init(weightDecay: -0.01)) }),
        ("AdamW", "beta1", { _ = try AdamW(parameters(), options: .init(beta1: -0.9)) }),
        ("AdamW", "beta2", { _ = try AdamW(parameters(), options: .init(beta2: 1.5)) }),
        ("AdamW", "weightDecay", { _ = try AdamW(parameters(), options: .init(weightDecay: -0.01)) }),
        ("RMSprop", "alpha", { _ = try RMSprop(parameters(), options: .init(alpha: 1.5)) }),
        ("RMSprop", "epsilon", { _ = try RMSprop(parameters(), options: .init(epsilon: -1)) }),
        ("RMSprop", "momentum", { _ = try RMSprop(parameters(), options: .init(momentum: -0.1)) }),
        ("RMSprop", "weightDecay", { _ = try RMSprop(parameters(), options: .init(weightDecay: -1)) }),
        ("Adagrad", "learningRateDecay", { _ = try Adagrad(parameters(), options: .init(learningRateDecay: -1)) }),
        ("Adagrad", "initialAccumulatorValue", { _ = try Adagrad(parameters(), options: .init(initialAccumulatorValue: -1)) }),
        ("Adagrad", "epsilon", { _ = try Adagrad(parameters(), options: .init(epsilon: -1)) }),
        ("Adagrad", "learningRate", { _ = try Adagrad(parameters(), options: .init(learningRate: -1)) }),
        ("PlainOptions", "learningRate", { _ = try PlainDescent(parameters(), options: .init(learningRate: -1)) }),
        ("PlainOptions", "weightDecay", { _ = try PlainDescent(parameters(), options: .init(weightDecay: .nan)) }),
        ("LearningRateSchedule.step", "size", { _ = try LearningRateSchedule.step(size: 0) }),
        ("LearningRateSchedule.step", "gamma", { _ = try LearningRateSchedule.step(size: 1, gamma: -0.5) }),
        ("LearningRateSchedule.exponential", "gamma", { _ = try LearningRateSchedule.exponential(gamma: -1) }),
        ("LearningRateSchedule.cosineAnnealing", "period", { _ = try LearningRateSchedule.cosineAnnealing(period: 0) }),
        ("LearningRateSchedule.cosineAnnealing", "minimum", { _ = try LearningRateSchedule.cosineAnnealing(period: 5, minimum: -1) }),
        ("LearningRateSchedule.linear", "steps", { _ = try LearningRateSchedule.linear(over: 0) }),
        ("LearningRateSchedule.linear", "startFactor", { _ = try LearningRateSchedule.linear(from: 0) }),
        ("LearningRateSchedule.linear", "endFactor", { _ = try LearningRateSchedule.linear(to: 1.5) }),
        ("LearningRateSchedule.multiStep", "milestones", { _ = try LearningRateSchedule.multiStep(milestones: [3, -1]) }),
        ("LearningRateSchedule.multiStep", "gamma", { _ = try LearningRateSchedule.multiStep(milestones: [3], gamma: .nan) }),
        ("LearningRateSchedule.constantFactor", "factor", { _ = try LearningRateSchedule.constantFactor(1.5) }),
        ("LearningRateSchedule.constantFactor", "steps", { _ = try LearningRateSchedule.constantFactor(0.5, over: -1) }),
        ("LearningRateSchedule.polynomial", "steps", { _ = try LearningRateSchedule.polynomial(over: 0) }),
        ("LearningRateSchedule.polynomial", "power", { _ = try LearningRateSchedule.polynomial(power: -1) }),
        ("LearningRateSchedule.cosineAnnealingWarmRestarts", "period", { _ = try LearningRateSchedule.cosineAnnealingWarmRestarts(period: 0) }),
        ("LearningRateSchedule.cosineAnnealingWarmRestarts", "periodMultiplier",
         { _ = try LearningRateSchedule.cosineAnnealingWarmRestarts(period: 2, periodMultiplier: 0) }),
        ("LearningRateSchedule.cosineAnnealingWarmRestarts", "minimum",
         { _ = try LearningRateSchedule.cosineAnnealingWarmRestarts(period: 2, minimum: -0.1) }),
        ("LearningRateSchedule.oneCycle", "maximum", { _ = try LearningRateSchedule.oneCycle(maximum: -1, totalSteps: 10) }),
        ("LearningRateSchedule.oneCycle", "totalSteps", { _ = try LearningRateSchedule.oneCycle(maximum: 1, totalSteps: 0) }),
        ("LearningRateSchedule.oneCycle", "warmUpFraction", { _ = try LearningRateSchedule.oneCycle(maximum: 1, totalSteps: 10, warmUpFraction: 1.2) }),
        ("LearningRateSchedule.oneCycle", "divisionFactor", { _ = try LearningRateSchedule.oneCycle(maximum: 1, totalSteps: 10, divisionFactor: 0) }),
        ("LearningRateSchedule.oneCycle", "finalDivisionFactor",
         { _ = try LearningRateSchedule.oneCycle(maximum: 1, totalSteps: 10, finalDivisionFactor: -1) }),
        ("PlateauReducer", "factor", { _ = try PlateauReducer(factor: 1) }),
        ("PlateauReducer", "factor", { _ = try PlateauReducer(factor: -0.5) }),
        ("PlateauReducer", "patience", { _ = try PlateauReducer(patience: -1) }),
        ("PlateauReducer", "cooldown", { _ = try PlateauReducer(cooldown: -1) }),
        ("PlateauReducer", "threshold", { _ = try PlateauReducer(threshold: -1e-4) }),
        ("PlateauReducer", "minimumRate", { _ = try PlateauReducer(minimumRate: -1) }),
        ("PlateauReducer", "epsilon", { _ = try PlateauReducer(epsilon: .infinity) }),
    ]

    @Test(arguments: rejected.indices)
    func rejectedValueThrowsNamingTheOption(_ index: Int) {
        let (owner, option, call) = Self.rejected[index]
        do {
            try call()
            Issue.record("\(owner).\(option): accepted")
        } catch let error as OptimizerOptionError {
            #expect(error.owner == owner && error.option == option, "\(error)")
            #expect(error.description.hasPrefix("\(owner): \(option) is "))
        } catch {
            Issue.record("\(owner).\(option): threw \(error)")
        }
    }

    @Test func defaultsAndTorchValuesAreAccepted() throws {
        _ = try SGD(parameters(), options: .init(learningRate: 0.1, momentum: 0.9, nesterov: true))
        _ = try Adam(parameters(), options: .init(beta1: 0, beta2: 0.999, epsilon: 0))
        _ = try AdamW(parameters(), options: .init())
        _ = try RMSprop(parameters(), options: .init(alpha: 1, momentum: 0.9, centered: true))
        _ = try Adagrad(parameters(), options: .init(learningRateDecay: 0.1, initialAccumulatorValue: 0.1))
        _ = try PlateauReducer(factor: 0, patience: 0)
    }

    /// After a rejected change the optimizer is exactly as before.
    @Test func everySetterThrowsAndChangesNothing() throws {
        let optimizer = try Adam(parameters(), options: .init(learningRate: 0.01))
        #expect(throws: OptimizerOptionError(owner: "Adam", option: "learningRate", value: "-0.5", requirement: "a finite number ≥ 0")) {
            try optimizer.addParameterGroup([Parameter(Tensor(ones: [3]))]) { $0.learningRate = -0.5 }
        }
        #expect(optimizer.groups.count == 1)
        try optimizer.addParameterGroup([Parameter(Tensor(ones: [3]))]) { $0.learningRate = 0.5 }

        #expect(throws: OptimizerOptionError.self) { try optimizer.setLearningRates([0.1, -0.1]) }
        #expect(optimizer.learningRates == [0.01, 0.5])
        try optimizer.setLearningRates([0.1, 0.2])
        #expect(optimizer.learningRates == [0.1, 0.2])

        var options = optimizer.groups[1].options
        options.beta2 = 1
        #expect(throws: OptimizerOptionError.self) { try optimizer.setOptions(options, ofGroup: 1) }
        #expect(optimizer.groups[1].options.beta2 == 0.999)
        options.beta2 = 0.99
        try optimizer.setOptions(options, ofGroup: 1)
        #expect(optimizer.groups[1].options.beta2 == 0.99 && optimizer.groups[1].initialLearningRate == 0.5)

        let falling = LearningRateSchedule { step, initial in initial * (1 - 0.5 * Double(step)) }
        try optimizer.apply(falling, atStep: 1)
        #expect(optimizer.learningRates == [0.005, 0.25])
        #expect(throws: OptimizerOptionError.self) { try optimizer.apply(falling, atStep: 3) }  // −0.5 × the initial rates
        #expect(optimizer.learningRates == [0.005, 0.25])
    }
}
