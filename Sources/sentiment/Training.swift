import Foundation
import Layers
import Optim

/// The run's settings; ``standard`` is what the executable trains, ``tiny`` what the test runs.
struct SentimentConfiguration {
    var lengths = 4...16, embedding = 16, hidden = 32, batch = 32, steps = 1500, learningRate = 5e-3
    var testSize = 1000, reportEvery = 100, seed: UInt64 = 1
    /// Training stops early once validation accuracy reaches this.
    var stopAtValidationAccuracy = 0.99

    static let standard = SentimentConfiguration()
    static let tiny = SentimentConfiguration(lengths: 2...5, steps: 300, testSize: 200, reportEvery: 50, stopAtValidationAccuracy: 0.97)
}

/// Many-to-one: embeddings → bidirectional GRU over the padded batch → the final state of each
/// direction (each at its sentence's own length) → logits of negative and positive.
final class SentimentClassifier: Module {
    let embedding: Embedding
    let gru: GRU
    let readout: Linear

    init(embedding size: Int, hidden: Int) {
        embedding = Embedding(Reviews.vocabulary.count, size, paddingIndex: 0)
        gru = GRU(inputSize: size, hiddenSize: hidden, batchFirst: true, bidirectional: true)
        readout = Linear(2 * hidden, 2)
        super.init()
    }

    func logits(_ ids: IndexTensor, lengths: [Int]) -> Tensor {
        let (_, state) = gru(embedding(ids), lengths: lengths)  // state[0]: [2, batch, hidden], forward then reverse
        return readout(state[0].permuted([1, 0, 2]).reshaped(to: [lengths.count, -1]))
    }
}

/// The fraction of sentences classified correctly.
func accuracy(_ model: SentimentClassifier, _ sentences: [(words: [String], label: Int)]) -> Double {
    let batch = Reviews.batch(sentences)
    let predicted = noGrad { model.logits(batch.ids, lengths: batch.lengths).argmax(along: 1) }
    return Double(zip(predicted.values, batch.labels.values).filter { $0 == $1 }.count) / Double(sentences.count)
}

/// Trains with Adam on fresh sentences, printing the loss and validation accuracy every
/// `reportEvery` steps; returns the model and a held-out test set.
func train(_ configuration: SentimentConfiguration, log: (String) -> Void)
    throws -> (model: SentimentClassifier, test: [(words: [String], label: Int)], steps: Int) {
    RandomGenerator.seedThread(configuration.seed)
    var generator = RandomGenerator(seed: configuration.seed), heldOutGenerator = RandomGenerator(seed: configuration.seed &+ 1000)
    let test = (0..<configuration.testSize).map { _ in Reviews.sentence(lengths: configuration.lengths, using: &heldOutGenerator) }
    let validation = (0..<300).map { _ in Reviews.sentence(lengths: configuration.lengths, using: &heldOutGenerator) }
    let model = SentimentClassifier(embedding: configuration.embedding, hidden: configuration.hidden)
    let optimizer = try Adam(model.parameters(), options: .init(learningRate: configuration.learningRate))
    var recentLoss = 0.0
    for step in 1...configuration.steps {
        let batch = Reviews.batch((0..<configuration.batch).map { _ in Reviews.sentence(lengths: configuration.lengths, using: &generator) })
        optimizer.zeroGrad()
        let loss = crossEntropy(logits: model.logits(batch.ids, lengths: batch.lengths), targets: batch.labels)
        loss.backward()
        optimizer.step()
        recentLoss += loss.item()
        if step % configuration.reportEvery == 0 {
            let validationAccuracy = accuracy(model, validation)
            log(String(format: "step %5d  loss %.4f  validation accuracy %.3f", step, recentLoss / Double(configuration.reportEvery), validationAccuracy))
            recentLoss = 0
            if validationAccuracy >= configuration.stopAtValidationAccuracy { return (model, test, step) }
        }
    }
    return (model, test, configuration.steps)
}
