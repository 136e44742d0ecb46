import Testing
import Optim

/// Options that can be set from torch keyword arguments (unset keys keep their value).
private protocol TorchConfigurable: OptimizerOptions {
    mutating func configure(_ keywords: TorchFixture.Keywords)
}

extension SGD.Options: TorchConfigurable {
    mutating func configure(_ keywords: TorchFixture.Keywords) {
        learningRate = keywords.number("lr", or: learningRate)
        momentum = keywords.number("momentum", or: momentum)
        dampening = keywords.number("dampening", or: dampening)
        weightDecay = keywords.number("weight_decay", or: weightDecay)
        nesterov = keywords.flag("nesterov", or: nesterov)
        maximize = keywords.flag("maximize", or: maximize)
    }
}

/// Adam's and AdamW's options, which share torch's keywords.
private protocol AdamFamilyOptions: TorchConfigurable {
    var beta1: Double { get set }
    var beta2: Double { get set }
    var epsilon: Double { get set }
    var amsgrad: Bool { get set }
    var maximize: Bool { get set }
}

extension AdamFamilyOptions {
    mutating func configure(_ keywords: TorchFixture.Keywords) {
        learningRate = keywords.number("lr", or: learningRate)
        (beta1, beta2) = keywords.pair("betas") ?? (beta1, beta2)
        epsilon = keywords.number("eps", or: epsilon)
        weightDecay = keywords.number("weight_decay", or: weightDecay)
        amsgrad = keywords.flag("amsgrad", or: amsgrad)
        maximize = keywords.flag("maximize", or: maximize)
    }
}

extension Adam.Options: AdamFamilyOptions {}
extension AdamW.Options: AdamFamilyOptions {}

extension RMSprop.Options: TorchConfigurable {
    mutating func configure(_ keywords: TorchFixture.Keywords) {
        learningRate = keywords.number("lr", or: learningRate)
        alpha = keywords.number("alpha", or: alpha)
        epsilon = keywords.number("eps", or: epsilon)
        weightDecay = keywords.number("weight_decay", or: weightDecay)
        momentum = keywords.number("momentum", or: momentum)
        centered = keywords.flag("centered", or: centered)
        maximize = keywords.flag("maximize", or: maximize)
    }
}

extension Adagrad.Options: TorchConfigurable {
    mutating func configure(_ keywords: TorchFixture.Keywords) {
        learningRate = keywords.number("lr", or: learningRate)
        learningRateDecay = keywords.number("lr_decay", or: learningRateDecay)
        weightDecay = keywords.number("weight_decay", or: weightDecay)
        initialAccumulatorValue = keywords.number("initial_accumulator_value", or: initialAccumulatorValue)
        epsilon = keywords.number("eps", or: epsilon)
        maximize = keywords.flag("maximize", or: maximize)
    }
}

/// The optimizer a fixture case describes: W in the first group with the case's options, and
/// b in it too or, with `groups`, in a second group with its overrides.
private func makeOptimizer<Options: TorchConfigurable>(
    _ defaults: Options, _ make: ([(name: String, parameter: Parameter)], Options) throws -> Optimizer<Options>,
    _ testCase: TorchFixture.Case, _ model: FixtureModel
) throws -> any OptimizerProtocol {
    var options = defaults
    options.configure(testCase.options)
    guard let groups = testCase.groups else { return try make(model.namedParameters, options) }
    let optimizer = try make([("W", model.weight)], options)
    try optimizer.addParameterGroup([("b", model.bias)]) { $0.configure(groups[1]) }
    return optimizer
}

private func makeOptimizer(_ testCase: TorchFixture.Case, _ model: FixtureModel) throws -> any OptimizerProtocol {
    switch testCase.optimizer {
    case "SGD": try makeOptimizer(SGD.Options(), { try SGD($0, options: $1) }, testCase, model)
    case "Adam": try makeOptimizer(Adam.Options(), { try Adam($0, options: $1) }, testCase, model)
    case "AdamW": try makeOptimizer(AdamW.Options(), { try AdamW($0, options: $1) }, testCase, model)
    case "RMSprop": try makeOptimizer(RMSprop.Options(), { try RMSprop($0, options: $1) }, testCase, model)
    case "Adagrad": try makeOptimizer(Adagrad.Options(), { try Adagrad($0, options: $1) }, testCase, model)
    default: fatalError("unknown optimizer \(testCase.optimizer)")
    }
}

