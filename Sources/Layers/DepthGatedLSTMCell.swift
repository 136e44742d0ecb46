/// The depth-gated LSTM (DGLSTM) of Yao, Cohn, Vylomova, Duh & Dyer, "Depth-Gated LSTM"
/// (2015): stacked LSTM layers in one cell where a depth gate d lets the memory cell of the
/// layer below flow linearly into the memory cell of the layer above, as the forget gate
/// does along time. Run it as a one-layer ``RecurrentNetwork``; its state spans the layers.
///
/// Layer 1 is PyTorch's LSTM cell on x_t. Layer ℓ + 1 reads x^{ℓ+1}_t = h^ℓ_t and
///
///     [i, f, g, o] = x^{ℓ+1}_t W_ihᵀ + b_ih + h^{ℓ+1}_{t−1} W_hhᵀ + b_hh     (gate order i, f, g, o)
///     d    = σ(x^{ℓ+1}_t W_xdᵀ + b_d + w_cd ⊙ c^{ℓ+1}_{t−1} + w_ld ⊙ c^ℓ_t)
///     c^{ℓ+1}_t = σ(f) ⊙ c^{ℓ+1}_{t−1} + σ(i) ⊙ tanh(g) + d ⊙ c^ℓ_t
///     h^{ℓ+1}_t = σ(o) ⊙ tanh(c^{ℓ+1}_t)
///
/// the depth gate being the paper's eq. (7)–(8); the gates i, f, o here are PyTorch's, without
/// the paper's peepholes (``LSTMCell``'s `peepholes` option), which are independent of depth
/// gating. With d = 0 the cell is a conventional stacked LSTM; with d = 1 and i = f = 0 the
/// upper memory is a copy of the lower one. The output is the top layer's h; the state is
/// `[h¹, c¹, h², c², …]`.
///
/// Parameters, per layer `layers.{ℓ}` (ℓ from 0, H the hidden size of every layer):
///
/// | parameter | shape | paper |
/// |---|---|---|
/// | `weight_ih`, `weight_hh` | 4·H × (input or H), 4·H × H | W_x·, W_h· |
/// | `bias_ih`, `bias_hh` | 4·H | b_· |
/// | `depth_weight` (layers ℓ ≥ 1) | H × H | W_xd |
/// | `depth_bias` | H | b_d |
/// | `depth_cell` | H | w_cd (on the layer's previous cell) |
/// | `depth_lower` | H | w_ld (on the lower layer's new cell) |
///
/// Every weight starts as PyTorch's recurrent cells' (U(−k, k), k = 1/√H).
open class DepthGatedLSTMCell: Module, RecurrentCell {
    /// Features of each step's input.
    public let inputSize: Int
    /// The size of every layer's h and c.
    public let hiddenSize: Int
    /// The layers' parameters, bottom first.
    public let layers: [DepthGatedLSTMLayer]
    /// Features of each step's output: the top layer's h.
    public var outputSize: Int { hiddenSize }

    /// A cell of `layerCount` depth-gated layers of `hiddenSize` units.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int) {
        guard layerCount >= 1 else { opFailure("DepthGatedLSTMCell", "layerCount must be at least 1, got \(layerCount)") }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        layers = (0..<layerCount).map { layer in
            DepthGatedLSTMLayer(inputSize: layer == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize, hasDepthGate: layer > 0)
        }
        super.init()
    }

    /// `[h¹, c¹, …, h^L, c^L]`, zeros.
    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        (0..<(2 * layers.count)).map { _ in Tensor(zeros: [batchSize, hiddenSize], dtype: dtype) }
    }

    /// One step through every layer: the equations above.
    open func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        var below = input, lowerCell: Tensor?, next: [Tensor] = []
        for (index, layer) in layers.enumerated() {
            let (h, c) = (state[2 * index], state[2 * index + 1])
            let z = (affine(below, layer.weight_ih, layer.bias_ih) + affine(h, layer.weight_hh, layer.bias_hh))
                .chunked(into: 4, along: 1)
            var newCell = z[1].sigmoid() * c + z[0].sigmoid() * z[2].tanh()
            if let lowerCell, let gate = layer.depthGate(below, cell: c, lowerCell: lowerCell) {
                newCell = newCell + gate * lowerCell
            }
            let newHidden = z[3].sigmoid() * newCell.tanh()
            next += [newHidden, newCell]
            (below, lowerCell) = (newHidden, newCell)
        }
        return (below, next)
    }
}

/// The parameters of one layer of a ``DepthGatedLSTMCell`` (see it for the equations).
open class DepthGatedLSTMLayer: Module {
    /// The input weights of the gates, stacked i, f, g, o.
    public let weight_ih: Parameter
    /// The recurrent weights, stacked like `weight_ih`.
    public let weight_hh: Parameter
    /// The input biases.
    public let bias_ih: Parameter
    /// The recurrent biases.
    public let bias_hh: Parameter
    /// W_xd: the depth gate's input weights (`nil` in the first layer).
    public let depth_weight: Parameter?
    /// b_d.
    public let depth_bias: Parameter?
    /// w_cd: the depth gate's peephole on the layer's previous cell.
    public let depth_cell: Parameter?
    /// w_ld: the depth gate's peephole on the lower layer's new cell.
    public let depth_lower: Parameter?

    /// A layer reading `inputSize` features; `hasDepthGate` for every layer above the first.
    public init(inputSize: Int, hiddenSize: Int, hasDepthGate: Bool) {
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([4 * hiddenSize, inputSize])
        weight_hh = make([4 * hiddenSize, hiddenSize])
        bias_ih = make([4 * hiddenSize])
        bias_hh = make([4 * hiddenSize])
        depth_weight = hasDepthGate ? make([hiddenSize, inputSize]) : nil
        depth_bias = hasDepthGate ? make([hiddenSize]) : nil
        depth_cell = hasDepthGate ? make([hiddenSize]) : nil
        depth_lower = hasDepthGate ? make([hiddenSize]) : nil
        super.init()
    }

    /// d = σ(x W_xdᵀ + b_d + w_cd ⊙ c_{t−1} + w_ld ⊙ c^ℓ_t), or `nil` in the first layer.
    public func depthGate(_ input: Tensor, cell: Tensor, lowerCell: Tensor) -> Tensor? {
        guard let depth_weight, let depth_bias, let depth_cell, let depth_lower else { return nil }
        return (affine(input, depth_weight, depth_bias) + depth_cell.value * cell + depth_lower.value * lowerCell).sigmoid()
    }
}
