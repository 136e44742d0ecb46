import AutoGrad
import Synchronization

extension RecurrentNetwork {
    /// Cell `index` run over `input` [time, batch, ·] (from each sequence's end to its start
    /// if `reversed`; outputs in time order either way) as one compiled op, or `nil` when
    /// the run must go op by op: while tracing or detecting anomalies (so programs and
    /// anomaly messages name each op), for cells with a context or with buffers (whose values
    /// a compiled step would freeze), and for steps that ``CompiledStep`` cannot compile.
    /// Regularisation compiles too: weight drop swaps the weights the run reads, and state
    /// dropout's, the output's (`outputMask` [batch, output], which each step multiplies its
    /// output by) and zoneout's masks are per-step inputs of the step. The run has a lane per
    /// thread, of at most `threads`, when its batch is worth splitting. The step traced is the
    /// cell's ``ContextualRecurrentCell/prepareInputs(_:)`` of the step's input, then its step:
    /// what reads only the input (a built-in cell's input projection, or a user cell's) is
    /// split off as the step's input part, which the run evaluates for all steps at once.
    func compiledRun(cell index: Int, _ input: Tensor, reversed: Bool, from start: [Tensor], outputMask: Tensor?, lengths: [Int]?,
                     threads: Int) -> PreparedRun? {
        let cell = cells[index]
        guard usesCompiledSteps, Cell.Context.self == Void.self, !isTracing, !isDetectingAnomalies, input.shape[0] > 0
        else { return nil }
        // The cell's parameters and buffers, found by reflection once (a compiled step holds
        // the parameters it was traced with).
        let (parameters, hasBuffers) = compiledSteps.members(of: index) { (cell.parameters(), !cell.namedBuffers().isEmpty) }
        // A parameter value that is not a recorded tensor (a weight-drop copy made under
        // noGrad) would be frozen into the trace as a constant.
        guard !hasBuffers, parameters.allSatisfy(\.value.requiresGrad) else { return nil }
        let (time, batch) = (input.shape[0], input.shape[1])
        // The step's masks: the state components it reads dropped, the output's, then the
        // state components zoned.
        let (dropped, zoned) = (droppedStateComponents(count: start.count), zonedStateComponents(count: start.count))
        let examples = zip(start, dropped).compactMap { $1 ? $0.detached() : nil } + (outputMask.map { [$0] } ?? [])
            + zip(start, zoned).compactMap { $1 ? $0.detached() : nil }
        func step(_ input: Tensor, _ state: [Tensor], _ extras: [Tensor], _ time: Int) -> (output: Tensor, state: [Tensor]) {
            var rows = extras[...]
            let masks = dropped.map { $0 ? rows.popFirst() : nil }
            let outputRows = outputMask == nil ? nil : rows.popFirst()
            let keep = zoned.map { $0 ? rows.popFirst() : nil }
            let (output, next) = regularisedStep(cell, cell.prepareInputs(input), state: state, time: time, context: () as! Cell.Context,
                                                 masks: masks, keep: keep)
            return (outputRows.map { output * $0 } ?? output, next)
        }
        // A lane's step, compiled for its rows (an example of which traces it) and its own.
        func compiled(lane: Int, rows: Range<Int>, masked validity: Bool) -> CompiledStep? {
            let key = CompiledStepCache.Key(cell: index, lane: lane, batch: rows.count, dtype: input.dtype, masked: validity,
                                            training: cell.isTraining, networkTraining: isTraining, regularisation: regularisation)
            return compiledSteps.step(for: key) {
                CompiledStep.make(step: step, input: input.select(0, along: 0).slice(rows, along: 0).detached(),
                                  state: start.map { $0.slice(rows, along: 0).detached() },
                                  extras: examples.map { $0.slice(rows, along: 0) }, masked: validity, parameters: parameters)
            }
        }
        // Every lane runs masked steps from the run's shortest length on.
        let shortest = lengths?.min() ?? time
        func makeLane(_ lane: Int, rows: Range<Int>) -> RunLane? {
            guard let plain = compiled(lane: lane, rows: rows, masked: false) else { return nil }
            var validityMasked: CompiledStep?
            if shortest < time {
                guard let step = compiled(lane: lane, rows: rows, masked: true) else { return nil }
                validityMasked = step
            }
            return RunLane(rows: rows, plain: plain, masked: validityMasked, lengths: validityMasked == nil ? nil : lengths.map { Array($0[rows]) },
                           firstMaskedStep: shortest)
        }
        // A lane per thread when the step keeps the batch's rows apart and its recurrent
        // product (about the state's width times the sequence inputs' per row) is worth
        // splitting that way, else one.
        guard let whole = makeLane(0, rows: 0..<batch) else { return nil }
        var lanes: [RunLane] = []
        let stateWidth = start.map { $0.count / Swift.max(batch, 1) }.reduce(0, +)
        let sequenceWidth = whole.plain.forwardProgram.inputs.prefix(whole.plain.inputCount).map { $0.type.count / Swift.max(batch, 1) }
            .reduce(0, +)
        let shares = laneRows(batch: batch, stepWork: batch * stateWidth * sequenceWidth, threads: threads)
        for (index, rows) in shares.enumerated() where shares.count > 1 {
            guard let made = makeLane(index, rows: rows) else { return nil }
            guard made.plain.isRowwise && made.masked?.isRowwise ?? true else { break }
            lanes.append(made)
        }
        if lanes.count != shares.count { lanes = [whole] }
        // The run evaluates one input part for all its steps.
        let plain = lanes[0].plain
        if !lanes.allSatisfy({ lane in [lane.plain, lane.masked].compactMap { $0 }.allSatisfy {
            $0.inputPartText == plain.inputPartText
        } }) { return nil }
        // A reverse direction whose sequences all have the run's length steps backward through
        // them in place. Shorter ones are reversed within their lengths for the run (padding
        // stays at the end, where the masked steps expect it), and its outputs put back.
        let inPlace = !reversed || lengths?.allSatisfy { $0 == time } ?? true
        let ordered = inPlace ? input : reversedWithinLengths(input, lengths)
        // The masks, in the order an op-by-op run draws them: each step reads the state-dropout
        // masks and the output's (the same at every step), then its zoneout masks, which the run
        // draws as it goes.
        let stateMasks = (stepMasks(for: start) ?? []).compactMap { $0 } + (outputMask.map { [$0] } ?? [])
        let run = CompiledRun(lanes: lanes, steps: time, reversed: reversed && inPlace, truncation: truncation,
                              drawn: zoneoutMasks(for: start, steps: time))
        let sources = [ordered] + (plain.inputPart?.parameters.map(\.value) ?? [])
        return PreparedRun(run: run, operands: sources + start + plain.parameters.map(\.value) + (0..<time).flatMap { _ in stateMasks },
                           reversedWithin: inPlace ? nil : lengths)
    }

