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
/// `projSize`). Parameters `weight_ih_l{k}[_reverse]`, `weight_hh_l{k}…`, `bias_ih_l{k}…`,
/// `bias_hh_l{k}…`, `weight_hr_l{k}…`; state `[h, c]`. See ``LSTMCell`` for the equations and
/// the peephole / CIFG variants (build those with ``RecurrentNetwork`` directly).
open class LSTM: RecurrentNetwork<LSTMCell> {
    public let hiddenSize: Int
    public let projSize: Int

    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Double = 0, bidirectional: Bool = false, projSize: Int = 0) {
        self.hiddenSize = hiddenSize
        self.projSize = projSize
        super.init(inputSize: inputSize, numLayers: numLayers, bidirectional: bidirectional,
                   batchFirst: batchFirst, dropout: dropout) { _, size in
            LSTMCell(inputSize: size, hiddenSize: hiddenSize, bias: bias, projectionSize: projSize)
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
