import Testing
import Layers
import Optim

/// Many-to-one and many-to-many tasks with a bidirectional LSTM over padded batches, and
/// Jordan against Elman where the previous output matters.
@Suite(.serialized) struct SequenceTaskTests {
    /// Synthetic sentiment: the label is whether positive words outnumber negative ones; the
    /// classifier reads the final states of both directions (each at its sequence's length).
    @Test func bidirectionalLSTMClassifiesPaddedSentences() throws {
        RandomGenerator.seedThread(2)
        let (vocabulary, hidden) = (12, 8)
        let lstm = LSTM(inputSize: vocabulary, hiddenSize: hidden, batchFirst: true, bidirectional: true)
        let readout = Linear(2 * hidden, 2)
        func logits(_ words: IndexTensor, _ lengths: [Int]) -> Tensor {
            let (_, state) = lstm(Tensor.oneHot(words, classCount: vocabulary), lengths: lengths)
            let finals = state[0].permuted([1, 0, 2]).reshaped(to: [lengths.count, 2 * hidden])  // [fwd, rev]
            return readout(finals)
        }
        let optimizer = try Adam(lstm.parameters() + readout.parameters(), options: .init(learningRate: 0.02))
        var generator = RandomGenerator(seed: 3)
        for _ in 0..<150 {
            let batch = Tasks.sentiment(batch: 32, lengths: 3...8, vocabulary: vocabulary, using: &generator)
            optimizer.zeroGrad()
            crossEntropy(logits: logits(batch.words, batch.lengths), targets: batch.labels).backward()
            optimizer.step()
        }
        let test = Tasks.sentiment(batch: 300, lengths: 3...8, vocabulary: vocabulary, using: &generator)
        let predicted = argmaxRows(noGrad { logits(test.words, test.lengths) })
        let accuracy = Double(zip(predicted, test.labels.values).filter { $0 == $1 }.count) / 300
        #expect(accuracy > 0.9, "accuracy \(accuracy)")
    }

    /// Synthetic slot filling: tag departure and arrival cities, which only the word before
    /// each city tells apart; padding positions are excluded from the loss and the score.
    @Test func bidirectionalLSTMTagsPaddedSentences() throws {
        RandomGenerator.seedThread(4)
        let (cities, fillers, hidden, maxLength) = (5, 6, 8, 10)
        let vocabulary = 3 + cities + fillers
        let lstm = LSTM(inputSize: vocabulary, hiddenSize: hidden, batchFirst: true, bidirectional: true)
        let readout = Linear(2 * hidden, 3)
        func logits(_ words: IndexTensor, _ lengths: [Int]) -> Tensor {
            let output = lstm(Tensor.oneHot(words, classCount: vocabulary), lengths: lengths).output
            return readout(output).reshaped(to: [-1, 3])
        }
        let optimizer = try Adam(lstm.parameters() + readout.parameters(), options: .init(learningRate: 0.02))
        var generator = RandomGenerator(seed: 5)
        for _ in 0..<150 {
            let batch = Tasks.slotFilling(batch: 16, maxLength: maxLength, cities: cities, fillers: fillers, using: &generator)
            optimizer.zeroGrad()
            crossEntropy(logits: logits(batch.words, batch.lengths), targets: batch.tags, ignoreIndex: -1).backward()
            optimizer.step()
        }
        let test = Tasks.slotFilling(batch: 200, maxLength: maxLength, cities: cities, fillers: fillers, using: &generator)
        let predicted = argmaxRows(noGrad { logits(test.words, test.lengths) })
        let scored = zip(predicted, test.tags.values).filter { $0.1 >= 0 }
        let cityTags = scored.filter { $0.1 > 0 }
        let accuracy = Double(scored.filter { $0 == $1 }.count) / Double(scored.count)
        let cityAccuracy = Double(cityTags.filter { $0 == $1 }.count) / Double(cityTags.count)
        #expect(accuracy > 0.95 && cityAccuracy > 0.9, "token accuracy \(accuracy), city tags \(cityAccuracy)")
    }

    /// Running parity, y_t = x_t XOR y_{t−1}: a Jordan network feeds its previous output back
    /// (exactly what the task needs); an Elman network must keep it in its hidden state. Both
    /// learn it.
    @Test func jordanAndElmanBothLearnRunningParity() throws {
        #expect(try parityAccuracy(jordan: true) > 0.95)
        #expect(try parityAccuracy(jordan: false) > 0.95)
    }

    private func parityAccuracy(jordan: Bool) throws -> Double {
        RandomGenerator.seedThread(6)
        let hidden = 8, steps = 8
        let jordanNetwork = JordanRNN(inputSize: 1, hiddenSize: hidden, outputSize: 2, outputActivation: .identity, batchFirst: true)
        let elman = RNN(inputSize: 1, hiddenSize: hidden, batchFirst: true), readout = Linear(hidden, 2)
        func logits(_ x: Tensor) -> Tensor {
            // Jordan's outputs are the logits themselves, fed back at the next step.
            (jordan ? jordanNetwork(x).output : readout(elman(x).output)).reshaped(to: [-1, 2])
        }
        let parameters = jordan ? jordanNetwork.parameters() : elman.parameters() + readout.parameters()
        let optimizer = try Adam(parameters, options: .init(learningRate: 0.03))
        var generator = RandomGenerator(seed: 7)
        for _ in 0..<300 {
            let (x, targets) = Tasks.runningParity(batch: 32, steps: steps, using: &generator)
            optimizer.zeroGrad()
            crossEntropy(logits: logits(x), targets: IndexTensor(targets.flatMap { $0 })).backward()
            optimizer.step()
        }
        let (x, targets) = Tasks.runningParity(batch: 200, steps: steps, using: &generator)
        let predicted = argmaxRows(noGrad { logits(x) })
        return Double(zip(predicted, targets.flatMap { $0 }).filter { $0 == $1 }.count) / Double(predicted.count)
    }
}
