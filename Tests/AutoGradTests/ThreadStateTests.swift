import Dispatch
import Foundation
import Synchronization
import Testing
import AutoGrad

/// Trains a small two-layer tanh regression by SGD and returns its final parameters.
///
/// With `updatesUnderNoGrad` the update and an evaluation pass run inside `noGrad` (so this
/// thread spends part of its time not recording); otherwise the update works on detached
/// values while recording stays on. Either way the arithmetic is the same.
private func trainedParameters(seed: UInt64, steps: Int, updatesUnderNoGrad: Bool) -> [[Float]] {
    var generator = RandomGenerator(seed: seed)
    let input = Tensor.randomNormal([16, 3], using: &generator)
    let target = (input.sum(along: [1], keepDims: true) * 0.5).tanh()
    var parameters = [[3, 8], [8], [8, 1], [1]].map {
        (Tensor.randomNormal($0, using: &generator) * 0.5).requiringGrad()
    }
    let learningRate = 0.1
    for _ in 0..<steps {
        let hidden = (matmul(input, parameters[0]) + parameters[1]).tanh()
        let error = matmul(hidden, parameters[2]) + parameters[3] - target
        let loss = (error * error).mean()
        guard loss.requiresGrad else { return [] }  // recording was switched off by another thread
        loss.backward()
        if updatesUnderNoGrad {
            noGrad {
                for i in parameters.indices { parameters[i].assign(parameters[i] - learningRate * parameters[i].grad!) }
                let evaluation = (matmul((matmul(input, parameters[0]) + parameters[1]).tanh(), parameters[2]) - target).abs().max()
                precondition(!evaluation.requiresGrad)
            }
        } else {
            for i in parameters.indices {
                parameters[i].assign(parameters[i].detached() - learningRate * parameters[i].grad!)
            }
        }
        parameters.forEach { $0.zeroGrad() }
    }
    return parameters.map { [Float]($0) }
}

/// Recording (grad mode) is per thread, so models train on several threads at once.
@Suite struct ThreadStateTests {
    @Test func twoThreadsTrainAsIfAlone() {
        let steps = 300
        let sequential = [trainedParameters(seed: 1, steps: steps, updatesUnderNoGrad: true),
                          trainedParameters(seed: 2, steps: steps, updatesUnderNoGrad: false)]
        let results = Mutex<[Int: [[Float]]]>([:])
        let done = DispatchGroup()
        for (index, underNoGrad) in [true, false].enumerated() {
            done.enter()
            Thread {
                let parameters = trainedParameters(seed: UInt64(index + 1), steps: steps, updatesUnderNoGrad: underNoGrad)
                results.withLock { $0[index] = parameters }
                done.leave()
            }.start()
        }
        done.wait()
        let concurrent = results.withLock { $0 }
        #expect(concurrent[0] == sequential[0])  // bit-identical
        #expect(concurrent[1] == sequential[1])
        #expect(concurrent.values.allSatisfy { !$0.isEmpty })  // recording never went off mid-training
    }

    /// While one thread sits inside `noGrad`, another keeps recording.
    @Test func noGradIsPerThread() {
        let entered = DispatchSemaphore(value: 0), checked = DispatchSemaphore(value: 0), left = DispatchSemaphore(value: 0)
        let otherThreadRecorded = Mutex(false)
        Thread {
            noGrad {
                entered.signal()
                checked.wait()  // stay inside noGrad until the other thread has recorded
            }
            left.signal()
        }.start()
        entered.wait()
        Thread {
            let x = Tensor([1, 2]).requiringGrad()
            otherThreadRecorded.withLock { $0 = isRecording && (x * x).requiresGrad }
            checked.signal()
        }.start()
        left.wait()
        #expect(otherThreadRecorded.withLock { $0 })
    }

    /// Subnormal results are flushed to zero by default on every thread that runs ops
    /// (they slow x86 arithmetic down many times over).
    @Test func newThreadsFlushSubnormals() {
        let flushed = Mutex<[Double]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            let tiny = Tensor([Double(Float.leastNormalMagnitude)]) * 0.25
            flushed.withLock { $0 = tiny.scalars + [flushesDenormals ? 1 : 0] }
            done.signal()
        }.start()
        done.wait()
        #expect(flushed.withLock { $0 } == [0, 1])
    }
}
