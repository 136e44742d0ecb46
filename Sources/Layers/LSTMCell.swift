/// The long short-term memory cell, PyTorch's `nn.LSTMCell` (gate order i, f, g, o in the
/// stacked weights), with the variants of the literature as options:
///
///     i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi [+ p_i ⊙ c] [+ a R_iᵀ])
///     f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf [+ p_f ⊙ c] [+ a R_fᵀ])
///     g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)
///     c' = f ⊙ c + i ⊙ g
///     o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho [+ p_o ⊙ c'] [+ a R_oᵀ])
///     h' = o ⊙ tanh(c')                     [· W_hrᵀ with a projection]
///
/// With every option at its default this is exactly PyTorch's cell. The options:
/// - Peepholes (`peepholes`, Gers & Schmidhuber 2000): the bracketed p ⊙ c terms.
/// - No input gate (`inputGate: false`): i = 1, so c' = f ⊙ c + g.
/// - No forget gate (`forgetGate: false`): f = 1, so c' = c + i ⊙ g.
/// - No output gate (`outputGate: false`): o = 1, so h' = tanh(c').
/// - Coupled input-forget gate (CIFG, `couplesInputAndForgetGates`): i = 1 − f, and the
///   input gate has no parameters.
/// - Full gate recurrence (FGR, `fullGateRecurrence`): each gate also sees the previous step's
///   gate activations a = [i, f, o]_{t−1} (those of the gates that have parameters,
///   concatenated) through `weight_gg`, whose rows R_i, R_f, R_o hold Greff et al.'s nine
///   gate-to-gate matrices; a is zero at the first step and is the state's third component.
/// - Projection (`projectionSize` P > 0, PyTorch `proj_size`): h' has size P.
/// - Learned initial state (`learnsInitialState`): h₀ and c₀ are the parameters `h0` and `c0`
///   (zeros at first), broadcast over the batch by ``zeroState(batchSize:dtype:)``.
/// - σ, the candidate's tanh (`cellActivation`; identity is Greff's "no input activation")
///   and the output squashing tanh (`outputActivation`; identity is "no output activation")
///   are options, and ``gate(_:)``, ``candidate(_:)`` and ``squash(_:)`` can be overridden.
///
/// ``Variant`` maps the eight variants of Greff et al., "LSTM: A Search Space Odyssey"
/// (2017), onto these options.
///
/// | parameter | shape |
/// |---|---|
/// | `weight_ih` | G·hidden × input (G: 4, less one per absent gate; i, f, g, o order kept) |
/// | `weight_hh` | G·hidden × (P or hidden) |
/// | `bias_ih`, `bias_hh` | G·hidden |
/// | `weight_hr` (projection) | P × hidden |
/// | `peephole_i`, `peephole_f`, `peephole_o` (those of present gates; no `peephole_i` with CIFG) | hidden |
/// | `weight_gg` (FGR) | K·hidden × K·hidden (K gates with parameters, rows and columns in i, f, o order) |
/// | `h0`, `c0` (learned initial state) | P or hidden, hidden |
///
/// The state is `[h, c]`, or `[h, c, a]` with full gate recurrence.
open class LSTMCell: Module, InputProjectingCell {
    /// Features of each step's input.
    public let inputSize: Int
    /// The size of c (and of h without a projection).
    public let hiddenSize: Int
    /// P, or 0 without a projection.
    public let projectionSize: Int
    /// The size of h: P with a projection, else the hidden size.
    public var outputSize: Int { projectionSize > 0 ? projectionSize : hiddenSize }
    /// Whether i = 1 − f (no input-gate parameters).
    public let couplesInputAndForgetGates: Bool
    /// Whether the cell has an input gate (else i = 1).
    public let hasInputGate: Bool
    /// Whether the cell has a forget gate (else f = 1).
    public let hasForgetGate: Bool
    /// Whether the cell has an output gate (else o = 1).
    public let hasOutputGate: Bool
    /// The gates' nonlinearity (σ).
    public let gateActivation: Activation
    /// The candidate g's nonlinearity (tanh; identity is Greff et al.'s NIAF).
    public let cellActivation: Activation
    /// The squashing of c' before the output gate (tanh; identity is NOAF).
    public let outputActivation: Activation
    /// Where each gate's rows sit in the stacked weights.
    let blocks: LSTMBlocks

    /// The input weights of the gates present, stacked in i, f, g, o order.
    public let weight_ih: Parameter
    /// The recurrent weights, stacked like `weight_ih`.
    public let weight_hh: Parameter
    /// The input biases, stacked like `weight_ih`.
    public let bias_ih: Parameter?
    /// The recurrent biases, stacked like `weight_ih`.
    public let bias_hh: Parameter?
    /// The projection W_hr.
    public let weight_hr: Parameter?
    /// The input gate's peephole p_i.
    public let peephole_i: Parameter?
    /// The forget gate's peephole p_f.
    public let peephole_f: Parameter?
    /// The output gate's peephole p_o (it sees the new cell c').
    public let peephole_o: Parameter?
    /// The gate-to-gate recurrent weights of full gate recurrence.
    public let weight_gg: Parameter?
    /// The learned initial h, broadcast over the batch.
    public let h0: Parameter?
    /// The learned initial c, broadcast over the batch.
    public let c0: Parameter?

