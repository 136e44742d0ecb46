import Testing
@testable import ctcdigits
import Layers

/// The ctcdigits example's core on a tiny configuration.
@Suite(.serialized) struct CTCDigitsTests {
    @Test func editDistanceByHand() {
        #expect(editDistance([1, 2, 3], [1, 2, 3]) == 0)
        #expect(editDistance([1, 2, 3], [1, 3]) == 1)         // one deletion
        #expect(editDistance([1, 2, 3], [3, 2, 1]) == 2)      // two substitutions
        #expect(editDistance([], [4, 4]) == 2 && editDistance([5], []) == 1)
    }

    /// Frames come from the digits' templates in order, each part held 1–3 frames.
    @Test func utterancesAreTemplatesWithVaryingDurations() {
        let data = DigitFrames(featureSize: 4, partsPerDigit: 2, digitRange: 2...2, noise: 0)
        var generator = RandomGenerator(seed: 5)
        let (frames, labels) = data.utterance(using: &generator)
        #expect(labels.count == 2 && labels.allSatisfy { (1...10).contains($0) })
        let parts = labels.flatMap { data.templates[$0 - 1] }
        let nonSilent = frames.filter { $0.contains { $0 != 0 } }
        // Collapsing repeats of the noise-free frames gives the parts in order.
        let collapsed = nonSilent.enumerated().filter { $0.offset == 0 || nonSilent[$0.offset - 1] != $0.element }.map(\.element)
        #expect(collapsed == parts)
        #expect((4...12).contains(nonSilent.count) && frames.count <= nonSilent.count + 2)
        let batch = data.batch([(frames, labels), (Array(frames.prefix(3)), [labels[0]])])
        #expect(batch.features.shape == [frames.count, 2, 4] && batch.frameCounts == [frames.count, 3])
        #expect(batch.targets == IndexTensor([labels, [labels[0], 0]]) && batch.labelCounts == [2, 1])
        #expect(batch.features[2, 1, 3] == Double(Float(frames[2][3])) && batch.features[4, 1, 0] == 0)  // float32 features
    }

    @Test func tinyConfigurationLearnsToRead() throws {
        var lines: [String] = []
        let (model, test, _) = try train(.tiny) { lines.append($0) }
        let error = labelErrorRate(model, CTCDigitsConfiguration.tiny.data, test)
        #expect(error <= 0.1, "held-out label error rate \(error); log: \(lines)")
    }
}
