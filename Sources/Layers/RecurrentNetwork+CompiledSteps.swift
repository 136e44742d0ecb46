import AutoGrad
import Synchronization

extension RecurrentNetwork {
    /// Cell `index` run over `prepared` [time, batch, ·] as one compiled op, or `nil` when
    /// the run must go op by op: while tracing or detecting anomalies (so programs and
    /// anomaly messages name each op), while a step regulariser is on (its masks are drawn per
    /// step and call), for cells with a context or with buffers (whose values
    /// a compiled step would freeze), and for steps that ``CompiledStep`` cannot compile.
    func compiledRun(cell index: Int, _ prepared: Tensor, from start: [Tensor], lengths: [Int]?)
        -> (outputs: Tensor, state: [Tensor])? {
        let cell = cells[index]
        guard usesCompiledSteps, !stepsNeedRegularisation, Cell.Context.self == Void.self, !isTracing, !isDetectingAnomalies,
              prepared.shape[0] > 0, cell.namedBuffers().isEmpty else { return nil }
        let (time, batch) = (prepared.shape[0], prepared.shape[1])
        func compiled(masked: Bool) -> CompiledStep? {
            let key = CompiledStepCache.Key(cell: index, batch: batch, dtype: prepared.dtype, masked: masked, training: cell.isTraining)
            return compiledSteps.step(for: key) {
                CompiledStep.make(step: { cell.step(prepared: $0, state: $1, time: $2, context: () as! Cell.Context) },
                                  input: prepared.select(0, along: 0).detached(), state: start.map { $0.detached() },
                                  masked: masked, parameters: cell.parameters())
            }
        }
        guard let plain = compiled(masked: false) else { return nil }
        var masked: CompiledStep?
        if let lengths, lengths.min()! < time {
            guard let step = compiled(masked: true) else { return nil }
            masked = step
        }
        // The step's input part, for all steps' rows at once (recorded as ordinary ops).
        var sequences = [prepared]
        if let part = plain.inputPart {
            guard masked.map({ $0.inputPart?.program.description == part.program.description }) ?? true else { return nil }
            let rows = prepared.reshaped(to: [time * batch, prepared.shape[2]])
            sequences = part.program.evaluate(on: [rows] + part.parameters.map(\.value)).map {
                $0.reshaped(to: [time, batch] + $0.shape.dropFirst())
            }
        }
        let run = CompiledRun(plain: plain, masked: masked, lengths: lengths, truncation: truncation)
        let flat = apply(run, sequences + start + plain.parameters.map(\.value))
        let outputCount = plain.outputSize
        var offset = time * batch * outputCount
        let state = start.map { component -> Tensor in
            defer { offset += component.count }
            return flat.slice(offset..<(offset + component.count), along: 0).reshaped(to: component.shape)
        }
        return (flat.slice(0..<(time * batch * outputCount), along: 0).reshaped(to: [time, batch, outputCount]), state)
    }
}

/// A network's compiled steps by cell and shape, made on first use; `nil` records a step that
/// cannot be compiled. Safe to share between threads running the network.
final class CompiledStepCache: Sendable {
    struct Key: Hashable {
        let cell: Int, batch: Int, dtype: DType, masked: Bool, training: Bool
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
