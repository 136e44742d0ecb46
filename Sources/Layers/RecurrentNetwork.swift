/// The one engine that runs any ``RecurrentCell`` over sequences: unrolling, stacking with
/// dropout between layers, bidirectional runs, variable lengths (by `lengths` or a prefix
/// `Mask`), truncated backpropagation through time and stateful carry-over. The named networks
/// (``RNN``, ``LSTM``, ``GRU``, ``JordanRNN``) are thin front doors to it, and a user-defined
/// cell gets all of it too.
///
/// Shapes (PyTorch's): input [batch, time, features] with `batchFirst`, else [time, batch,
/// features]; output likewise with the last layer's features (·2 when bidirectional, forward
/// then reverse); each state component [layers · directions, batch, size], layer-major and
/// direction-minor (l0 forward, l0 reverse, l1 forward, …).
///
/// With lengths, each sequence is processed only up to its length: its state stops changing
/// there, the reverse direction reads it reversed within its length, and outputs past it are
/// zero — so padding changes neither results nor gradients.
///
/// A ``ContextualRecurrentCell`` (e.g. an attention decoder) gets the call's `context` and the
/// step's index at every step: `network(targets, context: memory, lengths: lengths)` runs a
/// decoder with teacher forcing over a padded batch.
///
/// ## Compiled steps
/// Any cell's step — built-in or written by a user from public ops — is traced once per
/// shape into a ``Program`` (after the cell's `prepareInputs`), differentiated, split into
/// forward and backward halves and compiled (fused elementwise kernels, planned buffers,
/// weights packed once per run, weight gradients summed over all steps in one matrix
/// product); a run over the sequence is then one op on the tape, which also makes what the
/// step reads of its input alone (the input projection) for all steps at once, its batch's
/// rows split between threads when the step keeps rows apart, and a bidirectional layer's two
/// directions run side by side when there are threads for both (the reverse one stepping from
/// the last time to the first through the sequences in place, unless lengths differ).
/// Results and gradients equal the op-by-op run (tested to 1e-12 in float64, second derivatives included). As with JAX's `jit`, the step must be a
/// function of its input, state and parameters: two traces (at steps 0 and 1) are compared,
/// and a step that reads the time, draws random numbers or branches differently runs op by
/// op, as do contextual cells, cells holding buffers, runs recording gradient flow, step states or
/// gates, and runs under tracing or anomaly mode (``regularisation`` compiles: its masks are
/// step inputs). A step that reads some other mutable Swift value would be frozen at its first
/// trace: set ``usesCompiledSteps`` to `false` for such a cell.
///
/// On request a network records how the gradient flows back through time
/// (``recordsGradientFlow``) and keeps every step's state (``collectsStepStates``) and gates
/// (``collectsStepGates``).
open class RecurrentNetwork<Cell: ContextualRecurrentCell>: Module {
    /// The cells, layer-major and direction-minor: `cells[layer * directions + direction]`.
    public let cells: [Cell]
    public let numLayers: Int
    public let bidirectional: Bool
    public let batchFirst: Bool
    /// The dropout probability applied to each layer's output but the last, in training.
    public let dropout: Double
    /// Detach the state every this many steps within a sequence (truncated BPTT); `nil`: never.
    public var truncation: Int?
    /// Whether each call starts from the previous call's final state (detached) when no
    /// initial state is given: stateful training over consecutive batches.
    public var isStateful = false
    /// The state the next call starts from when stateful.
    public private(set) var carriedState: [Tensor]?
    /// Variational dropout, weight drop and zoneout for any cell (see ``RecurrentRegularisation``).
    public var regularisation = RecurrentRegularisation()
    /// Whether runs use each cell's traced and compiled step (see "Compiled steps" above);
    /// `false` runs every step op by op.
    public var usesCompiledSteps = true
    /// Each cell's compiled steps by shape (`nil`: the step cannot be compiled).
    let compiledSteps = CompiledStepCache()
    /// At most this many lanes (threads) for a compiled run; `nil`: ``ComputeThreads/maximum``.
    /// Tests fix it, since the thread limit is shared by the whole process.
    var laneLimit: Int?
    /// Gradient-flow and per-step-state recording (RecurrentNetwork+Recording.swift).
    var recording = RecurrentRecording()

    /// 1, or 2 when bidirectional.
    public var directions: Int { bidirectional ? 2 : 1 }

