import Layers

/// The training text cut into `batch` parallel streams read in consecutive windows, so the
/// recurrent state carries from one window to the next (truncated BPTT across batches).
/// A process of a data-parallel run reads only its share of the streams.
struct StreamBatches {
    let ids: [Int]
    let batch: Int
    let window: Int
    let streamLength: Int
    /// The streams read here: all of them, or one process's share.
    let streams: Range<Int>
    /// Windows per pass over the streams; the state is reset when a pass starts over.
    let windowsPerPass: Int

    init(ids: [Int], batch: Int, window: Int, streams: Range<Int>? = nil) {
        self.ids = ids
        self.batch = batch
        self.window = window
        self.streams = streams ?? 0..<batch
        streamLength = ids.count / batch
        windowsPerPass = max(1, (streamLength - 1) / window)
    }

    /// Whether the stream has at least one full window (plus the next-character target).
    var isUsable: Bool { streamLength >= window + 1 }

    /// Inputs and next-character targets [streams, window] for training step `step`, and whether
    /// that window starts a new pass (so the carried state must be dropped).
    func window(at step: Int) -> (inputs: IndexTensor, targets: IndexTensor, startsPass: Bool) {
        let position = (step % windowsPerPass) * window
        var inputs: [Int] = [], targets: [Int] = []
        for stream in streams {
            let start = stream * streamLength + position
            inputs += ids[start..<(start + window)]
            targets += ids[(start + 1)...(start + window)]
        }
        return (IndexTensor(inputs, shape: [streams.count, window]), IndexTensor(targets, shape: [streams.count, window]), position == 0)
    }
}

/// Mean cross-entropy (nats per character) of the model over `ids`, read in `batch` streams
/// (or over `streams` of them alone, a process's share).
func evaluate(_ model: CharModel, ids: [Int], batch: Int, window: Int, streams: Range<Int>? = nil) -> Double {
    noGrad {
        model.eval()
        defer { model.train() }
        let batches = StreamBatches(ids: ids, batch: batch, window: window, streams: streams)
        var state: [Tensor]?, total = 0.0
        for index in 0..<batches.windowsPerPass {
            let (inputs, targets, _) = batches.window(at: index)
            let (logits, next) = model(inputs, state: state)
            state = next
            total += crossEntropy(logits: logits.reshaped(to: [-1, model.vocabularySize]),
                                  targets: IndexTensor(targets.values)).item()
        }
        return total / Double(batches.windowsPerPass)
    }
}
