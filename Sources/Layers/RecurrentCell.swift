/// One step of a recurrent network: (input, state) → (output, new state), the one method a
/// plain cell implements.
///
/// Implement this to define a custom recurrent architecture; ``RecurrentNetwork`` then gives
/// it unrolling, stacking, bidirectional runs, variable lengths and truncated BPTT, and
/// backpropagation through time comes from the tape. The state is one or more tensors of
/// shape [batch, size] (an LSTM's is `[h, c]`).
///
///     /// A minimal gated unit: f = σ(x W_fxᵀ + h W_fhᵀ + b_f), h' = (1 − f) ⊙ h + f ⊙ tanh(x W_xᵀ + (f ⊙ h) W_hᵀ)
///     final class MinimalGatedUnit: Module, RecurrentCell {
///         let inputSize: Int, outputSize: Int
///         let gate: Linear, candidateInput: Linear, candidateHidden: Linear
///         init(inputSize: Int, hiddenSize: Int) { … }
///         func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
///             [Tensor(zeros: [batchSize, outputSize], dtype: dtype)]
///         }
///         func step(_ x: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
///             let h = state[0]
///             let f = (gate(concat([x, h], along: 1))).sigmoid()
///             let candidate = (candidateInput(x) + candidateHidden(f * h)).tanh()
///             let next = (1 - f) * h + f * candidate
///             return (next, [next])
///         }
///     }
public protocol RecurrentCell: ContextualRecurrentCell where Context == Void {
    /// One step: `input` is [batch, inputSize]; returns the output [batch, outputSize] and
    /// the new state (same shapes as `state`). The one method a plain cell implements.
    func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor])
}

extension RecurrentCell {
    /// The plain step: a plain cell reads neither the time nor a context.
    public func step(prepared input: Tensor, state: [Tensor], time: Int, context: Void) -> (output: Tensor, state: [Tensor]) {
        step(input, state: state)
    }
}

/// What ``RecurrentNetwork`` runs: a cell whose step may also read its position in the
/// sequence and a context given once per call, the same for every step — e.g. an attention
/// decoder reading the encoder's outputs and their mask (`AttentionDecoderCell`). Cells that
/// need neither implement the simpler ``RecurrentCell``.
public protocol ContextualRecurrentCell: Module {
    /// What each call passes to every step (`Void` for a plain ``RecurrentCell``).
    associatedtype Context
    /// Features of each step's input.
    var inputSize: Int { get }
    /// Features of each step's output.
    var outputSize: Int { get }
    /// The initial state: zeros, one tensor per state component, each [batchSize, size].
    func zeroState(batchSize: Int, dtype: DType) -> [Tensor]
    /// The part of a step that depends on the input alone, for every step at once: `inputs`
    /// is [steps · batch, inputSize]. Built-in cells return x W_ihᵀ + b_ih here, so the
    /// sequence needs one large matrix product instead of one small one per step. By default
    /// the inputs themselves.
    func prepareInputs(_ inputs: Tensor) -> Tensor
    /// One step: `input` is the step's [batch, ·] rows of ``prepareInputs(_:)``'s result
    /// (the input itself unless the cell prepares inputs), `time` the step's index in the order
    /// the cell runs (counted from each sequence's end in a reverse direction), `context`
    /// the call's context. Returns the output [batch, outputSize] and the new state.
    func step(prepared input: Tensor, state: [Tensor], time: Int, context: Context) -> (output: Tensor, state: [Tensor])
    /// The same step, also returning the named values it computes on the way — its gates, in
    /// PyTorch's sense (an LSTM's i, f, g, o; a GRU's r, z, n) — under distinct names, the same
    /// at every step, each [batch, ·], for
    /// ``RecurrentNetwork/stepGates``. By default the step with none: a cell opts in by
    /// implementing this with the same output and state as its step.
    func stepReportingGates(prepared input: Tensor, state: [Tensor], time: Int, context: Context) -> StepWithGates
}

/// A step's output and new state with the named gates it computed (see
/// ``ContextualRecurrentCell/stepReportingGates(prepared:state:time:context:)``).
public typealias StepWithGates = (output: Tensor, state: [Tensor], gates: [(name: String, value: Tensor)])

extension ContextualRecurrentCell {
    public func prepareInputs(_ inputs: Tensor) -> Tensor { inputs }

    /// The step, with no gates.
    public func stepReportingGates(prepared input: Tensor, state: [Tensor], time: Int, context: Context) -> StepWithGates {
        let (output, next) = step(prepared: input, state: state, time: time, context: context)
        return (output, next, [])
    }
}

/// A cell written as its two parts, ``InputProjectingCell/prepareInputs(_:)`` and
/// ``InputProjectingCell/step(prepared:state:)``; its plain step composes them. The built-in
/// cells are such cells.
public protocol InputProjectingCell: RecurrentCell {
    /// The input-only part of every step at once (see ``ContextualRecurrentCell/prepareInputs(_:)``).
    func prepareInputs(_ inputs: Tensor) -> Tensor
    /// One step from a row block of ``prepareInputs(_:)``'s result.
    func step(prepared input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor])
    /// The same step with its named gates (see
    /// ``ContextualRecurrentCell/stepReportingGates(prepared:state:time:context:)``); by
    /// default none.
    func stepReportingGates(prepared input: Tensor, state: [Tensor]) -> StepWithGates
}

extension InputProjectingCell {
    public func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        step(prepared: prepareInputs(input), state: state)
    }

    public func step(prepared input: Tensor, state: [Tensor], time: Int, context: Void) -> (output: Tensor, state: [Tensor]) {
        step(prepared: input, state: state)
    }

    /// The two-part step with its gates: a plain cell reads neither the time nor a context.
    public func stepReportingGates(prepared input: Tensor, state: [Tensor], time: Int, context: Void) -> StepWithGates {
        stepReportingGates(prepared: input, state: state)
    }

    /// The step, with no gates.
    public func stepReportingGates(prepared input: Tensor, state: [Tensor]) -> StepWithGates {
        let (output, next) = step(prepared: input, state: state)
        return (output, next, [])
    }
}

/// An elementwise nonlinearity chosen by value (cells take them as options).
public enum Activation: String, Sendable, CaseIterable {
    case tanh, sigmoid, relu, identity

    /// Applies the nonlinearity.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .relu: x.relu()
        case .identity: x
        }
    }
}

/// Weights and biases of recurrent cells, initialized as PyTorch does: U(−k, k) with
/// k = 1/√hiddenSize.
func recurrentParameter(_ shape: [Int], hiddenSize: Int) -> Parameter {
    let bound = 1 / Double(hiddenSize).squareRoot()
    return Parameter(Tensor.randomUniform(shape, low: -bound, high: bound))
}

/// x Wᵀ (+ b) with a parameter's weight and bias: the affine map every cell is built from.
func affine(_ x: Tensor, _ weight: Parameter, _ bias: Parameter?) -> Tensor {
    linear(x, weight: weight.value, bias: bias?.value)
}