    /// A network of `numLayers` layers; `makeCell(layer, inputSize)` builds each cell (twice
    /// per layer when bidirectional); layer k > 0 takes the previous layer's outputs.
    public init(inputSize: Int, numLayers: Int = 1, bidirectional: Bool = false, batchFirst: Bool = false,
                dropout: Double = 0, makeCell: (_ layer: Int, _ inputSize: Int) -> Cell) {
        guard numLayers >= 1 else { opFailure("RecurrentNetwork", "numLayers must be at least 1, got \(numLayers)") }
        guard (0..<1).contains(dropout) else { opFailure("RecurrentNetwork", "dropout must be in [0, 1), got \(dropout)") }
        var cells: [Cell] = [], size = inputSize
        for layer in 0..<numLayers {
            let layerCells = (0..<(bidirectional ? 2 : 1)).map { _ in makeCell(layer, size) }
            for cell in layerCells where cell.inputSize != size {
                opFailure("RecurrentNetwork", "layer \(layer)'s cell takes \(cell.inputSize) inputs, but gets \(size)")
            }
            cells += layerCells
            size = layerCells.map(\.outputSize).reduce(0, +)
        }
        self.cells = cells
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.batchFirst = batchFirst
        self.dropout = dropout
        super.init()
    }

    /// PyTorch's flat names: each cell's parameter names with `_l{layer}` and, for the reverse
    /// direction, `_reverse` appended (`weight_ih_l0`, `bias_hh_l1_reverse`). The one place
    /// these names are made.
    open override func namedParameters() -> [(name: String, parameter: Parameter)] {
        cells.enumerated().flatMap { index, cell in
            let suffix = "_l\(index / directions)" + (index % directions == 1 ? "_reverse" : "")
            return cell.namedParameters().map { ($0.name + suffix, $0.parameter) }
        }
    }

    /// Runs the network, passing `context` to every step of every cell. `lengths` (one per
    /// batch entry, each ≤ time) marks the valid prefix of each sequence; `initialState` has
    /// the layout of the returned state.
    public func callAsFunction(_ input: Tensor, context: Cell.Context, initialState: [Tensor]? = nil,
                               lengths: [Int]? = nil) -> (output: Tensor, state: [Tensor]) {
        withDroppedWeights { runLayers(input, context: context, initialState: initialState, lengths: lengths) }
    }

    private func runLayers(_ input: Tensor, context: Cell.Context, initialState: [Tensor]?, lengths: [Int]?) -> (output: Tensor, state: [Tensor]) {
        guard input.rank == 3, input.shape[2] == cells[0].inputSize else {
            opFailure("RecurrentNetwork", "input of shape \(input.shape) does not match [\(batchFirst ? "batch, time" : "time, batch"), \(cells[0].inputSize)]")
        }
        let timeAxis = batchFirst ? 1 : 0
        let (time, batch) = (input.shape[timeAxis], input.shape[1 - timeAxis])
        if let lengths, lengths.count != batch || lengths.contains(where: { !(0...time).contains($0) }) {
            opFailure("RecurrentNetwork", "lengths \(lengths) do not fit a batch of \(batch) sequences of \(time) steps")
        }
        let initial = initialState ?? (isStateful ? carriedState : nil)
        if let initial {
            let expected = cells[0].zeroState(batchSize: batch, dtype: input.dtype).map { [cells.count] + $0.shape }
            guard initial.map(\.shape) == expected else {
                opFailure("RecurrentNetwork", "initial state of shapes \(initial.map(\.shape)) does not match [layers·directions, batch, size] = \(expected)")
            }
        }
        var layerInput = regularisedNetworkInput(batchFirst ? input.transposed(0, 1) : input)  // [time, batch, features]
        let recorder = beginStepRecording(steps: time)
        var finalStates: [[Tensor]] = []
        for layer in 0..<numLayers {
            let outputMask = layerOutputMask(layer, batch: batch, dtype: input.dtype)
            var maskColumns = 0
            let runs = (0..<directions).map { direction -> DirectionRun in
                let index = layer * directions + direction
                let cell = cells[index]
                let start = initial.map { components in components.map { $0.select(index, along: 0) } }
                    ?? cell.zeroState(batchSize: batch, dtype: input.dtype)
                let columns = maskColumns..<(maskColumns + cell.outputSize)
                maskColumns = columns.upperBound
                return DirectionRun(cell: index, reversed: direction == 1, start: start,
                                    outputMask: outputMask.map { $0.slice(columns, along: 1) })
            }
            let (output, states) = run(runs, over: layerInput, lengths: lengths, context: context, recorder: recorder)
            finalStates += states
            layerInput = output
            if layer < numLayers - 1 && dropout > 0 && isTraining { layerInput = applyDropout(layerInput) }
        }
        finishStepRecording(recorder, lengths: lengths)
        let state = (0..<finalStates[0].count).map { component in stack(finalStates.map { $0[component] }, along: 0) }
        if isStateful { carriedState = state.map { $0.detached() } }
        return (batchFirst ? layerInput.transposed(0, 1) : layerInput, state)
    }

