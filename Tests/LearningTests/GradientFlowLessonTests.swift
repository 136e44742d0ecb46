import Foundation
import Testing
import Layers
import Optim

/// The program behind Docs/Layers.docc/GradientFlowThroughTime.md: the classic lesson of
/// vanishing and exploding gradients, measured with ``RecurrentNetwork/gradientFlow``. It
/// prints the article's numbers (`swift test --filter GradientFlowLessonTests`) and asserts
/// their orders of magnitude.
@Suite struct GradientFlowLessonTests {
    static let (steps, batch, features, hidden) = (50, 8, 4, 32)

    /// Random inputs [steps, batch, features] and a read-out vector for the last state.
    static func data() -> (x: Tensor, readOut: Tensor) {
        var generator = RandomGenerator(seed: 7)
        return (Tensor.randomNormal([steps, batch, features], dtype: .float64, using: &generator),
                Tensor.randomNormal([hidden], dtype: .float64, using: &generator))
    }

    /// The loss reads the last step only, L = Σ h_49 · v, so ∂L/∂h_t reaches step t only
    /// through the 49 − t steps after it: ‖∂L/∂h_t‖ for every t.
    static func flow<Cell>(_ network: RecurrentNetwork<Cell>) -> [Double] where Cell.Context == Void {
        let (x, readOut) = data()
        network.recordsGradientFlow = true
        let (_, state) = network(x)
        (state[0].select(0, along: 0) * readOut).sum().backward()
        return network.gradientFlow!.norms(layer: 0)
    }

    /// Each model, seeded alike, at PyTorch's default initialization unless said otherwise.
    static func models() -> [(name: String, norms: [Double])] {
        func seeded<T>(_ make: () -> T) -> T { RandomGenerator.seedThread(1); return make() }
        func float64<N: Module>(_ network: N) -> N { network.to(.float64); return network }
        return [
            ("Elman (tanh)", flow(seeded { float64(RNN(inputSize: features, hiddenSize: hidden)) })),
            ("LSTM", flow(seeded { float64(LSTM(inputSize: features, hiddenSize: hidden)) })),
            ("LSTM, forget bias 1", flow(seeded { float64(RecurrentNetwork(inputSize: features) { _, size in
                LSTMCell(inputSize: size, hiddenSize: hidden, forgetBias: 1) }) })),
            ("LSTM, forget bias 5", flow(seeded { float64(RecurrentNetwork(inputSize: features) { _, size in
                LSTMCell(inputSize: size, hiddenSize: hidden, forgetBias: 5) }) })),
            ("LSTM, no forget gate", flow(seeded { float64(RecurrentNetwork(inputSize: features) { _, size in
                LSTMCell(inputSize: size, hiddenSize: hidden, forgetGate: false) }) })),
            ("GRU", flow(seeded { float64(GRU(inputSize: features, hiddenSize: hidden)) })),
            ("GRU, update-gate bias 1", flow(seeded { float64(updateBiased(GRU(inputSize: features, hiddenSize: hidden), 1)) })),
            ("GRU, update-gate bias 5", flow(seeded { float64(updateBiased(GRU(inputSize: features, hiddenSize: hidden), 5)) })),
        ]
    }

    /// The update gate z (GRU's second block; h' = (1 − z) ⊙ n + z ⊙ h) starts near σ(bias)
    /// (0.73 for 1, 0.993 for 5), as `forgetBias:` starts an LSTM's forget gate: the state is kept.
    static func updateBiased(_ gru: GRU, _ bias: Double) -> GRU {
        for row in hidden..<(2 * hidden) {
            gru.cells[0].bias_ih!.value[row] = bias
            gru.cells[0].bias_hh!.value[row] = 0
        }
        return gru
    }

    /// A ReLU Elman network whose recurrent matrix is 1.2·I (and recurrent bias 1, keeping
    /// every unit active): each step multiplies the gradient by 1.2, an exploding case.
    static func exploding() -> RNN {
        RandomGenerator.seedThread(1)
        let rnn = RNN(inputSize: features, hiddenSize: hidden, nonlinearity: .relu)
        rnn.to(.float64)
        var recurrent = Tensor(zeros: [hidden, hidden], dtype: .float64)
        for i in 0..<hidden { recurrent[i, i] = 1.2 }
        rnn.cells[0].weight_hh.value = recurrent
        rnn.cells[0].bias_hh!.value = Tensor(Array(repeating: 1, count: hidden), shape: [hidden], dtype: .float64)
        return rnn
    }

