import Testing
@testable import sentiment
import Layers

/// The sentiment example's core: labels by hand, padded batches, and a tiny configuration
/// learning negation.
@Suite(.serialized) struct SentimentTests {
    @Test func labelsFollowNegation() {
        #expect(Reviews.label(["the", "film", "was", "good"]) == 1)
        #expect(Reviews.label(["not", "good"]) == 0)
        #expect(Reviews.label(["good", "not"]) == 1)                      // "not" flips only a following word
        #expect(Reviews.label(["not", "bad", "but", "dull", "and", "weak"]) == 0)  // +1 − 1 − 1
        #expect(Reviews.label(["good", "bad"]) == nil && Reviews.label(["the", "plot"]) == nil)
    }

    @Test func batchesPadWithZero() {
        let batch = Reviews.batch([(["not", "good"], 0), (["fun"], 1)])
        let (not, good, fun) = (Reviews.index["not"]!, Reviews.index["good"]!, Reviews.index["fun"]!)
        #expect(batch.ids == IndexTensor([[not, good], [fun, 0]]) && batch.lengths == [2, 1] && batch.labels == IndexTensor([0, 1]))
    }

    @Test func tinyConfigurationLearnsNegation() throws {
        var lines: [String] = []
        let (model, test, _) = try train(.tiny) { lines.append($0) }
        let heldOut = accuracy(model, test)
        #expect(heldOut >= 0.9, "held-out accuracy \(heldOut); log: \(lines)")
    }
}
