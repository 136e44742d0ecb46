import AutoGrad

/// Compiled runs side by side as one op: a bidirectional layer's two directions, each on a
/// thread of its own, forward and backward. The directions never wait for each other, and
/// each keeps the whole batch in its per-step products, where lanes would split the batch
/// between threads (config D's batch of 16 into products of 8 rows, and a wait per step).
/// Operands are each run's operands in turn. The result holds each run's flat result in turn,
/// or, when the runs join their outputs, first the runs' step outputs side by side — each
/// run's columns of one sequence [steps, batch, Σ outputs], which is the layer's output
/// without a concatenation (nor its slices in the backward pass) — then each run's final state.
struct ConcurrentRuns: Primitive {
    let runs: [CompiledRun]
    /// How many operands each run takes.
    let operandCounts: [Int]
    /// Whether the runs' step outputs are written side by side into one sequence (runs of
    /// one length and batch).
    let joinsOutputs: Bool

    var name: String { "concurrent_recurrent_runs" }
    /// Each run's number of lanes, as `lanes=[1,1]`, which runs step backward, as
    /// `reversed=[1]`, and whether the outputs are joined.
    var attributes: [(name: String, value: Attribute)] {
        let reversed = runs.indices.filter { runs[$0].reversed }
        return [("lanes", .ints(runs.map(\.lanes.count)))] + (reversed.isEmpty ? [] : [("reversed", .ints(reversed))])
            + (joinsOutputs ? [("joined", .bool(true))] : [])
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

    /// Where each run's result lies in the result, for operands of these shapes.
    func placements(_ shapes: [[Int]]) -> [RunPlacement] {
        let alone = zip(runs, operandRanges).map { run, operands in run.placement(Array(shapes[operands])) }
        guard joinsOutputs else {
            var start = 0
            return alone.map { placement in
                defer { start += placement.end }
                return RunPlacement(outputs: start, width: placement.width, columns: placement.columns, steps: placement.steps,
                                    batch: placement.batch, states: start + placement.states, stateShapes: placement.stateShapes)
            }
        }
        let width = alone.map(\.width).reduce(0, +)
        var (column, states) = (0, alone[0].steps * alone[0].batch * width)
        return alone.map { placement in
            defer { (column, states) = (column + placement.width, states + placement.end - placement.states) }
            return RunPlacement(outputs: 0, width: width, columns: column..<(column + placement.width), steps: placement.steps,
                                batch: placement.batch, states: states, stateShapes: placement.stateShapes)
        }
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes.count == operandCounts.reduce(0, +) else {
            throw ShapeError(name, "\(shapes.count) operands for runs of \(operandCounts) operands")
        }
        let shapes = Array(shapes)
        if joinsOutputs, Set(operandRanges.map { [shapes[$0.lowerBound][0], shapes[$0.lowerBound][1]] }).count > 1 {
            throw ShapeError(name, "runs joining their outputs have different lengths or batches: "
                             + operandRanges.map { "\(shapes[$0.lowerBound])" }.joined(separator: ", "))
        }
        return [placements(shapes).last?.end ?? 0]
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let output = SharedBuffer(filledByLanes: shape, dtype: inputs[0].dtype)
        // Read on the calling thread: recording is a per-thread switch.
        let keepsResiduals = AutoGrad.isRecording && inputs.contains { $0.requiresGrad }
        let (operands, placements) = (operandRanges, placements(inputs.map(\.shape)))
        ComputeThreads.concurrentPerform(runs.count) { index in
            runs[index].run(Array(inputs[operands[index]]), into: output, placement: placements[index], keepingResiduals: keepsResiduals)
        }
        return output.tensor
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (operands, placements) = (operandRanges, placements(inputs.map(\.shape)))
        // A recorded backward pass records each run's pullback in turn on this thread.
        if AutoGrad.isRecording {
            return runs.indices.flatMap {
                runs[$0].recordedPullback(gradient, placement: placements[$0], inputs: Array(inputs[operands[$0]]))
            }
        }
        let releasing = !AutoGrad.isRetainingGraph
        let gradients = LaneResults<[Tensor?]>(count: runs.count, empty: [])
        ComputeThreads.concurrentPerform(runs.count) { index in
            gradients[index] = noGrad {
                runs[index].gradients(gradient, placement: placements[index], inputs: Array(inputs[operands[index]]), releasing: releasing)
            }
        }
        return gradients.values.flatMap { $0 }
    }
}
