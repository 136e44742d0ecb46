import Foundation
import Testing
@testable import Layers

/// Losses and LayerNorm against PyTorch (Fixtures/make_loss_fixtures.py), by hand, and by the
/// gradient checker.
@Suite struct LossesTests {
    static let reference = Fixture("loss_references.safetensors")
    private func ref(_ name: String) -> Tensor { Self.reference[name] }

    @Test func crossEntropyAndNLLMatchPyTorchWithIgnoreIndex() {
        let targets = IndexTensor(ref("targets").scalars.map { Int($0) })
        for reduction in [Reduction.mean, .sum] {
            let key = reduction == .mean ? "mean" : "sum"
            let logits = ref("logits").requiringGrad()
            let loss = crossEntropy(logits: logits, targets: targets, ignoreIndex: -100, reduction: reduction)
            loss.backward()
            #expect(abs(loss.item() - ref("cross_entropy.\(key)").item()) < 1e-12)
            #expect(maxDifference(logits.grad!, ref("cross_entropy.\(key).grad")) < 1e-12)
            let logProbabilities = ref("log_probabilities").requiringGrad()
            let nll = nllLoss(logProbabilities: logProbabilities, targets: targets, ignoreIndex: -100, reduction: reduction)
            nll.backward()
            #expect(abs(nll.item() - ref("nll.\(key)").item()) < 1e-12)
            #expect(maxDifference(logProbabilities.grad!, ref("nll.\(key).grad")) < 1e-12)
        }
    }

    @Test func mseAndBinaryCrossEntropyMatchPyTorch() {
        let prediction = ref("mse.prediction").requiringGrad()
        let mse = mseLoss(prediction, ref("mse.target"))
        mse.backward()
        #expect(abs(mse.item() - ref("mse").item()) < 1e-12 && maxDifference(prediction.grad!, ref("mse.grad")) < 1e-12)
        let logits = ref("bce.logits").requiringGrad()
        let bce = binaryCrossEntropyWithLogits(logits: logits, targets: ref("bce.targets"))
        bce.backward()
        #expect(abs(bce.item() - ref("bce").item()) < 1e-12 && maxDifference(logits.grad!, ref("bce.grad")) < 1e-12)
    }

    /// At a logit of exactly 0 (a zero-initialized head) the gradient is σ(0) − t = 0.5 − t.
    @Test func binaryCrossEntropyGradientAtZeroLogit() {
        let logits = Tensor([0, 0, 0], dtype: .float64).requiringGrad()
        binaryCrossEntropyWithLogits(logits: logits, targets: Tensor([0, 0.25, 1], dtype: .float64), reduction: .sum).backward()
        #expect(logits.grad?.scalars == [0.5, 0.25, -0.5])
    }

    @Test func layerNormMatchesPyTorch() {
        let norm = LayerNorm([3, 4])
        norm.to(.float64)
        norm.weight!.value = ref("ln.weight")
        norm.bias!.value = ref("ln.bias")
        let x = ref("ln.input").requiringGrad()
        let y = norm(x)
        (y * ref("ln.w")).sum().backward()
        #expect(maxDifference(y, ref("ln.output")) < 1e-12)
        #expect(maxDifference(x.grad!, ref("ln.grad.input")) < 1e-12)
        #expect(maxDifference(norm.weight!.grad!, ref("ln.grad.weight")) < 1e-12 && maxDifference(norm.bias!.grad!, ref("ln.grad.bias")) < 1e-12)
    }

    /// −log softmax by hand, and the gradient checks of every loss.
    @Test func handComputationAndGradientChecks() throws {
        var generator = RandomGenerator(seed: 5)
        let logits = Tensor.randomNormal([4, 3], dtype: .float64, using: &generator)
        let targets = IndexTensor([2, 0, 1, 1])
        let perRow = crossEntropy(logits: logits, targets: targets, reduction: .none)
        for row in 0..<4 {
            let values = (0..<3).map { logits[row, $0] }
            #expect(abs(perRow[row] - (Foundation.log(values.map(Foundation.exp).reduce(0, +)) - values[targets.values[row]])) < 1e-14)
        }
        let probabilities = Tensor.randomUniform([4, 3], low: 0.1, high: 0.9, dtype: .float64, using: &generator)
        try checkGradients(of: { crossEntropy(logits: $0[0], targets: targets, ignoreIndex: 0) }, at: [logits])
        try checkGradients(of: { mseLoss($0[0], $0[1], reduction: .sum) }, at: [logits, probabilities])
        try checkGradients(of: { binaryCrossEntropyWithLogits(logits: $0[0], targets: probabilities, reduction: .none) }, at: [logits * 3])
        let norm = LayerNorm([3])
        norm.to(.float64)
        try checkGradients(of: { norm($0[0]) }, at: [logits], parameters: norm.parameters())
    }

    /// Padding positions neither count in the mean nor receive gradient.
    @Test func sequenceCrossEntropyIgnoresPadding() throws {
        var generator = RandomGenerator(seed: 6)
        let logits = Tensor.randomNormal([2, 3, 4], dtype: .float64, using: &generator).requiringGrad()
        let targets = IndexTensor([[1, 2, 3], [0, 3, 2]])
        let mask = Mask(lengths: [3, 1], maxLength: 3)
        #expect(mask.values == [true, true, true, true, false, false])
        let loss = sequenceCrossEntropy(logits: logits, targets: targets, mask: mask)
        let valid = crossEntropy(logits: logits.reshaped(to: [6, 4]), targets: IndexTensor([1, 2, 3, 0, 0, 0]), reduction: .none)
        #expect(abs(loss.item() - (valid[0] + valid[1] + valid[2] + valid[3]) / 4) < 1e-14)
        loss.backward()
        #expect(logits.grad!.slice(1..<2, along: 0).slice(1..<3, along: 1).scalars.allSatisfy { $0 == 0 })
    }
}
