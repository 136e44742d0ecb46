extension LSTMCell {
    /// The eight variants of Greff et al., "LSTM: A Search Space Odyssey" (IEEE TNNLS 2017),
    /// as ``LSTMCell`` options. Each variant changes one thing in the paper's vanilla LSTM,
    /// which has peepholes (so it is *not* PyTorch's LSTM, which is ``noPeepholes``). In the
    /// paper's notation (block input z, cell c, block output y):
    ///
    ///     z = g(x W_zᵀ + y_{t−1} R_zᵀ + b_z)
    ///     i = σ(x W_iᵀ + y_{t−1} R_iᵀ + p_i ⊙ c_{t−1} + b_i)
    ///     f = σ(x W_fᵀ + y_{t−1} R_fᵀ + p_f ⊙ c_{t−1} + b_f)
    ///     c = z ⊙ i + c_{t−1} ⊙ f
    ///     o = σ(x W_oᵀ + y_{t−1} R_oᵀ + p_o ⊙ c + b_o)
    ///     y = h(c) ⊙ o                            g = h = tanh
    ///
    /// z is the cell's candidate g, y its output h; each of this cell's gates has two biases
    /// (`bias_ih + bias_hh`, PyTorch's convention) where the paper has one.
    public enum Variant: String, CaseIterable, Sendable {
        /// The paper's vanilla LSTM: `peepholes: true`.
        case vanilla
        /// NIG, no input gate: i = 1, so c = z + c_{t−1} ⊙ f (`inputGate: false`).
        case noInputGate
        /// NFG, no forget gate: f = 1, so c = z ⊙ i + c_{t−1} (`forgetGate: false`).
        case noForgetGate
        /// NOG, no output gate: o = 1, so y = h(c) (`outputGate: false`).
        case noOutputGate
        /// NIAF, no input activation: g(x) = x, so z = x W_zᵀ + y_{t−1} R_zᵀ + b_z
        /// (`cellActivation: .identity`).
        case noInputActivation
        /// NOAF, no output activation: h(x) = x, so y = c ⊙ o (`outputActivation: .identity`).
        case noOutputActivation
        /// NP, no peepholes: the p terms vanish (`peepholes: false`). This is PyTorch's LSTM
        /// and this cell's default.
        case noPeepholes
        /// CIFG, coupled input and forget gate (`couplesInputAndForgetGates: true`). The paper
        /// writes f = 1 − i; this cell keeps f and sets i = 1 − f, the same family of
        /// functions (σ(−v) = 1 − σ(v): negate the gate's weights, biases and peephole).
        case coupledInputForgetGate
        /// FGR, full gate recurrence (`fullGateRecurrence: true`): with a = [i, f, o]_{t−1},
        ///
        ///     i = σ(… + i_{t−1} R_iiᵀ + f_{t−1} R_fiᵀ + o_{t−1} R_oiᵀ)     and likewise f, o,
        ///
        /// the nine matrices stacked in `weight_gg` (rows: the gate receiving, columns: the
        /// previous gate, both in i, f, o order); a = 0 at the first step.
        case fullGateRecurrence
    }

    /// Full gate recurrence: adds a R_*ᵀ to each parameterized gate's pre-activation, where
    /// a is the previous step's gate activations.
    func addingGateRecurrence(_ weight: Tensor, previousGates: Tensor, to z: (i: Tensor?, f: Tensor?, o: Tensor?))
        -> (i: Tensor?, f: Tensor?, o: Tensor?) {
        var terms = matmul(previousGates, weight, transposeB: true).chunked(into: blocks.gateCount, along: 1)[...]
        func adding(_ preactivation: Tensor?) -> Tensor? { preactivation.map { $0 + terms.removeFirst() } }
        let i = adding(z.i), f = adding(z.f), o = adding(z.o)
        return (i, f, o)
    }
}

/// Which row blocks of an LSTM's stacked weights hold which gate: PyTorch's i, f, g, o order
/// with absent gates left out.
struct LSTMBlocks: Sendable {
    let input: Int?, forget: Int?, candidate: Int, output: Int?
    /// Blocks in the stacked weights (gates with parameters plus the candidate).
    let count: Int
    /// Gates with parameters.
    var gateCount: Int { count - 1 }

    init(inputGate: Bool, forgetGate: Bool, outputGate: Bool) {
        var next = 0
        func take(_ present: Bool) -> Int? {
            guard present else { return nil }
            defer { next += 1 }
            return next
        }
        input = take(inputGate)
        forget = take(forgetGate)
        candidate = take(true)!
        output = take(outputGate)
        count = next
    }
}
