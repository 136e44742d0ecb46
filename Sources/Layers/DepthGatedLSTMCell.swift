/// The depth-gated LSTM (DGLSTM) of Yao, Cohn, Vylomova, Duh & Dyer, "Depth-Gated LSTM"
/// (2015): stacked LSTM layers in one cell where a depth gate d lets the memory cell of the
/// layer below flow linearly into the memory cell of the layer above, as the forget gate
/// does along time. Run it as a one-layer ``RecurrentNetwork``; its state spans the layers.
///
/// Layer 1 is an LSTM cell on x_t. Layer ℓ + 1 reads x^{ℓ+1}_t = h^ℓ_t and, with c = c^{ℓ+1}_{t−1},
///
///     [a_i, a_f, a_g, a_o] = x^{ℓ+1}_t W_ihᵀ + b_ih + h^{ℓ+1}_{t−1} W_hhᵀ + b_hh     (gate order i, f, g, o)
///     i    = σ(a_i [+ p_i ⊙ c])
///     f    = σ(a_f [+ p_f ⊙ c])
///     d    = σ(x^{ℓ+1}_t W_xdᵀ + b_d + w_cd ⊙ c + w_ld ⊙ c^ℓ_t)
///     c^{ℓ+1}_t = f ⊙ c + i ⊙ tanh(a_g) + d ⊙ c^ℓ_t
///     o    = σ(a_o [+ p_o ⊙ c^{ℓ+1}_t])
///     h^{ℓ+1}_t = o ⊙ tanh(c^{ℓ+1}_t)
///
/// the gates being the paper's eqs. (1)–(5) and the depth gate its eqs. (7)–(8). The bracketed
/// peepholes (`peepholes: true`, the paper's W_ci, W_cf, W_co, diagonal as in Graves 2013; in
/// every layer, the first included) read the layer's previous memory, and the output gate its
/// new memory, depth term included. Without them (the default) the gates are PyTorch's. With
/// d = 0 the cell is a conventional stacked LSTM; with d = 1 and i = f = 0 the upper memory is
/// a copy of the lower one. The output is the top layer's h; the state is `[h¹, c¹, h², c², …]`.
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
/// | `peephole_i`, `peephole_f`, `peephole_o` (with `peepholes`) | H | diagonals of W_ci, W_cf, W_co |
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

    /// A cell of `layerCount` depth-gated layers of `hiddenSize` units; `peepholes` gives every
    /// layer's gates the paper's peepholes.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int, peepholes: Bool = false) {
        guard layerCount >= 1 else { opFailure("DepthGatedLSTMCell", "layerCount must be at least 1, got \(layerCount)") }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        layers = (0..<layerCount).map { layer in
            DepthGatedLSTMLayer(inputSize: layer == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize, hasDepthGate: layer > 0,
                                peepholes: peepholes)
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
            let (i, f) = (layer.peeping(layer.peephole_i, z[0], c).sigmoid(), layer.peeping(layer.peephole_f, z[1], c).sigmoid())
            var newCell = f * c + i * z[2].tanh()
            if let lowerCell, let gate = layer.depthGate(below, cell: c, lowerCell: lowerCell) {
                newCell = newCell + gate * lowerCell
            }
            let newHidden = layer.peeping(layer.peephole_o, z[3], newCell).sigmoid() * newCell.tanh()
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
    /// The input gate's peephole on the layer's previous cell (with peepholes).
    public let peephole_i: Parameter?
    /// The forget gate's peephole on the layer's previous cell (with peepholes).
    public let peephole_f: Parameter?
    /// The output gate's peephole on the layer's new cell (with peepholes).
    public let peephole_o: Parameter?

    /// A layer reading `inputSize` features; `hasDepthGate` for every layer above the first.
    public init(inputSize: Int, hiddenSize: Int, hasDepthGate: Bool, peepholes: Bool = false) {
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([4 * hiddenSize, inputSize])
        weight_hh = make([4 * hiddenSize, hiddenSize])
        bias_ih = make([4 * hiddenSize])
        bias_hh = make([4 * hiddenSize])
        depth_weight = hasDepthGate ? make([hiddenSize, inputSize]) : nil
        depth_bias = hasDepthGate ? make([hiddenSize]) : nil
        depth_cell = hasDepthGate ? make([hiddenSize]) : nil
        depth_lower = hasDepthGate ? make([hiddenSize]) : nil
        peephole_i = peepholes ? make([hiddenSize]) : nil
        peephole_f = peepholes ? make([hiddenSize]) : nil
        peephole_o = peepholes ? make([hiddenSize]) : nil
        super.init()
    }

    /// A gate's preactivation with its peephole on `cell` added, if the layer has it.
    func peeping(_ peephole: Parameter?, _ preactivation: Tensor, _ cell: Tensor) -> Tensor {
        peephole.map { preactivation + $0.value * cell } ?? preactivation
    }

    /// d = σ(x W_xdᵀ + b_d + w_cd ⊙ c_{t−1} + w_ld ⊙ c^ℓ_t), or `nil` in the first layer.
    public func depthGate(_ input: Tensor, cell: Tensor, lowerCell: Tensor) -> Tensor? {
        guard let depth_weight, let depth_bias, let depth_cell, let depth_lower else { return nil }
        return (affine(input, depth_weight, depth_bias) + depth_cell.value * cell + depth_lower.value * lowerCell).sigmoid()
    }
}
