import Testing
import AutoGrad

/// Each pass on a program written by hand, its result compared as text, and its values with
/// the original's.
@Suite struct PassesTests {
    private func expectPass(_ pass: (Program) -> Program, _ before: String, _ after: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let program = try Program(parsing: before)
        let result = pass(program)
        #expect(result.description == after, sourceLocation: sourceLocation)
        var generator = RandomGenerator(seed: 12)
        let arguments = program.inputs.map { randomTensor($0.type.shape, .positive, using: &generator) }
        for (computed, expected) in zip(result.run(arguments), program.run(arguments)) {
            expectClose(computed.scalars, expected.scalars)
        }
    }

    @Test func deadCodeElimination() throws {
        try expectPass({ $0.eliminatingDeadCode() }, """
            graph(%x: f64[2,3]) {
              %c0 = const f64[3] [1, 2, 3]
              %0 = exp %x : f64[2,3]
              %1 = add %x, %c0 : f64[2,3]
              %2 = tanh %0 : f64[2,3]
              return %2
            }
            """, """
            graph(%x: f64[2,3]) {
              %0 = exp %x : f64[2,3]
              %1 = tanh %0 : f64[2,3]
              return %1
            }
            """)
    }

    @Test func commonSubexpressionElimination() throws {
        try expectPass({ $0.eliminatingCommonSubexpressions().eliminatingDeadCode() }, """
            graph(%x: f64[2,3], %b: f64[3]) {
              %0 = add %x, %b : f64[2,3]
              %1 = add %x, %b : f64[2,3]
              %2 = reduce_sum[axes=[1]] %0 : f64[2]
              %3 = reduce_sum[axes=[1]] %1 : f64[2]
              %4 = reduce_sum[axes=[0]] %1 : f64[3]
              %5 = mul %2, %3 : f64[2]
              return %5, %4
            }
            """, """
            graph(%x: f64[2,3], %b: f64[3]) {
              %0 = add %x, %b : f64[2,3]
              %1 = reduce_sum[axes=[1]] %0 : f64[2]
              %2 = reduce_sum[axes=[0]] %0 : f64[3]
              %3 = mul %1, %1 : f64[2]
              return %3, %2
            }
            """)
    }

    @Test func constantFolding() throws {
        try expectPass({ $0.foldingConstants().eliminatingDeadCode() }, """
            graph(%x: f64[2,3]) {
              %c0 = const f64[3] [1, 4, 9]
              %0 = sqrt %c0 : f64[3]
              %1 = mul %0, 2 : f64[3]
              %2 = add %x, %1 : f64[2,3]
              return %2
            }
            """, """
            graph(%x: f64[2,3]) {
              %c0 = const f64[3] [2, 4, 6]
              %0 = add %x, %c0 : f64[2,3]
              return %0
            }
            """)
    }

    @Test func algebraicSimplification() throws {
        try expectPass({ $0.simplifyingAlgebra().eliminatingDeadCode() }, """
            graph(%x: f64[2,3], %b: f64[3]) {
              %0 = mul %x, 1 : f64[2,3]
              %1 = add 0, %0 : f64[2,3]
              %2 = transpose[perm=[1,0]] %1 : f64[3,2]
              %3 = transpose[perm=[1,0]] %2 : f64[2,3]
              %4 = reshape[shape=[6]] %3 : f64[6]
              %5 = reshape[shape=[3,2]] %4 : f64[3,2]
              %6 = reshape[shape=[3,2]] %5 : f64[3,2]
              %7 = broadcast[shape=[2,3]] %b : f64[2,3]
              %8 = mul %3, %7 : f64[2,3]
              %9 = mul 1, %b : f64[3]
              %10 = sub %9, 0 : f64[3]
              %11 = div %10, 1 : f64[3]
              %12 = add %x, 0 : f64[2,3]
              return %6, %8, %11, %12
            }
            """, """
            graph(%x: f64[2,3], %b: f64[3]) {
              %0 = reshape[shape=[3,2]] %x : f64[3,2]
              %1 = mul %x, %b : f64[2,3]
              return %0, %1, %b, %x
            }
            """)
    }

    /// x·1 where the 1 broadcasts x to a larger shape is not x: the type must not change.
    @Test func simplificationKeepsBroadcastingIdentities() throws {
        try expectPass({ $0.simplifyingAlgebra() }, """
            graph(%b: f64[3]) {
              %c0 = const f64[2,3] [1, 1, 1, 1, 1, 1]
              %0 = mul %b, %c0 : f64[2,3]
              return %0
            }
            """, """
            graph(%b: f64[3]) {
              %c0 = const f64[2,3] [1, 1, 1, 1, 1, 1]
              %0 = mul %b, %c0 : f64[2,3]
              return %0
            }
            """)
    }
}
