import Testing
import Layers
import Optim

/// Recurrent networks that learn: small, seeded, bounded tasks from the classic literature.
/// The numbers they reach are recorded in Docs/AutoGrad.docc/RecurrentNetsThatLearn.md.
@Suite(.serialized) struct RecurrentLearningTests {
    /// The char example: given h, e, l, l predict e, l, l, o.
    @Test func elmanLearnsHello() throws {
        RandomGenerator.seedThread(1)
        let alphabet = Array("helo")
        let ids = "hello".map { alphabet.firstIndex(of: $0)! }
        let inputs = Tensor.oneHot(IndexTensor(Array(ids.dropLast()), shape: [1, 4]), classCount: 4)
        let rnn = RNN(inputSize: 4, hiddenSize: 8, batchFirst: true), readout = Linear(8, 4)
        let optimizer = try Adam(rnn.parameters() + readout.parameters(), options: .init(learningRate: 0.05))
        for _ in 0..<100 {
            let logits = readout(rnn(inputs).output).reshaped(to: [4, 4])
            optimizer.zeroGrad()
            crossEntropy(logits: logits, targets: IndexTensor(Array(ids.dropFirst()))).backward()
            optimizer.step()
        }
        let predicted = argmaxRows(noGrad { readout(rnn(inputs).output).reshaped(to: [4, 4]) })
        #expect(String(predicted.map { alphabet[$0] }) == "ello")
    }

    /// Delayed recall over 40 blank steps: the plain RNN stays at chance (vanishing gradients)
    /// while LSTM and GRU, with their memory gates initialized open, recall the symbol.
    @Test func gatedFamiliesRememberWherePlainRNNForgets() throws {
        let accuracies = try ["rnn", "lstm", "gru"].map { family in (family, try recallAccuracy(family)) }
        let byFamily = Dictionary(uniqueKeysWithValues: accuracies)
        #expect(byFamily["rnn"]! < 0.5, "plain RNN: \(byFamily["rnn"]!)")
        #expect(byFamily["lstm"]! > 0.9, "LSTM: \(byFamily["lstm"]!)")
        #expect(byFamily["gru"]! > 0.9, "GRU: \(byFamily["gru"]!)")
    }

    private func recallAccuracy(_ family: String) throws -> Double {
        RandomGenerator.seedThread(1)
        let (symbols, lag, hidden) = (4, 40, 16)
        let network: Module
        switch family {
        case "rnn":
            network = RNN(inputSize: symbols + 1, hiddenSize: hidden, batchFirst: true)
        case "lstm":
            network = RecurrentNetwork(inputSize: symbols + 1, batchFirst: true) { _, size in
                LSTMCell(inputSize: size, hiddenSize: hidden, forgetBias: 5)
            }
        default:
            let gru = GRU(inputSize: symbols + 1, hiddenSize: hidden, batchFirst: true)
            // The update gate's bias starts at 5: z ≈ 1 keeps h, the GRU's open memory.
            for row in hidden..<(2 * hidden) {
                gru.cells[0].bias_ih!.value[row] = 5
                gru.cells[0].bias_hh!.value[row] = 0
            }
            network = gru
        }
        let readout = Linear(hidden, symbols)
        func logits(_ x: Tensor) -> Tensor {
            let output: Tensor
            switch network {
            case let rnn as RNN: output = rnn(x).output
            case let lstm as RecurrentNetwork<LSTMCell>: output = lstm(x).output
            case let gru as GRU: output = gru(x).output
            default: fatalError("unexpected network")
            }
            return readout(output.select(-1, along: 1))
        }
        let optimizer = try Adam(network.parameters() + readout.parameters(), options: .init(learningRate: 0.005))
        var generator = RandomGenerator(seed: 101)
        for _ in 0..<300 {
            let (x, y) = Tasks.delayedRecall(batch: 16, lag: lag, symbols: symbols, using: &generator)
            optimizer.zeroGrad()
            crossEntropy(logits: logits(x), targets: y).backward()
            _ = clipGradientNorm(network.parameters(), maxNorm: 1)
            optimizer.step()
        }
        let (x, y) = Tasks.delayedRecall(batch: 400, lag: lag, symbols: symbols, using: &generator)
        let predicted = argmaxRows(noGrad { logits(x) })
        return Double(zip(predicted, y.values).filter { $0 == $1 }.count) / 400
    }
}
