/// The long short-term memory cell, PyTorch's `nn.LSTMCell` (gate order i, f, g, o in the
/// stacked weights), with the variants of the literature as options:
///
///     i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi [+ p_i ⊙ c])
///     f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf [+ p_f ⊙ c])
///     g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)
///     c' = f ⊙ c + i ⊙ g
///     o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho [+ p_o ⊙ c'])
///     h' = o ⊙ tanh(c')                     [· W_hrᵀ with a projection]
///
/// - Peepholes (Gers & Schmidhuber 2000): the bracketed p ⊙ c terms.
/// - Coupled input-forget gate (CIFG): i = 1 − f; the input-gate rows do not exist, so the
///   stacked weights hold f, g, o.
/// - Projection (`projectionSize` P > 0, PyTorch `proj_size`): h' has size P.
/// - σ, the candidate's tanh and the output squashing tanh are options, and the methods
///   ``gate(_:)``, ``candidate(_:)`` and ``squash(_:)`` can be overridden by a subclass.
///
/// | parameter | shape |
/// |---|---|
/// | `weight_ih` | G·hidden × input (G = 4, or 3 with CIFG) |
/// | `weight_hh` | G·hidden × (P or hidden) |
/// | `bias_ih`, `bias_hh` | G·hidden |
/// | `weight_hr` (projection) | P × hidden |
/// | `peephole_i` (not with CIFG), `peephole_f`, `peephole_o` | hidden |
///
/// The state is `[h, c]`.
open class LSTMCell: Module, InputProjectingCell {
    public let inputSize: Int
    public let hiddenSize: Int
    /// P, or 0 without a projection.
    public let projectionSize: Int
    /// The size of h: P with a projection, else the hidden size.
    public var outputSize: Int { projectionSize > 0 ? projectionSize : hiddenSize }
    /// Whether i = 1 − f (no input-gate parameters).
    public let couplesInputAndForgetGates: Bool
    public let gateActivation: Activation
    public let cellActivation: Activation
    public let outputActivation: Activation

    public let weight_ih: Parameter
    public let weight_hh: Parameter
    public let bias_ih: Parameter?
    public let bias_hh: Parameter?
    public let weight_hr: Parameter?
    public let peephole_i: Parameter?
    public let peephole_f: Parameter?
    public let peephole_o: Parameter?

    /// - Parameters:
    ///   - forgetBias: if given, the forget gate's `bias_ih` entries start at this value (and
    ///     its `bias_hh` entries at 0), a common remedy for early vanishing memory.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, projectionSize: Int = 0,
                peepholes: Bool = false, couplesInputAndForgetGates: Bool = false,
                gateActivation: Activation = .sigmoid, cellActivation: Activation = .tanh,
                outputActivation: Activation = .tanh, forgetBias: Double? = nil) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.projectionSize = projectionSize
        self.couplesInputAndForgetGates = couplesInputAndForgetGates
        self.gateActivation = gateActivation
        self.cellActivation = cellActivation
        self.outputActivation = outputActivation
        let rows = (couplesInputAndForgetGates ? 3 : 4) * hiddenSize
        let recurrentSize = projectionSize > 0 ? projectionSize : hiddenSize
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([rows, inputSize])
        weight_hh = make([rows, recurrentSize])
        bias_ih = bias ? make([rows]) : nil
        bias_hh = bias ? make([rows]) : nil
        weight_hr = projectionSize > 0 ? make([projectionSize, hiddenSize]) : nil
        peephole_i = peepholes && !couplesInputAndForgetGates ? make([hiddenSize]) : nil
        peephole_f = peepholes ? make([hiddenSize]) : nil
        peephole_o = peepholes ? make([hiddenSize]) : nil
        super.init()
        if let forgetBias, let bias_ih, let bias_hh {
            let forgetRows = (couplesInputAndForgetGates ? 0 : hiddenSize)..<(couplesInputAndForgetGates ? hiddenSize : 2 * hiddenSize)
            for row in forgetRows {
                bias_ih.value[row] = forgetBias
                bias_hh.value[row] = 0
            }
        }
    }

    /// The gate nonlinearity (σ by default).
    open func gate(_ x: Tensor) -> Tensor { gateActivation(x) }
    /// The candidate g's nonlinearity (tanh by default).
    open func candidate(_ x: Tensor) -> Tensor { cellActivation(x) }
    /// The squashing of the new cell before the output gate (tanh by default).
    open func squash(_ cell: Tensor) -> Tensor { outputActivation(cell) }

    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, outputSize], dtype: dtype), Tensor(zeros: [batchSize, hiddenSize], dtype: dtype)]
    }

    /// x W_ihᵀ + b_ih, all gates.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias_ih) }

    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let (h, c) = (state[0], state[1])
        let preactivations = input + affine(h, weight_hh, bias_hh)
        var chunks = preactivations.chunked(into: couplesInputAndForgetGates ? 3 : 4, along: 1)
        let zi = couplesInputAndForgetGates ? nil : chunks.removeFirst()
        let (zf, zg, zo) = (chunks[0], chunks[1], chunks[2])
        let f = gate(peephole_f.map { zf + $0.value * c } ?? zf)
        let i = zi.map { zi in gate(peephole_i.map { zi + $0.value * c } ?? zi) } ?? 1 - f
        let newCell = f * c + i * candidate(zg)
        let o = gate(peephole_o.map { zo + $0.value * newCell } ?? zo)
        let hidden = o * squash(newCell)
        let output = weight_hr.map { matmul(hidden, $0.value, transposeB: true) } ?? hidden
        return (output, [output, newCell])
    }
}
