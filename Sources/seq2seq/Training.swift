import Foundation
import Layers
import Optim

/// The run's settings; ``standard`` is what the executable trains, ``tiny`` what the test runs.
struct Seq2SeqConfiguration {
    var task = ReversalTask(letterCount: 10, lengths: 4...12)
    var embedding = 32, hidden = 64, batch = 64, steps = 3000, learningRate = 3e-3
    var testSize = 1000, validationSize = 200, reportEvery = 100, seed: UInt64 = 1
    /// Training stops early once greedy exact match on the validation set reaches this.
    var stopAtValidationMatch = 0.995

    static let standard = Seq2SeqConfiguration()
    static let tiny = Seq2SeqConfiguration(task: ReversalTask(letterCount: 6, lengths: 2...4), embedding: 12, hidden: 24, batch: 32,
                                           steps: 400, learningRate: 1e-2, testSize: 100, validationSize: 50, reportEvery: 50,
                                           stopAtValidationMatch: 0.98)
}

/// Held-out exact match: the fraction of test strings whose greedy output equals the reversal.
func exactMatch(_ model: Seq2SeqModel, _ batch: ReversalBatch, task: ReversalTask) -> Double {
    let decoded = model.translate(batch.sources, lengths: batch.sourceLengths, maxLength: task.lengths.upperBound + 2)
    return Double(zip(decoded, batch.references).filter { $0 == $1 }.count) / Double(batch.references.count)
}

/// Trains with Adam on fresh random strings (none of them in the held-out sets), printing the
/// loss and validation exact match every `reportEvery` steps; returns the model and the
/// held-out test batch.
func train(_ configuration: Seq2SeqConfiguration, log: (String) -> Void) throws -> (model: Seq2SeqModel, test: ReversalBatch, steps: Int) {
    RandomGenerator.seedThread(configuration.seed)
    let task = configuration.task
    var generator = RandomGenerator(seed: configuration.seed &+ 1)
    var heldOut = Set<[Int]>(), held: [(source: [Int], target: [Int])] = []
    while held.count < configuration.testSize + configuration.validationSize {
        let example = task.example(using: &generator)
        if heldOut.insert(example.source).inserted { held.append(example) }
    }
    let validation = ReversalBatch(Array(held.prefix(configuration.validationSize)))
    let test = ReversalBatch(Array(held.dropFirst(configuration.validationSize)))
    let model = Seq2SeqModel(sourceVocabulary: task.letterCount, targetVocabulary: task.targetVocabulary,
                             embedding: configuration.embedding, hidden: configuration.hidden)
    let optimizer = try Adam(model.parameters(), options: .init(learningRate: configuration.learningRate))
    var recentLoss = 0.0
    for step in 1...configuration.steps {
        var examples: [(source: [Int], target: [Int])] = []
        while examples.count < configuration.batch {
            let example = task.example(using: &generator)
            if !heldOut.contains(example.source) { examples.append(example) }
        }
        optimizer.zeroGrad()
        let loss = model.loss(ReversalBatch(examples))
        loss.backward()
        _ = clipGradientNorm(model.parameters(), maxNorm: 1)
        optimizer.step()
        recentLoss += loss.item()
        if step % configuration.reportEvery == 0 {
            let match = exactMatch(model, validation, task: task)
            log(String(format: "step %5d  loss %.4f  validation exact match %.3f", step, recentLoss / Double(configuration.reportEvery), match))
            recentLoss = 0
            if match >= configuration.stopAtValidationMatch { return (model, test, step) }
        }
    }
    return (model, test, configuration.steps)
}
