import AutoGrad

/// Multi-head scaled dot-product attention, PyTorch's `nn.MultiheadAttention` with
/// `batch_first=True`: queries, keys and values are projected, split into `headCount` heads
/// of size d = embedSize / headCount, attended per head, joined and projected again:
///
///     head_h = softmax(q_h k_hᵀ / √d) v_h,   q = query W_qᵀ + b_q,  k = keys W_kᵀ + b_k,  v = values W_vᵀ + b_v
///     output = concat(head_1 … head_H) W_oᵀ + b_o
///
/// The weights returned are averaged over the heads (PyTorch's `average_attn_weights=True`).
/// Queries are [batch, embedSize] or [batch, queries, embedSize]; keys [batch, time, keySize],
/// values [batch, time, valueSize]. The key mask is `true` at valid steps (PyTorch's
/// `key_padding_mask` is its negation).
///
/// | parameter (PyTorch's names) | shape | initialization |
/// |---|---|---|
/// | `in_proj_weight` (keys and values of the embedding size) | 3E × E | Xavier uniform |
/// | `q_proj_weight`, `k_proj_weight`, `v_proj_weight` (other sizes) | E × E, E × key, E × value | Xavier uniform |
/// | `in_proj_bias` | 3E | 0 |
/// | `out_proj.weight`, `out_proj.bias` | E × E, E | U(−1/√E, 1/√E), 0 |
open class MultiHeadAttention: Module, Attention {
    public let embedSize: Int
    public let headCount: Int
    public let in_proj_weight: Parameter?
    public let q_proj_weight: Parameter?
    public let k_proj_weight: Parameter?
    public let v_proj_weight: Parameter?
    public let in_proj_bias: Parameter?
    public let out_proj: Linear

    /// `keySize` and `valueSize` default to `embedSize`; `embedSize` must divide by `headCount`.
    public init(embedSize: Int, headCount: Int, keySize: Int? = nil, valueSize: Int? = nil, bias: Bool = true) {
        guard headCount > 0, embedSize % headCount == 0 else {
            opFailure("MultiHeadAttention", "embedSize \(embedSize) does not split into \(headCount) heads")
        }
        self.embedSize = embedSize
        self.headCount = headCount
        let (keySize, valueSize) = (keySize ?? embedSize, valueSize ?? embedSize)
        if keySize == embedSize && valueSize == embedSize {
            in_proj_weight = Parameter(Initializer.xavierUniform([3 * embedSize, embedSize]))
            (q_proj_weight, k_proj_weight, v_proj_weight) = (nil, nil, nil)
        } else {
            in_proj_weight = nil
            q_proj_weight = Parameter(Initializer.xavierUniform([embedSize, embedSize]))
            k_proj_weight = Parameter(Initializer.xavierUniform([embedSize, keySize]))
            v_proj_weight = Parameter(Initializer.xavierUniform([embedSize, valueSize]))
        }
        in_proj_bias = bias ? Parameter(Tensor(zeros: [3 * embedSize])) : nil
        out_proj = Linear(embedSize, embedSize, bias: bias)
        if let outBias = out_proj.bias { outBias.value = Tensor(zeros: [embedSize]) }
        super.init()
    }

    /// The projection of `x` for part 0 (queries), 1 (keys) or 2 (values), split into heads:
    /// [batch, time, ·] → [batch, heads, time, d].
    private func project(_ x: Tensor, part: Int) -> Tensor {
        let weight = in_proj_weight.map { $0.value.slice((part * embedSize)..<((part + 1) * embedSize), along: 0) }
            ?? [q_proj_weight, k_proj_weight, v_proj_weight][part]!.value
        guard x.rank == 3, x.shape[2] == weight.shape[1] else {
            opFailure("MultiHeadAttention", "\(["query", "keys", "values"][part]) of shape \(x.shape) do not end in \(weight.shape[1]) features")
        }
        let bias = in_proj_bias?.value.slice((part * embedSize)..<((part + 1) * embedSize), along: 0)
        let projected = matmul(x, weight, transposeB: true)
        return (bias.map { projected + $0 } ?? projected)
            .reshaped(to: [x.shape[0], x.shape[1], headCount, embedSize / headCount]).permuted([0, 2, 1, 3])
    }

    open func memory(keys: Tensor, values: Tensor, keyMask: Mask?) -> AttentionMemory {
        AttentionMemory(keys: project(keys, part: 1), values: project(values, part: 2), keyMask: keyMask)
    }

    open func attend(_ query: Tensor, to memory: AttentionMemory) -> (context: Tensor, weights: Tensor) {
        withQueryAxis(query, op: "MultiHeadAttention") { query in
            let q = project(query, part: 0)
            let scores = matmul(q, memory.keys, transposeB: true) / Double(embedSize / headCount).squareRoot()
            let weights = memory.weights(scores)  // [batch, heads, queries, time]
            let heads = matmul(weights, memory.values).permuted([0, 2, 1, 3])
                .reshaped(to: [query.shape[0], query.shape[1], embedSize])
            return (out_proj(heads), weights.mean(along: [1]))
        }
    }
}
