/// The Elman (simple) recurrent cell, PyTorch's `nn.RNNCell`:
///
///     h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)          act = tanh or relu
///
/// with an optional output layer of Elman's network, y = act_y(h' W_hyᵀ + b_hy); without it
/// the output is h'.
///
/// | parameter | shape |
/// |---|---|
/// | `weight_ih` | hidden × input |
/// | `weight_hh` | hidden × hidden |
/// | `bias_ih`, `bias_hh` | hidden |
/// | `weight_hy`, `bias_hy` (output layer only) | output × hidden, output |
open class ElmanCell: Module, InputProjectingCell {
    public let inputSize: Int
    public let hiddenSize: Int
    /// The output layer's size, or the hidden size without one.
    public let outputSize: Int
    /// The hidden nonlinearity.
    public let activation: Activation
    /// The output layer's nonlinearity.
    public let outputActivation: Activation

    public let weight_ih: Parameter
    public let weight_hh: Parameter
    public let bias_ih: Parameter?
    public let bias_hh: Parameter?
    public let weight_hy: Parameter?
    public let bias_hy: Parameter?

    /// `activation` is `.tanh` (PyTorch's default) or `.relu`; `outputSize` adds Elman's output
    /// layer with this many outputs (through `outputActivation`).
    public init(inputSize: Int, hiddenSize: Int, activation: Activation = .tanh, bias: Bool = true,
                outputSize: Int? = nil, outputActivation: Activation = .identity) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize ?? hiddenSize
        self.activation = activation
        self.outputActivation = outputActivation
        weight_ih = recurrentParameter([hiddenSize, inputSize], hiddenSize: hiddenSize)
        weight_hh = recurrentParameter([hiddenSize, hiddenSize], hiddenSize: hiddenSize)
        bias_ih = bias ? recurrentParameter([hiddenSize], hiddenSize: hiddenSize) : nil
        bias_hh = bias ? recurrentParameter([hiddenSize], hiddenSize: hiddenSize) : nil
        weight_hy = outputSize.map { recurrentParameter([$0, hiddenSize], hiddenSize: hiddenSize) }
        bias_hy = outputSize.flatMap { bias ? recurrentParameter([$0], hiddenSize: hiddenSize) : nil }
        super.init()
    }

    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, hiddenSize], dtype: dtype)]
    }

    /// x W_ihᵀ + b_ih.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias_ih) }

    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let hidden = activation(input + affine(state[0], weight_hh, bias_hh))
        guard let weight_hy else { return (hidden, [hidden]) }
        return (outputActivation(affine(hidden, weight_hy, bias_hy)), [hidden])
    }
}
