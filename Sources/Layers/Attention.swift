import AutoGrad

/// Keys and values an attention reads, transformed once per batch of sequences and reused by
/// every query (an attention decoder asks once per step): keys [batch, time, ·] and values
/// [batch, time, ·] (or [batch, heads, time, ·] once split into heads), and an optional key
/// mask [batch, time], `true` at valid (not padded) steps.
public struct AttentionMemory: Sendable {
    /// The keys, as the attention prepared them (e.g. projected).
    public let keys: Tensor
    /// The values, as the attention prepared them.
    public let values: Tensor
    /// `true` at the steps a query may attend to; `nil`: all of them.
    public let keyMask: Mask?

    /// A memory of prepared keys and values; each mask row needs at least one valid step.
    public init(keys: Tensor, values: Tensor, keyMask: Mask?) {
        guard keys.rank >= 3, values.rank == keys.rank, keys.shape.dropLast() == values.shape.dropLast() else {
            opFailure("attention", "keys \(keys.shape) and values \(values.shape) are not [batch, (heads,) time, features] of one batch and time")
        }
        let time = keys.shape[keys.rank - 2]
        if let keyMask {
            guard keyMask.shape == [keys.shape[0], time] else {
                opFailure("attention", "key mask \(keyMask.shape) does not match keys [batch, time] = \([keys.shape[0], time])")
            }
            if let row = (0..<keys.shape[0]).first(where: { b in !keyMask.values[(b * time)..<((b + 1) * time)].contains(true) }) {
                opFailure("attention", "key mask row \(row) has no valid step to attend to")
            }
        }
        self.keys = keys
        self.values = values
        self.keyMask = keyMask
    }

    /// softmax over the last axis of `scores` [batch, …, time], with masked steps given
    /// weight exactly 0 (their score becomes −∞, and e^−∞ = 0).
    public func weights(_ scores: Tensor) -> Tensor {
        guard let keyMask else { return scores.softmax(along: -1) }
        let shape = [keyMask.shape[0]] + Array(repeating: 1, count: scores.rank - 2) + [keyMask.shape[1]]
        return Tensor.where(Mask(keyMask.values, shape: shape), scores, Tensor(-.infinity, dtype: scores.dtype)).softmax(along: -1)
    }
}

/// An attention: weights over a memory's steps from each query, and the weighted sum of the
/// values (the context). Queries are [batch, querySize] (one step; context [batch,
/// valueSize], weights [batch, time]) or [batch, queries, querySize] (context [batch, queries,
/// valueSize], weights [batch, queries, time]).
public protocol Attention: Module {
    /// Prepares keys and values once for any number of queries.
    func memory(keys: Tensor, values: Tensor, keyMask: Mask?) -> AttentionMemory
    /// The context and weights for `query` over `memory`.
    func attend(_ query: Tensor, to memory: AttentionMemory) -> (context: Tensor, weights: Tensor)
}

extension Attention {
    /// The context and weights for `query` over `keys` and `values`; masked steps get weight 0.
    public func callAsFunction(query: Tensor, keys: Tensor, values: Tensor, keyMask: Mask? = nil)
        -> (context: Tensor, weights: Tensor) {
        attend(query, to: memory(keys: keys, values: values, keyMask: keyMask))
    }
}

/// Runs `body` on queries as [batch, queries, size], returning results in the query's rank.
func withQueryAxis(_ query: Tensor, op: String, _ body: (Tensor) -> (context: Tensor, weights: Tensor))
    -> (context: Tensor, weights: Tensor) {
    guard query.rank == 2 || query.rank == 3 else {
        opFailure(op, "query of shape \(query.shape) is not [batch, size] or [batch, queries, size]")
    }
    guard query.rank == 2 else { return body(query) }
    let (context, weights) = body(query.unsqueezed(at: 1))
    return (context.squeezed(at: 1), weights.squeezed(at: 1))
}

