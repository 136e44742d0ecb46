import AutoGrad

// A whole recurrent run as one op on the tape: its forward calls a compiled forward step per
// time step, its pullback a compiled backward step per time step in reverse. The batch's rows
// never mix in a recurrent step the engine splits (see `RunLane`), so each thread runs its
// own rows through all the steps, forward and backward, without waiting for the others.

/// A run of compiled steps over a whole sequence as one op: operands are the step's sequence
/// inputs [steps, batch, ·] — or, when the step has an input part, the input [steps, batch, ·]
/// and the part's parameters, the run making the sequence inputs itself —
/// the initial state components [batch, size], the parameters the step reads and the extra
/// values each step reads, [batch, ·] each, step by step (no gradient flows into those: the
/// engine's masks, given per step so that no step copies its own out) — except the last
/// ``StepMasks/count`` of them, which the run draws itself step by step; the result is the step
/// outputs [steps, batch, output] and then the final state components, flattened into one
/// vector (the engine slices them out). Its lanes run concurrently. A reversed run steps from
/// the last time to the first (a bidirectional layer's reverse direction), reading and writing
/// every sequence in place in time order, so nothing is copied reversed.
struct CompiledRun: Primitive {
    let lanes: [RunLane]
    /// The number of time steps.
    let steps: Int
    /// Whether the run's step `i` is time `steps - 1 - i` (it has no masked steps then).
    let reversed: Bool
    /// Gradients stop flowing into the state every this many steps (truncated BPTT).
    let truncation: Int?
    /// The masks each step reads after its extra operands, drawn by the run (zoneout's).
    let drawn: StepMasks?
    /// The input part's residuals, kept from the forward for the pullback.
    private let partResiduals = Kept<[Tensor]>([])
    /// What every lane's steps share: counts and sizes.
    private var plain: CompiledStep { lanes[0].plain }
    /// The step's input part (every lane's is the same), which the run evaluates on its input
    /// before the first step, or `nil`.
    private var inputPart: InputPart? { plain.inputPart }

    init(lanes: [RunLane], steps: Int, reversed: Bool = false, truncation: Int?, drawn: StepMasks?) {
        precondition(!reversed || lanes.allSatisfy { $0.masked == nil }, "a reversed run has no masked steps")
        (self.lanes, self.steps, self.reversed, self.truncation, self.drawn) = (lanes, steps, reversed, truncation, drawn)
    }

    /// The time of the run's step `i`: where its rows of every sequence are.
    private func time(_ i: Int) -> Int { reversed ? steps - 1 - i : i }

    /// The run's result alone: its step outputs [steps, batch, output], then its final state.
    func placement(_ shapes: [[Int]]) -> RunPlacement {
        let (steps, batch) = (shapes[0][0], shapes[0][1])
        return RunPlacement(outputs: 0, width: plain.outputSize, columns: 0..<plain.outputSize, steps: steps, batch: batch,
                            states: steps * batch * plain.outputSize, stateShapes: Array(shapes[states]))
    }

