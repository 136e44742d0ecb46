import Testing
import AutoGrad

/// A user primitive whose pullback returns what its author got wrong: another dtype, a shape
/// that does not sum back to the input's, or too few gradients.
private struct FaultyPullback: Primitive {
    enum Fault { case dtype, shape, count }
    let fault: Fault
    var name: String { "faulty" }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { inputs[0].detached() }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        switch fault {
        case .dtype: [gradient.to(gradient.dtype == .float32 ? .float64 : .float32)]
        case .shape: [Tensor(ones: [5], dtype: gradient.dtype)]
        case .count: []
        }
    }
}

/// Seeds of the other dtype are converted (as PyTorch does); gradients that do not fit their
/// input stop with a message naming the op (issue 13).
@Suite struct GradientFitTests {
    /// The reproduction: a float32 seed for a float64 slice. d(sum of seed ⊙ p[0..<2])/dp
    /// is the seed, padded with zero for the row left out.
    @Test func seedOfTheOtherDTypeIsConverted() {
        let p = Tensor([1, 2, 3], shape: [3, 1], dtype: .float64).requiringGrad()
        p.slice(0..<2, along: 0).backward(seed: Tensor([0.5, -4], shape: [2, 1], dtype: .float32))
        #expect(p.grad?.dtype == .float64 && p.grad?.scalars == [0.5, -4, 0])
        let x = Tensor([1, 2], dtype: .float32).requiringGrad()
        let y = x * x
        let grads = gradients(of: [y], withRespectTo: [x], seeds: [Tensor([1, 3], dtype: .float64)])
        #expect(grads[0].dtype == .float32 && grads[0].scalars == [2, 12])  // 2x ⊙ seed
    }

    /// Broadcast gradients still sum back to their input's shape (the check's cold path only
    /// refuses misfits).
    @Test func broadcastGradientsStillSumBack() {
        let bias = Tensor([1, 2], dtype: .float64).requiringGrad()
        (Tensor(ones: [3, 2], dtype: .float64) + bias).sum().backward()
        #expect(bias.grad?.scalars == [3, 3])
    }

    @Test func pullbackOfTheWrongDTypeNamesTheOp() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
            apply(FaultyPullback(fault: .dtype), [x]).sum().backward()
        }
        expectStandardError(result, contains: ["faulty:", "f32[3]", "f64[3]", "dtypes differ"])
    }

    @Test func pullbackOfTheWrongShapeNamesTheOp() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
            apply(FaultyPullback(fault: .shape), [x]).sum().backward()
        }
        expectStandardError(result, contains: ["faulty:", "f64[5]", "f64[3]", "does not sum back"])
    }

    @Test func pullbackWithTooFewGradientsNamesTheOp() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
            apply(FaultyPullback(fault: .count), [x]).sum().backward()
        }
        expectStandardError(result, contains: ["faulty:", "0 gradients for 1 inputs"])
    }

    @Test func seedOfTheWrongShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
            (x * 2).backward(seed: Tensor(ones: [1, 3], dtype: .float64))
        }
        expectStandardError(result, contains: ["backward:", "seed of shape [1,3]", "output of shape [3]"])
    }

    @Test func fewerSeedsThanOutputs() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
            _ = gradients(of: [x * 2, x * 3], withRespectTo: [x], seeds: [Tensor(ones: [3], dtype: .float64)])
        }
        expectStandardError(result, contains: ["gradients:", "1 seeds for 2 outputs"])
    }

    @Test func logSumExpOverAnEmptyAxis() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 0]).logSumExp(along: 1)
        }
        expectStandardError(result, contains: ["logSumExp:", "axis 1", "[2,0]", "empty"])
    }
}
