import Testing
import AutoGrad

/// Slices inside fused kernels: a slice that only a tree of elementwise ops reads is read by
/// that tree's kernel through a window on its operand (offset and strides) instead of being
/// copied out — an LSTM's gates, chunked from one pre-activation matrix.
@Suite struct SliceFusionTests {
    /// An LSTM step's gate math on pre-activations [rows, 4 · 70] (the gates' columns are not
    /// whole vectors, and blocks of 512 elements cross rows).
    private static func gates(_ a: TracedArguments) -> [Tensor] {
        let chunks = a.tensor(0).chunked(into: 4, along: 1)
        let c = chunks[1].sigmoid() * a.tensor(1) + chunks[0].sigmoid() * chunks[2].tanh()
        return [chunks[3].sigmoid() * c.tanh(), c]
    }

    /// Fused, the step is one kernel and no slice of its input is left: every gate is read in
    /// place (blocks of a gate's row of 70, and of half a row of 600); the slices left are views
    /// of the kernel's two outputs. The values equal the op-by-op program's bit for bit in both
    /// dtypes, and the fused program prints and parses back.
    @Test(arguments: [DType.float32, .float64], [(5, 70), (3, 600)])
    func gateSlicesAreReadInPlace(_ dtype: DType, _ size: (rows: Int, hidden: Int)) throws {
        var generator = RandomGenerator(seed: 21)
        let inputs = [Tensor.randomNormal([size.rows, 4 * size.hidden], dtype: dtype, using: &generator),
                      Tensor.randomNormal([size.rows, size.hidden], dtype: dtype, using: &generator)]
        let program = Program.trace(inputs, Self.gates).program
        #expect(program.equations.count { $0.primitive.name == "slice" } == 4)
        let fused = program.fusingElementwise()
        #expect(Self.slicesOnlyExtractOutputs(fused))
        #expect(fused.equations.count { $0.primitive.name == "fused" } == 1)
        #expect(fused.equations.allSatisfy { ["fused", "slice", "reshape"].contains($0.primitive.name) })
        #expect(try Program(parsing: fused.description).description == fused.description)
        for (computed, expected) in zip(fused.run(inputs), program.run(inputs)) {
            #expect(computed.shape == expected.shape)
            #expect(computed.scalars == expected.scalars)
        }
    }

    /// Windows of every kind: rows (axis 0), a stride (every other column), a middle axis of a
    /// rank-3 value, and a slice next to a broadcast operand; each equal to the op-by-op result.
    @Test func everyKindOfSliceIsAWindow() throws {
        var generator = RandomGenerator(seed: 22)
        let x = Tensor.randomNormal([6, 80], dtype: .float64, using: &generator)
        let y = Tensor.randomNormal([2, 6, 30], dtype: .float64, using: &generator)
        let bias = Tensor.randomNormal([40], dtype: .float64, using: &generator)
        let cases: [(String, [Tensor], (TracedArguments) -> Tensor)] = [
            ("rows", [x], { ($0.tensor(0).slice(1..<4, along: 0) * 2).exp() }),
            ("stride", [x], { $0.tensor(0).slice(1..<80, along: 1, step: 2).tanh() }),
            ("middle axis", [y], { $0.tensor(0).slice(2..<5, along: 1).sigmoid() * 3 }),
            ("broadcast", [x, bias], { ($0.tensor(0).slice(40..<80, along: 1) + $0.tensor(1)).tanh() }),
        ]
        for (name, arguments, body) in cases {
            let program = Program.trace(arguments) { [body($0)] }.program
            let fused = program.fusingElementwise()
            #expect(fused.equations.count == 1, "\(name): \(fused)")
            #expect(fused.run(arguments)[0].scalars == program.run(arguments)[0].scalars, "\(name)")
        }
    }

    /// A fused kernel that reads slices differentiates like its ops: run op by op as a program
    /// (its pullback recomputes the body, slices included), checked against finite differences.
    @Test func fusedSlicesDifferentiate() throws {
        var generator = RandomGenerator(seed: 23)
        let inputs = [Tensor.randomNormal([3, 16], dtype: .float64, using: &generator), Tensor.randomNormal([3, 4], dtype: .float64, using: &generator)]
        let fused = Program.trace(inputs, Self.gates).program.fusingElementwise()
        #expect(Self.slicesOnlyExtractOutputs(fused))
        try checkGradients(of: { arguments in
            let outputs = fused.evaluate(on: arguments)
            return (outputs[0] * outputs[1]).sum()
        }, at: inputs.map { $0.requiringGrad() })
    }

    /// Optimized, slices sink below the sum they cut (a bias broadcast along the sliced axis is
    /// sliced too, a scalar is not): each gate adds its own columns inside its kernel, and the
    /// whole pre-activation sum is never made. Values equal the op-by-op program's.
    @Test func slicesSinkBelowTheSumTheyCut() throws {
        var generator = RandomGenerator(seed: 24)
        let inputs = [[5, 280], [5, 280], [280], [5, 70]].map { Tensor.randomNormal($0, dtype: .float64, using: &generator) }
        let program = Program.trace(inputs) { a in
            let sum = a.tensor(0) + a.tensor(1) * 0.5 + a.tensor(2)
            let chunks = sum.chunked(into: 4, along: 1)
            let c = chunks[1].sigmoid() * a.tensor(3) + chunks[0].sigmoid() * chunks[2].tanh()
            return [chunks[3].sigmoid() * c.tanh(), c]
        }.program
        let optimized = program.optimized()
        #expect(!optimized.equations.contains { $0.type.shape == [5, 280] })
        #expect(optimized.equations.count { $0.primitive.name == "slice" && $0.type.shape == [70] } == 4)  // the bias
        let fused = optimized.fusingElementwise()
        #expect(Self.slicesOnlyExtractOutputs(fused, besides: [70]))
        for (computed, expected) in zip(fused.run(inputs), program.run(inputs)) {
            #expect(zip(computed.scalars, expected.scalars).allSatisfy { abs($0 - $1) <= 1e-15 * max(1, abs($1)) })
        }
    }

    /// Whether every slice in `program` (but those of shape `besides`) takes rows of a fused
    /// kernel's stacked outputs (a view of one output), none a window of an operand.
    private static func slicesOnlyExtractOutputs(_ program: Program, besides kept: [Int]? = nil) -> Bool {
        program.equations.allSatisfy { equation in
            guard equation.primitive.name == "slice", equation.type.shape != kept else { return true }
            guard case .result(let producer) = equation.operands[0] else { return false }
            return program.equations[producer].primitive.name == "fused"
        }
    }

    /// A slice read by something other than elementwise ops, or returned, stays a copy.
    @Test func slicesReadElsewhereStay() throws {
        let x = Tensor.randomNormal([4, 8], dtype: .float64)
        let program = Program.trace([x]) { a in
            let half = a.tensor(0).slice(0..<4, along: 1)
            return [half, half.tanh()]
        }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.contains { $0.primitive.name == "slice" })
        for (computed, expected) in zip(fused.run([x]), program.run([x])) { #expect(computed.scalars == expected.scalars) }
    }
}
