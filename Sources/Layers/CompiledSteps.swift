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
/// The part of the step that reads only its input and the parameters, row by row (a user
/// cell's input projection), is split off as ``inputPart`` and evaluated by the engine for
/// all steps at once — one large matrix product instead of one small one per step, as the
/// built-in cells do by hand in `prepareInputs`; the compiled step then reads its results.
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
    /// (prepared input rows, its parameters…) → the sequence inputs, for all steps' rows at once.
    let inputPart: (program: Program, parameters: [Parameter])?
    /// (inputs…, state…, mask?, parameters…) → (output, state…, residuals…).
    let forward: HoistedExecutable
    /// (residuals…, d output, d state…) → (d inputs…, d state…, the pieces of the parameters'
    /// gradients…): each parameter's gradient summed over the steps is `parameterSums[k]`
    /// of the steps' outputs, formed once after the reverse sweep. The residuals that are
    /// parameters (at ``invariantResiduals``) go to its prologue, once per run.
    let backward: HoistedExecutable
    /// The positions of the residuals that are parameters, the same at every step.
    let invariantResiduals: Set<Int>
    /// How each parameter's gradient is summed over the steps.
    let parameterSums: [DeferredSum]
    /// (inputs…, state…, mask?, parameters…) → (output, state…), without residuals.
    let inference: HoistedExecutable
    /// The output's features.
    let outputSize: Int
    /// The uncompiled halves, evaluated op by op when the backward pass is itself recorded.
    let forwardProgram: Program, backwardProgram: Program

    private init(_ split: SplitStep, candidates: [Parameter], stateCount: Int, isMasked: Bool, extraCount: Int) {
        let program = split.step
        parameters = split.stepParameters.map { candidates[$0] }
        inputCount = split.inputCount
        inputPart = split.inputPart.map { ($0, split.inputParameters.map { candidates[$0] }) }
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
        backward = HoistedExecutable(backwardProgram, invariant: invariantResiduals)
        inference = HoistedExecutable(program, invariant: parameterInputs)
        outputSize = program.type(of: program.outputs[0]).shape[1]
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

/// Copies `values` into `target`'s flat elements from `offset` on, in place (`target` is a
/// buffer this run made, so nothing else sees the write).
private func write(_ values: Tensor, into target: inout Tensor, at offset: Int) {
    func copy<T: FloatElement>(_: T.Type) {
        values.withUnsafeBufferPointer(as: T.self) { source in
            target.withUnsafeMutableBufferPointer(as: T.self) { destination in
                destination.baseAddress!.advanced(by: offset).update(from: source.baseAddress!, count: source.count)
            }
        }
    }
    switch values.dtype {
    case .float32: copy(Float.self)
    case .float64: copy(Double.self)
    }
}

/// The residuals of one run, kept from its forward for its pullback.
private final class RunResiduals: @unchecked Sendable {
    var steps: [[Tensor]] = []
}

/// A run of compiled steps over a whole sequence as one op: operands are the step's sequence
/// inputs [steps, batch, ·] (the prepared input, or what the step's input part made of it),
/// the initial state components [batch, size], the parameters the step reads and the extra
/// per-step values [steps, batch, ·] (no gradient flows into those); the result
/// is the step outputs [steps, batch, output] and then the final state components, flattened
/// into one vector (the engine slices them out).
struct CompiledRun: Primitive {
    let plain: CompiledStep
    /// The step with a validity mask, for steps past the shortest sequence's length.
    let masked: CompiledStep?
    let lengths: [Int]?
    /// Gradients stop flowing into the state every this many steps (truncated BPTT).
    let truncation: Int?
    /// The first step run masked: the shortest sequence's length (`Int.max` without a mask).
    private let firstMaskedStep: Int
    private let residuals = RunResiduals()

    init(plain: CompiledStep, masked: CompiledStep?, lengths: [Int]?, truncation: Int?) {
        self.plain = plain
        self.masked = masked
        self.lengths = lengths
        self.truncation = truncation
        firstMaskedStep = masked == nil ? .max : lengths!.min()!
    }

    /// The step outputs [steps, batch, output] and the state components (of `stateShapes`)
    /// in a flat vector laid out as a run's result (or its gradient).
    static func unflattened(_ flat: Tensor, steps: Int, batch: Int, outputSize: Int, stateShapes: [[Int]])
        -> (outputs: Tensor, states: [Tensor]) {
        var offset = steps * batch * outputSize
        let states = stateShapes.map { shape -> Tensor in
            let count = shape.reduce(1, *)
            defer { offset += count }
            return flat.slice(offset..<(offset + count), along: 0).reshaped(to: shape)
        }
        return (flat.slice(0..<(steps * batch * outputSize), along: 0).reshaped(to: [steps, batch, outputSize]), states)
    }

    var name: String { "compiled_recurrent_run" }
    var attributes: [(name: String, value: Attribute)] {
        [("stateCount", .int(plain.stateCount))] + (truncation.map { [("truncation", .int($0))] } ?? [])
    }
    var pullbackReads: PullbackReads { PullbackReads(operands: Array(0..<(extras.upperBound))) }
    /// The parameters' operands, and the extra per-step values'.
    private var parameterOperands: Range<Int> { leading..<(leading + plain.parameters.count) }
    private var extras: Range<Int> { parameterOperands.upperBound..<(parameterOperands.upperBound + plain.extraCount) }
    /// Sequence inputs and state components: the operands before the parameters.
    private var leading: Int { plain.inputCount + plain.stateCount }
    private var states: Range<Int> { plain.inputCount..<leading }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let (steps, batch) = (shapes[0][0], shapes[0][1])
        let stateSizes = states.map { shapes[$0].reduce(1, *) }.reduce(0, +)
        return [steps * batch * plain.outputSize + stateSizes]
    }

    /// The step for time `t`: masked from the shortest sequence's length on.
    private func step(at t: Int) -> CompiledStep {
        t >= firstMaskedStep ? masked! : plain
    }

    /// Step `t`'s leading arguments: its rows of the sequence inputs, the state, for a masked
    /// step its validity mask, and its rows of the extra values.
    private func arguments(_ inputs: [Tensor], at t: Int, state: [Tensor]) -> [Tensor] {
        let rows = inputs.prefix(plain.inputCount).map { $0.select(t, along: 0) }
        let extraRows = inputs[extras].map { $0.select(t, along: 0) }
        guard step(at: t).isMasked, let lengths else { return rows + state + extraRows }
        return rows + state + [Mask(lengths.map { t < $0 }, shape: [lengths.count, 1]).programValue] + extraRows
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let keepsResiduals = AutoGrad.isRecording && inputs.contains { $0.requiresGrad }
        return noGrad {
            let parameters = Array(inputs[parameterOperands])
            let (steps, batch) = (inputs[0].shape[0], inputs[0].shape[1])
            var state = Array(inputs[states]), output = Tensor(zeros: shape, dtype: inputs[0].dtype)
            residuals.steps = []
            // What only the parameters determine is computed once per run, for each step kind.
            var invariants: [ObjectIdentifier: [Tensor]] = [:]
            for t in 0..<steps {
                let compiled = step(at: t)
                let executable = keepsResiduals ? compiled.forward : compiled.inference
                if invariants[ObjectIdentifier(compiled)] == nil {
                    invariants[ObjectIdentifier(compiled)] = executable.prologue(parameters)
                }
                let results = executable.body(arguments(inputs, at: t, state: state) + invariants[ObjectIdentifier(compiled)]!)
                write(results[0], into: &output, at: t * results[0].count)
                state = Array(results[1...plain.stateCount])
                if keepsResiduals { residuals.steps.append(Array(results.dropFirst(1 + plain.stateCount))) }
            }
            var offset = steps * batch * plain.outputSize
            for component in state {
                write(component, into: &output, at: offset)
                offset += component.count
            }
            return output
        }
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (steps, batch) = (inputs[0].shape[0], inputs[0].shape[1])
        var (outputGradients, stateGradient) = Self.unflattened(gradient, steps: steps, batch: batch, outputSize: plain.outputSize,
                                                                stateShapes: inputs[states].map(\.shape))
        // A recorded backward pass (second order) runs the same programs as ops, on a forward
        // recomputed from the recorded inputs, so every residual is differentiable.
        let recorded = AutoGrad.isRecording
        var stepResiduals = recorded ? recordedResiduals(inputs) : residuals.steps
        // Unless the graph is kept for another backward pass, each step's residuals are
        // dropped once its backward step has read them: the run's memory shrinks as the
        // gradients of its inputs grow.
        let releasing = !recorded && !AutoGrad.isRetainingGraph
        if releasing { residuals.steps = [] }
        // Unrecorded, each step's input gradients go straight into their sequence (and are
        // then read from there by the parameters' sums); recorded, they stay ops.
        var stepResults = [[Tensor]](repeating: [], count: steps)
        var inputGradients = recorded ? [] : inputs.prefix(plain.inputCount).map { $0.zerosLike() }
        let stateGradients = plain.inputCount..<leading
        // What only the parameters among the residuals determine, once per run and step kind.
        var invariants: [ObjectIdentifier: [Tensor]] = [:]
        for t in (0..<steps).reversed() {
            let compiled = step(at: t), cotangents = [outputGradients.select(t, along: 0)] + stateGradient
            var results: [Tensor]
            if recorded {
                results = compiled.backwardProgram.evaluate(on: stepResiduals[t] + cotangents)
            } else {
                let residuals = stepResiduals[t].indices.map { (compiled.invariantResiduals.contains($0), stepResiduals[t][$0]) }
                if invariants[ObjectIdentifier(compiled)] == nil {
                    invariants[ObjectIdentifier(compiled)] = compiled.backward.prologue(residuals.filter(\.0).map(\.1))
                }
                results = compiled.backward.body(residuals.filter { !$0.0 }.map(\.1) + cotangents + invariants[ObjectIdentifier(compiled)]!)
                if releasing { stepResiduals[t] = [] }
            }
            stateGradient = Array(results[stateGradients])
            if let truncation, t > 0, t % truncation == 0 { stateGradient = stateGradient.map { $0.zerosLike() } }
            if !recorded {
                for k in 0..<plain.inputCount {
                    write(results[k], into: &inputGradients[k], at: t * results[k].count)
                    results[k] = Tensor(zeros: [0], dtype: results[k].dtype)  // its rows live in the sequence now
                }
            }
            stepResults[t] = results
        }
        if recorded {
            inputGradients = (0..<plain.inputCount).map { k in stack(stepResults.map { $0[k] }, along: 0) }
        }
        // The parameters' gradients, each summed over the steps in one op per compiled step
        // (the masked step's outputs may be laid out differently from the plain step's).
        // Each group's input gradients stacked by rows, as the sums read them.
        let shortest = min(firstMaskedStep, steps)
        let groups = [(step: plain, steps: 0..<shortest), (step: masked ?? plain, steps: shortest..<steps)]
            .filter { !$0.steps.isEmpty }
            .map { group in
                let stacked = Dictionary(uniqueKeysWithValues: inputGradients.indices.map { input in
                    let rows = inputGradients[input].reshaped(to: [steps * batch, -1])
                    return (input, group.steps.count == steps ? rows
                                : rows.slice((group.steps.lowerBound * batch)..<(group.steps.upperBound * batch), along: 0))
                })
                return (group.step, results: Array(stepResults[group.steps]), stacked: stacked)
            }
        let parameterGradients = plain.parameters.indices.map { k in
            let sums = groups.map { $0.0.parameterSums[k].sum(over: $0.results, stacked: $0.stacked) }
            return sums.dropFirst().reduce(sums[0], +)
        }
        return inputGradients + stateGradient + parameterGradients + extras.map { _ in nil }
    }

    /// Each step's residuals from the forward programs run as recorded ops.
    private func recordedResiduals(_ inputs: [Tensor]) -> [[Tensor]] {
        let parameters = Array(inputs[parameterOperands])
        var state = Array(inputs[states]), residuals: [[Tensor]] = []
        for t in 0..<inputs[0].shape[0] {
            if let truncation, t > 0, t % truncation == 0 { state = state.map { $0.detached() } }
            let results = step(at: t).forwardProgram.evaluate(on: arguments(inputs, at: t, state: state) + parameters)
            state = Array(results[1...plain.stateCount])
            residuals.append(Array(results.dropFirst(1 + plain.stateCount)))
        }
        return residuals
    }
}
