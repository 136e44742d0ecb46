/// The layer-normalised LSTM of Ba, Kiros & Hinton, "Layer Normalization" (2016), eqs. 20–22,
/// with the stacked gates in PyTorch's i, f, g, o order:
///
///     [i, f, g, o] = LN(x W_ihᵀ; α_ih, β_ih) + LN(h W_hhᵀ; α_hh, β_hh) + b
///     c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
///     h' = σ(o) ⊙ tanh(LN(c'; α_c, β_c))
///
/// where LN(v; α, β) = (v − mean(v)) / √(var(v) + ε) ⊙ α + β, PyTorch's `nn.LayerNorm` over
/// the last axis (biased variance, ε = 1e-5). The normalisation sits in exactly three places:
/// - on the input pre-activation x W_ihᵀ, over all 4·hidden units of a row at once (the four
///   gates together, as in the paper, not gate by gate);
/// - separately on the recurrent pre-activation h W_hhᵀ, likewise over all 4·hidden units;
/// - on the new cell c' before the output tanh; the cell carried to the next step, c', is
///   *not* normalised.
/// The sum of the two normalised terms gets the bias b; the candidate g and the gates see no
/// further normalisation. Each row of the batch is normalised on its own, so the input term
/// of every step is computed at once by ``prepareInputs(_:)``.
///
/// | parameter | shape | paper | initialization |
/// |---|---|---|---|
/// | `weight_ih` | 4·hidden × input | W_x | U(−k, k), k = 1/√hidden |
/// | `weight_hh` | 4·hidden × hidden | W_h | U(−k, k) |
/// | `bias` | 4·hidden | b | U(−k, k) |
/// | `ln_ih.weight`, `ln_ih.bias` | 4·hidden | gain α₂, bias β₂ | ones, zeros |
/// | `ln_hh.weight`, `ln_hh.bias` | 4·hidden | gain α₁, bias β₁ | ones, zeros |
/// | `ln_c.weight`, `ln_c.bias` | hidden | gain α₃, bias β₃ | ones, zeros |
/// | `h0`, `c0` (learned initial state) | hidden | — | zeros |
///
/// b, β₁ and β₂ all add to the pre-activations, so they are redundant as the paper has
/// them; kept for fidelity (`bias: false` drops b). The state is `[h, c]`.
open class LayerNormLSTMCell: Module, InputProjectingCell {
    /// Features of each step's input.
    public let inputSize: Int
    /// The size of h and c.
    public let hiddenSize: Int
    /// The size of h: the hidden size.
    public var outputSize: Int { hiddenSize }

    /// W_x, the input weights of the four gates (i, f, g, o).
    public let weight_ih: Parameter
    /// W_h, the recurrent weights of the four gates.
    public let weight_hh: Parameter
    /// b, added after the two normalised pre-activations.
    public let bias: Parameter?
    /// LN on the input pre-activation x W_ihᵀ (gain α₂ `weight`, bias β₂ `bias`).
    public let ln_ih: LayerNorm
    /// LN on the recurrent pre-activation h W_hhᵀ (gain α₁, bias β₁).
    public let ln_hh: LayerNorm
    /// LN on the new cell before the output tanh (gain α₃, bias β₃).
    public let ln_c: LayerNorm
    /// The learned initial h, broadcast over the batch.
    public let h0: Parameter?
    /// The learned initial c, broadcast over the batch.
    public let c0: Parameter?

    /// `forgetBias`, if given, starts the forget gate's entries of `bias` at this value;
    /// `learnsInitialState` makes h₀ and c₀ parameters (zeros at first) instead of zeros.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, learnsInitialState: Bool = false,
                forgetBias: Double? = nil) {
        if forgetBias != nil && !bias { opFailure("LayerNormLSTMCell", "forgetBias needs bias: true") }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([4 * hiddenSize, inputSize])
        weight_hh = make([4 * hiddenSize, hiddenSize])
        self.bias = bias ? make([4 * hiddenSize]) : nil
        ln_ih = LayerNorm([4 * hiddenSize])
        ln_hh = LayerNorm([4 * hiddenSize])
        ln_c = LayerNorm([hiddenSize])
        h0 = learnsInitialState ? Parameter(Tensor(zeros: [hiddenSize])) : nil
        c0 = learnsInitialState ? Parameter(Tensor(zeros: [hiddenSize])) : nil
        super.init()
        if let forgetBias, let bias = self.bias {
            for row in hiddenSize..<(2 * hiddenSize) { bias.value[row] = forgetBias }
        }
    }

    /// `[h, c]`: zeros, or h0 and c0 broadcast over the batch.
    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [h0, c0].map { initialState($0, batchSize: batchSize, size: hiddenSize, dtype: dtype, cell: "LayerNormLSTMCell") }
    }

    /// LN(x W_ihᵀ; α₂, β₂) + b, all gates.
    open func prepareInputs(_ inputs: Tensor) -> Tensor {
        let normalized = ln_ih(matmul(inputs, weight_ih.value, transposeB: true))
        return bias.map { normalized + $0.value } ?? normalized
    }

    /// One step from a row block of ``prepareInputs(_:)``'s result: the equations above.
    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let (h, c) = (state[0], state[1])
        let gates = (input + ln_hh(matmul(h, weight_hh.value, transposeB: true))).chunked(into: 4, along: 1)
        let newCell = gates[1].sigmoid() * c + gates[0].sigmoid() * gates[2].tanh()
        let output = gates[3].sigmoid() * ln_c(newCell).tanh()
        return (output, [output, newCell])
    }
}