    /// The output sequence alone (zero initial state unless stateful), so `network(x)` without
    /// destructuring works and a recurrent network can sit in a ``Sequential``. Only for cells
    /// without a context.
    open func forward(_ input: Tensor) -> Tensor {
        guard let none = () as? Cell.Context else {
            opFailure("RecurrentNetwork", "\(Cell.self) needs a context of type \(Cell.Context.self); call network(_:context:…)")
        }
        return self(input, context: none, initialState: nil, lengths: nil).output
    }

    /// Runs the network on the sequences `mask` marks valid, passing `context` to every step;
    /// each row of the [batch, time] mask must be a prefix of `true`s (a padded batch).
    public func callAsFunction(_ input: Tensor, context: Cell.Context, initialState: [Tensor]? = nil,
                               mask: Mask) -> (output: Tensor, state: [Tensor]) {
        self(input, context: context, initialState: initialState, lengths: Self.lengths(of: mask))
    }

    /// The valid-prefix length of each row of a [batch, time] mask.
    private static func lengths(of mask: Mask) -> [Int] {
        guard mask.shape.count == 2 else { opFailure("RecurrentNetwork", "mask of shape \(mask.shape) is not [batch, time]") }
        let (rows, columns) = (mask.shape[0], mask.shape[1])
        return (0..<rows).map { row -> Int in
            let values = mask.values[(row * columns)..<((row + 1) * columns)]
            let length = values.prefix { $0 }.count
            guard !values.dropFirst(length).contains(true) else {
                opFailure("RecurrentNetwork", "mask row \(row) is not a prefix of valid steps; sort padding to the end")
            }
            return length
        }
    }

    /// Forgets the carried state (the next stateful call starts from zeros).
    public func resetState() { carriedState = nil }

    /// One direction of a layer: its cell's index, whether it runs from each sequence's end to
    /// its start, its initial state and the variational mask [batch, output] its outputs are
    /// multiplied by, if any.
    private struct DirectionRun {
        let cell: Int, reversed: Bool, start: [Tensor], outputMask: Tensor?
    }

    /// A layer's directions run over its input [time, batch, ·] (in time order): compiled when
    /// they can be (nothing is recorded per step), else op by op. Two compiled directions run
    /// side by side, each on its share of the threads, when there are threads for both. Returns
    /// the directions' outputs side by side [time, batch, Σ output] in time order, each times
    /// its output mask, and each direction's final state.
    private func run(_ runs: [DirectionRun], over input: Tensor, lengths: [Int]?, context: Cell.Context,
                     recorder: StepRecorder?) -> (output: Tensor, states: [[Tensor]]) {
        let threads = laneLimit ?? ComputeThreads.maximum
        let share = threads >= runs.count ? threads / runs.count : threads
        let compiled = recorder == nil ? runs.map {
            compiledRun(cell: $0.cell, input, reversed: $0.reversed, from: $0.start, outputMask: $0.outputMask, lengths: lengths,
                        threads: share)
        } : []
        if runs.count > 1, share < threads, compiled.count == runs.count, compiled.allSatisfy({ $0 != nil }) {
            return results(of: compiled.map { $0! })
        }
        let directions = runs.indices.map { direction -> (output: Tensor, states: [[Tensor]]) in
            if let run = compiled.count == runs.count ? compiled[direction] : nil { return results(of: [run]) }
            let (index, reversed) = (runs[direction].cell, runs[direction].reversed)
            // The input-only part of every step in one matrix product, then one slice per step.
            let (time, batch) = (input.shape[0], input.shape[1])
            let prepared = cells[index].prepareInputs(input.reshaped(to: [time * batch, -1])).reshaped(to: [time, batch, -1])
            let inputs = reversed ? reversedWithinLengths(prepared, lengths) : prepared
            let steps = (0..<inputs.shape[0]).map { inputs.select($0, along: 0) }
            let (outputs, state) = unroll(cells[index], steps, from: runs[direction].start, lengths: lengths, context: context,
                                          lane: index, recorder: recorder)
            let sequence = stack(outputs, along: 0)
            let masked = runs[direction].outputMask.map { sequence * $0 } ?? sequence
            return (reversed ? reversedWithinLengths(masked, lengths) : masked, [state])
        }
        return (concat(directions.map(\.output), along: 2), directions.flatMap(\.states))
    }

