import Foundation
import ExampleSupport
import Layers

// ctcdigits: a bidirectional GRU learns to read digit sequences from unsegmented, noisy
// feature frames of varying duration with CTC; reports the greedy (and prefix-beam) label
// error rate on held-out utterances.

let configuration = CTCDigitsConfiguration.standard
let data = configuration.data
say("ctcdigits: \(data.digitRange.lowerBound)–\(data.digitRange.upperBound) digits per utterance, each a \(data.templates[0].count)-part template held 1–3 frames, \(data.featureSize) features, noise σ \(data.noise); bidirectional GRU \(configuration.layers)×\(configuration.hidden), CTC loss")
let stopwatch = Stopwatch()
let (model, test, steps) = try train(configuration, log: say)
let greedy = labelErrorRate(model, data, test)
let beam = labelErrorRate(model, data, test, beamWidth: 8)
var generator = RandomGenerator(seed: 7)
let example = data.utterance(using: &generator)
let decoded = noGrad { () -> [Int] in
    let batch = data.batch([example])
    return ctcGreedyDecode(logProbabilities: model.logProbabilities(batch.features, frameCounts: batch.frameCounts))[0]
}
say("example: \(example.frames.count) frames, digits \(example.labels.map { String($0 - 1) }.joined()) → decoded \(decoded.map { String($0 - 1) }.joined())")
say(String(format: "result: held-out label error rate %.4f greedy, %.4f prefix beam (width 8), on %d utterances after %d steps (%.0f s)",
           greedy, beam, test.count, steps, stopwatch.seconds))
