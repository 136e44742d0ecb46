import Foundation
import ExampleSupport
import Layers

// slots: slot filling on synthetic flight queries with a bidirectional LSTM; words enter as
// 1-of-N codes with an "other" entry plus hashed letter trigrams, and the tagger is scored
// (per-slot F1) on held-out sentences whose city and airline names never occur in training.

let configuration = SlotsConfiguration.standard
say("slots: flight queries, \(FlightQueries.tags.count) BIO tags; bidirectional LSTM \(configuration.hidden), words as 1-of-N + other + \(configuration.trigramBuckets) trigram buckets; held out: \(FlightQueries.heldOutCities.count) cities and \(FlightQueries.heldOutAirlines.count) airlines never seen in training")
let stopwatch = Stopwatch()
let (tagger, features, heldOut, steps) = try train(configuration, log: say)
let scores = evaluate(tagger, features, heldOut)
let seconds = stopwatch.seconds  // the ablation below is not part of the run's time
for slot in FlightQueries.slots {
    say(String(format: "  %@ F1 %.3f", slot.padding(toLength: 12, withPad: " ", startingAt: 0), scores.f1(slot)))
}
let example = heldOut[0]
let predicted = noGrad { tagger.logits(features.encode([example.words]), lengths: [example.words.count]).argmax(along: 2).values }
say("example: " + zip(example.words, predicted).map { $1 == 0 ? $0 : "\($0)/\(FlightQueries.tags[$1])" }.joined(separator: " "))
say("ablation: the same tagger with words as 1-of-N codes alone (no trigrams, no word dropout)")
let ablation = try train(.withoutUnseenWordHandling, log: say)
let ablationF1 = evaluate(ablation.tagger, ablation.features, ablation.heldOut).f1()
say(String(format: "result: held-out slot F1 %.3f without trigram hashing and word dropout", ablationF1))
say(String(format: "result: held-out slot F1 %.3f (micro-average over slots) on %d sentences with unseen words, after %d steps (%.0f s)",
           scores.f1(), heldOut.count, steps, seconds))
