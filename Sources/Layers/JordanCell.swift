/// The Jordan recurrent cell: the context fed back is the previous *output*, not the hidden
/// state (no PyTorch counterpart):
///
///     h_t = act_h(x_t W_ihᵀ + y_{t−1} W_yhᵀ + b_h)
///     y_t = act_y(h_t W_hyᵀ + b_y)                      y_0 = 0 unless given
///
/// | parameter | shape |
/// |---|---|
/// | `weight_ih` | hidden × input |
/// | `weight_yh` | hidden × output |
/// | `bias_h` | hidden |
/// | `weight_hy` | output × hidden |
/// | `bias_y` | output |
///
/// The state is `[y]`.
open class JordanCell: Module, InputProjectingCell {
    public let inputSize: Int
    public let hiddenSize: Int
    public let outputSize: Int
    /// The hidden nonlinearity.
    public let activation: Activation
    /// The output nonlinearity.
    public let outputActivation: Activation

    public let weight_ih: Parameter
    public let weight_yh: Parameter
    public let bias_h: Parameter?
    public let weight_hy: Parameter
    public let bias_y: Parameter?

    public init(inputSize: Int, hiddenSize: Int, outputSize: Int, activation: Activation = .tanh,
                outputActivation: Activation = .tanh, bias: Bool = true) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        self.activation = activation
        self.outputActivation = outputActivation
        weight_ih = recurrentParameter([hiddenSize, inputSize], hiddenSize: hiddenSize)
        weight_yh = recurrentParameter([hiddenSize, outputSize], hiddenSize: hiddenSize)
        bias_h = bias ? recurrentParameter([hiddenSize], hiddenSize: hiddenSize) : nil
        weight_hy = recurrentParameter([outputSize, hiddenSize], hiddenSize: hiddenSize)
        bias_y = bias ? recurrentParameter([outputSize], hiddenSize: hiddenSize) : nil
        super.init()
    }

    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, outputSize], dtype: dtype)]
    }

    /// x W_ihᵀ + b_h.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias_h) }

    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let hidden = activation(input + matmul(state[0], weight_yh.value, transposeB: true))
        let output = outputActivation(affine(hidden, weight_hy, bias_y))
        return (output, [output])
    }
}
