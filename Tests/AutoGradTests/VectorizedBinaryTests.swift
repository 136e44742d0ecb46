import Testing
import AutoGrad

/// float32 add, sub, mul, tanh_grad, sigmoid_grad and the comparisons run vectorized C loops:
/// each result must be bit-identical to the op's definition evaluated here in Swift Float
/// arithmetic, for full-length and scalar operands (with ties), lengths around the vector
/// widths, and through a fused kernel.
@Suite struct VectorizedBinaryTests {
    enum Operation: String, CaseIterable, Sendable {
        case add, sub, mul, tanhGrad = "tanh_grad", sigmoidGrad = "sigmoid_grad"
        case less, lessEqual, greater, greaterEqual, equal, notEqual

        func expected(_ a: Float, _ b: Float) -> Float {
            switch self {
            case .add: a + b
            case .sub: a - b
            case .mul: a * b
            case .tanhGrad: a * (1 - b * b)
            case .sigmoidGrad: a * b * (1 - b)
            case .less: a < b ? 1 : 0
            case .lessEqual: a <= b ? 1 : 0
            case .greater: a > b ? 1 : 0
            case .greaterEqual: a >= b ? 1 : 0
            case .equal: a == b ? 1 : 0
            case .notEqual: a != b ? 1 : 0
            }
        }

        func callAsFunction(_ a: Tensor, _ b: Tensor) throws -> Tensor {
            apply(try PrimitiveRegistry.make(rawValue, Attributes([])), [a, b])
        }
    }

    /// A result written over an operand (a fused kernel reusing a buffer it no longer needs)
    /// is still each element's definition, for lengths around the vector width and the unrolled loop's.
    @Test(arguments: Operation.allCases) func loopsWritingOverAnOperandMatchTheDefinition(_ operation: Operation) throws {
        let binary = try #require(try PrimitiveRegistry.make(operation.rawValue, Attributes([])) as? any BinaryElementwisePrimitive)
        for count in [1, 15, 16, 17, 63, 64, 65, 200] {
            var values = (0..<count).map { Float($0) * 0.37 - 3 }
            let other = (0..<count).map { Float($0 % 7) * 0.5 - 1 }
            let expected = zip(values, other).map(operation.expected)
            values.withUnsafeMutableBufferPointer { y in
                other.withUnsafeBufferPointer { b in
                    binary.zip(UnsafePointer(y.baseAddress!), scalarA: false, b.baseAddress!, scalarB: false, y.baseAddress!, count: count)
                }
            }
            #expect(values == expected, "\(operation) over \(count) elements")
        }
    }

    @Test(arguments: Operation.allCases)
    func loopsAreBitIdenticalToTheDefinition(_ operation: Operation) throws {
        var generator = RandomGenerator(seed: 17)
        for count in [1, 7, 16, 33, 1000] {
            let scalar = Tensor.randomNormal([1], using: &generator)
            // Every third element of b ties with a, and one of a with the scalar.
            var (av, bv) = (Tensor.randomNormal([count], using: &generator).scalars, Tensor.randomNormal([count], using: &generator).scalars)
            if count > 4 { av[4] = scalar.scalars[0] }
            for i in stride(from: 0, to: count, by: 3) { bv[i] = av[i] }
            let (a, b) = (Tensor(av, shape: [count]), Tensor(bv, shape: [count]))
            let (af, bf, sv) = (av.map(Float.init), bv.map(Float.init), Float(scalar.scalars[0]))
            let cases: [(Tensor, Tensor, [Float])] = [
                (a, b, zip(af, bf).map { operation.expected($0, $1) }),
                (a, scalar, af.map { operation.expected($0, sv) }),
                (scalar, b, bf.map { operation.expected(sv, $0) }),
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
