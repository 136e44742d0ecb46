import AutoGrad

// A whole recurrent run as one op on the tape: its forward calls a compiled forward step per
// time step, its pullback a compiled backward step per time step in reverse. The batch's rows
// never mix in a recurrent step the engine splits (see `RunLane`), so each thread runs its
// own rows through all the steps, forward and backward, without waiting for the others.

/// Values a run keeps from its forward for its pullback (residuals), set from the thread
/// that made them.
final class Kept<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// One thread's share of a run: a range of the batch's rows, with the steps compiled for
/// that many rows (a lane's own, since a compiled step runs one call at a time).
struct RunLane: Sendable {
    let rows: Range<Int>
    let plain: CompiledStep
    /// The step with a validity mask, for steps past the shortest of the lane's lengths.
    let masked: CompiledStep?
    /// The lane's rows' lengths (`nil` without a mask).
    let lengths: [Int]?
    /// The first step run masked (`Int.max` without a mask): the run's shortest length, the
    /// same in every lane, so that the lanes' steps of one time are of one kind.
    let firstMaskedStep: Int
    /// Each step's residuals.
    let residuals = Kept<[[Tensor]]>([])

    init(rows: Range<Int>, plain: CompiledStep, masked: CompiledStep?, lengths: [Int]?, firstMaskedStep: Int) {
        self.rows = rows
        self.plain = plain
        self.masked = masked
        self.lengths = lengths
        self.firstMaskedStep = masked == nil ? .max : firstMaskedStep
    }

    /// The step for time `t`: masked from the shortest sequence's length on.
    func step(at t: Int) -> CompiledStep {
        t >= firstMaskedStep ? masked! : plain
    }

    /// The lane's rows of `value` [batch, ·], or of its step `t` when it is a sequence
    /// [steps, batch, ·]: a view of them, as they lie together (ops when the caller records).
    func rows(of value: Tensor, step t: Int? = nil) -> Tensor {
        let batch = value.shape[t == nil ? 0 : 1], rowShape = value.shape.dropFirst(t == nil ? 1 : 2)
        if !AutoGrad.isRecording {
            if t == nil && rows.count == batch { return value }
            return value.unrecordedView(from: ((t ?? 0) * batch + rows.lowerBound) * rowShape.reduce(1, *),
                                        shape: [rows.count] + rowShape)
        }
        guard let t else { return rows.count == batch ? value : value.slice(rows, along: 0) }
        if rows.count == batch { return value.select(t, along: 0) }
        let flat = value.reshaped(to: [value.shape[0] * batch] + value.shape.dropFirst(2))
        return flat.slice((t * batch + rows.lowerBound)..<(t * batch + rows.upperBound), along: 0)
    }

    /// The validity mask of step `t` for the lane's rows.
    func validity(at t: Int) -> Tensor {
        Mask(lengths!.map { t < $0 }, shape: [lengths!.count, 1]).programValue
    }
}

/// A tensor the lanes of a run fill from their threads, each its own rows: written through a
/// pointer taken once, since simultaneous mutable accesses to one tensor variable would trap.
/// It starts uninitialized: the lanes write every element (each step's rows of every lane, or
/// each lane's rows of a final value), so zeroing it first would only be paid for.
final class SharedBuffer: @unchecked Sendable {
    let tensor: Tensor
    private let base: UnsafeMutableRawPointer

    init(filledByLanes shape: [Int], dtype: DType) {
        var base: UnsafeMutableRawPointer?
        tensor = switch dtype {
        case .float32: Tensor(unsafeUninitializedShape: shape, as: Float.self) { base = UnsafeMutableRawPointer($0.baseAddress) }
        case .float64: Tensor(unsafeUninitializedShape: shape, as: Double.self) { base = UnsafeMutableRawPointer($0.baseAddress) }
        }
        self.base = base!
    }