    var name: String { "compiled_recurrent_run" }
    var attributes: [(name: String, value: Attribute)] {
        [("stateCount", .int(plain.stateCount)), ("lanes", .int(lanes.count))] + (truncation.map { [("truncation", .int($0))] } ?? [])
            + (reversed ? [("reversed", .bool(true))] : [])
    }
    var pullbackReads: PullbackReads { PullbackReads(operands: Array(0..<(extras.upperBound))) }
    /// The parameters' operands, and the extra values' of all steps.
    private var parameterOperands: Range<Int> { leading..<(leading + plain.parameters.count) }
    private var extras: Range<Int> { parameterOperands.upperBound..<(parameterOperands.upperBound + steps * extraOperandCount) }
    /// The extra values per step given as operands (the rest are drawn).
    private var extraOperandCount: Int { plain.extraCount - (drawn?.count ?? 0) }
    /// The operands the sequence inputs come from: themselves, or the input and the input
    /// part's parameters.
    private var sources: Range<Int> { 0..<(inputPart.map { 1 + $0.parameters.count } ?? plain.inputCount) }
    /// Sources and state components: the operands before the parameters.
    private var leading: Int { sources.upperBound + plain.stateCount }
    private var states: Range<Int> { sources.upperBound..<leading }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        [placement(Array(shapes)).end]
    }

    /// Calls `body` for each lane, concurrently when there are several, without recording
    /// (the threads' own recording switches are on by default).
    private func forEachLane(_ body: (Int) -> Void) {
        if lanes.count == 1 { return body(0) }
        ComputeThreads.concurrentPerform(lanes.count) { index in noGrad { body(index) } }
    }

    /// The step's sequence inputs [steps, batch, ·]: the source operands, or what the input part
    /// makes of them (as ops, recorded if the caller records), its residuals kept for the
    /// pullback if `keepingResiduals`.
    private func sequences(_ inputs: [Tensor], keepingResiduals: Bool) -> [Tensor] {
        guard let inputPart else { return Array(inputs[sources]) }
        let (sequences, residuals) = inputPart.evaluate(rows: inputs[0], parameters: Array(inputs[sources.dropFirst()]),
                                                        keepingResiduals: keepingResiduals)
        partResiduals.value = residuals
        return sequences
    }

    /// The gradients of the source operands from the sequence inputs': those, or the input
    /// part's gradients (the input's only if it requires them).
    private func sourceGradients(_ sequenceGradients: [Tensor], inputs: [Tensor], releasing: Bool) -> [Tensor?] {
        guard let inputPart else { return sequenceGradients }
        let residuals = partResiduals.value
        if releasing { partResiduals.value = [] }
        let (rows, parameters) = inputPart.gradients(residuals: residuals, sequenceGradients: sequenceGradients,
                                                     rowsShape: inputs[0].requiresGrad ? inputs[0].shape : nil)
        return [rows] + parameters
    }

    /// Appends step `t`'s leading arguments for `lane` to `arguments`: its rows of the sequence
    /// inputs, the state, for a masked step its validity mask, and its rows of the extra values
    /// (those drawn, drawn now).
    private func appendArguments(_ inputs: [Tensor], sequences: [Tensor], at t: Int, state: [Tensor], lane: RunLane,
                                 to arguments: inout [Tensor]) {
        for sequence in sequences { arguments.append(lane.rows(of: sequence, step: time(t))) }
        arguments += state
        if lane.step(at: t).isMasked { arguments.append(lane.validity(at: t)) }
        let stepExtras = extras.lowerBound + time(t) * extraOperandCount
        for extra in inputs[stepExtras..<(stepExtras + extraOperandCount)] { arguments.append(lane.rows(of: extra)) }
        if let drawn { arguments += drawn.masks(at: t, rows: lane.rows, dtype: inputs[0].dtype) }
    }

    /// For each step kind of `lane`, the residuals that are masks the run draws, by residual
    /// position: which of a step's drawn masks each is. The forward keeps none of them: the
    /// backward step draws its masks again, in cache, rather than reading them back from memory.
    private func drawnResiduals(in lane: RunLane) -> [ObjectIdentifier: [Int: Int]] {
        Dictionary([lane.plain, lane.masked].compactMap { $0 }.map { step in
            let first = step.extraCount - (drawn?.count ?? 0)
            return (ObjectIdentifier(step), step.extraResiduals.filter { $0.value >= first }.mapValues { $0 - first })
        }, uniquingKeysWith: { first, _ in first })
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let output = SharedBuffer(filledByLanes: shape, dtype: inputs[0].dtype)
        run(inputs, into: output, placement: placement(inputs.map(\.shape)),
            keepingResiduals: AutoGrad.isRecording && inputs.contains { $0.requiresGrad })
        return output.tensor
    }

    /// The forward, on any thread: the result written into `output` where `placement` says,
    /// and each step's residuals kept for the pullback if `keepingResiduals`.
    func run(_ inputs: [Tensor], into output: SharedBuffer, placement: RunPlacement, keepingResiduals keepsResiduals: Bool) {
        noGrad {
            let sequences = self.sequences(inputs, keepingResiduals: keepsResiduals)
            let parameters = Array(inputs[parameterOperands])
            let batch = inputs[0].shape[1]
            forEachLane { index in
                let lane = lanes[index]
                var state = inputs[states].map { lane.rows(of: $0) }
                lane.residuals.value = []
                lane.residuals.value.reserveCapacity(keepsResiduals ? steps : 0)
                // What only the parameters determine is computed once per run, for each step kind.
                var invariants: [ObjectIdentifier: [Tensor]] = [:]
                let drawnPositions = drawnResiduals(in: lane)
                // Made once and updated in place from step to step (no allocation per step): the
                // arguments, and where the output goes (its rows of the output sequence, written
                // there by the step's kernel, unless they are columns of a wider one).
                var arguments: [Tensor] = []
                var rows = placement.isWhole ? [0: (tensor: output.tensor, offset: 0)] : [:]
                let dropped = Tensor(zeros: [0], dtype: inputs[0].dtype)
                for t in 0..<steps {
                    let compiled = lane.step(at: t), key = ObjectIdentifier(compiled)
                    let executable = keepsResiduals ? compiled.forward : compiled.inference
                    if invariants[key] == nil { invariants[key] = executable.prologue(parameters) }
                    let outputRows = placement.outputRow(step: time(t), row: lane.rows.lowerBound)
                    if placement.isWhole { rows[0]!.offset = outputRows }
                    arguments.removeAll(keepingCapacity: true)
                    appendArguments(inputs, sequences: sequences, at: t, state: state, lane: lane, to: &arguments)
                    arguments += invariants[key]!
                    let results = executable.body(arguments, writingOutputs: rows)
                    if !placement.isWhole { output.write(rows: results[0], at: outputRows, rowStride: placement.width) }
                    for k in state.indices { state[k] = results[1 + k] }
                    if keepsResiduals {
                        var residuals = Array(results.dropFirst(1 + plain.stateCount))
                        for position in drawnPositions[key]!.keys { residuals[position] = dropped }
                        lane.residuals.value.append(residuals)
                    }
                }
                var offset = placement.states
                for (component, whole) in zip(state, inputs[states]) {
                    output.write(component, at: offset + lane.rows.lowerBound * (whole.count / batch))
                    offset += whole.count
                }
            }
        }
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        // A recorded backward pass (second order) runs the same programs as ops, lane after
        // lane, on a forward recomputed from the recorded inputs, so every residual is
        // differentiable.
        let placement = placement(inputs.map(\.shape))
        if AutoGrad.isRecording { return recordedPullback(gradient, placement: placement, inputs: inputs) }
        return gradients(gradient, placement: placement, inputs: inputs, releasing: !AutoGrad.isRetainingGraph)
    }

    /// The pullback of a backward pass that is not recorded, on any thread, for the gradient of
    /// a result laid out as `placement` says; each step's residuals are dropped once read if
    /// `releasing`.
    func gradients(_ gradient: Tensor, placement: RunPlacement, inputs: [Tensor], releasing: Bool) -> [Tensor?] {
        let batch = inputs[0].shape[1]
        let (outputGradients, stateGradients) = (placement.sequence(of: gradient), placement.states(of: gradient))
        let inputGradients = plain.forwardProgram.inputs.prefix(plain.inputCount).map {
            SharedBuffer(filledByLanes: [steps, batch] + $0.type.shape.dropFirst(), dtype: inputs[0].dtype)
        }
        let initialStateGradients = inputs[states].map { SharedBuffer(filledByLanes: $0.shape, dtype: $0.dtype) }
        let laneStepResults = LaneResults<[[Tensor]]>(count: lanes.count, empty: [])
        // Unless the graph is kept for another backward pass, each step's residuals are
        // dropped once its backward step has read them: the run's memory shrinks as the
        // gradients of its inputs grow.
        forEachLane { index in
            let lane = lanes[index]
            var stepResiduals = lane.residuals.value
            if releasing { lane.residuals.value = [] }
            var stateGradient = stateGradients.map { lane.rows(of: $0) }
            var stepResults = [[Tensor]](repeating: [], count: steps)
            // Per step kind, once per run: what only the parameters among the residuals
            // determine, and the positions of the other residuals, which each step reads.
            var invariants: [ObjectIdentifier: (values: [Tensor], stepResiduals: [Int])] = [:]
            let drawnPositions = drawnResiduals(in: lane)
            // Made once and updated in place from step to step: the arguments, and where the
            // input gradients go (their rows of the sequences' gradients, written there by the
            // step's kernels).
            var arguments: [Tensor] = []
            var rows = Dictionary(uniqueKeysWithValues: inputGradients.indices.map { ($0, (tensor: inputGradients[$0].tensor, offset: 0)) })
            let written = Tensor(zeros: [0], dtype: inputs[0].dtype)
            for t in (0..<steps).reversed() {
                let compiled = lane.step(at: t), key = ObjectIdentifier(compiled)
                if let positions = drawnPositions[key], let drawn, !positions.isEmpty {
                    let masks = drawn.masks(at: t, rows: lane.rows, dtype: inputs[0].dtype)
                    for (position, mask) in positions { stepResiduals[t][position] = masks[mask] }
                }
                if invariants[key] == nil {
                    let invariant = compiled.invariantResiduals.sorted()
                    invariants[key] = (compiled.backward.prologue(invariant.map { stepResiduals[t][$0] }),
                                       stepResiduals[t].indices.filter { !compiled.invariantResiduals.contains($0) })
                }
                for (k, buffer) in inputGradients.enumerated() {
                    rows[k]!.offset = (time(t) * batch + lane.rows.lowerBound) * (buffer.tensor.count / (steps * batch))
                }
                arguments.removeAll(keepingCapacity: true)
                for position in invariants[key]!.stepResiduals { arguments.append(stepResiduals[t][position]) }
                arguments.append(lane.rows(of: outputGradients, step: time(t), columns: placement.columns))
                arguments += stateGradient
                arguments += invariants[key]!.values
                var results = compiled.backward.body(arguments, writingOutputs: rows)
                if releasing { stepResiduals[t] = [] }
                for k in stateGradient.indices { stateGradient[k] = results[plain.inputCount + k] }
                if let truncation, t > 0, t % truncation == 0 { stateGradient = stateGradient.map { $0.zerosLike() } }
                for k in inputGradients.indices { results[k] = written }
                stepResults[t] = results
            }
            laneStepResults[index] = stepResults
            for (buffer, component) in zip(initialStateGradients, stateGradient) {
                buffer.write(component, at: lane.rows.lowerBound * (component.count / lane.rows.count))
            }
        }
        // Rows of the lanes' results in the order of the sequence's: by step, then by lane.
        let stepResults = laneStepResults.values
        let parameterGradients = summedParameterGradients(inputGradients: inputGradients.map(\.tensor)) { t in
            stepResults.map { $0[t] }
        }
        return sourceGradients(inputGradients.map(\.tensor), inputs: inputs, releasing: releasing) + initialStateGradients.map(\.tensor)
            + parameterGradients + extras.map { _ in nil }
    }

    /// The gradients of the parameters, each summed over the steps in one op per step kind
    /// (the masked step's outputs may be laid out differently from the plain step's): from
    /// each step's backward results (`results(t)` for the run's step `t`, one per lane) and the
    /// input gradients [steps, rows, ·] in time order, with rows in the same order.
    private func summedParameterGradients(inputGradients: [Tensor], results: (Int) -> [[Tensor]]) -> [Tensor] {
        let (lane, rows) = (lanes[0], inputGradients.first.map { $0.shape[1] } ?? 0)
        let shortest = min(lane.firstMaskedStep, steps)
        let groups = [(step: lane.plain, steps: 0..<shortest), (step: lane.masked ?? lane.plain, steps: shortest..<steps)]
            .filter { !$0.steps.isEmpty }
            .map { group in
                // Each group's input gradients stacked by rows, as the sums read them.
                let stacked = Dictionary(uniqueKeysWithValues: inputGradients.indices.map { input in
                    let all = inputGradients[input].reshaped(to: [steps * rows, -1])
                    return (input, group.steps.count == steps ? all
                                : all.slice((group.steps.lowerBound * rows)..<(group.steps.upperBound * rows), along: 0))
                })
                return (group.step, results: group.steps.flatMap { results(time($0)) }, stacked: stacked)
            }
        let groupSums = groups.map { DeferredSum.sums($0.0.parameterSums, over: $0.results, stacked: $0.stacked) }
        return plain.parameters.indices.map { k in
            groupSums.dropFirst().reduce(groupSums[0][k]) { $0 + $1[k] }
        }
    }

    /// The pullback as recorded ops: each lane's forward recomputed from the inputs (so its
    /// residuals are differentiable), then its backward programs evaluated as ops.
    func recordedPullback(_ gradient: Tensor, placement: RunPlacement, inputs: [Tensor]) -> [Tensor?] {
        let (outputGradients, stateGradients) = (placement.sequence(of: gradient), placement.states(of: gradient))
        let parameters = Array(inputs[parameterOperands])
        let sequences = self.sequences(inputs, keepingResiduals: true)
        var laneInputGradients: [[Tensor]] = [], laneStateGradients: [[Tensor]] = [], laneStepResults: [[[Tensor]]] = []
        for lane in lanes {
            var state = inputs[states].map { lane.rows(of: $0) }, residuals: [[Tensor]] = []
            for t in 0..<steps {
                if let truncation, t > 0, t % truncation == 0 { state = state.map { $0.detached() } }
                var arguments: [Tensor] = []
                appendArguments(inputs, sequences: sequences, at: t, state: state, lane: lane, to: &arguments)
                let results = lane.step(at: t).forwardProgram.evaluate(on: arguments + parameters)
                state = Array(results[1...plain.stateCount])
                residuals.append(Array(results.dropFirst(1 + plain.stateCount)))
            }
            var stateGradient = stateGradients.map { lane.rows(of: $0) }
            var stepResults = [[Tensor]](repeating: [], count: residuals.count)
            for t in residuals.indices.reversed() {
                let cotangents = [lane.rows(of: outputGradients, step: time(t), columns: placement.columns)] + stateGradient
                stepResults[t] = lane.step(at: t).backwardProgram.evaluate(on: residuals[t] + cotangents)
                stateGradient = Array(stepResults[t][plain.inputCount..<(plain.inputCount + plain.stateCount)])
                if let truncation, t > 0, t % truncation == 0 { stateGradient = stateGradient.map { $0.zerosLike() } }
            }
            let gradients = (0..<plain.inputCount).map { k in stack((0..<steps).map { stepResults[time($0)][k] }, along: 0) }
            laneInputGradients.append(gradients)
            laneStateGradients.append(stateGradient)
            laneStepResults.append(stepResults)
        }
        let inputGradients = (0..<plain.inputCount).map { k in concat(laneInputGradients.map { $0[k] }, along: 1) }
        let initialStateGradients = (0..<plain.stateCount).map { k in concat(laneStateGradients.map { $0[k] }, along: 0) }
        let parameterGradients = summedParameterGradients(inputGradients: inputGradients) { t in
            laneStepResults.map { $0[t] }
        }
        return sourceGradients(inputGradients, inputs: inputs, releasing: false) + initialStateGradients + parameterGradients
            + extras.map { _ in nil }
    }
}

