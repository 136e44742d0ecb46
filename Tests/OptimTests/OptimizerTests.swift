import Foundation
import Testing
import Optim

/// Heavy-ball momentum written by a user with tensor ops: v ← μ·v + g (v = g at first), θ ← θ − lr·v.
private final class HeavyBall: Optimizer<HeavyBall.Options> {
    struct Options: OptimizerOptions { var learningRate = 0.01, weightDecay = 0.0, momentum = 0.9 }
    override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        let velocity = state["velocity"].map { options.momentum * $0 + gradient } ?? gradient
        state["velocity"] = velocity
        parameter.value.assign(parameter.value - options.learningRate * velocity)
    }
    override func stateBufferNames(for options: Options) -> [String] { ["velocity"] }
}

/// Runs `steps` steps of `optimizer` on `model`.
func train(_ model: FixtureModel, with optimizer: some OptimizerProtocol, steps: Int) {
    for _ in 0..<steps {
        optimizer.zeroGrad()
        model.backward()
        optimizer.step()
    }
}

@Suite struct OptimizerTests {
    @Test func userDefinedOptimizerSubclassMatchesBuiltInMomentum() throws {
        let mine = FixtureModel(), reference = FixtureModel()
        let heavyBall = try HeavyBall(mine.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9))
        train(mine, with: heavyBall, steps: 10)
        // The built-in SGD is checked against torch.optim; with τ = 0 it is the same rule.
        train(reference, with: try SGD(reference.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9)), steps: 10)
        for (a, b) in zip(mine.weight.value.scalars + mine.bias.value.scalars,
                          reference.weight.value.scalars + reference.bias.value.scalars) {
            #expect(abs(a - b) <= 1e-12)
        }
        let saved = heavyBall.stateDictionary()
        #expect(saved.keys.sorted() == ["step.W", "step.b", "velocity.W", "velocity.b"])
        let resumed = try HeavyBall(mine.namedParameters, options: .init())
        #expect(throws: Never.self) { try resumed.load(state: saved) }
        #expect(resumed.state(of: mine.weight)?["velocity"]?.scalars == saved["velocity.W"]?.scalars)
    }

    @Test func stepIsNotRecordedAndKeepsTheLeaf() throws {
        let model = FixtureModel()
        let leaf = model.weight.value.graphNode
        model.backward()
        try Adam(model.namedParameters, options: .init()).step()
        #expect(model.weight.value.graphNode === leaf)
        #expect(model.weight.value.isLeaf && model.weight.value.requiresGrad)
        #expect(isRecording)
    }

    @Test func stateBuffersAndParametersStayInPlaceAcrossSteps() throws {
        let model = FixtureModel()
        let optimizer = try Adam(model.namedParameters, options: .init(amsgrad: true))
        train(model, with: optimizer, steps: 1)
        func addresses() -> [UnsafeMutableRawPointer?] {
            let state = optimizer.state(of: model.weight)!
            let buffers = state.bufferNames.map {
                UnsafeMutableRawPointer(state.buffer($0, like: model.weight).elements(as: Double.self).baseAddress)
            }
            let value = model.weight.value.withUnsafeBufferPointer(as: Double.self) { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
            return buffers + [value]
        }
        let before = addresses()
        train(model, with: optimizer, steps: 5)
        #expect(addresses() == before)
        #expect(optimizer.state(of: model.weight)!.bufferNames == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
    }

    @Test func parametersWithoutGradientsAreSkipped() throws {
        let model = FixtureModel()
        let optimizer = try SGD(model.namedParameters, options: .init(learningRate: 0.1, momentum: 0.9))
        model.backward()
        model.bias.zeroGrad()
        let bias = model.bias.value.scalars
        optimizer.step()
        #expect(model.bias.value.scalars == bias)
        #expect(optimizer.state(of: model.bias) == nil)
        #expect(optimizer.state(of: model.weight)?.step == 1)
        optimizer.zeroGrad()
        #expect(model.weight.grad == nil)
    }

    @Test func groupsTakeDefaultsAdjustedAndPositionalNames() throws {
        let a = Parameter(Tensor(ones: [2])), b = Parameter(Tensor(ones: [3])), c = Parameter(Tensor(ones: [1]))
        let optimizer = try Adam([a, b], options: .init(learningRate: 0.01, weightDecay: 0.1))
        try optimizer.addParameterGroup([c]) { $0.learningRate = 0.5 }
        #expect(optimizer.groups.map(\.names) == [["0", "1"], ["2"]])
        #expect(optimizer.learningRates == [0.01, 0.5])
        #expect(optimizer.groups[1].options.weightDecay == 0.1)
        #expect(optimizer.groups[1].initialLearningRate == 0.5)
    }

    @Test func float32ParametersFollowTheFloat64Trajectory() throws {
        let wide = FixtureModel(), narrowModel = FixtureModel(dtype: .float32)
        let options = RMSprop.Options(learningRate: 0.01, momentum: 0.5, centered: true)
        train(wide, with: try RMSprop(wide.namedParameters, options: options), steps: 10)
        train(narrowModel, with: try RMSprop(narrowModel.namedParameters, options: options), steps: 10)
        #expect(narrowModel.weight.value.dtype == .float32)
        for (a, b) in zip(narrowModel.weight.value.scalars, wide.weight.value.scalars) {
            #expect(abs(a - b) <= 1e-4)
        }
    }

    /// A parameter large enough for Adam to split across threads ends where one thread takes
    /// it, bit for bit, and where Adam's formulas, evaluated here in Double, take it.
    @Test func largeParameterSplitAcrossThreadsMatchesOneThread() throws {
        let count = 40_000
        let start = (0..<count).map { sin(Double($0)) }, weights = (0..<count).map { cos(Double($0) * 0.7) }
        func trained(threads: Int) throws -> [Double] {
            let previous = ComputeThreads.maximum
            defer { ComputeThreads.maximum = previous }
            ComputeThreads.maximum = threads
            let parameter = Parameter(Tensor(start, shape: [count], dtype: .float32))
            let optimizer = try Adam([parameter], options: .init(learningRate: 0.01))
            let weighting = Tensor(weights, shape: [count], dtype: .float32)
            for _ in 0..<3 {
                optimizer.zeroGrad()
                (parameter.value * weighting).sum().backward()
                optimizer.step()
            }
            return parameter.value.scalars
        }
        let (one, two) = (try trained(threads: 1), try trained(threads: 2))
        #expect(one == two)
        var worst = 0.0
        for i in 0..<count {
            // The float32 values the optimizer starts from and the gradient it is given.
            var (value, average, square) = (Double(Float(start[i])), 0.0, 0.0)
            let g = Double(Float(weights[i]))
            for step in 1...3 {
                average = 0.9 * average + 0.1 * g
                square = 0.999 * square + 0.001 * g * g
                let denominator = square.squareRoot() / (1 - pow(0.999, Double(step))).squareRoot() + 1e-8
                value -= 0.01 / (1 - pow(0.9, Double(step))) * average / denominator
            }
            worst = max(worst, abs(two[i] - value))
        }
        #expect(worst <= 1e-6)
    }

    @Test func duplicateParameterStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let a = Parameter(Tensor(ones: [2]))
            try SGD([a], options: .init()).addParameterGroup([a])
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("addParameterGroup: parameter '1' is already in a group"))
    }
}
