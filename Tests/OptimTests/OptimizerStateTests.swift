import Testing
import Layers
import Optim

/// The fixture's model as a module, so optimizers take its `namedParameters()`.
private final class TanhRegression: Module, @unchecked Sendable {
    let weight: Parameter, bias: Parameter
    init(_ model: FixtureModel) {
        weight = model.weight
        bias = model.bias
    }
}

/// A fresh fixture model whose parameters hold `source`'s current values.
private func copyOfParameters(_ source: FixtureModel) -> FixtureModel {
    let copy = FixtureModel()
    copy.weight.value.assign(source.weight.value)
    copy.bias.value.assign(source.bias.value)
    return copy
}

private typealias OptimizerFactory = @Sendable ([(name: String, parameter: Parameter)]) throws -> any OptimizerProtocol

private let factories: [(String, OptimizerFactory)] = [
    ("SGD nesterov", { try SGD($0, options: .init(learningRate: 0.1, momentum: 0.9, nesterov: true)) }),
    ("Adam amsgrad", { try Adam($0, options: .init(learningRate: 0.05, amsgrad: true)) }),
    ("AdamW", { try AdamW($0, options: .init(learningRate: 0.05)) }),
    ("RMSprop centered", { try RMSprop($0, options: .init(momentum: 0.5, centered: true)) }),
    ("Adagrad", { try Adagrad($0, options: .init(learningRate: 0.1, learningRateDecay: 0.05)) }),
]

@Suite struct OptimizerStateTests {
    /// Saving after 10 steps and loading into a fresh optimizer over fresh parameters with the
    /// same values continues exactly like the uninterrupted 25-step run.
    @Test(arguments: factories.indices)
    func saveAndLoadContinuesIdentically(_ index: Int) throws {
        let make = factories[index].1
        let straight = FixtureModel()
        train(straight, with: try make(TanhRegression(straight).namedParameters()), steps: 25)

        let first = FixtureModel()
        let firstOptimizer = try make(TanhRegression(first).namedParameters())
        train(first, with: firstOptimizer, steps: 10)
        let saved = firstOptimizer.stateDictionary()
        let resumed = copyOfParameters(first)
        let resumedOptimizer = try make(TanhRegression(resumed).namedParameters())
        try resumedOptimizer.load(state: saved)
        #expect(resumedOptimizer.stateDictionary().mapValues(\.scalars) == saved.mapValues(\.scalars))
        train(resumed, with: resumedOptimizer, steps: 15)
        #expect(resumed.weight.value.scalars == straight.weight.value.scalars)
        #expect(resumed.bias.value.scalars == straight.bias.value.scalars)
    }

    @Test func keysUseTheModulesParameterNames() throws {
        let model = FixtureModel()
        let optimizer = try Adam(TanhRegression(model).namedParameters(), options: .init())
        train(model, with: optimizer, steps: 3)
        let state = optimizer.stateDictionary()
        #expect(state.keys.sorted() == ["exp_avg.bias", "exp_avg.weight", "exp_avg_sq.bias", "exp_avg_sq.weight",
                                        "step.bias", "step.weight"])
        #expect(state["step.weight"]?.item() == 3 && state["step.weight"]?.dtype == .float64)
        #expect(state["exp_avg.weight"]?.shape == [3, 2])
    }

    @Test func loadConvertsBuffersToTheParameterDType() throws {
        let model = FixtureModel()
        let optimizer = try SGD(model.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9))
        train(model, with: optimizer, steps: 2)
        let narrow = FixtureModel(dtype: .float32)
        let narrowOptimizer = try SGD(narrow.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9))
        try narrowOptimizer.load(state: optimizer.stateDictionary())
        let buffer = try #require(narrowOptimizer.state(of: narrow.weight)?["momentum_buffer"])
        #expect(buffer.dtype == .float32)
        #expect(narrowOptimizer.state(of: narrow.weight)?.step == 2)
    }

    /// Each kind of bad entry throws its error, and the optimizer's state is left as it was.
    @Test func badStatesThrowTypedErrorsAndChangeNothing() throws {
        let model = FixtureModel()
        let optimizer = try Adam(model.namedParameters, options: .init())
        train(model, with: optimizer, steps: 2)
        let good = optimizer.stateDictionary()
        let cases: [([String: Tensor], OptimizerStateError)] = [
            (good.merging(["nodot": Tensor(0)]) { $1 }, .malformedKey("nodot")),
            (good.merging(["exp_avg.C": Tensor(zeros: [2])]) { $1 }, .unknownParameter(key: "exp_avg.C")),
            (good.merging(["momentum_buffer.W": Tensor(zeros: [3, 2])]) { $1 }, .unexpectedEntry(key: "momentum_buffer.W")),
            (good.filter { $0.key != "exp_avg_sq.b" }, .missingEntry(key: "exp_avg_sq.b")),
            (good.filter { $0.key != "step.W" }, .missingEntry(key: "step.W")),
            (good.merging(["exp_avg.W": Tensor(zeros: [2, 3])]) { $1 }, .shapeMismatch(key: "exp_avg.W", expected: [3, 2], found: [2, 3])),
            (good.merging(["step.b": Tensor(2.5)]) { $1 }, .invalidStep(key: "step.b")),
        ]
        for (state, expected) in cases {
            #expect(throws: expected) { try optimizer.load(state: state) }
        }
        #expect(optimizer.stateDictionary().mapValues(\.scalars) == good.mapValues(\.scalars))
        #expect(OptimizerStateError.missingEntry(key: "step.W").description == "optimizer state entry 'step.W' is missing")
    }

    @Test func loadingAnEmptyStateStartsAfresh() throws {
        let model = FixtureModel()
        let optimizer = try SGD(model.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9))
        train(model, with: optimizer, steps: 2)
        try optimizer.load(state: [:])
        #expect(optimizer.state(of: model.weight) == nil && optimizer.stateDictionary().isEmpty)
    }
}
