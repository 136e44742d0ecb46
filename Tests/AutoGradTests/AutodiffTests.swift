import Foundation
import Testing
import AutoGrad

@Suite struct AutodiffTests {
    @Test func gradientsAccumulateUntilZeroGrad() {
        let x = Tensor([1, -2, 3], dtype: .float64).requiringGrad()
        let twice = x.scalars.map { 2 * $0 }  // d/dx Σx² = 2x
        (x * x).sum().backward()
        (x * x).sum().backward()
        #expect(x.grad?.scalars == twice.map { 2 * $0 })
        x.zeroGrad()
        #expect(x.grad == nil)
        let loss = (x * x).sum()
        loss.backward(retainGraph: true)
        loss.backward()  // the same graph again, allowed by retainGraph
        #expect(x.grad?.scalars == twice.map { 2 * $0 })
    }

    @Test func secondBackwardWithoutRetainGraphStops() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor([1, 2], dtype: .float64).requiringGrad()
            let loss = x.tanh().sum()
            loss.backward()
            loss.backward()
        }
        expectStandardError(result, contains: ["backward", "released", "retainGraph: true"])
    }

    @Test func backwardReleasesTheGraphUnlessRetained() throws {
        let x = Tensor([1, 2], dtype: .float64).requiringGrad()
        let retained = x.exp().sum()
        retained.backward(retainGraph: true)
        #expect(try #require(retained.graphNode).isReleased == false)
        let released = x.exp().sum()
        released.backward()
        #expect(try #require(released.graphNode).isReleased)
    }

    @Test func noGradRecordsNothingAndRestoresRecording() throws {
        let x = Tensor([1, 2]).requiringGrad()
        #expect(isRecording)
        let y = noGrad { () -> Tensor in
            #expect(!isRecording)
            let inner = noGrad { x * 2 }
            #expect(!isRecording)  // leaving a nested scope restores the outer one
            return inner + x.tanh()
        }
        #expect(isRecording && !y.requiresGrad && y.graphNode == nil)
        #expect((x * 2).requiresGrad)
        struct Failure: Error {}
        #expect(throws: Failure.self) { try noGrad { throw Failure() } }
        #expect(isRecording)
    }

    @Test func detachedCutsTheGradient() {
        let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
        let cut = x.detached()
        #expect(!cut.requiresGrad && cut.scalars == x.scalars)
        (x * cut).sum().backward()
        #expect(x.grad?.scalars == x.scalars)  // only the recorded factor is differentiated: d(x·c)/dx = c
    }

    @Test func gradientsFunctionLeavesGradUntouched() {
        let x = Tensor([1, 2], dtype: .float64).requiringGrad()
        let unused = Tensor([5], dtype: .float64).requiringGrad()
        let result = gradients(of: (x * x * x).sum(), withRespectTo: [x, unused])
        #expect(result[0].scalars == [3, 12])  // 3x²
        #expect(result[1].scalars == [0])      // not used: zeros
        #expect(x.grad == nil && unused.grad == nil)
        (x * 2).sum().backward()
        _ = gradients(of: (x * x).sum(), withRespectTo: [x])
        #expect(x.grad?.scalars == [2, 2])
    }

    @Test func gradientWithRespectToAnIntermediate() {
        let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
        let h = x * 2
        let y = (h * h).sum() + h.sum()
        let result = gradients(of: y, withRespectTo: [h, x])
        #expect(result[0].scalars == h.scalars.map { 2 * $0 + 1 })      // dy/dh = 2h + 1
        #expect(result[1].scalars == h.scalars.map { 2 * (2 * $0 + 1) })  // dy/dx = 2·dy/dh
    }

    @Test func explicitSeedForNonScalarOutputs() {
        let x = Tensor([[1, 2], [3, 4]], dtype: .float64).requiringGrad()
        let seed = Tensor([[1, 0], [-1, 0.5]], dtype: .float64)
        (x * x).backward(seed: seed)
        #expect(x.grad?.scalars == zip(x.scalars, seed.scalars).map { 2 * $0 * $1 })
        let weighted = gradients(of: [x.exp(), x * 3], withRespectTo: [x], seeds: [seed, seed])[0]
        expectClose(weighted.scalars, zip(x.scalars, seed.scalars).map { (Foundation.exp($0) + 3) * $1 })
    }

    @Test func backwardOfALeafAndOfAnUnusedBranch() {
        let x = Tensor(3, dtype: .float64).requiringGrad()
        x.backward()
        #expect(x.grad?.item() == 1)
        let y = Tensor([1, 2], dtype: .float64).requiringGrad()
        (x * 0 + (y * 0).sum()).backward()  // reached, with zero gradients
        #expect(y.grad?.scalars == [0, 0])
    }

    /// Writing to a tensor after an op used it does not change what the pullback sees:
    /// the op kept the old buffer and the write copied it (copy-on-write).
    @Test func writesAfterRecordingDoNotReachSavedValues() {
        var x = Tensor([1, 2], dtype: .float64).requiringGrad()
        let loss = (x * x).sum()
        x[0] = 100
        x.withUnsafeMutableBufferPointer(as: Double.self) { $0[1] = 200 }
        loss.backward()
        #expect(x.grad?.scalars == [2, 4])
        #expect(x.scalars == [100, 200])
    }

    /// A long unrolled chain (like backpropagation through time) walks and frees without
    /// recursion deep enough to overflow the stack (freeing 50 000 nodes recursively crashed
    /// a debug build).
    @Test func longChainIsWalkedAndFreedWithoutRecursion() {
        let x = Tensor([0.5], dtype: .float64).requiringGrad()
        var h = x
        for _ in 0..<50_000 { h = h * 1.0001 }
        h.sum().backward()
        let expected = Foundation.pow(1.0001, 50_000.0)
        #expect(abs(x.grad!.item() - expected) < 1e-9 * expected)
    }
}