    /// A cell with the options of the type's documentation; all defaults give PyTorch's cell.
    /// `forgetBias`, if given, starts the forget gate's `bias_ih` entries at this value (and
    /// its `bias_hh` entries at 0), a common remedy for early vanishing memory.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, projectionSize: Int = 0,
                peepholes: Bool = false, couplesInputAndForgetGates: Bool = false,
                inputGate: Bool = true, forgetGate: Bool = true, outputGate: Bool = true,
                fullGateRecurrence: Bool = false, learnsInitialState: Bool = false,
                gateActivation: Activation = .sigmoid, cellActivation: Activation = .tanh,
                outputActivation: Activation = .tanh, forgetBias: Double? = nil) {
        if couplesInputAndForgetGates && !(inputGate && forgetGate) {
            opFailure("LSTMCell", "coupling the input and forget gates (CIFG) needs both gates")
        }
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.projectionSize = projectionSize
        self.couplesInputAndForgetGates = couplesInputAndForgetGates
        hasInputGate = inputGate
        hasForgetGate = forgetGate
        hasOutputGate = outputGate
        self.gateActivation = gateActivation
        self.cellActivation = cellActivation
        self.outputActivation = outputActivation
        blocks = LSTMBlocks(inputGate: inputGate && !couplesInputAndForgetGates, forgetGate: forgetGate, outputGate: outputGate)
        if fullGateRecurrence && blocks.gateCount == 0 {
            opFailure("LSTMCell", "full gate recurrence needs at least one gate")
        }
        if forgetBias != nil && !forgetGate { opFailure("LSTMCell", "forgetBias needs a forget gate") }
        let rows = blocks.count * hiddenSize, gateRows = blocks.gateCount * hiddenSize
        let recurrentSize = projectionSize > 0 ? projectionSize : hiddenSize
        func make(_ shape: [Int]) -> Parameter { recurrentParameter(shape, hiddenSize: hiddenSize) }
        weight_ih = make([rows, inputSize])
        weight_hh = make([rows, recurrentSize])
        bias_ih = bias ? make([rows]) : nil
        bias_hh = bias ? make([rows]) : nil
        weight_hr = projectionSize > 0 ? make([projectionSize, hiddenSize]) : nil
        peephole_i = peepholes && blocks.input != nil ? make([hiddenSize]) : nil
        peephole_f = peepholes && forgetGate ? make([hiddenSize]) : nil
        peephole_o = peepholes && outputGate ? make([hiddenSize]) : nil
        weight_gg = fullGateRecurrence ? make([gateRows, gateRows]) : nil
        h0 = learnsInitialState ? Parameter(Tensor(zeros: [projectionSize > 0 ? projectionSize : hiddenSize])) : nil
        c0 = learnsInitialState ? Parameter(Tensor(zeros: [hiddenSize])) : nil
        super.init()
        if let forgetBias, let bias_ih, let bias_hh, let block = blocks.forget {
            for row in (block * hiddenSize)..<((block + 1) * hiddenSize) {
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

    /// `[h, c]` (and the previous gates a with full gate recurrence): zeros, or h0 and c0
    /// broadcast over the batch when the initial state is learned (a stays zero).
    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        var state = [initialState(h0, batchSize: batchSize, size: outputSize, dtype: dtype, cell: "LSTMCell"),
                     initialState(c0, batchSize: batchSize, size: hiddenSize, dtype: dtype, cell: "LSTMCell")]
        if weight_gg != nil { state.append(Tensor(zeros: [batchSize, blocks.gateCount * hiddenSize], dtype: dtype)) }
        return state
    }

    /// x W_ihᵀ + b_ih, all gates.
    open func prepareInputs(_ inputs: Tensor) -> Tensor { affine(inputs, weight_ih, bias_ih) }

    /// One step from a row block of ``prepareInputs(_:)``'s result: the equations above.
    open func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let (output, next, _) = stepReportingGates(prepared: input, state: state)
        return (output, next)
    }

    /// The step with its gates `i`, `f`, `g`, `o` of the equations above, those the cell has (`i`
    /// too with CIFG, where it is 1 − f). A subclass that overrides ``step(prepared:state:)``
    /// overrides this too.
    open func stepReportingGates(prepared input: Tensor, state: [Tensor]) -> StepWithGates {
        let (h, c) = (state[0], state[1])
        let chunks = (input + affine(h, weight_hh, bias_hh)).chunked(into: blocks.count, along: 1)
        var (zi, zf, zo) = (blocks.input.map { chunks[$0] }, blocks.forget.map { chunks[$0] }, blocks.output.map { chunks[$0] })
        if let weight_gg { (zi, zf, zo) = addingGateRecurrence(weight_gg.value, previousGates: state[2], to: (zi, zf, zo)) }
        let f = zf.map { zf in gate(peephole_f.map { zf + $0.value * c } ?? zf) }
        let i = zi.map { zi in gate(peephole_i.map { zi + $0.value * c } ?? zi) } ?? (couplesInputAndForgetGates ? 1 - f! : nil)
        let g = candidate(chunks[blocks.candidate])
        let newCell = (f.map { $0 * c } ?? c) + (i.map { $0 * g } ?? g)
        let o = zo.map { zo in gate(peephole_o.map { zo + $0.value * newCell } ?? zo) }
        let squashed = squash(newCell)
        let hidden = o.map { $0 * squashed } ?? squashed
        let output = weight_hr.map { matmul(hidden, $0.value, transposeB: true) } ?? hidden
        let named = [("i", i), ("f", f), ("g", g), ("o", o)].compactMap { name, value in value.map { (name: name, value: $0) } }
        guard weight_gg != nil else { return (output, [output, newCell], named) }
        let gates = [zi == nil ? nil : i, f, o].compactMap { $0 }
        return (output, [output, newCell, concat(gates, along: 1)], named)
    }
}
