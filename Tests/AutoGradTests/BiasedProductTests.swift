import Testing
import AutoGrad

/// `linear(x, weight:, bias:)`: one product whose stores add the bias (matmul's optional third
/// operand), against the product and the addition done apart, its gradients against finite
/// differences, its shape errors, and its compiled form, which reads a packed weight.
@Suite struct BiasedProductTests {
    /// Rows from one (the GEMV path) to more than a micro-tile, batched rows over a leading
    /// axis, and an inner size past the GEMM's K block (the bias goes in with the first block
    /// only); both dtypes.
    @Test(arguments: [DType.float32, .float64]) func equalsTheProductPlusTheBias(_ dtype: DType) {
        var generator = RandomGenerator(seed: 31)
        for (rows, inner, out) in [[1], [2], [7], [2, 5]].flatMap({ rows in [(rows, 9, 5), (rows, 700, 70)] }) {
            let x = Tensor.randomNormal(rows + [inner], dtype: dtype, using: &generator)
            let weight = Tensor.randomNormal([out, inner], dtype: dtype, using: &generator)
            let bias = Tensor.randomNormal([out], dtype: dtype, using: &generator)
            let computed = linear(x, weight: weight, bias: bias)
            let expected = matmul(x, weight, transposeB: true) + bias
            #expect(computed.shape == expected.shape)
            let scale = expected.scalars.map(abs).max()!
            let tolerance = dtype == .float32 ? 1e-5 : 1e-13
            #expect(zip(computed.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= tolerance * scale }, "\(rows) × \(inner) → \(out)")
            #expect(linear(x, weight: weight, bias: nil).scalars == matmul(x, weight, transposeB: true).scalars)
        }
    }

    /// Gradients with respect to the rows, the weight and the bias, in float64.
    @Test func differentiates() throws {
        var generator = RandomGenerator(seed: 32)
        let inputs = [[3, 4], [5, 4], [5]].map { Tensor.randomNormal($0, dtype: .float64, using: &generator).requiringGrad() }
        try checkGradients(of: { linear($0[0], weight: $0[1], bias: $0[2]).tanh().sum() }, at: inputs)
    }

    /// The backward pass forms the weight's and the bias's gradients in one product that sums
    /// the output gradient as it packs it: equal to the product and the column sums formed
    /// apart, for a product split across threads by rows of the weight and by its columns,
    /// and past the GEMM's K block; both dtypes.
    @Test(arguments: [DType.float32, .float64]) func weightAndBiasGradientsComeFromOnePass(_ dtype: DType) {
        var generator = RandomGenerator(seed: 33)
        for (rows, inner, out) in [(1, 3, 2), (6, 5, 4), (700, 130, 300), (700, 400, 50)] {
            let x = Tensor.randomNormal([rows, inner], dtype: dtype, using: &generator)
            let weight = Tensor.randomNormal([out, inner], dtype: dtype, using: &generator).requiringGrad()
            let bias = Tensor.randomNormal([out], dtype: dtype, using: &generator).requiringGrad()
            let upstream = Tensor.randomNormal([rows, out], dtype: dtype, using: &generator)
            (linear(x, weight: weight, bias: bias) * upstream).sum().backward()
            #expect(weight.grad?.scalars == matmul(upstream, x, transposeA: true).scalars, "\(rows) × \(inner) → \(out)")
            #expect(bias.grad?.scalars == upstream.sum(along: [0]).scalars, "\(rows) × \(inner) → \(out)")
        }
    }

    /// A bias that is not one value per column is refused, naming the op and the shapes.
    @Test func aBiasOfTheWrongLengthIsRefused() {
        let error = #expect(throws: ProgramError.self) {
            try Program(parsing: """
                graph(%x: f64[2,3], %w: f64[4,3], %b: f64[3]) {
                  %0 = matmul[transB=true] %x, %w, %b : f64[2,4]
                  return %0
                }
                """)
        }
        #expect("\(error!)".contains("the bias must be [4], one value per column of the product, got [3]"))
    }

    /// Traced and hoisted with the weight and the bias invariant, the product reads the weight
    /// packed and still adds the bias (one row and many, both float types, split across
    /// threads); the program prints and parses back.
    @Test(arguments: [1, 37]) func compiledReadsThePackedWeight(rows: Int) throws {
        var generator = RandomGenerator(seed: 33)
        for dtype in [DType.float32, .float64] {
            let x = Tensor.randomNormal([rows, 300], dtype: dtype, using: &generator)
            let weight = Tensor.randomNormal([130, 300], dtype: dtype, using: &generator)
            let bias = Tensor.randomNormal([130], dtype: dtype, using: &generator)
            let program = Program.trace([x, weight, bias]) { [linear($0.tensor(0), weight: $0.tensor(1), bias: $0.tensor(2))] }.program
            #expect(try Program(parsing: program.description).description == program.description)
            let hoisted = program.hoistingInvariants([1, 2])
            #expect(hoisted.body.description.contains("matmul_packed[n=130] %arg0, %hoisted0, %hoisted1"))
            let expected = (matmul(x, weight, transposeB: true) + bias).scalars
            let computed = hoisted.body.run([x] + hoisted.prologue.run([weight, bias]))[0].scalars
            let scale = expected.map(abs).max()!
            #expect(zip(computed, expected).allSatisfy { abs($0 - $1) <= (dtype == .float32 ? 1e-5 : 1e-13) * scale })
        }
    }
}