/// Where a compiled run's result lies in a flat buffer — its own, or one that runs side by
/// side fill: its step outputs are the `columns` of a sequence [steps, batch, width] that starts
/// at flat position `outputs` (all of them, unless runs share the sequence: a bidirectional
/// layer's output, made without a concatenation), its final state components follow one
/// another from `states` on.
struct RunPlacement {
    let outputs: Int, width: Int, columns: Range<Int>, steps: Int, batch: Int
    let states: Int, stateShapes: [[Int]]

    /// Whether the outputs are the whole sequence (each step's kernel writes its rows there).
    var isWhole: Bool { columns.count == width }
    /// Where the final state ends.
    var end: Int { states + stateShapes.map { $0.reduce(1, *) }.reduce(0, +) }

    /// The flat position of the run's first output element of `row` at step `t`.
    func outputRow(step t: Int, row: Int) -> Int { outputs + (t * batch + row) * width + columns.lowerBound }

    /// The sequence [steps, batch, width] holding the outputs, a view of `flat`, a buffer laid
    /// out so (or its gradient).
    func sequence(of flat: Tensor) -> Tensor {
        flat.slice(outputs..<(outputs + steps * batch * width), along: 0).reshaped(to: [steps, batch, width])
    }

    /// The final state components, views of `flat`.
    func states(of flat: Tensor) -> [Tensor] {
        var offset = states
        return stateShapes.map { shape -> Tensor in
            let count = shape.reduce(1, *)
            defer { offset += count }
            return flat.slice(offset..<(offset + count), along: 0).reshaped(to: shape)
        }
    }
}