    /// Copies `values`' elements (or `count` of them from `start`) to the flat `offset`.
    func write(_ values: Tensor, at offset: Int, from start: Int = 0, count: Int? = nil) {
        let size = values.dtype.byteCount
        let write = { (source: UnsafeRawPointer) in
            (self.base + offset * size).copyMemory(from: source + start * size, byteCount: (count ?? values.count) * size)
        }
        switch values.dtype {
        case .float32: values.withUnsafeBufferPointer(as: Float.self) { write(UnsafeRawPointer($0.baseAddress!)) }
        case .float64: values.withUnsafeBufferPointer(as: Double.self) { write(UnsafeRawPointer($0.baseAddress!)) }
        }
    }
}

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
    /// The step's input part (every lane's is the same), which the run evaluates on its input
    /// before the first step, or `nil`.
    let inputPart: InputPart?
    /// The input part's residuals, kept from the forward for the pullback.
    private let partResiduals = Kept<[Tensor]>([])
    /// What every lane's steps share: counts and sizes.
    private var plain: CompiledStep { lanes[0].plain }

    init(lanes: [RunLane], steps: Int, reversed: Bool = false, truncation: Int?, drawn: StepMasks?) {
        precondition(!reversed || lanes.allSatisfy { $0.masked == nil }, "a reversed run has no masked steps")
        (self.lanes, self.steps, self.reversed, self.truncation, self.drawn) = (lanes, steps, reversed, truncation, drawn)
        inputPart = lanes[0].plain.inputPart
    }

    /// The time of the run's step `i`: where its rows of every sequence are.
    private func time(_ i: Int) -> Int { reversed ? steps - 1 - i : i }

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
        let (steps, batch) = (shapes[0][0], shapes[0][1])
        let stateSizes = states.map { shapes[$0].reduce(1, *) }.reduce(0, +)
        return [steps * batch * plain.outputSize + stateSizes]
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
        run(inputs, into: output, at: 0, keepingResiduals: AutoGrad.isRecording && inputs.contains { $0.requiresGrad })
        return output.tensor
    }

    /// The forward, on any thread: the result written into `output` from its flat position
    /// `base` on, and each step's residuals kept for the pullback if `keepingResiduals`.
    func run(_ inputs: [Tensor], into output: SharedBuffer, at base: Int, keepingResiduals keepsResiduals: Bool) {
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
                // there by the step's kernel).
                var arguments: [Tensor] = [], rows = [0: (tensor: output.tensor, offset: 0)]
                let dropped = Tensor(zeros: [0], dtype: inputs[0].dtype)
                for t in 0..<steps {
                    let compiled = lane.step(at: t), key = ObjectIdentifier(compiled)
                    let executable = keepsResiduals ? compiled.forward : compiled.inference
                    if invariants[key] == nil { invariants[key] = executable.prologue(parameters) }
                    rows[0]!.offset = base + (time(t) * batch + lane.rows.lowerBound) * plain.outputSize
                    arguments.removeAll(keepingCapacity: true)
                    appendArguments(inputs, sequences: sequences, at: t, state: state, lane: lane, to: &arguments)
                    arguments += invariants[key]!
                    let results = executable.body(arguments, writingOutputs: rows)
                    for k in state.indices { state[k] = results[1 + k] }
                    if keepsResiduals {
                        var residuals = Array(results.dropFirst(1 + plain.stateCount))
                        for position in drawnPositions[key]!.keys { residuals[position] = dropped }
                        lane.residuals.value.append(residuals)
                    }
                }
                var offset = base + steps * batch * plain.outputSize
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
        if AutoGrad.isRecording { return recordedPullback(gradient, inputs: inputs) }
        return gradients(gradient, inputs: inputs, releasing: !AutoGrad.isRetainingGraph)
    }

    /// The pullback of a backward pass that is not recorded, on any thread; each step's
    /// residuals are dropped once read if `releasing`.
    func gradients(_ gradient: Tensor, inputs: [Tensor], releasing: Bool) -> [Tensor?] {
        let batch = inputs[0].shape[1]
        let (outputGradients, stateGradients) = Self.unflattened(gradient, steps: steps, batch: batch, outputSize: plain.outputSize,
                                                                 stateShapes: inputs[states].map(\.shape))
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
                arguments.append(lane.rows(of: outputGradients, step: time(t)))
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
    func recordedPullback(_ gradient: Tensor, inputs: [Tensor]) -> [Tensor?] {
        let (outputGradients, stateGradients) = Self.unflattened(gradient, steps: steps, batch: inputs[0].shape[1], outputSize: plain.outputSize,
                                                                 stateShapes: inputs[states].map(\.shape))
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
                let cotangents = [lane.rows(of: outputGradients, step: time(t))] + stateGradient
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

/// One result per lane (or run), set from the lanes' threads, each its own slot (of memory
/// allocated once: an array property mutated from two threads at once would trap).
final class LaneResults<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Value>
    init(count: Int, empty: Value) { slots = .allocate(capacity: count); slots.initialize(repeating: empty) }
    deinit { slots.deinitialize().deallocate() }
    var values: [Value] { Array(slots) }
    subscript(index: Int) -> Value {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}
