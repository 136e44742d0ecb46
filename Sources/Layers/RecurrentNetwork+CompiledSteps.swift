import AutoGrad
import Synchronization

extension RecurrentNetwork {
    /// Cell `index` run over `prepared` [time, batch, ·] as one compiled op, or `nil` when
    /// the run must go op by op: while tracing or detecting anomalies (so programs and
    /// anomaly messages name each op), for cells with a context or with buffers (whose values
    /// a compiled step would freeze), and for steps that ``CompiledStep`` cannot compile.
    /// Regularisation compiles too: weight drop swaps the weights the run reads, and state
    /// dropout's and zoneout's masks are per-step inputs of the step.
    func compiledRun(cell index: Int, _ prepared: Tensor, from start: [Tensor], lengths: [Int]?)
        -> (outputs: Tensor, state: [Tensor])? {
        let cell = cells[index]
        guard usesCompiledSteps, Cell.Context.self == Void.self, !isTracing, !isDetectingAnomalies,
              prepared.shape[0] > 0, cell.namedBuffers().isEmpty else { return nil }
        // A parameter value that is not a recorded tensor (a weight-drop copy made under
        // noGrad) would be frozen into the trace as a constant.
        let parameters = cell.parameters()
        guard parameters.allSatisfy(\.value.requiresGrad) else { return nil }
        let (time, batch) = (prepared.shape[0], prepared.shape[1])
        // Which state components the step's masks cover: dropped (read masked), then zoned.
        let (dropped, zoned) = (droppedStateComponents(count: start.count), zonedStateComponents(count: start.count))
        let examples = zip(start, dropped).compactMap { $1 ? $0.detached() : nil } + zip(start, zoned).compactMap { $1 ? $0.detached() : nil }
        func step(_ input: Tensor, _ state: [Tensor], _ extras: [Tensor], _ time: Int) -> (output: Tensor, state: [Tensor]) {
            var rows = extras[...]
            let masks = dropped.map { $0 ? rows.popFirst() : nil }
            let keep = zoned.map { $0 ? rows.popFirst() : nil }
            return regularisedStep(cell, input, state: state, time: time, context: () as! Cell.Context, masks: masks, keep: keep)
        }
        func compiled(masked validity: Bool) -> CompiledStep? {
            let key = CompiledStepCache.Key(cell: index, batch: batch, dtype: prepared.dtype, masked: validity, training: cell.isTraining,
                                            regularisation: "\(isTraining) \(regularisation)")
            return compiledSteps.step(for: key) {
                CompiledStep.make(step: step, input: prepared.select(0, along: 0).detached(), state: start.map { $0.detached() },
                                  extras: examples, masked: validity, parameters: parameters)
            }
        }
        guard let plain = compiled(masked: false) else { return nil }
        var validityMasked: CompiledStep?
        if let lengths, lengths.min()! < time {
            guard let step = compiled(masked: true) else { return nil }
            validityMasked = step
        }
        // The step's input part, for all steps' rows at once (recorded as ordinary ops).
        var sequences = [prepared]
        if let part = plain.inputPart {
            guard validityMasked.map({ $0.inputPart?.program.description == part.program.description }) ?? true else { return nil }
            let rows = prepared.reshaped(to: [time * batch, prepared.shape[2]])
            sequences = part.program.evaluate(on: [rows] + part.parameters.map(\.value)).map {
                $0.reshaped(to: [time, batch] + $0.shape.dropFirst())
            }
        }
        // The masks, drawn now (the run is compiled) in the order an op-by-op run draws them.
        let stateMasks = (stepMasks(for: start) ?? []).compactMap { $0 }.map { stack(Array(repeating: $0, count: time), along: 0) }
        let extras = stateMasks + (zoneoutMasks(for: start, steps: time) ?? []).compactMap { $0 }
        let run = CompiledRun(plain: plain, masked: validityMasked, lengths: lengths, truncation: truncation)
        let flat = apply(run, sequences + start + plain.parameters.map(\.value) + extras)
        let (outputs, state) = CompiledRun.unflattened(flat, steps: time, batch: batch, outputSize: plain.outputSize,
                                                       stateShapes: start.map(\.shape))
        return (outputs, state)
    }
}

/// A network's compiled steps by cell and shape, made on first use; `nil` records a step that
/// cannot be compiled. Safe to share between threads running the network.
final class CompiledStepCache: Sendable {
    struct Key: Hashable {
        let cell: Int, batch: Int, dtype: DType, masked: Bool, training: Bool
        /// The regularisation the step applies (its masks and probabilities shape the program).
        let regularisation: String
    }
    private let entries = Mutex<[Key: CompiledStep?]>([:])

    /// The entry for `key`, made by `make` the first time.
    func step(for key: Key, make: () -> CompiledStep?) -> CompiledStep? {
        if let entry = entries.withLock({ $0[key] }) { return entry }
        let made = make()
        entries.withLock { $0[key] = made }
        return made
    }
}
