import AutoGrad

/// Compiled runs side by side as one op: a bidirectional layer's two directions, each on a
/// thread of its own, forward and backward. The directions never wait for each other, and
/// each keeps the whole batch in its per-step products, where lanes would split the batch
/// between threads (config D's batch of 16 into products of 8 rows, and a wait per step).
/// Operands are each run's operands in turn; the result is each run's flat result in turn.
struct ConcurrentRuns: Primitive {
    let runs: [CompiledRun]
    /// How many operands each run takes.
    let operandCounts: [Int]

    var name: String { "concurrent_recurrent_runs" }
    /// Each run's number of lanes, as `lanes=[1,1]`, and which runs step backward, as `reversed=[1]`.
    var attributes: [(name: String, value: Attribute)] {
        let reversed = runs.indices.filter { runs[$0].reversed }
        return [("lanes", .ints(runs.map(\.lanes.count)))] + (reversed.isEmpty ? [] : [("reversed", .ints(reversed))])
    }
    var pullbackReads: PullbackReads { PullbackReads(operands: Array(0..<operandCounts.reduce(0, +))) }

    /// Each run's operands' positions.
    private var operandRanges: [Range<Int>] {
        var start = 0
        return operandCounts.map { count in
            defer { start += count }
            return start..<(start + count)
        }
    }

    /// Each run's result's positions in the flat result, for operands of these shapes.
    private func resultRanges(_ shapes: [[Int]]) throws(ShapeError) -> [Range<Int>] {
        var start = 0, ranges: [Range<Int>] = []
        for (run, operands) in zip(runs, operandRanges) {
            let count = try run.outputShape(OperandShapes(shapes[operands].map { ValueType(.float32, $0) }))[0]
            ranges.append(start..<(start + count))
            start += count
        }
        return ranges
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes.count == operandCounts.reduce(0, +) else {
            throw ShapeError(name, "\(shapes.count) operands for runs of \(operandCounts) operands")
        }
        return [try resultRanges(Array(shapes)).last?.upperBound ?? 0]
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let output = SharedBuffer(filledByLanes: shape, dtype: inputs[0].dtype)
        // Read on the calling thread: recording is a per-thread switch.
        let keepsResiduals = AutoGrad.isRecording && inputs.contains { $0.requiresGrad }
        let (operands, results) = (operandRanges, try! resultRanges(inputs.map(\.shape)))
        ComputeThreads.concurrentPerform(runs.count) { index in
            runs[index].run(Array(inputs[operands[index]]), into: output, at: results[index].lowerBound,
                            keepingResiduals: keepsResiduals)
        }
        return output.tensor
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (operands, results) = (operandRanges, try! resultRanges(inputs.map(\.shape)))
        func gradientSlice(_ index: Int) -> Tensor { gradient.slice(results[index], along: 0) }
        // A recorded backward pass records each run's pullback in turn on this thread.
        if AutoGrad.isRecording {
            return runs.indices.flatMap { runs[$0].recordedPullback(gradientSlice($0), inputs: Array(inputs[operands[$0]])) }
        }
        let releasing = !AutoGrad.isRetainingGraph
        let slices = runs.indices.map(gradientSlice)
        let gradients = LaneResults<[Tensor?]>(count: runs.count, empty: [])
        ComputeThreads.concurrentPerform(runs.count) { index in
            gradients[index] = noGrad { runs[index].gradients(slices[index], inputs: Array(inputs[operands[index]]), releasing: releasing) }
        }
        return gradients.values.flatMap { $0 }
    }
}
