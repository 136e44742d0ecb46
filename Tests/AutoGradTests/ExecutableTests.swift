import Testing
import AutoGrad

/// Elementwise fusion and the compiled executor, against the interpreted program and eager
/// gradients.
@Suite struct ExecutableTests {
    /// tanh(x·w + 1) − w, summed: one fusible tree and a reduction.
    private static func smallProgram() -> Program {
        let x = Tensor([0.5, -1, 2, 0.25], dtype: .float64), w = Tensor([1, 2, 3, 4], dtype: .float64)
        return Program.trace([x, w], names: ["x", "w"]) { a in
            [((a.tensor(0) * a.tensor(1) + 1).tanh() - a.tensor(1)).sum()]
        }.program
    }

    /// Outputs can be written straight into rows of a buffer being filled (a recurrent run's
    /// gradient sequence): a kernel's result lands there without a copy, an input passed
    /// through is copied there, nothing else in the buffer changes, and the results returned
    /// are the ordinary run's.
    @Test(arguments: [DType.float32, .float64]) func outputsAreWrittenIntoTheirDestinations(_ dtype: DType) {
        let x = Tensor([0.5, -1, 2], dtype: dtype)
        let program = Program.trace([x]) { a in [(a.tensor(0) * 2).tanh(), a.tensor(0)] }.program
        let executable = Executable(program), buffer = Tensor(repeating: 9, shape: [10], dtype: dtype)
        let results = executable([x], writingOutputs: [0: (buffer, 1), 1: (buffer, 6)])
        let expected = program.run([x])
        #expect(results.map(\.scalars) == expected.map(\.scalars))
        #expect(buffer.scalars == [9] + expected[0].scalars + [9, 9] + x.scalars + [9])
    }

