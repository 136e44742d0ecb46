/// The gated-feedback RNN (GF-RNN) of Chung, Gulcehre, Cho & Bengio, "Gated Feedback
/// Recurrent Neural Networks" (ICML 2015): L stacked layers in one cell, where every layer
/// reads the previous step's states of *all* layers, each through a global reset gate — so
/// upper layers feed back into lower ones, as much as the gates let them. Run it as a
/// one-layer ``RecurrentNetwork``; its state spans the layers.
///
/// With h⁰_t = x_t, h*_{t−1} = [h¹_{t−1}, …, h^L_{t−1}] and, for layer j (1 … L),
///
///     g^{i→j} = σ(h^{j−1}_t w_g^{i→j}ᵀ + h*_{t−1} u_g^{i→j}ᵀ)                 one scalar per layer i
///     s^j     = Σᵢ g^{i→j} · h^i_{t−1} U^{i→j}ᵀ                               the gated feedback
///
/// a tanh layer (`.tanh`, the paper's eq. 6) is
///
///     h^j_t = tanh(h^{j−1}_t W^jᵀ + b^j + s^j)
///
/// and a GRU layer (`.gru`, eqs. 7–8: the reset and update gates read only the layer's own
/// previous state; the global gates sit inside the candidate) is
///
///     [r, z, ·] = σ(h^{j−1}_t W^jᵀ + b^j + h^j_{t−1} [U_r; U_z]ᵀ)     (the first two blocks)
///     h̃^j = tanh(h^{j−1}_t W_nᵀ + b_n + r ⊙ s^j)
///     h^j_t = (1 − z) ⊙ h^j_{t−1} + z ⊙ h̃^j
///
/// and an LSTM layer (`.lstm`, the paper's GF-LSTM: the gates i, f, o read only the layer's
/// own previous h, as in a stacked LSTM; the global reset gates modulate the recurrent
/// contributions to the cell input c̃ alone; no peepholes) is, with the layer's memory c^j,
///
///     [i, f, ·, o] = h^{j−1}_t W^jᵀ + b^j + h^j_{t−1} [U_i; U_f; 0; U_o]ᵀ          (blocks in i, f, g, o order)
///     c̃^j = tanh(h^{j−1}_t W_gᵀ + b_g + s^j)
///     c^j_t = σ(f) ⊙ c^j_{t−1} + σ(i) ⊙ c̃^j
///     h^j_t = σ(o) ⊙ tanh(c^j_t)
///
/// where s^j and the gates g^{i→j} read the layers' h alone. The output is the top layer's
/// h^L_t; the state is `[h¹, …, h^L]`, or `[h¹, c¹, …, h^L, c^L]` with LSTM units. With every
/// cross-layer U^{i→j} (i ≠ j) zero it is a conventional stacked RNN (or LSTM) whose recurrent
/// terms in the candidate are scaled by the gates g^{j→j}.
///
/// Parameters, per layer `layers.{j}` (j from 0, H the hidden size, K = 1 for tanh, 3 for GRU,
/// 4 for LSTM):
///
/// | parameter | shape | paper |
/// |---|---|---|
/// | `weight_ih` | K·H × (input or H) | W^j (W_r, W_z, W_n for GRU; W_i, W_f, W_g, W_o for LSTM) |
/// | `bias` | K·H | b^j |
/// | `weight_hh` (GRU, LSTM) | 2·H × H (GRU), 3·H × H (LSTM) | U_r, U_z; U_i, U_f, U_o |
/// | `weight_feedback` | H × L·H | U^{i→j}, column block i |
/// | `gate_input` | L × (input or H) | w_g^{i→j}, row i |
/// | `gate_hidden` | L × L·H | u_g^{i→j}, row i |
///
/// Every weight starts as PyTorch's recurrent cells' (U(−k, k), k = 1/√H).
open class GatedFeedbackCell: Module, RecurrentCell {
    /// The kind of each layer's units.
    public enum Unit: String, Sendable, CaseIterable {
        /// h = tanh(…), the paper's GF-RNN with tanh units.
        case tanh
        /// Gated recurrent units, the paper's GF-GRU.
        case gru
        /// Long short-term memory units, the paper's GF-LSTM.
        case lstm

        /// Rows of `weight_ih` per hidden unit: one per block the input feeds.
        var inputBlocks: Int { [.tanh: 1, .gru: 3, .lstm: 4][self]! }
        /// Rows of `weight_hh` per hidden unit: the gates that read the layer's own state.
        var ownStateGates: Int { [.tanh: 0, .gru: 2, .lstm: 3][self]! }
        /// State components per layer: h, and c for LSTM units.
        var componentsPerLayer: Int { self == .lstm ? 2 : 1 }
    }

    /// Features of each step's input.
    public let inputSize: Int
    /// The size of every layer's state.
    public let hiddenSize: Int
    /// The units of every layer.
    public let unit: Unit
    /// The layers' parameters, bottom first.
    public let layers: [GatedFeedbackLayer]
    /// Features of each step's output: the top layer's h.
    public var outputSize: Int { hiddenSize }

