import Testing
import AutoGrad

/// Products whose right operand is a run-invariant weight read it packed once (`pack_rhs` in
/// the prologue, `matmul_packed` in the body): the same values as the plain product, for every
/// transposition, both float types, batched rows and split across threads.
@Suite struct PackedMatMulTests {
    /// A program of one product `op(a)·op(w)`, hoisted with `w` invariant.
    private func hoistedProduct(a: [Int], w: [Int], transA: Bool, transB: Bool, dtype: String) throws -> (Program, HoistedProgram) {
        var attributes: [String] = []
        if transA { attributes.append("transA=true") }
        if transB { attributes.append("transB=true") }
        let result = (transA ? [a[1]] : Array(a.dropLast())) + [transB ? w[0] : w[1]]
        let program = try Program(parsing: """
            graph(%a: \(dtype)\(describe(a)), %w: \(dtype)\(describe(w))) {
              %0 = matmul\(attributes.isEmpty ? "" : "[" + attributes.joined(separator: " ") + "]") %a, %w : \(dtype)\(describe(result))
              return %0
            }
            """)
        return (program, program.hoistingInvariants([1]))
    }

    private func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }

    @Test(arguments: [false, true], [false, true])
    func packedProductsEqualPlainOnes(transA: Bool, transB: Bool) throws {
        var generator = RandomGenerator(seed: 11)
        for (dtype, name, tolerance) in [(DType.float32, "f32", 1e-5), (.float64, "f64", 1e-12)] {
            // Rows across the micro-tile and block sizes (one row: its own kernel, whose k
            // steps take turns in four accumulators, so inner sizes of every remainder);
            // inner sizes across the K blocks.
            for (m, k, n) in [(3, 5, 7), (32, 256, 1024), (37, 600, 70), (130, 33, 65), (1, 5, 7), (1, 130, 512),
                              (1, 601, 70), (1, 3, 1), (2, 259, 100)] {
                let a = transA ? [k, m] : [m, k], w = transB ? [n, k] : [k, n]
                let (program, hoisted) = try hoistedProduct(a: a, w: w, transA: transA, transB: transB, dtype: name)
                #expect(hoisted.prologue.description.contains("pack_rhs"))
                #expect(hoisted.body.description.contains("matmul_packed[n=\(n)"))
                let arguments = [Tensor.randomNormal(a, dtype: dtype, using: &generator), Tensor.randomNormal(w, dtype: dtype, using: &generator)]
                let expected = program.run(arguments)[0].scalars
                let packed = hoisted.body.run([arguments[0]] + hoisted.prologue.run([arguments[1]]))[0].scalars
                let scale = expected.map(abs).max()!
                #expect(zip(packed, expected).map { abs($0 - $1) }.max()! <= tolerance * scale, "\(name) \(m)×\(k)×\(n)")
            }
        }
    }

    /// Rows over leading axes ([2, 5, k]·[k, n]) are multiplied as one matrix of 10 rows.
    @Test func batchedRowsShareThePackedWeight() throws {
        let (program, hoisted) = try hoistedProduct(a: [2, 5, 6], w: [6, 9], transA: false, transB: false, dtype: "f64")
        #expect(hoisted.body.description.contains("matmul_packed[n=9] %a, %hoisted0 : f64[2,5,9]"))
        var generator = RandomGenerator(seed: 12)
        let arguments = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: .float64, using: &generator) }
        let packed = hoisted.body.run([arguments[0]] + hoisted.prologue.run([arguments[1]]))[0]
        let expected = program.run(arguments)[0]
        #expect(packed.shape == [2, 5, 9])
        #expect(zip(packed.scalars, expected.scalars).map { abs($0 - $1) }.max()! <= 1e-12)
    }

    /// Threads take column ranges of whole panels: the result does not depend on their number.
    @Test func threadCountDoesNotChangeResults() throws {
        let (_, hoisted) = try hoistedProduct(a: [32, 256], w: [1024, 256], transA: false, transB: true, dtype: "f32")
        var generator = RandomGenerator(seed: 13)
        let a = Tensor.randomNormal([32, 256], using: &generator), w = Tensor.randomNormal([1024, 256], using: &generator)
        let previous = ComputeThreads.maximum
        defer { ComputeThreads.maximum = previous }
        ComputeThreads.maximum = 1
        let single = hoisted.body.run([a] + hoisted.prologue.run([w]))[0].scalars
        ComputeThreads.maximum = 2
        #expect(hoisted.body.run([a] + hoisted.prologue.run([w]))[0].scalars == single)
    }

    /// A product of one row (a batch-1 recurrent step's) reads its weight packed too.
    @Test func oneRowProductsReadThePackedWeight() throws {
        let (_, hoisted) = try hoistedProduct(a: [1, 8], w: [8, 16], transA: false, transB: false, dtype: "f32")
        #expect(hoisted.body.description.contains("matmul_packed[n=16]"))
        #expect(hoisted.prologue.description.contains("pack_rhs"))
    }

    /// A weight read both as W and as Wᵀ is packed once each way; the hoisted body prints and
    /// parses back to the same text.
    @Test func eachWayOfReadingAWeightIsPackedOnce() throws {
        let program = try Program(parsing: """
            graph(%x: f64[4,3], %g: f64[4,5], %w: f64[5,3]) {
              %0 = matmul[transB=true] %x, %w : f64[4,5]
              %1 = matmul %g, %w : f64[4,3]
              %2 = matmul[transB=true] %x, %w : f64[4,5]
              %3 = add %0, %2 : f64[4,5]
              return %3, %1
            }
            """)
        let hoisted = program.hoistingInvariants([2])
        #expect(hoisted.prologue.equations.count == 2)
        #expect(hoisted.prologue.description.contains("pack_rhs[transB=true] %w"))
        #expect(try Program(parsing: hoisted.body.description).description == hoisted.body.description)
        var generator = RandomGenerator(seed: 14)
        let arguments = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: .float64, using: &generator) }
        let results = hoisted.body.run(Array(arguments[..<2]) + hoisted.prologue.run([arguments[2]]))
        for (result, expected) in zip(results, program.run(arguments)) {
            #expect(zip(result.scalars, expected.scalars).map { abs($0 - $1) }.max()! <= 1e-12)
        }
    }

    /// A packed operand of the wrong length for the product is refused, naming the op.
    @Test func mismatchedPackedOperandIsRefused() throws {
        let error = #expect(throws: ProgramError.self) {
            try Program(parsing: "graph(%a: f32[4,3], %p: f32[5]) {\n  %0 = matmul_packed[n=2] %a, %p : f32[4,2]\n  return %0\n}")
        }
        #expect(error?.op == "matmul_packed")
        #expect(error?.message.contains("is not a packed [3, 2] operand") == true)
    }
}
