import Testing
@testable import AutoGrad

@Suite struct ParameterInPlaceTests {
    /// Writing through `parameter.value` must not copy the buffer (optimizers rely on it to
    /// allocate nothing per step), and must keep the leaf and its gradient.
    @Test func mutatingTheValueWritesInPlaceAndKeepsTheLeaf() {
        let parameter = Parameter(Tensor([1, 2, 3], dtype: .float64))
        parameter.grad = Tensor([1, 1, 1], dtype: .float64)
        let leaf = parameter.value.graphNode
        func address() -> UnsafeRawPointer? {
            parameter.value.withUnsafeBufferPointer(as: Double.self) { UnsafeRawPointer($0.baseAddress) }
        }
        let before = address()
        parameter.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[0] = 5 }
        #expect(address() == before)
        #expect(parameter.value.scalars == [5, 2, 3])
        #expect(parameter.value.graphNode === leaf && parameter.grad?.scalars == [1, 1, 1])
    }

    /// A copy taken before the write keeps the old values (copy-on-write still applies).
    @Test func copiesTakenBeforeAWriteKeepTheirValues() {
        let parameter = Parameter(Tensor([1, 2], dtype: .float64))
        let snapshot = parameter.value
        parameter.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[1] = 7 }
        #expect(snapshot.scalars == [1, 2] && parameter.value.scalars == [1, 7])
    }

    /// A backward pass releases what the graph kept of the parameters too: an update made
    /// while the loss (and so its graph) is still alive, as in most training loops, writes in
    /// place instead of copying the buffer away from the graph first.
    @Test func updatesAfterBackwardDoNotCopyWhileTheLossLives() {
        let parameter = Parameter(Tensor([1, 2, 3], dtype: .float64))
        let x = Tensor([4, 5, 6], dtype: .float64)
        let loss = (parameter.value * x).sum()
        loss.backward()
        let before = parameter.value.withUnsafeBufferPointer(as: Double.self) { UnsafeRawPointer($0.baseAddress) }
        parameter.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[0] -= 0.5 }
        #expect(parameter.value.withUnsafeBufferPointer(as: Double.self) { UnsafeRawPointer($0.baseAddress) } == before)
        #expect(parameter.value.scalars == [0.5, 2, 3] && parameter.grad?.scalars == [4, 5, 6])
        #expect(loss.scalars == [32])
    }

    /// With the graph retained, the graph keeps its values: the update copies (copy-on-write).
    @Test func aRetainedGraphKeepsTheValuesItRecorded() {
        let parameter = Parameter(Tensor([1, 2], dtype: .float64))
        let loss = (parameter.value * parameter.value).sum()
        loss.backward(retainGraph: true)
        parameter.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[0] = 10 }
        parameter.zeroGrad()
        loss.backward()
        #expect(parameter.grad?.scalars == [2, 4])  // d(p²)/dp at the recorded values
    }
}
