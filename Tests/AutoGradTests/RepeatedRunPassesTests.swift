import Testing
import AutoGrad

/// The transforms for a program run many times (a recurrent step): hoisting what only the
/// unchanged inputs determine, and summing outputs over the runs in one op.
@Suite struct RepeatedRunPassesTests {
    private let step = """
        graph(%x: f64[3,4], %h: f64[3,2], %w: f64[4,2], %b: f64[4]) {
          %0 = mul %w, %w : f64[4,2]
          %1 = matmul[transB=true] %h, %0 : f64[3,4]
          %2 = add %1, %b : f64[3,4]
          %3 = add %x, %2 : f64[3,4]
          %4 = tanh %3 : f64[3,4]
          return %4
        }
        """

    @Test func invariantsMoveToThePrologue() throws {
        let program = try Program(parsing: step)
        let hoisted = program.hoistingInvariants([2, 3])
        // The packed weight's length depends on the CPU's vector width; it holds op(W) at least.
        let packed = hoisted.prologue.type(of: hoisted.prologue.outputs[0]).shape[0]
        #expect(packed >= 2 * 4)
        #expect(hoisted.prologue.description == """
            graph(%w: f64[4,2], %b: f64[4]) {
              %0 = mul %w, %w : f64[4,2]
              %1 = pack_rhs[transB=true] %0 : f64[\(packed)]
              return %1, %b
            }
            """)
        #expect(hoisted.body.description == """
            graph(%x: f64[3,4], %h: f64[3,2], %hoisted0: f64[\(packed)], %hoisted1: f64[4]) {
              %0 = matmul_packed[n=4] %h, %hoisted0 : f64[3,4]
              %1 = add %0, %hoisted1 : f64[3,4]
              %2 = add %x, %1 : f64[3,4]
              %3 = tanh %2 : f64[3,4]
              return %3
            }
            """)
        var generator = RandomGenerator(seed: 3)
        let arguments = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: .float64, using: &generator) }
        let invariants = hoisted.prologue.run(Array(arguments[2...]))
        #expect(hoisted.body.run(Array(arguments[..<2]) + invariants)[0].scalars == program.run(arguments)[0].scalars)
    }

    /// A weight's and a bias's gradient over five runs: one product of the stacked rows and
    /// one sum of them, equal to the five per-run gradients added up.
    @Test func sumsOverRunsAreFormedOnce() throws {
        let program = try Program(parsing: """
            graph(%x: f64[3,4], %h: f64[3,2], %w: f64[4,2], %b: f64[4]) {
              %0 = matmul[transB=true] %h, %w : f64[3,4]
              %1 = add %0, %b : f64[3,4]
              %2 = mul %x, %1 : f64[3,4]
              %3 = tanh %2 : f64[3,4]
              return %3
            }
            """)
        let gradient = program.gradient(withRespectTo: [2, 3]).program
        let (deferred, sums) = gradient.deferringSums(of: [1, 2])
        #expect(sums.count == 2)
        #expect(sums[1] == .rowSummed(output: sums[1].firstOutput, shape: [4]))
        guard case .contracted = sums[0] else {
            Issue.record("the weight's gradient \(sums[0]) is not a contraction")
            return
        }
        #expect(!deferred.description.contains("transA"))  // the per-run product is gone
        var generator = RandomGenerator(seed: 4)
        var runs: [[Tensor]] = [], expected: [Tensor]?
        for _ in 0..<5 {
            let arguments = gradient.inputs.map { Tensor.randomNormal($0.type.shape, dtype: .float64, using: &generator) }
            runs.append(deferred.run(arguments))
            let full = gradient.run(arguments)
            expected = expected.map { [$0[0] + full[1], $0[1] + full[2]] } ?? [full[1], full[2]]
        }
        for (sum, value) in zip(sums, expected!) {
            let difference = zip(sum.sum(over: runs).scalars, value.scalars).map { abs($0 - $1) }.max()!
            #expect(difference <= 1e-12)
        }
        // The bias sums the rows the weight's product reads: formed together, in one pass,
        // they equal the sums formed one by one.
        guard case .contracted(let left, _) = sums[0] else { return }
        #expect(sums[1].firstOutput == left)
        #expect(DeferredSum.sums(sums, over: runs).map(\.scalars) == sums.map { $0.sum(over: runs).scalars })
    }
}