/// Additive attention (Bahdanau, Cho & Bengio 2015):
///
///     score(q, k_j) = vᵀ tanh(W_q q + W_k k_j + b)
///     weights = softmax_j(score),  context = Σ_j weights_j · value_j
///
/// | parameter | shape |
/// |---|---|
/// | `queryProjection.weight` (W_q) | hidden × query |
/// | `keyProjection.weight`, `keyProjection.bias` (W_k, b) | hidden × key, hidden |
/// | `energy.weight` (v) | 1 × hidden |
///
/// W_k k_j is computed once per memory, not once per query.
open class AdditiveAttention: Module, Attention {
    public let queryProjection: Linear
    public let keyProjection: Linear
    public let energy: Linear

    public init(querySize: Int, keySize: Int, hiddenSize: Int) {
        queryProjection = Linear(querySize, hiddenSize, bias: false)
        keyProjection = Linear(keySize, hiddenSize)
        energy = Linear(hiddenSize, 1, bias: false)
        super.init()
    }

    open func memory(keys: Tensor, values: Tensor, keyMask: Mask?) -> AttentionMemory {
        AttentionMemory(keys: keyProjection(keys), values: values, keyMask: keyMask)
    }

    open func attend(_ query: Tensor, to memory: AttentionMemory) -> (context: Tensor, weights: Tensor) {
        withQueryAxis(query, op: "AdditiveAttention") { query in
            // [batch, queries, 1, hidden] + [batch, 1, time, hidden] → scores [batch, queries, time]
            let hidden = (queryProjection(query).unsqueezed(at: 2) + memory.keys.unsqueezed(at: 1)).tanh()
            let weights = memory.weights(energy(hidden).squeezed(at: 3))
            return (matmul(weights, memory.values), weights)
        }
    }
}

/// Multiplicative attention (Luong, Pham & Manning 2015; scaled as in Vaswani et al. 2017):
///
///     dot:        score(q, k_j) = qᵀ k_j
///     general:    score(q, k_j) = qᵀ W k_j          `weight` (query × key)
///     scaledDot:  score(q, k_j) = qᵀ k_j / √d       d = the query size
///
/// then weights = softmax_j(score) and context = Σ_j weights_j · value_j. For `general`,
/// W k_j is computed once per memory.
open class MultiplicativeAttention: Module, Attention {
    /// How a query and a key are compared.
    public enum Score: Sendable { case dot, general, scaledDot }
    public let score: Score
    public let querySize: Int
    /// W of the general score, applied to the keys.
    public let weight: Parameter?

    /// `keySize` must equal `querySize` unless the score is `.general`.
    public init(querySize: Int, keySize: Int, score: Score = .scaledDot) {
        guard score == .general || keySize == querySize else {
            opFailure("MultiplicativeAttention", "a \(score) score needs keys of the query's size \(querySize), got \(keySize)")
        }
        self.score = score
        self.querySize = querySize
        let bound = 1 / Double(keySize).squareRoot()
        weight = score == .general ? Parameter(Tensor.randomUniform([querySize, keySize], low: -bound, high: bound)) : nil
        super.init()
    }

    open func memory(keys: Tensor, values: Tensor, keyMask: Mask?) -> AttentionMemory {
        let prepared = weight.map { matmul(keys, $0.value, transposeB: true) } ?? keys  // W k_j for every j
        return AttentionMemory(keys: prepared, values: values, keyMask: keyMask)
    }

    open func attend(_ query: Tensor, to memory: AttentionMemory) -> (context: Tensor, weights: Tensor) {
        withQueryAxis(query, op: "MultiplicativeAttention") { query in
            let products = matmul(query, memory.keys, transposeB: true)  // [batch, queries, time]
            let scores = score == .scaledDot ? products / Double(querySize).squareRoot() : products
            let weights = memory.weights(scores)
            return (matmul(weights, memory.values), weights)
        }
    }
}
