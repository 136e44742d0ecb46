import Foundation
import Testing
@testable import Layers

@Suite struct LossesTests {
    @Test func crossEntropyMatchesPyTorchWithIgnoreIndex() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("loss_cross_entropy.safetensors")
        let fixture = try SafeTensors.read(from: url).tensors
        let targets = IndexTensor(fixture["targets"]!.scalars.map { Int($0) })
        for (reduction, key) in [(Reduction.mean, "mean"), (.sum, "sum")] {
            let logits = fixture["logits"]!.requiringGrad()
            let loss = crossEntropy(logits: logits, targets: targets, ignoreIndex: -100, reduction: reduction)
            #expect(abs(loss.item() - fixture[key]!.item()) < 1e-12)
            loss.backward()
            #expect(maxDifference(logits.grad!, fixture["grad." + key]!) < 1e-12)
        }
    }

    /// −log softmax by hand, and the gradient check.
    @Test func crossEntropyMatchesHandComputationAndGradientCheck() throws {
        var generator = RandomGenerator(seed: 5)
        let logits = Tensor.randomNormal([4, 3], dtype: .float64, using: &generator)
        let targets = IndexTensor([2, 0, 1, 1])
        let perRow = crossEntropy(logits: logits, targets: targets, reduction: .none)
        for row in 0..<4 {
            let values = (0..<3).map { logits[row, $0] }
            let expected = Foundation.log(values.map(Foundation.exp).reduce(0, +)) - values[targets.values[row]]
            #expect(abs(perRow[row] - expected) < 1e-14)
        }
        try checkGradients(of: { crossEntropy(logits: $0[0], targets: targets, ignoreIndex: 0) }, at: [logits])
    }
}