    @Test func fusionTurnsAnElementwiseTreeIntoOneKernel() throws {
        let fused = Self.smallProgram().fusingElementwise()
        #expect(fused.description == """
            graph(%x: f64[4], %w: f64[4]) {
              %0 = fused[body="graph(%in0: f64[4], %in1: f64[4], %in2: f64[]) { %0 = mul %in0, %in1 : f64[4] %1 = add %0, %in2 : f64[4] %2 = tanh %1 : f64[4] %3 = sub %2, %in1 : f64[4] return %3 }"] %x, %w, 1 : f64[4]
              %1 = reduce_sum[axes=[0]] %0 : f64[]
              return %1
            }
            """)
        let parsed = try Program(parsing: fused.description)
        #expect(parsed.description == fused.description)
        let inputs = [Tensor([0.5, -1, 2, 0.25], dtype: .float64), Tensor([1, 2, 3, 4], dtype: .float64)]
        #expect(fused.run(inputs)[0].scalars == Self.smallProgram().run(inputs)[0].scalars)
    }

    @Test func fusedKernelsCoverBlocksScalarsAndBroadcastOperands() {
        // 1300 elements: several blocks and a partial one; a scalar and a broadcast row.
        var generator = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([13, 100], dtype: .float32, using: &generator)
        let row = Tensor.randomNormal([100], dtype: .float32, using: &generator)
        let program = Program.trace([x, row]) { a in
            [((a.tensor(0) + a.tensor(1)).sigmoid() * 2 - a.tensor(0).exp()).tanh()]
        }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.count == 1)
        #expect(fused.run([x, row])[0].scalars == program.run([x, row])[0].scalars)
    }

    /// Broadcast operands of every kind a block can meet: a row read in place (blocks within
    /// a row), rows shorter than a block (copied run by run), a column (one value per row) and
    /// a middle axis — each equal to the op-by-op program.
    @Test(arguments: [([3, 700], [700]), ([13, 100], [100]), ([700, 3], [700, 1]), ([2, 300, 5], [300, 1]), ([4, 3, 90], [4, 1, 90])])
    func fusedKernelsReadEveryBroadcastPattern(shape: [Int], operandShape: [Int]) {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal(shape, dtype: .float64, using: &generator)
        let operand = Tensor.randomNormal(operandShape, dtype: .float64, using: &generator)
        let program = Program.trace([x, operand]) { a in [(a.tensor(0) * a.tensor(1)).tanh() + a.tensor(1)] }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.count == 1)
        #expect(fused.run([x, operand])[0].scalars == program.run([x, operand])[0].scalars)
    }

    /// Every op of the gradient tables: the compiled gradient program equals eager backward.
    @Test(arguments: ProgramTests.cases) func compiledGradientProgramEqualsEager(_ row: GradientCase) {
        let inputs = row.inputs()
        let program = Program.trace(inputs) { [row.function((0..<inputs.count).map($0.tensor))] }.program
        let leaves = inputs.map { $0.requiringGrad() }
        let output = row.function(leaves)
        let expected = AutoGrad.gradients(of: [output], withRespectTo: leaves, seeds: [output.onesLike()])
        let compiled = Executable(program.gradient(withRespectTo: Array(inputs.indices)).program)
        for _ in 0..<2 {  // the second run reuses the planned buffers
            let results = compiled(inputs + [output.onesLike()])
            expectClose(results[0].scalars, output.scalars)
            for (computed, reference) in zip(results.dropFirst(), expected) {
                #expect(computed.shape == reference.shape)
                expectClose(computed.scalars, reference.scalars)
            }
        }
    }

    @Test func returnedResultsSurviveLaterRuns() {
        let compiled = Executable(Self.smallProgram().gradient(withRespectTo: [0, 1]).program)
        let first = [Tensor([0.5, -1, 2, 0.25], dtype: .float64), Tensor([1, 2, 3, 4], dtype: .float64), Tensor(1.0, dtype: .float64)]
        let second = [Tensor([3, 1, -2, 0], dtype: .float64), Tensor([0, 1, 0, 1], dtype: .float64), Tensor(2.0, dtype: .float64)]
        let kept = compiled(first)
        let keptValues = kept.map(\.scalars)
        let other = compiled(second)
        #expect(kept.map(\.scalars) == keptValues)
        #expect(other.map(\.scalars) == Self.smallProgram().gradient(withRespectTo: [0, 1]).program.run(second).map(\.scalars))
    }

    /// An argument of another shape or dtype than its input stops the run with a message
    /// naming the input and both types; one that matches runs.
    @Test func argumentsOfTheWrongTypeNameTheInput() async {
        let compiled = Executable(Self.smallProgram())
        #expect(compiled([Tensor([1, 2, 3, 4], dtype: .float64), Tensor([1, 1, 1, 1], dtype: .float64)]).count == 1)
        let shape = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Executable(Self.smallProgram())([Tensor([1, 2, 3, 4], dtype: .float64), Tensor([1, 2, 3], dtype: .float64)])
        }
        expectStandardError(shape, contains: ["Executable", "input %w expects f64[4]", "got f64[3]"])
        let dtype = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Executable(Self.smallProgram())([Tensor([1, 2, 3, 4], dtype: .float32), Tensor([1, 2, 3, 4], dtype: .float64)])
        }
        expectStandardError(dtype, contains: ["input %x expects f64[4]", "got f32[4]"])
    }

    @Test func memoryPlanReusesBuffersByLiveness() {
        let x = Tensor(repeating: 0.1, shape: [64], dtype: .float64)
        var generator = RandomGenerator(seed: 9)
        let w = Tensor.randomNormal([64, 64], dtype: .float64, using: &generator)
        // A chain of matrix products: each result dies once the next is computed.
        let program = Program.trace([x.reshaped(to: [1, 64]), w]) { a in
            var h = a.tensor(0)
            for _ in 0..<8 { h = matmul(h, a.tensor(1)).tanh() }
            return [h]
        }.program
        let compiled = Executable(program)
        #expect(compiled.plan.slotSizes.count <= 3)
        #expect(compiled.plan.peakBytes <= 3 * 64 * 8)
        #expect(compiled.plan.unplannedBytes == 16 * 64 * 8)
        expectClose(compiled([x.reshaped(to: [1, 64]), w])[0].scalars, program.run([x.reshaped(to: [1, 64]), w])[0].scalars)
    }

    @Test func aFusedOpDifferentiatesToFirstOrder() {
        let inputs = [Tensor([0.5, -1, 2, 0.25], dtype: .float64), Tensor([1, 2, 3, 4], dtype: .float64)]
        let fused = Self.smallProgram().fusingElementwise()
        let gradient = fused.gradient(withRespectTo: [0, 1]).program.run(inputs + [Tensor(1.0, dtype: .float64)])
        let reference = Self.smallProgram().gradient(withRespectTo: [0, 1]).program.run(inputs + [Tensor(1.0, dtype: .float64)])
        for (computed, expected) in zip(gradient, reference) { expectClose(computed.scalars, expected.scalars) }
    }
}
