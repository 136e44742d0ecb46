import AutoGrad
import Foundation

/// A context that can follow its batch rows when a search reorders, repeats or drops them.
public protocol BatchSelectable {
    /// The context of the batch entries `rows` (repeats allowed), in that order.
    func selectingRows(_ rows: [Int]) -> Self
}

extension AttentionMemory: BatchSelectable {
    public func selectingRows(_ rows: [Int]) -> AttentionMemory {
        let indices = IndexTensor(rows)
        let mask = keyMask.map { mask -> Mask in
            let time = mask.shape[1]
            return Mask(rows.flatMap { mask.values[($0 * time)..<(($0 + 1) * time)] }, shape: [rows.count, time])
        }
        return AttentionMemory(keys: keys.gathering(indices, along: 0), values: values.gathering(indices, along: 0), keyMask: mask)
    }
}

/// Token-by-token generation from a decoder cell without recording: each step embeds the
/// previous tokens, runs the cell (with its context and the step's index) and turns the output
/// into logits over the vocabulary. Greedy decoding and beam search share it. The cell's
/// context must be ``BatchSelectable`` (as ``AttentionMemory`` is) or `Void` (a plain cell).
public struct SequenceDecoder<Cell: ContextualRecurrentCell> {
    /// The decoder step.
    public let cell: Cell
    /// Tokens [batch] → the cell's inputs [batch, inputSize] (e.g. an `Embedding`).
    public let embed: (IndexTensor) -> Tensor
    /// The cell's outputs [batch, outputSize] → logits [batch, vocabulary] (e.g. a `Linear`).
    public let logits: (Tensor) -> Tensor
    /// The token every sequence starts from.
    public let startToken: Int
    /// The token that ends a sequence (not included in results).
    public let endToken: Int
    /// The context of some batch rows (a search repeats an entry's context per beam).
    private let selectRows: (Cell.Context, [Int]) -> Cell.Context

    private init(cell: Cell, startToken: Int, endToken: Int, embed: @escaping (IndexTensor) -> Tensor,
                 logits: @escaping (Tensor) -> Tensor, selectRows: @escaping (Cell.Context, [Int]) -> Cell.Context) {
        self.cell = cell
        self.embed = embed
        self.logits = logits
        self.startToken = startToken
        self.endToken = endToken
        self.selectRows = selectRows
    }

    /// Log-probabilities over the vocabulary after feeding `tokens`, and the next state.
    private func advance(_ tokens: [Int], state: [Tensor], time: Int, context: Cell.Context) -> (Tensor, [Tensor]) {
        let input = cell.prepareInputs(embed(IndexTensor(tokens)))
        let (output, next) = cell.step(prepared: input, state: state, time: time, context: context)
        return (logits(output).logSoftmax(along: 1), next)
    }

    /// The most likely token at every step, for each batch entry until it produces the end
    /// token or `maxLength` tokens. `initialState` is the cell's state layout (each
    /// component [batch, size]), e.g. an encoder's final state.
    public func greedy(context: Cell.Context, initialState: [Tensor], maxLength: Int) -> [[Int]] {
        noGrad {
            let batch = initialState[0].shape[0]
            var results = [[Int]](repeating: [], count: batch), finished = [Bool](repeating: false, count: batch)
            var tokens = [Int](repeating: startToken, count: batch), state = initialState
            for time in 0..<maxLength where finished.contains(false) {
                let (logProbabilities, next) = advance(tokens, state: state, time: time, context: context)
                tokens = logProbabilities.argmax(along: 1).values
                state = next
                for b in 0..<batch where !finished[b] {
                    if tokens[b] == endToken { finished[b] = true } else { results[b].append(tokens[b]) }
                }
            }
            return results
        }
    }