    /// The runs' outputs side by side [time, batch, Σ output] and each run's final state: one
    /// op for one run, one op running them side by side for several — which writes their
    /// outputs side by side itself unless a run's are put back in time order afterwards.
    func results(of runs: [PreparedRun]) -> (output: Tensor, states: [[Tensor]]) {
        if runs.count == 1 {
            let run = runs[0], flat = apply(run.run, run.operands)
            let (outputs, state) = run.results(of: flat, placement: run.run.placement(run.operands.map(\.shape)))
            return (outputs, [state])
        }
        let concurrent = ConcurrentRuns(runs: runs.map(\.run), operandCounts: runs.map(\.operands.count),
                                        joinsOutputs: runs.allSatisfy { $0.reversedWithin == nil })
        let operands = runs.flatMap(\.operands)
        let (flat, placements) = (apply(concurrent, operands), concurrent.placements(operands.map(\.shape)))
        if concurrent.joinsOutputs { return (placements[0].sequence(of: flat), placements.map { $0.states(of: flat) }) }
        let results = zip(runs, placements).map { $0.results(of: flat, placement: $1) }
        return (concat(results.map(\.outputs), along: 2), results.map(\.state))
    }
}

/// A compiled run made ready: its op, its operands and the layout of its flat result.
struct PreparedRun {
    let run: CompiledRun
    let operands: [Tensor]
    /// The lengths its sequences were reversed within for the run (its outputs are put back
    /// in time order), or `nil`.
    let reversedWithin: [Int]?