    /// The squared read-out of the last state, L = mean over the batch of (h_49 · v / 1e6)².
    static func readOutLoss(_ rnn: RNN) -> Tensor {
        let (x, readOut) = data()
        let last = rnn(x).state[0].select(0, along: 0)
        let prediction = matmul(last, readOut.reshaped(to: [hidden, 1])) / 1e6
        return (prediction * prediction).mean()
    }

    /// One SGD step (learning rate 0.01) on the exploding network, without and with clipping
    /// the global gradient norm to 1: the loss before, the norm, the loss after.
    static func clippingStep(clip: Bool) throws -> (before: Double, norm: Double, after: Double, flow: GradientFlow) {
        let rnn = exploding()
        rnn.recordsGradientFlow = true
        let loss = readOutLoss(rnn)
        loss.backward()
        let norm = clip ? clipGradientNorm(rnn.parameters(), maxNorm: 1) : globalGradientNorm(rnn.parameters())
        var flow = rnn.gradientFlow!
        flow.globalNormBeforeClipping = norm
        let optimizer = try SGD(rnn.namedParameters(), options: .init(learningRate: 0.01))
        optimizer.step()
        rnn.recordsGradientFlow = false
        return (loss.item(), norm, readOutLoss(rnn).item(), flow)
    }

    @Test func vanishing() {
        let results = Self.models()
        print("model | ‖∂L/∂h_49‖ | ‖∂L/∂h_39‖ | ‖∂L/∂h_29‖ | ‖∂L/∂h_19‖ | ‖∂L/∂h_9‖ | ‖∂L/∂h_0‖ | h_0 / h_49")
        for (name, norms) in results {
            let columns = [49, 39, 29, 19, 9, 0].map { String(format: "%.3g", norms[$0]) }
            print("\(name) | " + columns.joined(separator: " | ") + " | " + String(format: "%.3g", norms[0] / norms[49]))
        }
        let ratio = Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0.norms[0] / $0.norms[49]) })
        // The lesson's orders of magnitude: at initialization every default network loses
        // the gradient over 50 steps; a forget gate that starts open (or none) keeps it.
        for name in ["Elman (tanh)", "LSTM", "GRU"] { #expect(ratio[name]! < 1e-8, "\(name)") }
        for name in ["LSTM, no forget gate", "LSTM, forget bias 5", "GRU, update-gate bias 5"] { #expect(ratio[name]! > 0.01, "\(name)") }
        #expect(ratio["LSTM, forget bias 1"]! > 1e4 * ratio["LSTM"]! && ratio["GRU, update-gate bias 1"]! > 1e4 * ratio["GRU"]!)
    }

    @Test func explodingAndClipping() throws {
        let plain = try Self.clippingStep(clip: false), clipped = try Self.clippingStep(clip: true)
        let norms = plain.flow.norms(layer: 0)
        print("exploding: ‖∂L/∂h_0‖ / ‖∂L/∂h_49‖ = " + String(format: "%.3g", norms[0] / norms[49]))
        for (name, run) in [("without clipping", plain), ("clipped to norm 1", clipped)] {
            print("\(name): loss \(String(format: "%.4g", run.before)), global gradient norm \(String(format: "%.4g", run.norm)), loss after one SGD step \(String(format: "%.4g", run.after))")
        }
        #expect(plain.flow == clipped.flow && plain.norm == clipped.norm)
        #expect(norms[0] / norms[49] > 1e3 && plain.after > 1e3 * clipped.after)
        if let path = ProcessInfo.processInfo.environment["GRADIENT_FLOW_SVG"] {
            try plain.flow.writeSVG(toPath: path, title: "Exploding ReLU Elman network (W_hh = 1.2·I): ‖∂L/∂h_t‖")
        }
    }
}
