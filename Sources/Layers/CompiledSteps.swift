import AutoGrad

// The recurrent engine's fast path, for built-in and user cells alike: a cell's step is traced
// once per shape into a program, differentiated, split into its forward and backward halves
// and compiled; a whole run over the sequence is then one op on the tape, whose forward calls
// the compiled forward step T times and whose pullback calls the compiled backward step T
// times in reverse. Nothing here knows what the cell computes.

/// A cell's step for one shape, traced and compiled: the forward half returns the output, the
/// new state and the residuals the backward half reads; the backward half returns the
/// gradients with respect to the step's sequence inputs, the state and the parameters.
///
/// The part of the step that reads only its input and the parameters, row by row (a cell's
/// input projection: a user cell's, or the `prepareInputs` the engine traces before a built-in
/// cell's step), is split off as ``inputPart`` and evaluated by the run for all steps at once —
/// one large matrix product instead of one small one per step; the compiled step then reads
/// its results.
final class CompiledStep: @unchecked Sendable {
    /// The parameters the compiled step reads, in the order of its parameter inputs.
    let parameters: [Parameter]
    /// How many sequence inputs each step reads (its rows of each, [batch, ·]).
    let inputCount: Int
    /// The number of state components.
    let stateCount: Int
    /// Whether the step takes a [batch, 1] validity mask after the state (steps past some
    /// sequence's length hold that sequence's state and output zero).
    let isMasked: Bool
    /// How many per-step values the step reads after the state and mask, without gradients
    /// (the engine's regularisation masks).
    let extraCount: Int
    /// (input rows, its parameters…) → the sequence inputs, for all steps' rows at once.
    let inputPart: InputPart?
    /// The input part's program as text, which lanes compare to share one evaluation of it.
    let inputPartText: String?
    /// (inputs…, state…, mask?, parameters…) → (output, state…, residuals…).
    let forward: HoistedExecutable
    /// (residuals…, d output, d state…) → (d inputs…, d state…, the pieces of the parameters'
    /// gradients…): each parameter's gradient summed over the steps is `parameterSums[k]`
    /// of the steps' outputs, formed once after the reverse sweep. The residuals that are
    /// parameters (at ``invariantResiduals``) go to its prologue, once per run.
    let backward: HoistedExecutable
    /// The positions of the residuals that are parameters, the same at every step.
    let invariantResiduals: Set<Int>
    /// The residuals that are extra values the step reads, by position: which extra each is.
    let extraResiduals: [Int: Int]
    /// How each parameter's gradient is summed over the steps.
    let parameterSums: [DeferredSum]
    /// (inputs…, state…, mask?, parameters…) → (output, state…), without residuals.
    let inference: HoistedExecutable
    /// The output's features.
    let outputSize: Int
    /// The uncompiled halves, evaluated op by op when the backward pass is itself recorded.
    let forwardProgram: Program, backwardProgram: Program
    /// Whether the step computes each row of its output and state from the same rows of its
    /// inputs and state (every cell the engine knows; not one that mixes the batch): then a
    /// run's rows can be split between threads.
    let isRowwise: Bool

