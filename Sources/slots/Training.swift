import Foundation
import Layers
import Optim

/// The run's settings; ``standard`` is what the executable trains, ``tiny`` what the test runs.
struct SlotsConfiguration {
    var hidden = 32, trigramBuckets = 128, batch = 32, steps = 600, learningRate = 1e-2
    /// The probability of coding a training word as "other", so the network learns what to do
    /// with words it has never seen (word dropout).
    var wordDropout = 0.15
    var testSize = 500, reportEvery = 100, seed: UInt64 = 1

    static let standard = SlotsConfiguration()
    /// The ablation: words as 1-of-N codes alone, never "other" in training.
    static let withoutUnseenWordHandling = SlotsConfiguration(trigramBuckets: 0, wordDropout: 0)
    static let tiny = SlotsConfiguration(steps: 100, testSize: 100, reportEvery: 50)
}

/// A bidirectional LSTM tagger: word features in, one tag's logits per word out.
final class SlotTagger: Module {
    let lstm: LSTM
    let head: Linear

    init(inputSize: Int, hidden: Int) {
        lstm = LSTM(inputSize: inputSize, hiddenSize: hidden, batchFirst: true, bidirectional: true)
        head = Linear(2 * hidden, FlightQueries.tags.count)
        super.init()
    }

    /// Features [batch, time, size] → logits [batch, time, tags].
    func logits(_ features: Tensor, lengths: [Int]) -> Tensor { head(lstm(features, lengths: lengths).output) }
}

/// Per-slot span scores of the tagger's most likely tags on `sentences`.
func evaluate(_ tagger: SlotTagger, _ features: WordFeatures, _ sentences: [(words: [String], tags: [Int])]) -> SlotScores {
    let predicted = noGrad { tagger.logits(features.encode(sentences.map(\.words)), lengths: sentences.map(\.words.count)).argmax(along: 2) }
    var scores = SlotScores()
    for (b, sentence) in sentences.enumerated() {
        scores.add(predicted: Array(predicted.select(b, along: 0).values.prefix(sentence.words.count)), actual: sentence.tags,
                   slots: FlightQueries.slots)
    }
    return scores
}

/// Trains on sentences with the training cities and airlines; returns the tagger, the
/// features and the held-out sentences (held-out cities and airlines only).
func train(_ configuration: SlotsConfiguration, log: (String) -> Void)
    throws -> (tagger: SlotTagger, features: WordFeatures, heldOut: [(words: [String], tags: [Int])], steps: Int) {
    RandomGenerator.seedThread(configuration.seed)
    var generator = RandomGenerator(seed: configuration.seed)
    // The vocabulary: every word the training sentences can contain (templates, days, times, training names).
    let trainingWords = (FlightQueries.templates + FlightQueries.days + FlightQueries.times + FlightQueries.trainingCities
                         + FlightQueries.trainingAirlines).flatMap { $0.split(separator: " ").map(String.init) }.filter { !$0.hasPrefix("{") }
    let features = WordFeatures(trainingWords: trainingWords, trigramBuckets: configuration.trigramBuckets)
    var heldOutGenerator = RandomGenerator(seed: configuration.seed &+ 1000)
    let heldOut = (0..<configuration.testSize).map { _ in FlightQueries.sentence(heldOut: true, using: &heldOutGenerator) }
    let tagger = SlotTagger(inputSize: features.size, hidden: configuration.hidden)
    let optimizer = try Adam(tagger.parameters(), options: .init(learningRate: configuration.learningRate))
    var recentLoss = 0.0
    for step in 1...configuration.steps {
        let sentences = (0..<configuration.batch).map { _ in FlightQueries.sentence(heldOut: false, using: &generator) }
        var dropped = Set<[Int]>()
        for (b, sentence) in sentences.enumerated() {
            for t in sentence.words.indices where generator.nextUniform() < configuration.wordDropout { dropped.insert([b, t]) }
        }
        let lengths = sentences.map(\.words.count), maxLength = lengths.max()!
        let targets = IndexTensor(sentences.flatMap { $0.tags + Array(repeating: 0, count: maxLength - $0.tags.count) },
                                  shape: [sentences.count, maxLength])
        optimizer.zeroGrad()
        let loss = sequenceCrossEntropy(logits: tagger.logits(features.encode(sentences.map(\.words), hidden: dropped), lengths: lengths),
                                        targets: targets, mask: Mask(lengths: lengths, maxLength: maxLength))
        loss.backward()
        optimizer.step()
        recentLoss += loss.item()
        if step % configuration.reportEvery == 0 {
            log(String(format: "step %4d  loss %.4f  held-out slot F1 %.3f", step, recentLoss / Double(configuration.reportEvery),
                       evaluate(tagger, features, Array(heldOut.prefix(200))).f1()))
            recentLoss = 0
        }
    }
    return (tagger, features, heldOut, configuration.steps)
}
