import Dispatch
import Foundation
import Synchronization
import Testing
import Layers

/// A model touching every initializer path: Linear, Embedding, recurrent cells, Xavier.
private func modelWeights() -> [[Double]] {
    let model = Sequential([Linear(3, 4), Tanh(), LSTM(inputSize: 4, hiddenSize: 2)])
    let embedding = Embedding(5, 3), gru = GRU(inputSize: 3, hiddenSize: 2)
    return (model.parameters() + embedding.parameters() + gru.parameters()).map(\.value.scalars)
        + [Initializer.xavierUniform([2, 3]).scalars]
}

/// Runs `body` on `count` threads at once (started together) and returns their results.
private func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let results = Mutex<[Int: T]>([:])
    let done = DispatchGroup(), start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        done.enter()
        Thread {
            start.wait()
            let result = body(index)
            results.withLock { $0[index] = result }
            done.leave()
        }.start()
    }
    for _ in 0..<count { start.signal() }
    done.wait()
    return results.withLock { dictionary in (0..<count).map { dictionary[$0]! } }
}

/// Layer initializers draw from a generator passed in, or from the calling thread's: never
/// from one shared across threads, so parallel builds with one seed agree (issue 13).
@Suite struct ReproducibilityTests {
    /// Many builds per thread, so the threads' draws overlap in time: with a process-wide
    /// generator they would interleave and the weights would differ.
    @Test func threadsSeededAlikeBuildIdenticalWeights() {
        let builds = onThreads(2) { _ in
            (0..<20).map { _ -> [[Double]] in
                RandomGenerator.seedThread(42)
                return modelWeights()
            }
        }
        // Compared as Bools: a failure printing every weight would be unreadable.
        let threadsAgree = builds[0] == builds[1], buildsAgree = builds[0].allSatisfy { $0 == builds[0][0] }
        #expect(threadsAgree && buildsAgree)
        RandomGenerator.seedThread(43)
        let otherSeedDiffers = modelWeights() != builds[0][0]
        #expect(otherSeedDiffers)
    }

    /// `drawing(from:)` routes every draw of a construction to the given generator and
    /// leaves it advanced, whatever the thread's own generator holds.
    @Test func drawingFromAGeneratorIsIndependentOfTheThread() {
        let results = onThreads(2) { index -> [[Double]] in
            RandomGenerator.seedThread(UInt64(index))  // different thread states: must not matter
            var generator = RandomGenerator(seed: 7)
            var weights = RandomGenerator.drawing(from: &generator) { modelWeights() }
            weights.append([generator.nextUniform()])  // advanced past the draws alike
            return weights
        }
        let threadsAgree = results[0] == results[1]
        #expect(threadsAgree)
    }

    /// The explicit-generator initializers draw exactly what the tensor creators draw.
    @Test func layerInitializersTakeAGenerator() {
        var generator = RandomGenerator(seed: 3), reference = RandomGenerator(seed: 3)
        let linear = Linear(4, 2, using: &generator)
        let bound = 0.5  // 1/√4, PyTorch's bound
        #expect(linear.weight.value.scalars == Tensor.randomUniform([2, 4], low: -bound, high: bound, using: &reference).scalars)
        #expect(linear.bias!.value.scalars == Tensor.randomUniform([2], low: -bound, high: bound, using: &reference).scalars)
        let embedding = Embedding(3, 2, paddingIndex: 1, using: &generator)
        var table = Tensor.randomNormal([3, 2], using: &reference)
        table[1, 0] = 0
        table[1, 1] = 0
        #expect(embedding.weight.value.scalars == table.scalars)
    }
}
