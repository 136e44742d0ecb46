import Foundation
import Testing
import AutoGrad

/// A primitive whose pullback builds its gradient without ops (as a kernel-backed pullback
/// would) and puts a NaN in it, so the anomaly is the pullback's own, not an inner op's.
private struct NaNPullback: Primitive {
    var name: String { "nan_pullback" }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { inputs[0].detached() }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [Tensor([.nan] + Array(repeating: 0, count: gradient.count - 1), shape: gradient.shape, dtype: gradient.dtype)]
    }
}

@Suite struct AnomalyTests {
    /// [-1, 1, 0] → log: a NaN and a −∞.
    private func logOfNonPositive() -> Tensor { (Tensor([-0.5, 0.5, 0], dtype: .float64) * 2).log() }

    /// [0, 4] → sqrt is finite, but its pullback 0.5 · g / √x divides by zero.
    private func sqrtAtZero() -> (input: Tensor, loss: Tensor) {
        let x = Tensor([0, 4], dtype: .float64).requiringGrad()
        return (x, x.sqrt().sum())
    }

    @Test func forwardAnomalyTrapsWithOpShapesAndRanges() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            detectAnomalies { _ = (Tensor([-0.5, 0.5, 0], dtype: .float64) * 2).log() }
        }
        expectStandardError(result, contains: ["anomaly: forward op 'log'", "output f64[3]", "1 NaN", "1 -inf",
                                               "operands: f64[3] in [-1.0, 1.0]"])
    }

    @Test func backwardAnomalyTrapsNamingThePullback() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            detectAnomalies {
                let x = Tensor([0, 4], dtype: .float64).requiringGrad()
                x.sqrt().sum().backward()
            }
        }
        expectStandardError(result, contains: ["anomaly: backward: in the pullback of 'sqrt'", "its op 'div'", "1 +inf",
                                               "operands: f64[2] (not kept: the pullback does not read it)",
                                               "output gradient: f64[2] in [1.0, 1.0]"])
    }

    /// The innermost scope decides: a trapping scope inside a recording one traps.
    @Test func trappingScopeInsideARecordingOneTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = try? detectingAnomalies { detectAnomalies { _ = Tensor([-1], dtype: .float64).log() } }
        }
    }

    /// The throwing form records the first anomaly, lets the body finish, then throws it.
    @Test func throwingFormReportsTheFirstForwardAnomalyAfterTheBody() throws {
        var finished = false, seenInside: AnomalyError?
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies {
                _ = logOfNonPositive()
                seenInside = recordedAnomaly
                _ = Tensor([-1], dtype: .float64).sqrt()  // a later anomaly: not the one reported
                finished = true
            }
        }
        #expect(finished && seenInside?.op == "log")
        #expect(error.pass == .forward && error.op == "log" && error.innerOp == nil && error.outputGradient == nil)
        #expect(error.operands.map(\.shape) == [[3]] && error.operands[0].finiteRange == -1...1)
        #expect(error.result.shape == [3] && error.result.nanCount == 1 && error.result.negativeInfinityCount == 1)
        #expect(error.result.positiveInfinityCount == 0 && error.result.finiteRange == 0...0)
    }

    @Test func throwingFormReportsTheFirstBackwardAnomaly() throws {
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies { sqrtAtZero().loss.backward() }
        }
        #expect(error.pass == .backward && error.op == "sqrt" && error.innerOp == "div" && error.operandIndex == nil)
        // sqrt's pullback reads its output only, so the tape kept no operand values to report.
        #expect(!error.operands[0].isKept && error.outputGradient?.finiteRange == 1...1)
        #expect(error.result.positiveInfinityCount == 1)
    }

    /// A pullback's own non-finite gradient names the operand; a non-finite gradient arriving
    /// at an op (here the seed) is reported at that op.
    @Test func pullbackResultsAndIncomingGradientsAreChecked() throws {
        let x = Tensor([1, 2], dtype: .float64).requiringGrad()
        let own = try #require(throws: AnomalyError.self) {
            try detectingAnomalies { apply(NaNPullback(), [x]).sum().backward() }
        }
        #expect(own.op == "nan_pullback" && own.innerOp == nil && own.operandIndex == 0 && own.result.nanCount == 1)
        let seeded = try #require(throws: AnomalyError.self) {
            try detectingAnomalies { (x * 2).backward(seed: Tensor([.infinity, 1], dtype: .float64)) }
        }
        #expect(seeded.op == "mul" && seeded.operandIndex == nil && seeded.innerOp == nil)
        #expect(seeded.result.positiveInfinityCount == 1 && seeded.description.contains("received a non-finite gradient"))
    }

    @Test func scopesNestAndEndCleanly() throws {
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies {
                let inner = #expect(throws: AnomalyError.self) { try detectingAnomalies { _ = logOfNonPositive() } }
                #expect(inner?.op == "log" && recordedAnomaly == nil)  // the inner scope's anomaly is its own
                _ = Tensor([-1], dtype: .float64).sqrt()
            }
        }
        #expect(error.op == "sqrt")
        #expect(recordedAnomaly == nil)
        #expect(logOfNonPositive()[0].isNaN)  // off again: no trap
        #expect(try detectingAnomalies { (Tensor([1, 2], dtype: .float64) * 3).sum().item() } == 9)
    }

    /// A finite training step passes unchanged.
    @Test func finiteForwardAndBackwardPass() throws {
        let x = Tensor([0.5, 4], dtype: .float64).requiringGrad()
        try detectingAnomalies { x.sqrt().log().sum().backward() }
        #expect(abs(x.grad![1] - 1 / 8) < 1e-15)
    }

    /// The switch is per thread: ops on another thread are not checked.
    @Test func otherThreadsAreNotChecked() throws {
        let done = DispatchSemaphore(value: 0)
        try detectingAnomalies {
            Thread {
                _ = Tensor([-1], dtype: .float64).log()
                done.signal()
            }.start()
            done.wait()
        }
    }
}