/// The schedule a fixture case describes with torch's scheduler names and arguments.
func makeSchedule(_ description: TorchFixture.Schedule) throws -> LearningRateSchedule {
    let parts = try (description.schedules ?? []).map(makeSchedule)
    switch description.kind {
    case "step": return try .step(size: description.stepSize!, gamma: description.gamma!)
    case "exponential": return try .exponential(gamma: description.gamma!)
    case "cosine": return try .cosineAnnealing(period: description.period!, minimum: description.minimum!)
    case "linear":
        return try .linear(from: description.startFactor!, to: description.endFactor!, over: description.totalSteps!)
    case "sequential":
        return zip(description.milestones!, parts.dropFirst()).reduce(parts[0]) { $0.followed(by: $1.1, atStep: $1.0) }
    case "chained": return parts.dropFirst().reduce(parts[0]) { $0.chained(with: $1) }
    case "multistep": return try .multiStep(milestones: description.milestones!, gamma: description.gamma!)
    case "constant": return try .constantFactor(description.factor!, over: description.totalSteps!)
    case "polynomial": return try .polynomial(over: description.totalSteps!, power: description.power!)
    case "cosine_restarts":
        return try .cosineAnnealingWarmRestarts(period: description.restartPeriod!, periodMultiplier: description.periodMultiplier!,
                                            minimum: description.minimum!)
    case "one_cycle":
        return try .oneCycle(maximum: description.maxRate!, totalSteps: description.cycleSteps!, warmUpFraction: description.warmUpFraction!,
                         annealing: description.annealing == "cos" ? .cosine : .linear, divisionFactor: description.divisionFactor!,
                         finalDivisionFactor: description.finalDivisionFactor!, threePhase: description.threePhase!)
    default: fatalError("unknown schedule \(description.kind)")
    }
}

/// The ReduceLROnPlateau a fixture case describes, or `nil` for a step-driven schedule.
func makeReducer(_ description: TorchFixture.Schedule) throws -> PlateauReducer? {
    guard description.kind == "plateau" else { return nil }
    return try PlateauReducer(mode: description.mode == "min" ? .minimize : .maximize, factor: description.factor!,
                          patience: description.patience!, threshold: description.threshold!,
                          thresholdMode: description.thresholdMode == "rel" ? .relative : .absolute,
                          cooldown: description.cooldown!, minimumRate: description.minimumRate!, epsilon: description.epsilon!)
}

private func clip(_ description: TorchFixture.Keywords, _ parameters: [Parameter]) -> Double? {
    let maxValue = description.number("clip_value", or: .nan)
    if !maxValue.isNaN {
        clipGradientValue(parameters, maxValue: maxValue)
        return nil
    }
    return clipGradientNorm(parameters, maxNorm: description.number("max_norm", or: .nan),
                            normType: description.number("norm_type", or: .nan))
}

private func expectClose(_ actual: [Double], _ expected: [Double], _ what: String, tolerance: Double = 1e-10) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) values, expected \(expected.count)")
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= tolerance, "\(what): off by \(worst)\n  got      \(actual)\n  expected \(expected)")
}

@Suite struct TorchParityTests {
    /// Every optimizer, option combination, clipping and schedule reproduces torch.optim's
    /// 25-step float64 trajectory, the learning rates and clip norms it used, and its final
    /// per-parameter state.
    @Test(arguments: TorchFixture.shared.cases.map(\.name))
    func trajectoryMatchesTorch(_ name: String) throws {
        let testCase = TorchFixture.case(named: name)
        let model = FixtureModel()
        let optimizer = try makeOptimizer(testCase, model)
        let reducer = try testCase.schedule.flatMap(makeReducer)
        let schedule = reducer == nil ? try testCase.schedule.map(makeSchedule) : nil
        for (step, record) in testCase.steps.enumerated() {
            if let schedule { try optimizer.apply(schedule, atStep: step) }
            optimizer.zeroGrad()
            let loss = model.backward()
            expectClose(optimizer.learningRates, record.lr, "\(name) learning rates at step \(step)", tolerance: 1e-15)
            if let description = testCase.clip, let norm = clip(description, [model.weight, model.bias]) {
                expectClose([norm], [record.norm!], "\(name) clip norm at step \(step)")
            }
            optimizer.step()
            try reducer?.step(metric: loss, optimizer: optimizer)
            expectClose(model.weight.value.scalars, record.W, "\(name) W after step \(step + 1)")
            expectClose(model.bias.value.scalars, record.b, "\(name) b after step \(step + 1)")
        }
        let state = optimizer.stateDictionary()
        for (key, expected) in testCase.finalState {
            expectClose(state[key]?.scalars ?? [], expected, "\(name) final state \(key)")
        }
        // Beyond torch's entries there are only the step counts torch's SGD does not keep.
        #expect(Set(state.keys).subtracting(testCase.finalState.keys).allSatisfy { $0.hasPrefix("step.") })
    }
}
