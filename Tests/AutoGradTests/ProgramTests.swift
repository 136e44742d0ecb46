import Testing
import AutoGrad

/// Every op of the gradient tables, traced into a program and then run, printed and parsed,
/// optimized and differentiated — each result compared with eager execution.
@Suite struct ProgramTests {
    static let cases = ArithmeticTests.gradientCases + GatherTests.gradientCases + MatMulTests.gradientCases
        + ReductionTests.gradientCases + ShapingTests.gradientCases + SlicingTests.gradientCases
        + HigherOrderTests.secondOrderCases

    /// The case traced on its inputs, and eager results with their gradients (seed: ones).
    private static func traced(_ row: GradientCase) -> (program: Program, inputs: [Tensor], output: Tensor, gradients: [Tensor]) {
        let inputs = row.inputs()
        let program = Program.trace(inputs) { [row.function((0..<inputs.count).map($0.tensor))] }.program
        let leaves = inputs.map { $0.requiringGrad() }
        let output = row.function(leaves)
        let gradients = AutoGrad.gradients(of: [output], withRespectTo: leaves, seeds: [output.onesLike()])
        return (program, inputs, output.detached(), gradients)
    }

    @Test(arguments: cases) func runEqualsEagerBitForBit(_ row: GradientCase) {
        let (program, inputs, output, _) = Self.traced(row)
        #expect(program.run(inputs)[0].scalars == output.scalars)
    }

    @Test(arguments: cases) func textRoundTrips(_ row: GradientCase) throws {
        let (program, inputs, _, _) = Self.traced(row)
        let text = program.description
        let parsed = try Program(parsing: text)
        #expect(parsed.description == text)
        #expect(parsed.run(inputs)[0].scalars == program.run(inputs)[0].scalars)
    }

    @Test(arguments: cases) func optimizedProgramEqualsEager(_ row: GradientCase) {
        let (program, inputs, output, _) = Self.traced(row)
        let optimized = program.optimized()
        #expect(optimized.equations.count <= program.equations.count)
        expectClose(optimized.run(inputs)[0].scalars, output.scalars)
    }

    @Test(arguments: cases) func gradientProgramEqualsEagerBackward(_ row: GradientCase) {
        let (program, inputs, output, gradients) = Self.traced(row)
        let vjp = program.gradient(withRespectTo: Array(inputs.indices))
        let results = vjp.program.run(inputs + [output.onesLike()])
        #expect(results[0].scalars == output.scalars)
        for (computed, expected) in zip(results.dropFirst(), gradients) {
            #expect(computed.shape == expected.shape)
            expectClose(computed.scalars, expected.scalars)
        }
        // The optimized gradient program computes the same.
        let optimized = vjp.program.optimized().run(inputs + [output.onesLike()])
        for (computed, expected) in zip(optimized.dropFirst(), gradients) { expectClose(computed.scalars, expected.scalars) }
    }

