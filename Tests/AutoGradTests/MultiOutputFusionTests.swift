import Testing
@testable import AutoGrad

/// Fused kernels with several outputs: elementwise trees of one shape that read one another's
/// results or the same operands share a kernel, unless a kernel would then read what it makes
/// through another op; compiled, each output gets a buffer of its own.
@Suite struct MultiOutputFusionTests {
    /// Two trees that read the same operands, and a third that reads both of their results
    /// (a value read inside the kernel and returned too).
    private static func siblings(_ a: TracedArguments) -> [Tensor] {
        let first = (a.tensor(0) * a.tensor(1)).tanh(), second = (a.tensor(0) + a.tensor(1)).sigmoid()
        return [first, second, (first * second + 1).exp()]
    }

    private static func inputs(_ dtype: DType, count: Int = 1300) -> [Tensor] {
        var generator = RandomGenerator(seed: 31)
        return (0..<2).map { _ in Tensor.randomNormal([count], dtype: dtype, using: &generator) }
    }

    /// The three trees are one kernel of three outputs, read through views of its rows; the
    /// values equal the op-by-op program's bit for bit (several blocks, both dtypes), run as a
    /// program and compiled, and the fused program prints and parses back.
    @Test(arguments: [DType.float32, .float64]) func relatedTreesShareOneKernel(_ dtype: DType) throws {
        let inputs = Self.inputs(dtype)
        let program = Program.trace(inputs, Self.siblings).program
        let fused = program.fusingElementwise()
        let kernels = fused.equations.filter { $0.primitive.name == "fused" }
        #expect(kernels.count == 1 && kernels[0].type.shape == [3, 1300])
        #expect(fused.equations.allSatisfy { ["fused", "slice", "reshape"].contains($0.primitive.name) })
        #expect(try Program(parsing: fused.description).description == fused.description)
        let expected = program.run(inputs)
        for computed in [fused.run(inputs), Executable(program)(inputs)] {
            #expect(computed.map(\.shape) == expected.map(\.shape))
            #expect(computed.map(\.scalars) == expected.map(\.scalars))
        }
    }

    /// A tree that reads, through a matrix product, what another tree makes stays a kernel of
    /// its own: one kernel for both would need its own result before it runs.
    @Test func treesLinkedThroughAnotherOpStayApart() {
        var generator = RandomGenerator(seed: 32)
        let x = Tensor.randomNormal([4, 4], dtype: .float64, using: &generator), w = Tensor.randomNormal([4, 4], dtype: .float64, using: &generator)
        let program = Program.trace([x, w]) { a in
            let first = (a.tensor(0) * 2).tanh()
            return [(matmul(first, a.tensor(1)) * first).sigmoid()]
        }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.map(\.primitive.name) == ["fused", "matmul", "fused"])
        #expect(fused.run([x, w])[0].scalars == program.run([x, w])[0].scalars)
    }

    /// The rows of a compiled multi-output kernel are separate buffers: a row returned from a
    /// run is written straight into its destination, and the plan holds no buffer of the
    /// stacked size. A gradient through the kernel's outputs, run op by op, matches finite
    /// differences.
    @Test func compiledRowsAreSeparateBuffers() throws {
        let inputs = Self.inputs(.float64, count: 40)
        let program = Program.trace(inputs, Self.siblings).program
        let executable = Executable(program)
        #expect(executable.program.equations.contains { $0.type.shape == [3, 40] })
        #expect(!executable.plan.slotSizes.contains(3 * 40))
        let buffer = Tensor(repeating: 9, shape: [100], dtype: .float64)
        let results = executable(inputs, writingOutputs: [1: (buffer, 50)])
        let expected = program.run(inputs)
        #expect(results.map(\.scalars) == expected.map(\.scalars))
        #expect(Array(buffer.scalars[50..<90]) == expected[1].scalars && buffer.scalars[..<50].allSatisfy { $0 == 9 })
        #expect(results[1].storage.base == buffer.storage.base + 50 * 8)  // written there, not copied
        let fused = program.fusingElementwise()
        try checkGradients(of: { arguments in
            let outputs = fused.evaluate(on: arguments)
            return (outputs[0] * outputs[2] - outputs[1]).sum()
        }, at: inputs.map { $0.requiringGrad() })
    }

    /// Outputs that only a concatenation along columns reads are written as its columns where
    /// the kernel's blocks lie within rows (rows of 64 here; of 40 they do not, and the
    /// concatenation copies them): the same values either way, bit for bit, and written
    /// straight into a caller's destination.
    @Test(arguments: [64, 40]) func concatenatedOutputsAreWrittenAsColumns(_ width: Int) throws {
        var generator = RandomGenerator(seed: 33)
        let x = Tensor.randomNormal([5, width], dtype: .float32, using: &generator)
        let program = Program.trace([x]) { a in
            let first = (a.tensor(0) * 2).tanh(), second = (a.tensor(0) + 1).sigmoid()
            return [concat([second, first], along: 1), first * second]
        }.program
        let executable = Executable(program)
        let separation = Executable.Separation(executable.program)
        let columns = separation.kernels.values.joined().filter { if case .columns = $0 { true } else { false } }
        #expect(columns.count == (width == 64 ? 2 : 0))
        let buffer = Tensor(repeating: 7, shape: [2 * 5 * width + 3], dtype: .float32)
        let results = executable([x], writingOutputs: [0: (buffer, 3)])
        let expected = program.run([x])
        #expect(results.map(\.scalars) == expected.map(\.scalars))
        #expect(Array(buffer.scalars[3...]) == expected[0].scalars && buffer.scalars[..<3].allSatisfy { $0 == 7 })
    }
}
