/// A multi-layer Elman RNN, PyTorch's `nn.RNN`: h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)
/// per layer and direction. Parameters `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}…`,
/// `bias_ih_l{k}…`, `bias_hh_l{k}…`; state `[h]`. See ``RecurrentNetwork`` for shapes.
open class RNN: RecurrentNetwork<ElmanCell> {
    public let hiddenSize: Int

    /// A network with PyTorch's options; `nonlinearity` is `.tanh` or `.relu`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Activation = .tanh,
                bias: Bool = true, batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false) {
        guard nonlinearity == .tanh || nonlinearity == .relu else {
            opFailure("RNN", "nonlinearity must be tanh or relu, got \(nonlinearity)")
        }
        self.hiddenSize = hiddenSize
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            ElmanCell(inputSize: size, hiddenSize: hiddenSize, activation: nonlinearity, bias: bias)
        }
    }
}

/// A multi-layer LSTM, PyTorch's `nn.LSTM` (gate order i, f, g, o; optional projection
/// `projSize`), with every ``LSTMCell`` option for all its cells through `options`:
///
///     LSTM(inputSize: 8, hiddenSize: 32)                                           // PyTorch's
///     LSTM(inputSize: 8, hiddenSize: 32, options: .init(variant: .noForgetGate))   // a Greff et al. variant
///     LSTM(inputSize: 8, hiddenSize: 32, options: .init(peepholes: true, learnsInitialState: true, forgetBias: 1))
///
/// Parameters `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}…`, `bias_ih_l{k}…`, `bias_hh_l{k}…`,
/// `weight_hr_l{k}…`, and with the options `peephole_i_l{k}…` (`_f`, `_o`), `weight_gg_l{k}…`,
/// `h0_l{k}…`, `c0_l{k}…`; state `[h, c]` (`[h, c, a]` with full gate recurrence). See
/// ``LSTMCell`` for the equations and ``LayerNormLSTM`` for the layer-normalised cell.
open class LSTM: RecurrentNetwork<LSTMCell> {
    /// The size of each cell's c.
    public let hiddenSize: Int
    /// The size of each cell's h when projected, or 0.
    public let projSize: Int
    /// The options every cell was built with.
    public let options: LSTMCell.Options

    /// A network with PyTorch's options, and `options` for every cell (PyTorch's cell by default).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, projSize: Int = 0, options: LSTMCell.Options = .init()) {
        self.hiddenSize = hiddenSize
        self.projSize = projSize
        self.options = options
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            LSTMCell(inputSize: size, hiddenSize: hiddenSize, bias: bias, projectionSize: projSize, options: options)
        }
    }
}

/// A multi-layer layer-normalised LSTM (``LayerNormLSTMCell``, Ba et al. 2016: see it for
/// where the normalisation sits). Parameters `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}…`,
/// `bias_l{k}…`, `ln_ih.weight_l{k}…`, `ln_ih.bias_l{k}…` (likewise `ln_hh`, `ln_c`), and
/// `h0_l{k}…`, `c0_l{k}…` with a learned initial state; state `[h, c]`.
open class LayerNormLSTM: RecurrentNetwork<LayerNormLSTMCell> {
    /// The size of each cell's h and c.
    public let hiddenSize: Int

    /// A network of layer-normalised cells; `learnsInitialState` and `forgetBias` as the cell's.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, learnsInitialState: Bool = false, forgetBias: Double? = nil) {
        self.hiddenSize = hiddenSize
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            LayerNormLSTMCell(inputSize: size, hiddenSize: hiddenSize, bias: bias, learnsInitialState: learnsInitialState,
                              forgetBias: forgetBias)
        }
    }
}

/// A multi-layer GRU, PyTorch's `nn.GRU` (gate order r, z, n; reset applied to h W_hnᵀ + b_hn,
/// or before the product with `resetAfter: false`). Parameters as ``RNN``; state `[h]`.
open class GRU: RecurrentNetwork<GRUCell> {
    public let hiddenSize: Int

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, resetAfter: Bool = true) {
        self.hiddenSize = hiddenSize
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            GRUCell(inputSize: size, hiddenSize: hiddenSize, bias: bias, resetAfter: resetAfter)
        }
    }
}

/// A multi-layer Jordan network: each layer feeds back its previous output (see
/// ``JordanCell``). Parameters `weight_ih_l{k}`, `weight_yh_l{k}`, `bias_h_l{k}`,
/// `weight_hy_l{k}`, `bias_y_l{k}` (with `_reverse`); state `[y]`.
open class JordanRNN: RecurrentNetwork<JordanCell> {
    public let hiddenSize: Int
    public let outputSize: Int

    public init(inputSize: Int, hiddenSize: Int, outputSize: Int, numLayers: Int = 1,
                activation: Activation = .tanh, outputActivation: Activation = .tanh, bias: Bool = true,
                batchFirst: Bool = false, dropout: Double = 0, bidirectional: Bool = false) {
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            JordanCell(inputSize: size, hiddenSize: hiddenSize, outputSize: outputSize, activation: activation,
                       outputActivation: outputActivation, bias: bias)
        }
    }
}