    /// A cell of `layerCount` layers of `hiddenSize` units each.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int, unit: Unit = .tanh, bias: Bool = true) {
        guard layerCount >= 1 else { opFailure("GatedFeedbackCell", "layerCount must be at least 1, got \(layerCount)") }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.unit = unit
        layers = (0..<layerCount).map { layer in
            GatedFeedbackLayer(inputSize: layer == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize,
                               layerCount: layerCount, unit: unit, bias: bias)
        }
        super.init()
    }

    /// `[h¹, …, h^L]` (`[h¹, c¹, …, h^L, c^L]` with LSTM units), zeros.
    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        (0..<(layers.count * unit.componentsPerLayer)).map { _ in Tensor(zeros: [batchSize, hiddenSize], dtype: dtype) }
    }

    /// The global reset gates g^{i→j} of layer `j` ([batch, L]) for the layer's input
    /// `below` and the previous states of all layers `previous` ([batch, L·H]).
    public func feedbackGates(layer j: Int, below: Tensor, previous: Tensor) -> Tensor {
        let layer = layers[j]
        return (matmul(below, layer.gate_input.value, transposeB: true)
            + matmul(previous, layer.gate_hidden.value, transposeB: true)).sigmoid()
    }

    /// One step through every layer: the equations above.
    open func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let (batch, count, components) = (input.shape[0], layers.count, unit.componentsPerLayer)
        let hidden = (0..<count).map { state[$0 * components] }
        let previous = concat(hidden, along: 1)
        var below = input, next: [Tensor] = []
        for (j, layer) in layers.enumerated() {
            let gates = feedbackGates(layer: j, below: below, previous: previous)
            let gated = (previous.reshaped(to: [batch, count, hiddenSize]) * gates.reshaped(to: [batch, count, 1]))
                .reshaped(to: [batch, count * hiddenSize])
            let feedback = matmul(gated, layer.weight_feedback.value, transposeB: true)
            let fromInput = affine(below, layer.weight_ih, layer.bias).chunked(into: unit.inputBlocks, along: 1)
            let fromState = layer.weight_hh.map { matmul(hidden[j], $0.value, transposeB: true).chunked(into: unit.ownStateGates, along: 1) }
            let layerState: [Tensor]
            switch unit {
            case .tanh:
                layerState = [(fromInput[0] + feedback).tanh()]
            case .gru:
                let r = (fromInput[0] + fromState![0]).sigmoid(), z = (fromInput[1] + fromState![1]).sigmoid()
                let candidate = (fromInput[2] + r * feedback).tanh()
                layerState = [(1 - z) * hidden[j] + z * candidate]
            case .lstm:
                let i = (fromInput[0] + fromState![0]).sigmoid(), f = (fromInput[1] + fromState![1]).sigmoid()
                let o = (fromInput[3] + fromState![2]).sigmoid()
                let memory = f * state[2 * j + 1] + i * (fromInput[2] + feedback).tanh()
                layerState = [o * memory.tanh(), memory]
            }
            next += layerState
            below = layerState[0]
        }
        return (below, next)
    }
}

/// The parameters of one layer of a ``GatedFeedbackCell`` (see it for the equations).
open class GatedFeedbackLayer: Module {
    /// W^j: the input weights (stacked W_r, W_z, W_n for GRU units; W_i, W_f, W_g, W_o for LSTM units).
    public let weight_ih: Parameter
    /// b^j, stacked like `weight_ih`.
    public let bias: Parameter?
    /// The gates' weights on the layer's own state: U_r and U_z (GRU units), U_i, U_f and U_o
    /// (LSTM units); `nil` for tanh units.
    public let weight_hh: Parameter?
    /// U^{i→j} for every layer i, column block i.
    public let weight_feedback: Parameter
    /// w_g^{i→j}: row i gates the feedback from layer i, reading the layer's input.
    public let gate_input: Parameter
    /// u_g^{i→j}: row i gates the feedback from layer i, reading all previous states.
    public let gate_hidden: Parameter

    /// A layer reading `inputSize` features, in a cell of `layerCount` layers.
    public init(inputSize: Int, hiddenSize: Int, layerCount: Int, unit: GatedFeedbackCell.Unit, bias: Bool) {
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        let rows = unit.inputBlocks * hiddenSize
        weight_ih = make([rows, inputSize])
        self.bias = bias ? make([rows]) : nil
        weight_hh = unit.ownStateGates > 0 ? make([unit.ownStateGates * hiddenSize, hiddenSize]) : nil
        weight_feedback = make([hiddenSize, layerCount * hiddenSize])
        gate_input = make([layerCount, inputSize])
        gate_hidden = make([layerCount, layerCount * hiddenSize])
        super.init()
    }
}