    /// Its outputs [time, batch, output] in time order and final state, from `flat`, a
    /// result holding them as `placement` (a whole sequence of outputs) says.
    func results(of flat: Tensor, placement: RunPlacement) -> (outputs: Tensor, state: [Tensor]) {
        let outputs = placement.sequence(of: flat)
        return (reversedWithin.map { reversedWithinLengths(outputs, $0) } ?? outputs, placement.states(of: flat))
    }
}

extension RecurrentNetwork {
    /// The batch's rows cut into lanes of equal size, one per thread (of at most `threads`), of
    /// at least `minimumLaneRows` rows each (fewer rows make the per-step products too thin to
    /// gain), when a step's recurrent product (about `stepWork` multiply-adds) is too small to
    /// split well across threads by itself; a larger one gains nothing from lanes, which would
    /// only hold a copy of the packed weights each.
    func laneRows(batch: Int, stepWork: Int, threads: Int) -> [Range<Int>] {
        let split = laneLimit != nil || stepWork < maximumLaneStepWork
        let most = split ? Swift.min(threads, batch / minimumLaneRows) : 1
        let lanes = stride(from: Swift.max(most, 1), to: 1, by: -1).first { batch % $0 == 0 } ?? 1
        return (0..<lanes).map { ($0 * batch / lanes)..<(($0 + 1) * batch / lanes) }
    }
}

/// The fewest batch rows a thread runs a compiled recurrent run for.
let minimumLaneRows = 8
/// Runs whose per-step recurrent product has this many multiply-adds or more split that
/// product across threads instead (measured: config C, 268M, runs as fast either way).
let maximumLaneStepWork = 1 << 25

/// A network's compiled steps by cell and shape, made on first use; `nil` records a step that
/// cannot be compiled. Safe to share between threads running the network.
final class CompiledStepCache: Sendable {
    struct Key: Hashable {
        let cell: Int, lane: Int, batch: Int, dtype: DType, masked: Bool, training: Bool
        /// The regularisation the step applies, and whether the network trains (its masks and
        /// probabilities shape the program).
        let networkTraining: Bool, regularisation: RecurrentRegularisation
    }
    private let entries = Mutex<[Key: CompiledStep?]>([:])
    private let cellMembers = Mutex<[Int: (parameters: [Parameter], hasBuffers: Bool)]>([:])

    /// Cell `cell`'s parameters and whether it has buffers, found by `find` the first time.
    func members(of cell: Int, find: () -> (parameters: [Parameter], hasBuffers: Bool)) -> (parameters: [Parameter], hasBuffers: Bool) {
        cachedEntry(cell, in: cellMembers, make: find)
    }

    /// The entry for `key`, made by `make` the first time.
    func step(for key: Key, make: () -> CompiledStep?) -> CompiledStep? {
        cachedEntry(key, in: entries, make: make)
    }
}

/// `table`'s entry for `key`, made by `make` (outside the lock) the first time.
func cachedEntry<K: Hashable & Sendable, V: Sendable>(_ key: K, in table: borrowing Mutex<[K: V]>, make: () -> V) -> V {
    if let known = table.withLock({ $0[key] }) { return known }
    let made = make()
    table.withLock { $0[key] = made }
    return made
}
