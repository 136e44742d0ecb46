import Testing
import AutoGrad

/// `where` inside fused kernels: the comparison that makes its condition is recomputed inside
/// every kernel that reads it, the gradient's `where`s fuse with the gate math around them,
/// and a comparison residual is recomputed by a backward half (zoneout's step, compiled).
@Suite struct WhereFusionTests {
    /// Zoneout's blend and its gradient: where(m > 0, previous, new) with new = tanh(x·w).
    private static func blend(_ a: TracedArguments) -> [Tensor] {
        let new = (a.tensor(2) * a.tensor(3)).tanh()
        return [Tensor.where(a.tensor(0) .> 0, a.tensor(1), new) * 2]
    }

    private static func arguments(_ dtype: DType, count: Int = 1300) -> [Tensor] {
        var generator = RandomGenerator(seed: 9)
        let mask = Tensor.where(Tensor.randomUniform([count], dtype: dtype, using: &generator) .>= 0.5,
                                Tensor(0.0, dtype: dtype), Tensor(1.0, dtype: dtype))
        return [mask] + (0..<3).map { _ in Tensor.randomNormal([count], dtype: dtype, using: &generator) }
    }

    /// Traced, the comparison reads the mask itself (no stop_gradient in between); fused, the
    /// forward is one kernel, and every kernel of the gradient that reads the mask (the
    /// forward's `where` and the gradient's two, one per side) recomputes the comparison,
    /// which is left nowhere else. Values equal the op-by-op program bit for bit, over several
    /// blocks, in both dtypes.
    @Test(arguments: [DType.float32, .float64]) func conditionsAreRecomputedInEveryKernelThatReadsThem(_ dtype: DType) throws {
        let inputs = Self.arguments(dtype)
        let program = Program.trace(inputs, Self.blend).program
        #expect(!program.description.contains("stop_gradient"))
        let forward = program.fusingElementwise()
        #expect(forward.equations.count == 1)
        #expect(forward.equations[0].primitive.name == "fused")
        #expect(forward.run(inputs)[0].scalars == program.run(inputs)[0].scalars)

        let gradient = program.gradient(withRespectTo: [1, 2, 3]).program
        let fused = gradient.fusingElementwise()
        let kernels = fused.equations.filter { $0.primitive.name == "fused" }
        let reading = kernels.filter { $0.operands.contains(.input(0)) }
        #expect(!reading.isEmpty && reading.allSatisfy { "\($0.primitive.attributes)".contains("greater") })
        #expect(kernels.map { "\($0.primitive.attributes)".ranges(of: "where ").count }.reduce(0, +) == 3)
        #expect(!fused.equations.contains { $0.primitive.name == "greater" || $0.primitive.name == "where" })
        #expect(try Program(parsing: fused.description).description == fused.description)
        let arguments = inputs + [Tensor.randomNormal([1300], dtype: dtype)]
        for (computed, expected) in zip(fused.run(arguments), gradient.run(arguments)) {
            #expect(computed.scalars == expected.scalars)
        }
    }

    /// Scalar and full-length operands on each side and as the condition (a scalar condition
    /// is not recomputed in a kernel of another shape), each equal to the op-by-op reference
    /// written out here.
    @Test(arguments: [DType.float32, .float64]) func everyOperandMayBeAScalar(_ dtype: DType) {
        var generator = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([700], dtype: dtype, using: &generator)
        let y = Tensor.randomNormal([700], dtype: dtype, using: &generator)
        let s = Tensor(0.75, dtype: dtype)
        for (condition, a, b) in [(x, y, s), (x, s, y), (s, x, y), (x, x, y)] {
            let program = Program.trace([condition, a, b]) { t in
                [Tensor.where(t.tensor(0) .> 0, t.tensor(1), t.tensor(2)).exp() + 1]
            }.program
            let fused = program.fusingElementwise()
            #expect(fused.equations.count == (condition.count == 1 ? 2 : 1))
            let (c, av, bv) = (condition.scalars, a.scalars, b.scalars)
            let expected = (0..<700).map { i -> Double in
                let chosen = c[c.count == 1 ? 0 : i] > 0 ? av[av.count == 1 ? 0 : i] : bv[bv.count == 1 ? 0 : i]
                return (Tensor(chosen, dtype: dtype).exp() + 1).scalars[0]
            }
            #expect(fused.run([condition, a, b])[0].scalars == expected)
        }
    }

    /// A float64 program's `bool` argument is held in float32 storage (a mask's): the kernel
    /// reads it converted.
    @Test func aMaskArgumentOfAnotherStorageTypeIsRead() {
        let mask = Mask([true, false, true, true, false, false, true], shape: [7])
        let a = Tensor((0..<7).map(Double.init), dtype: .float64), b = Tensor(repeating: -1, shape: [7], dtype: .float64)
        let program = Program.trace([mask, a, b]) { t in [Tensor.where(t.mask(0), t.tensor(1) * 2, t.tensor(2))] }.program
        let fused = program.fusingElementwise()
        #expect(fused.equations.count == 1)
        #expect(fused.run([mask.programValue, a, b])[0].scalars == [0, -1, 4, 6, -1, -1, 12])
    }

    /// A 0/1 mask given as a float (zoneout's, read in place) is the condition itself: no
    /// comparison anywhere, forward or backward, the forward one kernel, and the values and
    /// gradients equal those of the comparison-made mask bit for bit.
    @Test(arguments: [DType.float32, .float64]) func aNonzeroConditionNeedsNoComparison(_ dtype: DType) {
        let inputs = Self.arguments(dtype)
        let program = Program.trace(inputs) { a in
            [Tensor.where(nonzero: a.tensor(0), a.tensor(1), (a.tensor(2) * a.tensor(3)).tanh()) * 2]
        }.program
        let gradient = program.gradient(withRespectTo: [1, 2, 3]).program, fused = gradient.fusingElementwise()
        #expect(!gradient.description.contains("greater"))
        let forward = program.fusingElementwise()
        #expect(forward.equations.count == 1 && forward.equations[0].primitive.name == "fused")
        #expect(forward.run(inputs)[0].scalars == Program.trace(inputs, Self.blend).program.run(inputs)[0].scalars)
        let arguments = inputs + [Tensor.randomNormal([1300], dtype: dtype)]
        let reference = Program.trace(inputs, Self.blend).program.gradient(withRespectTo: [1, 2, 3]).program
        for (computed, expected) in zip(fused.run(arguments), reference.run(arguments)) {
            #expect(computed.scalars == expected.scalars)
        }
    }

    /// A comparison residual (zoneout's mask compared with 0) is recomputed by the backward
    /// half from the mask, an input of the step, which becomes the residual in its place.
    @Test func comparisonResidualsAreRecomputedFromTheirInput() {
        let inputs = Self.arguments(.float64, count: 12)
        let vjp = Program.trace(inputs, Self.blend).program.gradient(withRespectTo: [1, 2, 3])
        let kept = vjp.split(), recomputed = vjp.split(recomputingCheapResiduals: true)
        #expect(kept.backward.inputs.contains { $0.type.element == .bool })
        #expect(!recomputed.backward.inputs.contains { $0.type.element == .bool })
        #expect(recomputed.backward.inputs.contains { $0.name == "r.arg0" })
        let cotangent = Tensor.randomNormal([12], dtype: .float64)
        func gradients(_ halves: (forward: Program, backward: Program)) -> [[Double]] {
            let results = halves.forward.run(inputs)
            return halves.backward.run(Array(results.dropFirst(vjp.outputCount)) + [cotangent]).map(\.scalars)
        }
        #expect(gradients(recomputed) == gradients(kept))
    }
}
