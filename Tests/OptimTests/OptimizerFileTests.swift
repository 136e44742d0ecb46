import Foundation
import Testing
@testable import Optim
import Layers

/// Optimizer state through a safetensors file: an interrupted run continues bit-identically.
@Suite struct OptimizerFileTests {
    @Test func stateSavedToAFileContinuesExactly() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("optimizer-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        // One initialization loaded into every model: seeding the process-wide generator does
        // not make two constructions equal while tests on other threads draw from it too.
        let initial = GRU(inputSize: 2, hiddenSize: 3).parameterTensors()
        func makeModel() throws -> GRU {
            let model = GRU(inputSize: 2, hiddenSize: 3)
            try model.loadParameters(initial)
            return model
        }
        func train(_ model: GRU, _ optimizer: Adam, steps: Range<Int>) {
            for step in steps {
                var generator = RandomGenerator(seed: UInt64(step))
                let x = Tensor.randomNormal([4, 2, 2], using: &generator)
                optimizer.zeroGrad()
                model(x).output.pow(2).mean().backward()
                optimizer.step()
            }
        }
        let straight = try makeModel()
        let straightOptimizer = try Adam(straight.namedParameters(), options: .init(learningRate: 0.01, amsgrad: true))
        train(straight, straightOptimizer, steps: 0..<10)

        let first = try makeModel()
        let firstOptimizer = try Adam(first.namedParameters(), options: .init(learningRate: 0.01, amsgrad: true))
        train(first, firstOptimizer, steps: 0..<5)
        try firstOptimizer.saveState(to: url)
        let resumed = try makeModel()
        try resumed.loadParameters(first.parameterTensors())
        let resumedOptimizer = try Adam(resumed.namedParameters(), options: .init(learningRate: 0.01, amsgrad: true))
        try resumedOptimizer.loadState(from: url)
        train(resumed, resumedOptimizer, steps: 5..<10)

        for ((name, a), (_, b)) in zip(straight.namedParameters(), resumed.namedParameters()) {
            #expect(a.value.scalars == b.value.scalars, "\(name)")
        }
        let saved = try SafeTensors.read(from: url).tensors
        #expect(saved["exp_avg.weight_ih_l0"] != nil && saved["max_exp_avg_sq.bias_hh_l0"] != nil && saved["step.weight_hh_l0"]?.item() == 5)
    }
}
