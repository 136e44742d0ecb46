import Testing
import AutoGrad

/// A packed product's sum with a value of its type is made by the product itself
/// (`Program.accumulatingIntoProducts`, `matmul_packed[addend=true]`): the same values as the
/// sum, in both float types, with and without a bias, the addend on either side, rows split
/// across threads or not; a product that is read elsewhere or returned, or a sum that
/// broadcasts, keeps its `add`.
@Suite struct AccumulatingProductTests {
    /// `tanh(x + h·wᵀ (+ b))` (the sum's operands swapped when `productFirst`), as a recurrent
    /// step computes its pre-activations, and its body with `w` and `b` hoisted.
    private func step(_ dtype: String, rows: Int, inner: Int, columns: Int, bias: Bool,
                      productFirst: Bool) throws -> (program: Program, hoisted: HoistedProgram) {
        let type = "\(dtype)[\(rows),\(columns)]"
        let sum = productFirst ? "%0, %x" : "%x, %0"
        let program = try Program(parsing: """
            graph(%h: \(dtype)[\(rows),\(inner)], %x: \(type), %w: \(dtype)[\(columns),\(inner)], %b: \(dtype)[\(columns)]) {
              %0 = matmul[transB=true] %h, %w\(bias ? ", %b" : "") : \(type)
              %1 = add \(sum) : \(type)
              %2 = tanh %1 : \(type)
              return %2
            }
            """)
        return (program, program.hoistingInvariants([2, 3]))
    }

    @Test(arguments: [false, true], [false, true])
    func theProductAddsItsAddend(bias: Bool, productFirst: Bool) throws {
        var generator = RandomGenerator(seed: 21)
        for (dtype, name, tolerance) in [(DType.float64, "f64", 1e-12), (.float32, "f32", 1e-4)] {
            // A step's rows, one row, and a product large enough to be split across threads.
            for (rows, inner, columns) in [(16, 128, 512), (1, 5, 7), (64, 256, 1024)] {
                let (program, hoisted) = try step(name, rows: rows, inner: inner, columns: columns, bias: bias, productFirst: productFirst)
                let body = hoisted.body.optimized()
                #expect(body.description.contains("addend=true"), "\(name) \(rows)×\(inner)×\(columns)")
                #expect(!body.description.contains("add "), "the sum is left to the product")
                let arguments = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: dtype, using: &generator) }
                let expected = program.run(arguments)[0].scalars
                let invariants = hoisted.prologue.run(Array(arguments[2...]))
                for result in [body.run(Array(arguments[..<2]) + invariants)[0], Executable(hoisted.body)(Array(arguments[..<2]) + invariants)[0]] {
                    #expect(zip(result.scalars, expected).map { abs($0 - $1) }.max()! <= tolerance, "\(name) \(rows)×\(inner)×\(columns)")
                }
            }
        }
    }

    /// A product whose inner size fits one of the GEMM's K blocks rounds exactly as the
    /// product with its bias, then the sum: compiled recurrent steps equal op-by-op ones bit
    /// for bit.
    @Test(arguments: [false, true])
    func theProductRoundsAsTheProductThenTheSum(bias: Bool) throws {
        var generator = RandomGenerator(seed: 22)
        for (dtype, name) in [(DType.float64, "f64"), (.float32, "f32")] {
            let (program, hoisted) = try step(name, rows: 16, inner: 128, columns: 512, bias: bias, productFirst: false)
            let arguments = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: dtype, using: &generator) }
            let invariants = hoisted.prologue.run(Array(arguments[2...]))
            let compiled = Executable(hoisted.body)(Array(arguments[..<2]) + invariants)[0].scalars
            let identical = compiled == program.run(arguments)[0].scalars
            #expect(identical, "\(name)")
        }
    }

    /// The sum stays where the product's value is needed on its own, or where the sum
    /// broadcasts the other operand (a bias row is the product's own operand, not an addend).
    @Test func theSumStaysWhereTheProductIsNeededOrTheSumBroadcasts() throws {
        let readElsewhere = try Program(parsing: """
            graph(%h: f64[4,3], %x: f64[4,5], %w: f64[5,3]) {
              %0 = matmul[transB=true] %h, %w : f64[4,5]
              %1 = add %x, %0 : f64[4,5]
              %2 = mul %1, %0 : f64[4,5]
              return %2
            }
            """)
        let returned = try Program(parsing: """
            graph(%h: f64[4,3], %x: f64[4,5], %w: f64[5,3]) {
              %0 = matmul[transB=true] %h, %w : f64[4,5]
              %1 = add %x, %0 : f64[4,5]
              return %1, %0
            }
            """)
        let broadcast = try Program(parsing: """
            graph(%h: f64[4,3], %x: f64[5], %w: f64[5,3]) {
              %0 = matmul[transB=true] %h, %w : f64[4,5]
              %1 = add %x, %0 : f64[4,5]
              return %1
            }
            """)
        for program in [readElsewhere, returned, broadcast] {
            let body = program.hoistingInvariants([2]).body
            #expect(body.description.contains("matmul_packed"))
            #expect(!body.optimized().description.contains("addend"), "\(program)")
        }
    }

    /// The op prints and parses back, and an addend that is not the product's shape is refused.
    @Test func theAddendIsPartOfTheOpsText() throws {
        let (_, hoisted) = try step("f32", rows: 2, inner: 3, columns: 4, bias: true, productFirst: false)
        let body = hoisted.body.optimized()
        #expect(try Program(parsing: body.description).description == body.description)
        let packedCount = hoisted.prologue.run([Tensor(zeros: [4, 3], dtype: .float32), Tensor(zeros: [4], dtype: .float32)])[0].count
        let error = #expect(throws: ProgramError.self) {
            try Program(parsing: """
                graph(%a: f32[2,3], %p: f32[\(packedCount)], %x: f32[2,5]) {
                  %0 = matmul_packed[n=4 addend=true] %a, %p, %x : f32[2,4]
                  return %0
                }
                """)
        }
        #expect(error?.op == "matmul_packed")
        #expect(error?.message.contains("the addend must have the product's shape [2,4], got [2,5]") == true)
    }
}
