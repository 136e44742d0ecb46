import Foundation
import Testing
@testable import seq2seq
import Layers

/// The seq2seq example's core on a tiny configuration: batches are padded as the decoder
/// expects, training reaches high held-out exact match, and the heat map has one cell per
/// (output step, source position).
@Suite(.serialized) struct Seq2SeqTests {
    @Test func batchesPadAndShiftTheTargets() {
        let batch = ReversalBatch([([0, 1, 2], [4, 3, 2]), ([3], [5])])
        #expect(batch.sources == IndexTensor([[0, 1, 2], [3, 0, 0]]) && batch.sourceLengths == [3, 1])
        #expect(batch.decoderInputs == IndexTensor([[0, 4, 3, 2], [0, 5, 0, 0]]))
        #expect(batch.decoderTargets == IndexTensor([[4, 3, 2, 1], [5, 1, 0, 0]]))
        #expect(batch.targetLengths == [4, 2] && batch.references == [[4, 3, 2], [5]])
    }

    @Test func tinyConfigurationLearnsToReverse() throws {
        var lines: [String] = []
        let (model, test, _) = try train(.tiny) { lines.append($0) }
        #expect(!lines.isEmpty)
        let match = exactMatch(model, test, task: Seq2SeqConfiguration.tiny.task)
        #expect(match >= 0.9, "held-out exact match \(match); log: \(lines)")
        let (output, weights) = model.attentionMap([0, 1, 2], maxLength: 6)
        #expect(weights.count == output.count + 1 && weights.allSatisfy { $0.count == 3 && abs($0.reduce(0, +) - 1) < 1e-5 })
        let svg = attentionHeatMap(weights: weights, sourceLabels: ["a", "b", "c"], outputLabels: Array(repeating: "x", count: weights.count), title: "t")
        #expect(svg.components(separatedBy: "<rect x=").count - 1 == 3 * weights.count)
    }
}
