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

    /// The gradient of four chunks (pads tiling the axis, summed in any order) is one
    /// concatenation; pads that overlap or leave a gap stay sums.
    @Test func paddedPartsJoin() throws {
        try expectPass({ $0.joiningPaddedParts().eliminatingDeadCode() }, """
            graph(%a: f64[2,2], %b: f64[2,3], %c: f64[2,1]) {
              %0 = pad[axis=1 start=2 size=6] %b : f64[2,6]
              %1 = pad[axis=1 start=0 size=6] %a : f64[2,6]
              %2 = pad[axis=1 start=5 size=6] %c : f64[2,6]
              %3 = add %0, %1 : f64[2,6]
              %4 = add %2, %3 : f64[2,6]
              return %4
            }
            """, """
            graph(%a: f64[2,2], %b: f64[2,3], %c: f64[2,1]) {
              %0 = concatenate[axis=1] %a, %b, %c : f64[2,6]
              return %0
            }
            """)
        let unchanged = """
            graph(%a: f64[2,2], %b: f64[2,3]) {
              %0 = pad[axis=1 start=0 size=6] %a : f64[2,6]
              %1 = pad[axis=1 start=1 size=6] %b : f64[2,6]
              %2 = pad[axis=1 start=4 size=6] %a : f64[2,6]
              %3 = add %0, %1 : f64[2,6]
              %4 = add %0, %2 : f64[2,6]
              return %3, %4
            }
            """
        try expectPass({ $0.joiningPaddedParts().eliminatingDeadCode() }, unchanged, unchanged)
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

/// Random programs of several ops: traced, optimized, fused and compiled, each equal to eager
/// execution, and their gradient programs equal to eager backward.
@Suite struct RandomProgramTests {
    /// A random composition of ops on two [3, 4] inputs, chosen by `generator`.
    private static func randomFunction(_ seed: UInt64) -> @Sendable ([Tensor]) -> Tensor {
        { inputs in
            var generator = RandomGenerator(seed: seed)
            var values = inputs
            for _ in 0..<12 {
                let a = values[Int(generator.next() % UInt64(values.count))]
                let b = values[Int(generator.next() % UInt64(values.count))]
                let result: Tensor
                switch generator.next() % 10 {
                case 0: result = a + b
                case 1: result = a * b
                case 2: result = a.tanh()
                case 3: result = (a * 0.5).sigmoid() - b
                case 4: result = a.sum(along: [1], keepDims: true) * b
                case 5: result = matmul(a, b, transposeB: true).sum(along: [1], keepDims: true) + a
                case 6: result = maximum(a, b * 0.3)
                case 7: result = (a * a + 1).sqrt() / (b.abs() + 1)
                case 8: result = a.transposed().transposed() - a.logSoftmax(along: 1)
                default: result = Tensor.where(a .> b, a.exp(), b * 2)
                }
                values.append(result)
            }
            return values.suffix(4).reduce(values[0] * 0, +).sum()
        }
    }

    @Test(arguments: 0..<20) func tracedOptimizedCompiledEqualEager(_ seed: Int) {
        let function = Self.randomFunction(UInt64(seed))
        var generator = RandomGenerator(seed: UInt64(1000 + seed))
        let inputs = [randomTensor([3, 4], using: &generator), randomTensor([3, 4], using: &generator)]
        let program = Program.trace(inputs) { [function([$0.tensor(0), $0.tensor(1)])] }.program
        let leaves = inputs.map { $0.requiringGrad() }
        let eager = function(leaves)
        let eagerGradients = AutoGrad.gradients(of: eager, withRespectTo: leaves)
        expectClose(program.run(inputs)[0].scalars, eager.scalars)
        expectClose(program.optimized().fusingElementwise().run(inputs)[0].scalars, eager.scalars)
        let compiled = Executable(program.gradient(withRespectTo: [0, 1]).program)
        let results = compiled(inputs + [Tensor(1.0, dtype: .float64)])
        expectClose(results[0].scalars, eager.scalars)
        for (computed, expected) in zip(results.dropFirst(), eagerGradients) { expectClose(computed.scalars, expected.scalars) }
    }
}