    /// The gradient program cut at its residuals: forward then backward computes the same.
    @Test(arguments: cases) func splitHalvesComposeToTheGradientProgram(_ row: GradientCase) {
        let (program, inputs, output, _) = Self.traced(row)
        let vjp = program.gradient(withRespectTo: Array(inputs.indices))
        let (forward, backward) = vjp.split()
        #expect(forward.inputs.count == inputs.count && backward.inputs.count == vjp.residuals.count + 1)
        let forwardResults = forward.run(inputs)
        let gradients = backward.run(Array(forwardResults.dropFirst(vjp.outputCount)) + [output.onesLike()])
        let whole = vjp.program.run(inputs + [output.onesLike()])
        #expect(forwardResults[0].scalars == whole[0].scalars)
        for (computed, expected) in zip(gradients, whole.dropFirst()) { #expect(computed.scalars == expected.scalars) }
    }

    /// A residual one unary op makes of an output (tanh(c) of an LSTM's new state c) is not
    /// kept: the backward half recomputes it from c, which becomes the residual; the
    /// gradients are the same.
    @Test func cheapResidualsAreRecomputed() throws {
        let program = try Program(parsing: """
            graph(%x: f64[3,4], %c: f64[3,4]) {
              %0 = mul %x, %c : f64[3,4]
              %1 = tanh %0 : f64[3,4]
              %2 = mul %1, %x : f64[3,4]
              return %2, %0
            }
            """)
        let vjp = program.gradient(withRespectTo: [0, 1])
        let kept = vjp.split(), recomputed = vjp.split(recomputingCheapResiduals: true)
        #expect(!kept.backward.description.contains("= tanh %r."))
        #expect(recomputed.backward.description.contains("= tanh %r.0 : f64[3,4]"))
        #expect(recomputed.forward.outputs.count == kept.forward.outputs.count)  // tanh(c) out, c in
        var generator = RandomGenerator(seed: 21)
        let inputs = program.inputs.map { Tensor.randomNormal($0.type.shape, dtype: .float64, using: &generator) }
        let cotangents = (0..<2).map { _ in Tensor.randomNormal([3, 4], dtype: .float64, using: &generator) }
        func gradients(_ halves: (forward: Program, backward: Program)) -> [[Double]] {
            let results = halves.forward.run(inputs)
            return halves.backward.run(Array(results.dropFirst(vjp.outputCount)) + cotangents).map(\.scalars)
        }
        #expect(gradients(recomputed) == gradients(kept))
    }

    /// Second order: the gradient program's own gradient equals eager double backward.
    @Test(arguments: HigherOrderTests.secondOrderCases) func secondOrderThroughPrograms(_ row: GradientCase) {
        let (program, inputs, _, _) = Self.traced(row)
        let first = program.gradient(withRespectTo: Array(inputs.indices)).program
        // d/dx of Σ (∂f/∂x · v) with v = ones, as a program and eagerly.
        let secondProgram = first.gradient(withRespectTo: Array(inputs.indices))
        // Ones for the first program's cotangent and for every output the second differentiates.
        let ones = secondProgram.program.inputs.dropFirst(inputs.count).map {
            Tensor(ones: $0.type.shape, dtype: .float64)
        }
        let computed = secondProgram.program.run(inputs + ones)
        let leaves = inputs.map { $0.requiringGrad() }
        let y = row.function(leaves)
        let firstEager = AutoGrad.gradients(of: [y], withRespectTo: leaves, seeds: [y.onesLike()], createGraph: true)
        let scalar = firstEager.map { $0.sum() }.reduce(y.sum(), +)
        let secondEager = AutoGrad.gradients(of: scalar, withRespectTo: leaves)
        let secondGradients = computed.suffix(inputs.count)
        for (computed, expected) in zip(secondGradients, secondEager) {
            expectClose(computed.scalars, expected.scalars, tolerance: 1e-10)
        }
    }

    @Test func gradientProgramMatchesFiniteDifferences() {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([3, 4], dtype: .float64, using: &generator)
        let w = Tensor.randomNormal([2, 4], dtype: .float64, using: &generator)
        let program = Program.trace([x, w]) { a in
            [(matmul(a.tensor(0), a.tensor(1), transposeB: true).sigmoid() * a.tensor(0).sum(along: [1], keepDims: true)).logSumExp(along: 1).sum()]
        }.program
        let vjp = program.gradient(withRespectTo: [0, 1]).program
        let analytic = vjp.run([x, w, Tensor(1.0, dtype: .float64)])
        for (position, value) in [x, w].enumerated() {
            for element in 0..<value.count {
                var plus = [x, w], minus = [x, w]
                plus[position] = shifted(value, element, by: 1e-6)
                minus[position] = shifted(value, element, by: -1e-6)
                let numeric = (program.run(plus)[0].item() - program.run(minus)[0].item()) / 2e-6
                #expect(abs(numeric - analytic[1 + position].scalars[element]) < 1e-7)
            }
        }
    }

    @Test func residualsAreTheForwardValuesBackwardReads() {
        let x = Tensor([[0.5, -1, 2]], dtype: .float64)
        let w = Tensor([[1, 2, 3], [4, 5, 6]], dtype: .float64)
        let program = Program.trace([x, w], names: ["x", "w"]) { a in
            [(matmul(a.tensor(0), a.tensor(1), transposeB: true).tanh() * 2).sum()]
        }.program
        let vjp = program.gradient(withRespectTo: [0, 1])
        // tanh's pullback reads its output (%1); the matmul's reads both operands.
        #expect(vjp.description.hasSuffix("// residuals: %1: f64[1,2], %w: f64[2,3], %x: f64[1,3]"))
        #expect(vjp.forwardCount == 4)
    }

    /// Data is input: a traced lookup with a mask runs on the next batch's indices and mask.
    @Test func indicesAndMasksAreInputsNotConstants() {
        let table = Tensor([[1, 2], [3, 4], [5, 6]], dtype: .float64)
        func model(_ w: Tensor, _ ids: IndexTensor, _ keep: Mask) -> Tensor {
            Tensor.where(keep, w.gathering(ids, along: 0).tanh(), w.gathering(ids, along: 0) * 0).sum(along: [1])
        }
        let first = (IndexTensor([0, 2]), Mask([true, false], shape: [2, 1]))
        let function = Program.trace([table, first.0, first.1], names: ["w", "ids", "keep"]) { a in
            [model(a.tensor(0), a.indices(1), a.mask(2))]
        }
        #expect(function.program.description.hasPrefix("graph(%w: f64[3,2], %ids: i64[2], %keep: bool[2,1]) {"))
        #expect(function.program.constants.allSatisfy { $0.count == 1 })
        let next = (IndexTensor([1, 1]), Mask([false, true], shape: [2, 1]))
        #expect(function([table, next.0, next.1])[0].scalars == model(table, next.0, next.1).scalars)
    }

    @Test func parseErrorsNameLineColumnAndExpectation() {
        func error(_ text: String) -> ProgramParseError? {
            do { _ = try Program(parsing: text) } catch let error as ProgramParseError { return error } catch { return nil }
            return nil
        }
        let undefined = error("graph(%x: f32[2]) {\n  %0 = tanh %y : f32[2]\n  return %0\n}")
        #expect(undefined == ProgramParseError(line: 2, column: 13, expected: "a value defined earlier", found: "%y"))
        let unclosed = error("graph(%x: f32[2]) {\n  %0 = tanh %x : f32[2\n  return %0\n}")
        #expect(unclosed?.line == 3 && unclosed?.expected == "']'")
        #expect(error("graph(%x: f32[2]) {\n  %0 = frobnicate %x : f32[2]\n  return %0\n}")?.expected == "a known op name")
        #expect(error("graph(%x: f33[2]) {\n  return %x\n}")?.expected == "a type (f32, f64, i64 or bool)")
        #expect(error("graph(%x: f32[2]) {\n  return %x\n} extra")?.expected == "the end of the text")
    }

    @Test func illTypedProgramsAreRefusedNamingTheEquation() throws {
        #expect(throws: ProgramError(equation: 0, op: "matmul", message: "operands must have rank >= 2, got [2] and [2]")) {
            try Program(parsing: "graph(%x: f32[2]) {\n  %0 = matmul %x, %x : f32[2]\n  return %0\n}")
        }
        var builder = ProgramBuilder()
        let x = builder.input("x", ValueType(.float32, [2, 3]))
        let ids = builder.input("ids", ValueType(.int64, [4]))
        #expect(throws: ProgramError.self) { try builder.apply(PrimitiveRegistry.make("tanh", Attributes([])), [ids]) }
        let gathered = try builder.apply(PrimitiveRegistry.make("gather", Attributes([("axis", .int(1))])), [x, ids])
        #expect(builder.type(of: gathered) == ValueType(.float32, [2, 4]))
        let equation = try Program.Equation(PrimitiveRegistry.make("exp", Attributes([])), [.result(3)], type: ValueType(.float32, [2]))
        #expect(throws: ProgramError(equation: 0, op: "exp", message: "operand result(3) is not defined before it")) {
            try Program(inputs: [], constants: [], equations: [equation], outputs: [])
        }
    }

    private func shifted(_ tensor: Tensor, _ element: Int, by step: Double) -> Tensor {
        var values = tensor.scalars
        values[element] += step
        return Tensor(values, shape: tensor.shape, dtype: tensor.dtype)
    }
}
