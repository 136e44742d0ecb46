import ExampleSupport
import Layers

// sentiment: many-to-one classification of padded, variable-length sentences whose label
// depends on word order (negation); a bidirectional GRU's final states feed a linear readout.

let configuration = SentimentConfiguration.standard
say("sentiment: sentences of \(configuration.lengths.lowerBound)–\(configuration.lengths.upperBound) words, label = sign of the sentiment words' sum with \"not\" flipping the next one; embeddings \(configuration.embedding), bidirectional GRU \(configuration.hidden)")
let stopwatch = Stopwatch()
let (model, test, steps) = try train(configuration, log: say)
let testAccuracy = accuracy(model, test)
let seconds = stopwatch.seconds
for words in [["the", "film", "was", "not", "good"], ["not", "bad", "and", "quite", "moving"], ["good", "acting", "but", "not", "great", "and", "boring"]] {
    let batch = Reviews.batch([(words, 0)])
    let label = noGrad { model.logits(batch.ids, lengths: batch.lengths).argmax(along: 1).values[0] }
    say("\"\(words.joined(separator: " "))\" → \(label == 1 ? "positive" : "negative")")
}
say(String(format: "result: held-out accuracy %.3f on %d sentences after %d steps (%.0f s)", testAccuracy, test.count, steps, seconds))