    private init(_ split: SplitStep, candidates: [Parameter], stateCount: Int, isMasked: Bool, extraCount: Int) {
        let program = split.step
        parameters = split.stepParameters.map { candidates[$0] }
        inputCount = split.inputCount
        inputPart = split.inputPart.map { InputPart(program: $0, parameters: split.inputParameters.map { candidates[$0] }) }
        inputPartText = split.inputPart?.description
        self.stateCount = stateCount
        self.isMasked = isMasked
        self.extraCount = extraCount
        let leading = inputCount + stateCount
        let argumentCount = leading + (isMasked ? 1 : 0) + extraCount
        let gradient = program.gradient(withRespectTo: Array(0..<leading) + Array(argumentCount..<program.inputs.count))
        let halves = gradient.split(recomputingCheapResiduals: true)
        forwardProgram = halves.forward
        (backwardProgram, parameterSums) = halves.backward.deferringSums(of: Array(leading..<halves.backward.outputs.count))
        let parameterInputs = Set(argumentCount..<program.inputs.count)
        forward = HoistedExecutable(forwardProgram, invariant: parameterInputs)
        invariantResiduals = Set(forwardProgram.outputs.dropFirst(1 + stateCount).enumerated().compactMap { position, value in
            if case .input(let input) = value, parameterInputs.contains(input) { position } else { nil }
        })
        let extraInputs = (argumentCount - extraCount)..<argumentCount
        extraResiduals = Dictionary(uniqueKeysWithValues: forwardProgram.outputs.dropFirst(1 + stateCount).enumerated().compactMap { position, value in
            if case .input(let input) = value, extraInputs.contains(input) { (position, input - extraInputs.lowerBound) } else { nil }
        })
        backward = HoistedExecutable(backwardProgram, invariant: invariantResiduals)
        inference = HoistedExecutable(program, invariant: parameterInputs)
        outputSize = program.type(of: program.outputs[0]).shape[1]
        isRowwise = program.treatsRowsIndependently(rowInputs: Set(0..<argumentCount))
    }

    /// The compiled step of `step` for these example values, or `nil` when it cannot stand
    /// for every step: when two traces (at time 0 and 1) differ — the step reads the time,
    /// draws random numbers or branches on values — or when the output or a state component
    /// does not depend on the inputs, so has no gradient. `extras` are example values of the
    /// per-step values the step reads besides its input and state.
    static func make(step: (_ input: Tensor, _ state: [Tensor], _ extras: [Tensor], _ time: Int) -> (output: Tensor, state: [Tensor]),
                     input: Tensor, state: [Tensor], extras: [Tensor] = [], masked: Bool,
                     parameters candidates: [Parameter]) -> CompiledStep? {
        let mask = Mask(Array(repeating: true, count: input.shape[0]), shape: [input.shape[0], 1])
        let arguments: [any ProgramArgument] = [input] + state + (masked ? [mask] : []) + extras
        func trace(at time: Int) -> Program {
            Program.trace(arguments, parameters: candidates) { traced in
                let state = (0..<state.count).map { traced.tensor(1 + $0) }
                let extras = extras.indices.map { traced.tensor(1 + state.count + (masked ? 1 : 0) + $0) }
                var (output, next) = step(traced.tensor(0), state, extras, time)
                if masked {
                    let valid = traced.mask(1 + state.count)
                    output = Tensor.where(valid, output, Tensor(0, dtype: output.dtype))
                    next = zip(next, state).map { Tensor.where(valid, $0, $1) }
                }
                return [output] + next
            }.program
        }
        let program = trace(at: 0)
        guard program.description == trace(at: 1).description else { return nil }
        let outputTypes = program.outputs.map(program.type(of:))
        guard outputTypes.count == 1 + state.count, zip(outputTypes.dropFirst(), state).allSatisfy({ $0.shape == $1.shape }),
              program.outputs.allSatisfy({ if case .result = $0 { true } else { false } })
        else { return nil }
        let split = program.splittingInputPart(leading: arguments.count)
        guard split.step.gradient(withRespectTo: []).cotangentCount == 1 + state.count else { return nil }
        return CompiledStep(split, candidates: candidates, stateCount: state.count, isMasked: masked, extraCount: extras.count)
    }
}

/// A compiled program run many times with its parameter inputs unchanged: the part that
/// reads only those runs once (``Program/hoistingInvariants(_:)``).
struct HoistedExecutable: Sendable {
    /// Parameters → the invariant values the body reads.
    let prologue: Executable
    /// The other inputs, then the prologue's results → the program's outputs.
    let body: Executable

    init(_ program: Program, invariant: Set<Int>) {
        let hoisted = program.hoistingInvariants(invariant)
        prologue = Executable(hoisted.prologue)
        body = Executable(hoisted.body)
    }
}
