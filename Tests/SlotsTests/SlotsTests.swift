import Testing
@testable import slots
import Layers

/// The slots example's core: BIO spans and F1 by hand, word features, tagged sentences, and a
/// tiny configuration learning to tag unseen names.
@Suite(.serialized) struct SlotsTests {
    /// Tags: 0 = O, 1/2 = B/I of slot 0, 3/4 = B/I of slot 1.
    @Test func spansAndF1ByHand() {
        #expect(SlotScores.spans([0, 1, 2, 0, 3, 3, 4]) == [[0, 1, 3], [1, 4, 5], [1, 5, 7]])
        #expect(SlotScores.spans([2, 2, 0, 4]) == [[0, 0, 2], [1, 3, 4]])  // a stray I- starts a span
        var scores = SlotScores()
        scores.add(predicted: [1, 2, 0, 3], actual: [1, 2, 0, 3], slots: ["a", "b"])
        scores.add(predicted: [1, 0, 0, 0], actual: [1, 2, 0, 3], slots: ["a", "b"])  // a's span too short, b missed
        #expect(scores.f1("a") == 2.0 * 1 / (2 + 2) && scores.f1("b") == 2.0 * 1 / (1 + 2))
        #expect(scores.f1() == 2.0 * 2 / (3 + 4))
    }

    @Test func wordFeaturesCodeUnseenWordsAsOther() {
        let features = WordFeatures(trainingWords: ["to", "boston", "to"], trigramBuckets: 16)
        #expect(features.vocabulary == ["boston": 0, "to": 1] && features.size == 3 + 16)
        #expect(features.trigrams("to").count == 2 && features.trigrams("boston").count == 6)  // #to, to#; #bo … on#
        let encoded = features.encode([["to", "tampa"], ["boston"]], hidden: [[1, 0]])
        #expect(encoded.shape == [2, 2, 19])
        #expect(encoded[0, 0, 1] == 1 && encoded[0, 1, 2] == 1 && encoded[1, 0, 2] == 1 && encoded[1, 0, 0] == 0)
        let trigramMass = (3..<19).map { encoded[0, 1, $0] }.reduce(0, +)
        #expect(abs(trigramMass - 1) < 1e-6 && (0..<19).allSatisfy { encoded[1, 1, $0] == 0 })  // padding is zero
    }

    @Test func sentencesTagMultiWordNames() {
        var generator = RandomGenerator(seed: 3)
        for _ in 0..<50 {
            let (words, tags) = FlightQueries.sentence(heldOut: true, using: &generator)
            #expect(words.count == tags.count)
            for span in SlotScores.spans(tags) {
                let name = words[span[1]..<span[2]].joined(separator: " ")
                let slot = FlightQueries.slots[span[0]]
                let list = ["fromloc": FlightQueries.heldOutCities, "toloc": FlightQueries.heldOutCities, "airline": FlightQueries.heldOutAirlines,
                            "depart_day": FlightQueries.days, "depart_time": FlightQueries.times][slot]!
                #expect(list.contains(name), "\(slot): \(name)")
            }
        }
    }

    @Test func tinyConfigurationTagsUnseenNames() throws {
        var lines: [String] = []
        let (tagger, features, heldOut, _) = try train(.tiny) { lines.append($0) }
        let f1 = evaluate(tagger, features, heldOut).f1()
        #expect(f1 >= 0.9, "held-out slot F1 \(f1); log: \(lines)")
    }
}
