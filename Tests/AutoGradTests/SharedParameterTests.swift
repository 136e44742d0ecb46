import Dispatch
import Foundation
import Testing
@testable import AutoGrad

/// The identity whose pullback waits for a signal: keeps one thread's backward pass in
/// progress while another starts.
private struct WaitingIdentity: UnaryElementwisePrimitive, @unchecked Sendable {
    let entered: DispatchSemaphore, proceed: DispatchSemaphore
    var name: String { "waiting_identity" }
    func value<T: FloatElement>(_ x: T) -> T { x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        entered.signal()
        proceed.wait()
        return [gradient]
    }
}

/// A parameter shared by two threads' graphs: one backward pass through it at a time.
@Suite struct SharedParameterTests {
    @Test func concurrentBackwardThroughOneParameterStopsWithAMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let p = Tensor([1, 2], dtype: .float64).requiringGrad(name: "shared.weight")
            let entered = DispatchSemaphore(value: 0), proceed = DispatchSemaphore(value: 0)
            // The first thread's walk sums into p (from p·3, recorded last) before it waits.
            let first = Thread {
                let held = apply(WaitingIdentity(entered: entered, proceed: proceed), [p * 2])
                (held + p * 3).sum().backward()
            }
            first.start()
            entered.wait()
            (p * p).sum().backward()  // the second walk through p, while the first is in progress
            proceed.signal()
        }
        expectStandardError(result, contains: ["backward: a tensor that requires gradients ('shared.weight') is in another thread's backward pass right now"])
    }

    /// One thread after the other is fine, and gradients add up as usual.
    @Test func sequentialBackwardPassesThroughOneParameterAccumulate() {
        let p = Tensor([1, 2], dtype: .float64).requiringGrad()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            (p * 3).sum().backward()
            done.signal()
        }
        thread.start()
        done.wait()
        (p * p).sum().backward()
        #expect(p.grad?.scalars == [5, 7])
    }
}