    /// Beam search: for each batch entry keeps the `beamWidth` most likely partial sequences,
    /// extends each by every token and keeps the best `beamWidth` again. A sequence ends with
    /// the end token (or at `maxLength`) and is ranked by its log-probability divided by
    /// lengthᵅ, α = `lengthNormalization` (0: raw log-probability, which favours short
    /// outputs; the length counts the end token). The search of an entry stops when
    /// `beamWidth` sequences have ended or at `maxLength`. Returns each entry's best sequence
    /// and its normalized score.
    public func beamSearch(context: Cell.Context, initialState: [Tensor], beamWidth: Int, maxLength: Int,
                           lengthNormalization: Double = 1) -> [(tokens: [Int], score: Double)] {
        guard beamWidth >= 1 else { opFailure("beamSearch", "beamWidth must be at least 1, got \(beamWidth)") }
        return noGrad {
            (0..<initialState[0].shape[0]).map { b in
                search(context: selectRows(context, [b]), state: initialState.map { $0.slice(b..<(b + 1), along: 0) },
                       beamWidth: beamWidth, maxLength: maxLength, alpha: lengthNormalization)
            }
        }
    }

    private func search(context: Cell.Context, state start: [Tensor], beamWidth: Int, maxLength: Int, alpha: Double)
        -> (tokens: [Int], score: Double) {
        func normalized(_ logProbability: Double, _ length: Int) -> Double {
            alpha == 0 ? logProbability : logProbability / Foundation.pow(Double(Swift.max(length, 1)), alpha)
        }
        var live: [(tokens: [Int], logProbability: Double)] = [([], 0)]
        var finished: [(tokens: [Int], score: Double)] = []
        var state = start
        for time in 0..<maxLength where !live.isEmpty && finished.count < beamWidth {
            let rows = Array(repeating: 0, count: live.count)
            let (logProbabilities, next) = advance(live.map { $0.tokens.last ?? startToken }, state: state, time: time,
                                                   context: selectRows(context, rows))
            let vocabulary = logProbabilities.shape[1], values = logProbabilities.scalars
            let totals: [Double] = values.indices.map { values[$0] + live[$0 / vocabulary].logProbability }
            // Every (beam, token) extension, best first (ties by beam, then token).
            let candidates = totals.indices.sorted { totals[$0] > totals[$1] || (totals[$0] == totals[$1] && $0 < $1) }
            var kept: [(tokens: [Int], logProbability: Double)] = [], parents: [Int] = []
            for candidate in candidates.prefix(beamWidth) {
                let (parent, token) = (candidate / vocabulary, candidate % vocabulary)
                let logProbability = totals[candidate]
                if token == endToken {
                    finished.append((live[parent].tokens, normalized(logProbability, live[parent].tokens.count + 1)))
                } else {
                    kept.append((live[parent].tokens + [token], logProbability))
                    parents.append(parent)
                }
            }
            live = kept
            state = parents.isEmpty ? state : next.map { $0.gathering(IndexTensor(parents), along: 0) }
        }
        let unfinished = live.map { ($0.tokens, normalized($0.logProbability, $0.tokens.count)) }
        return (finished + unfinished).max { $0.score < $1.score }!
    }
}

extension SequenceDecoder where Cell.Context: BatchSelectable {
    /// A decoder for a cell whose context follows the batch (e.g. an attention decoder).
    public init(cell: Cell, startToken: Int, endToken: Int, embed: @escaping (IndexTensor) -> Tensor,
                logits: @escaping (Tensor) -> Tensor) {
        self.init(cell: cell, startToken: startToken, endToken: endToken, embed: embed, logits: logits) { $0.selectingRows($1) }
    }
}

extension SequenceDecoder where Cell.Context == Void {
    /// A decoder for a plain cell (no context); call the searches with `context: ()`.
    public init(cell: Cell, startToken: Int, endToken: Int, embed: @escaping (IndexTensor) -> Tensor,
                logits: @escaping (Tensor) -> Tensor) {
        self.init(cell: cell, startToken: startToken, endToken: endToken, embed: embed, logits: logits) { _, _ in () }
    }
}
