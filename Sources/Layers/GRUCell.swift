/// The gated recurrent unit, PyTorch's `nn.GRUCell` (gate order r, z, n):
///
///     r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
///     z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
///     n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))          PyTorch ("reset after")
///     n = tanh(x W_inᵀ + b_in + (r ⊙ h) W_hnᵀ + b_hn)          Cho et al. 2014 (`resetAfter: false`)
///     h' = (1 − z) ⊙ n + z ⊙ h
///
/// | parameter | shape |
/// |---|---|
/// | `weight_ih` | 3·hidden × input |
/// | `weight_hh` | 3·hidden × hidden |
/// | `bias_ih`, `bias_hh` | 3·hidden |
///
/// The state is `[h]`.
open class GRUCell: Module, InputProjectingCell {
    public let inputSize: Int
    public let hiddenSize: Int
    public var outputSize: Int { hiddenSize }
    /// Whether the reset gate multiplies h W_hnᵀ + b_hn (PyTorch) rather than h.
    public let resetAfter: Bool

    public let weight_ih: Parameter
    public let weight_hh: Parameter
    public let bias_ih: Parameter?
    public let bias_hh: Parameter?

    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, resetAfter: Bool = true) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.resetAfter = resetAfter
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([3 * hiddenSize, inputSize])
        weight_hh = make([3 * hiddenSize, hiddenSize])
        bias_ih = bias ? make([3 * hiddenSize]) : nil
        bias_hh = bias ? make([3 * hiddenSize]) : nil
        super.init()
    }

    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, hiddenSize], dtype: dtype)]
    }

    /// x W_ihᵀ + b_ih, all gates.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias_ih) }

    /// One step from a row block of ``prepareInputs(_:)``'s result: the equations above.
    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let (output, next, _) = stepReportingGates(prepared: input, state: state)
        return (output, next)
    }

    /// The step with its gates `r`, `z`, `n` of the equations above. A subclass that overrides
    /// ``step(prepared:state:)`` overrides this too.
    open func stepReportingGates(prepared input: Tensor, state: [Tensor]) -> StepWithGates {
        let h = state[0]
        let fromInput = input.chunked(into: 3, along: 1)
        let n: Tensor, r: Tensor, z: Tensor
        if resetAfter {
            let fromHidden = affine(h, weight_hh, bias_hh).chunked(into: 3, along: 1)
            r = (fromInput[0] + fromHidden[0]).sigmoid()
            z = (fromInput[1] + fromHidden[1]).sigmoid()
            n = (fromInput[2] + r * fromHidden[2]).tanh()
        } else {
            let weights = weight_hh.value.split(sizes: [2 * hiddenSize, hiddenSize], along: 0)
            let biases = bias_hh?.value.split(sizes: [2 * hiddenSize, hiddenSize], along: 0)
            let gates = linear(h, weight: weights[0], bias: biases?[0]).chunked(into: 2, along: 1)
            r = (fromInput[0] + gates[0]).sigmoid()
            z = (fromInput[1] + gates[1]).sigmoid()
            n = (fromInput[2] + linear(r * h, weight: weights[1], bias: biases?[1])).tanh()
        }
        let next = n + z * (h - n)
        return (next, [next], [("r", r), ("z", z), ("n", n)])
    }
}
