import Layers

// What the trainer does differently in a data-parallel group: each process's share of the
// streams, the agreed loss and stop request, the two-stage backward, sharded validation.

extension TrainingGroup {
    /// The streams this process trains on when `streams` are shared among the processes:
    /// contiguous and as even as possible, so every stream is read by exactly one process.
    func share(of streams: Int) -> Range<Int> {
        (streams * rank / size)..<(streams * (rank + 1) / size)
    }

    /// This process's share of the `batch` training streams; every process needs one.
    func streams(of batch: Int) throws -> Range<Int> {
        guard batch >= size else { throw TrainingError.tooFewStreams(batch: batch, processes: size) }
        return share(of: batch)
    }

    /// "2 processes, 16 streams each" (or "15–16 streams" when they do not divide evenly).
    func summary(batch: Int) -> String {
        let (fewest, most) = (batch / size, (batch + size - 1) / size)
        return "\(size) processes, \(fewest == most ? "\(most)" : "\(fewest)–\(most)") streams each"
    }

    /// The global mean loss (each process's mean weighted by its share of the batch) and
    /// whether any process was asked to stop: one exchange every process agrees on.
    func agree(loss: Double, weight: Double, stop: Bool) throws -> (loss: Double, stop: Bool) {
        let totals = try sum([loss * weight, stop ? 1 : 0])
        return (totals[0], totals[1] > 0)
    }

    /// After `loss.backward()` reached the head's parameters and `cut` (the detached copy of
    /// `features` the head read): hands the head's gradients over, runs backward through the
    /// recurrent layers while they are exchanged, hands those over and waits for the averages.
    func finishBackward(of features: Tensor, through cut: Tensor, model: CharModel, weight: Double) throws {
        let groups = model.parametersInBackwardOrder
        try gradientsAreFinal(groups[0], weight: weight)
        if let seed = cut.grad { features.backward(seed: seed) }
        try gradientsAreFinal(groups[1], weight: weight)
        try finishGradients()
    }
}

extension Trainer {
    /// Mean validation cross-entropy (nats per character) over `batch` streams of `ids`; in a
    /// group each process evaluates its share of the streams and the shares are summed.
    func validationLoss(_ model: CharModel, ids: [Int], batch: Int) throws -> Double {
        let window = configuration.sequenceLength
        guard let group else { return evaluate(model, ids: ids, batch: batch, window: window) }
        let streams = group.share(of: batch)
        let local = streams.isEmpty ? 0
            : evaluate(model, ids: ids, batch: batch, window: window, streams: streams) * Double(streams.count) / Double(batch)
        return try group.sum([local])[0]
    }
}
