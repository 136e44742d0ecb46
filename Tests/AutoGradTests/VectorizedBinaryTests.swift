import Testing
import AutoGrad

/// float32 add, sub, mul, tanh_grad and sigmoid_grad run vectorized C loops: each result must be
/// bit-identical to the op's definition evaluated here in Swift Float arithmetic, for full-length
/// and scalar operands, lengths around the vector widths, and through a fused kernel.
@Suite struct VectorizedBinaryTests {
    enum Operation: String, CaseIterable, Sendable {
        case add, sub, mul, tanhGrad = "tanh_grad", sigmoidGrad = "sigmoid_grad"

        func expected(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: a + b
            case .sub: a - b
            case .mul: a * b
            case .tanhGrad: a * (1 - b * b)
            case .sigmoidGrad: a * b * (1 - b)
            }
        }

        func callAsFunction(_ a: Tensor, _ b: Tensor) throws -> Tensor {
            apply(try PrimitiveRegistry.make(rawValue, Attributes([])), [a, b])
        }
    }

    @Test(arguments: Operation.allCases)
    func loopsAreBitIdenticalToTheDefinition(_ operation: Operation) throws {
        var generator = RandomGenerator(seed: 17)
        for count in [1, 7, 16, 33, 1000] {
            let a = Tensor.randomNormal([count], using: &generator), b = Tensor.randomNormal([count], using: &generator)
            let scalar = Tensor.randomNormal([1], using: &generator)
            let (av, bv, sv) = (a.scalars.map(Float.init), b.scalars.map(Float.init), Float(scalar.scalars[0]))
            let cases: [(Tensor, Tensor, [Float])] = [
                (a, b, zip(av, bv).map { operation.expected($0, $1) }),
                (a, scalar, av.map { operation.expected($0, sv) }),
                (scalar, b, bv.map { operation.expected(sv, $0) }),
            ]
            for (x, y, expected) in cases {
                #expect(try operation(x, y).scalars.map(Float.init) == expected, "\(operation) of \(count)")
            }
        }
    }

    /// The same loops inside a fused kernel (blocks of 512, several blocks and a partial one).
    @Test func fusedKernelsUseTheSameRounding() throws {
        var generator = RandomGenerator(seed: 18)
        let g = Tensor.randomNormal([3, 700], using: &generator), y = Tensor.randomNormal([3, 700], using: &generator).tanh()
        let program = Program.trace([g, y]) { t in [apply(try! PrimitiveRegistry.make("tanh_grad", Attributes([])), [t.tensor(0) * t.tensor(1), t.tensor(1)]) - t.tensor(0)] }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.count == 1)
        let (gv, yv) = (g.scalars.map(Float.init), y.scalars.map(Float.init))
        let expected = zip(gv, yv).map { g, y in (g * y) * (1 - y * y) - g }
        #expect(fused.run([g, y])[0].scalars.map(Float.init) == expected)
    }
}
