// Summing an output over many runs of a program — a weight's gradient over the steps of a
// recurrent sequence — in one op at the end instead of one small op and one addition per run.

/// How the sum over runs of one program output is formed from the outputs of a rewritten
/// program (see ``Program/deferringSums(of:)``).
public enum DeferredSum: Sendable, Equatable {
    /// The output itself, added run by run.
    case added(output: Int)
    /// The output was `matmul[transA=true] a, b` with a, b of shape [rows, ·]: the sum over
    /// runs is one product of the runs' a and b stacked along their rows (Σ aᵢᵀbᵢ = AᵀB).
    case contracted(left: Int, right: Int)
    /// The output was `x` [rows, ·] summed over its rows (then reshaped to `shape`): the sum
    /// over runs is one sum over the runs' x stacked along their rows.
    case rowSummed(output: Int, shape: [Int])

    /// The first output of the rewritten program it reads.
    public var firstOutput: Int {
        switch self {
        case .added(let output), .contracted(let output, _), .rowSummed(let output, _): output
        }
    }

    /// The sum over runs, from each run's outputs of the rewritten program (`runs[run][output]`).
    /// `stacked[output]`, where given, holds that output of all runs already stacked along
    /// the rows in the runs' order (the caller kept it anyway: no second copy is made).
    public func sum(over runs: [[Tensor]], stacked given: [Int: Tensor] = [:]) -> Tensor {
        func stacked(_ output: Int) -> Tensor { Self.stacked(output, runs, given) }
        switch self {
        case .added(let output):
            return runs.dropFirst().reduce(runs[0][output]) { $0 + $1[output] }
        case let .contracted(left, right):
            return matmul(stacked(left), stacked(right), transposeA: true)
        case let .rowSummed(output, shape):
            return stacked(output).sum(along: [0]).reshaped(to: shape)
        }
    }

    /// Each of `sums` over the runs, as ``sum(over:stacked:)`` forms it, except that a row sum
    /// of a contraction's left operand (a bias's gradient beside its weight's: both read the
    /// steps' output gradients) comes out of that contraction's product, which sums the rows
    /// as it packs them — one pass over the stacked operand instead of two. Unless recording:
    /// then each sum is differentiable on its own.
    public static func sums(_ sums: [DeferredSum], over runs: [[Tensor]], stacked given: [Int: Tensor] = [:]) -> [Tensor] {
        guard !isRecording else { return sums.map { $0.sum(over: runs, stacked: given) } }
        var formed = [Tensor?](repeating: nil, count: sums.count)
        for (index, sum) in sums.enumerated() {
            guard case let .contracted(left, right) = sum,
                  let rowSum = sums.indices.first(where: { formed[$0] == nil && sums[$0].isRowSum(of: left) }),
                  case let .rowSummed(_, shape) = sums[rowSum] else { continue }
            let (product, columnSums) = productAndColumnSums(stacked(left, runs, given), stacked(right, runs, given))
            (formed[index], formed[rowSum]) = (product, columnSums.reshaped(to: shape))
        }
        return sums.indices.map { formed[$0] ?? sums[$0].sum(over: runs, stacked: given) }
    }

    /// Whether this is the row sum of the output `output`.
    private func isRowSum(of output: Int) -> Bool {
        if case .rowSummed(output, _) = self { true } else { false }
    }

    /// The output `output` of all runs stacked along the rows: `given`'s, the one run's, or
    /// concatenated.
    private static func stacked(_ output: Int, _ runs: [[Tensor]], _ given: [Int: Tensor]) -> Tensor {
        given[output] ?? (runs.count == 1 ? runs[0][output] : concat(runs.map { $0[output] }, along: 0))
    }
}

extension Program {
    /// The program with the outputs at `positions` replaced by the pieces their sums over
    /// many runs are built from, and how to build each sum (``DeferredSum/sum(over:stacked:)``).
    /// An output computed as a row contraction `matmul[transA=true] a, b` (how a weight's
    /// gradient comes out of a batch) returns a and b instead, and a sum over rows (a bias's
    /// gradient) returns the summed value; the sum over runs is then one large product or
    /// reduction instead of one small one plus an addition per run. Other outputs are added.
    /// A piece that already is an output reuses that output.
    public func deferringSums(of positions: [Int]) -> (program: Program, sums: [DeferredSum]) {
        var outputs = self.outputs
        func output(of value: Value) -> Int {
            if let existing = outputs.firstIndex(of: value) { return existing }
            outputs.append(value)
            return outputs.count - 1
        }
        func isRowMatrix(_ value: Value) -> Bool { type(of: value).shape.count == 2 }
        let sums = positions.map { position -> DeferredSum in
            guard case .result(let index) = self.outputs[position] else { return .added(output: position) }
            let equation = equations[index], attributes = Attributes(equation.primitive.attributes)
            switch equation.primitive.name {
            case "matmul" where attributes["transA"] == .bool(true) && attributes["transB"] == nil
                && equation.operands.allSatisfy(isRowMatrix):
                return .contracted(left: output(of: equation.operands[0]), right: output(of: equation.operands[1]))
            case "reshape":
                guard case .result(let source) = equation.operands[0], equations[source].primitive.name == "reduce_sum",
                      Attributes(equations[source].primitive.attributes)["axes"] == .ints([0]),
                      isRowMatrix(equations[source].operands[0]) else { return .added(output: position) }
                return .rowSummed(output: output(of: equations[source].operands[0]), shape: equation.type.shape)
            default:
                return .added(output: position)
            }
        }
        // The replaced outputs stay (cheap aliases of kept values) so positions do not move;
        // dead-code elimination drops the products and reductions no output needs any more.
        for (position, sum) in zip(positions, sums) { outputs[position] = outputs[sum.firstOutput] }
        let program = try! Program(inputs: inputs, constants: constants, equations: equations, outputs: outputs)
        return (program.eliminatingDeadCode(), sums)
    }
}