    /// The cell applied step by step; past a sequence's length its state is held and its
    /// output is zero (a `where`, so no gradient flows through padding).
    private func unroll(_ cell: Cell, _ inputs: [Tensor], from start: [Tensor], lengths: [Int]?, context: Cell.Context,
                        lane: Int, recorder: StepRecorder?) -> (outputs: [Tensor], state: [Tensor]) {
        var state = start, outputs: [Tensor] = []
        let shortest = lengths?.min() ?? inputs.count
        let masks = stepMasks(for: start)
        let reportsGates = recorder?.keepsGates ?? false
        for (t, input) in inputs.enumerated() {
            if let truncation, t > 0, t % truncation == 0 { state = state.map { $0.detached() } }
            // The gates are asked for only when kept: a cell's plain step is what it runs otherwise.
            func cellStep(_ read: [Tensor]) -> StepWithGates {
                if reportsGates { return cell.stepReportingGates(prepared: input, state: read, time: t, context: context) }
                let (output, next) = cell.step(prepared: input, state: read, time: t, context: context)
                return (output, next, [])
            }
            var (output, next, gates) = withAnomalyLocation(stepLocation(lane: lane, step: t)) {
                masks.map { regularised(state: state, masks: $0, keep: nil, cellStep) } ?? cellStep(state)
            }
            if let recorder { (output, next) = recorder.observe(output, next, lane: lane, step: t) }
            let valid = t < shortest ? nil : Mask(lengths!.map { t < $0 }, shape: [lengths!.count, 1])
            if let valid {
                outputs.append(Tensor.where(valid, output, Tensor(0, dtype: output.dtype)))
                state = zip(next, state).map { Tensor.where(valid, $0, $1) }
            } else {
                outputs.append(output)
                state = next
            }
            recorder?.keep(state, gates: gates, valid: valid, lane: lane)
        }
        return (outputs, state)
    }

    /// Inverted dropout: zeroes each element with probability `dropout`, scales the rest.
    private func applyDropout(_ x: Tensor) -> Tensor {
        x * invertedDropoutMask(x.shape, dtype: x.dtype, probability: dropout)
    }
}

/// The steps of a [time, batch, ·] sequence in reverse order, each sequence reversed within
/// its own length (padding stays at the end): row b at step t comes from step lengths[b] − 1 − t.
func reversedWithinLengths(_ sequence: Tensor, _ lengths: [Int]?) -> Tensor {
    let (time, batch) = (sequence.shape[0], sequence.shape[1])
    let source = (0..<time).flatMap { t in
        (0..<batch).map { b in
            let length = lengths?[b] ?? time
            return (t < length ? length - 1 - t : t) * batch + b
        }
    }
    return sequence.reshaped(to: [time * batch, -1]).gathering(IndexTensor(source), along: 0).reshaped(to: sequence.shape)
}

extension RecurrentNetwork where Cell.Context == Void {
    /// Runs the network. `lengths` (one per batch entry, each ≤ time) marks the valid prefix
    /// of each sequence; `initialState` has the layout of the returned state.
    public func callAsFunction(_ input: Tensor, initialState: [Tensor]? = nil,
                               lengths: [Int]? = nil) -> (output: Tensor, state: [Tensor]) {
        self(input, context: (), initialState: initialState, lengths: lengths)
    }

    /// Runs the network on the sequences `mask` marks valid; each row of the [batch, time]
    /// mask must be a prefix of `true`s (a padded batch).
    public func callAsFunction(_ input: Tensor, initialState: [Tensor]? = nil, mask: Mask) -> (output: Tensor, state: [Tensor]) {
        self(input, context: (), initialState: initialState, mask: mask)
    }
}
