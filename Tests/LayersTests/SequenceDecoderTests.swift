import Foundation
import Testing
@testable import Layers

/// Greedy decoding and beam search against hand loops and exhaustive search.
@Suite struct SequenceDecoderTests {
    /// A small attention decoder over random encoder outputs (vocabulary 4, end token 3).
    final class Model {
        let embedding = Embedding(4, 3)
        let cell = AttentionDecoderCell(cell: GRUCell(inputSize: 3 + 4, hiddenSize: 5),
                                        attention: MultiplicativeAttention(querySize: 5, keySize: 4, score: .general), contextSize: 4)
        let head = Linear(9, 4)
        let memory: AttentionMemory
        let start: Tensor

        init(seed: UInt64) {
            RandomGenerator.seedThread(seed)
            var generator = RandomGenerator(seed: seed)
            for module in [embedding, cell, head] as [Module] { module.to(.float64) }
            for parameter in cell.parameters() + head.parameters() { parameter.value = parameter.value * 3 }  // peaked choices
            memory = cell.memory(encoderOutputs: Tensor.randomNormal([2, 4, 4], dtype: .float64, using: &generator),
                                 mask: Mask(lengths: [4, 2], maxLength: 4))
            start = Tensor.randomNormal([2, 5], dtype: .float64, using: &generator)
        }

        var decoder: SequenceDecoder<AttentionDecoderCell<GRUCell, MultiplicativeAttention>> {
            SequenceDecoder(cell: cell, startToken: 0, endToken: 3, embed: { [embedding] in embedding($0) }, logits: { [head] in head($0) })
        }

        /// log p(tokens | entry b), each token fed back, by the cell's own step.
        func logProbability(of tokens: [Int], entry b: Int) -> Double {
            var state = [start.slice(b..<(b + 1), along: 0)], previous = 0, total = 0.0
            let entryMemory = memory.selectingRows([b])
            for token in tokens {
                let (output, next, _) = cell.attendingStep(embedding(IndexTensor([previous])), state: state, memory: entryMemory)
                total += head(output).logSoftmax(along: 1)[0, token]
                (state, previous) = (next, token)
            }
            return total
        }
    }

    @Test func greedyFollowsTheArgmaxAndEqualsAWidthOneBeam() {
        for seed in [1, 2, 3] as [UInt64] {
            let model = Model(seed: seed)
            let greedy = model.decoder.greedy(context: model.memory, initialState: [model.start], maxLength: 6)
            let narrow = model.decoder.beamSearch(context: model.memory, initialState: [model.start], beamWidth: 1, maxLength: 6)
            #expect(greedy == narrow.map(\.tokens), "seed \(seed)")
            for b in 0..<2 {
                // Each emitted token is the most likely one after its prefix.
                var prefix: [Int] = []
                for token in greedy[b] + (greedy[b].count < 6 ? [3] : []) {
                    let scores = (0..<4).map { model.logProbability(of: prefix + [$0], entry: b) }
                    #expect(scores.indices.max { scores[$0] < scores[$1] } == token, "seed \(seed) entry \(b) after \(prefix)")
                    prefix.append(token)
                }
            }
        }
    }

    /// With a beam wider than the tree, the search returns the best of every sequence up to
    /// the maximum length by normalized score, for several length normalizations.
    @Test(arguments: [0.0, 0.7, 1.0])
    func wideBeamIsExhaustive(_ alpha: Double) {
        let model = Model(seed: 7)
        let results = model.decoder.beamSearch(context: model.memory, initialState: [model.start], beamWidth: 100,
                                               maxLength: 3, lengthNormalization: alpha)
        for b in 0..<2 {
            var best: (tokens: [Int], score: Double) = ([], -.infinity)
            for length in 0...3 {
                for body in allSequences(length: length, of: [0, 1, 2]) {
                    let tokens = length < 3 ? body + [3] : body  // unfinished at the maximum length
                    let score = model.logProbability(of: tokens, entry: b) / Foundation.pow(Double(max(tokens.count, 1)), alpha)
                    if score > best.score { best = (body, score) }
                }
            }
            #expect(results[b].tokens == best.tokens, "entry \(b)")
            #expect(abs(results[b].score - best.score) < 1e-12, "entry \(b)")
        }
    }

    /// A plain cell (no context) decodes too.
    @Test func plainCellDecodes() {
        RandomGenerator.seedThread(9)
        let embedding = Embedding(5, 3), cell = GRUCell(inputSize: 3, hiddenSize: 4), head = Linear(4, 5)
        let decoder = SequenceDecoder(cell: cell, startToken: 0, endToken: 4, embed: { embedding($0) }, logits: { head($0) })
        let start = Tensor.randomNormal([3, 4])
        let greedy = decoder.greedy(context: (), initialState: [start], maxLength: 5)
        #expect(greedy.count == 3 && greedy.allSatisfy { $0.count <= 5 && !$0.contains(4) })
        #expect(decoder.beamSearch(context: (), initialState: [start], beamWidth: 1, maxLength: 5).map(\.tokens) == greedy)
    }

    @Test func memoryFollowsSelectedRows() {
        let keys = Tensor((0..<12).map(Double.init), shape: [3, 2, 2], dtype: .float64)
        let memory = AttentionMemory(keys: keys, values: keys * 10, keyMask: Mask(lengths: [2, 1, 2], maxLength: 2))
        let selected = memory.selectingRows([1, 1, 0])
        #expect(selected.keys.scalars == [4, 5, 6, 7, 4, 5, 6, 7, 0, 1, 2, 3])
        #expect(selected.values.scalars == selected.keys.scalars.map { $0 * 10 })
        #expect(selected.keyMask == Mask([true, false, true, false, true, true], shape: [3, 2]))
    }
}

private func allSequences(length: Int, of tokens: [Int]) -> [[Int]] {
    (0..<length).reduce([[]]) { prefixes, _ in prefixes.flatMap { prefix in tokens.map { prefix + [$0] } } }
}
