import Foundation
import Synchronization
import Testing
@testable import AutoGrad

/// op(A)·op(B) for one row-major matrix pair by the triple loop, in float64; `a` is m×k
/// (k×m when transposed) and `b` is k×n (n×k when transposed).
private func tripleLoop(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>, m: Int, k: Int, n: Int,
                        transposeA: Bool, transposeB: Bool) -> [Double] {
    let a = Array(a), b = Array(b)
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                sum += (transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j])
            }
            c[i * n + j] = sum
        }
    }
    return c
}

/// The four transpose flag combinations.
private let flagCombinations = [(false, false), (false, true), (true, false), (true, true)]

/// The stored shape of an m×k operand read transposed or not, behind `batch` axes.
private func storedShape(_ batch: [Int], _ rows: Int, _ columns: Int, transposed: Bool) -> [Int] {
    batch + (transposed ? [columns, rows] : [rows, columns])
}

@Suite struct MatMulTests {
    static let gradientCases: [GradientCase] = flagCombinations.flatMap { transposeA, transposeB in
        let flags = "transA=\(transposeA) transB=\(transposeB)"
        return [
            GradientCase("2-D \(flags)", [storedShape([], 2, 3, transposed: transposeA), storedShape([], 3, 4, transposed: transposeB)]) {
                matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB)
            },
            GradientCase("batched \(flags)", [storedShape([2], 2, 3, transposed: transposeA), storedShape([2], 3, 2, transposed: transposeB)]) {
                matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB)
            },
            GradientCase("broadcast batch \(flags)", [storedShape([2, 1], 2, 3, transposed: transposeA), storedShape([3], 3, 2, transposed: transposeB)]) {
                matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB)
            },
        ]
    } + [
        GradientCase("matrix times batch", [[2, 3], [2, 3, 2]]) { matmul($0[0], $0[1]) },
        GradientCase("batch times matrix, reused", [[2, 2, 3], [3, 3]]) { x in matmul(matmul(x[0], x[1]), x[1], transposeB: true).tanh() },
        GradientCase("Gram matrix x·xᵀ", [[3, 4]]) { matmul($0[0], $0[0], transposeB: true) },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    /// Batched products with broadcast batch axes and every flag combination, at odd sizes
    /// and at sizes past 64 (where blocked kernels change tiles) and past the threshold at
    /// which the product is split across threads.
    @Test(arguments: [DType.float32, .float64], [(7, 13, 5), (67, 130, 71), (90, 80, 40), (1, 65, 3)])
    func forwardMatchesTripleLoop(dtype: DType, size: (m: Int, k: Int, n: Int)) {
        var generator = RandomGenerator(seed: 41)
        let (m, k, n) = size
        let batched = m * k * n < 10_000
        let batchA = batched ? [2, 1] : [], batchB = batched ? [3] : []
        for (transposeA, transposeB) in flagCombinations {
            let a = randomTensor(storedShape(batchA, m, k, transposed: transposeA), dtype: dtype, using: &generator)
            let b = randomTensor(storedShape(batchB, k, n, transposed: transposeB), dtype: dtype, using: &generator)
            let result = matmul(a, b, transposeA: transposeA, transposeB: transposeB)
            let batchShape = batched ? [2, 3] : []
            #expect(result.shape == batchShape + [m, n])
            let va = a.scalars, vb = b.scalars
            let expected = multiIndices(batchShape).flatMap { batch -> [Double] in
                // A's batch axes are [2,1] and B's [3]: broadcasting picks A's row, B's column.
                let aStart = (batch.first ?? 0) * m * k, bStart = (batch.last ?? 0) * k * n
                return tripleLoop(va[aStart..<(aStart + m * k)], vb[bStart..<(bStart + k * n)], m: m, k: k, n: n,
                                  transposeA: transposeA, transposeB: transposeB)
            }
            // Inputs in [-1, 1]: float32 accumulation error grows about like √k·2⁻²⁴ per entry.
            expectClose(result.scalars, expected, tolerance: dtype == .float32 ? 1e-5 : 1e-13)
        }
    }

    /// Many matrices in one call take the path that splits the batch across threads.
    @Test func largeBatchMatchesTripleLoop() {
        var generator = RandomGenerator(seed: 42)
        let a = randomTensor([4, 33, 70], using: &generator), b = randomTensor([4, 70, 40], using: &generator)
        let va = a.scalars, vb = b.scalars
        let (m, k, n) = (33, 70, 40)
        let expected = (0..<4).flatMap { (i: Int) -> [Double] in
            let aStart = i * m * k, bStart = i * k * n
            return tripleLoop(va[aStart..<(aStart + m * k)], vb[bStart..<(bStart + k * n)],
                              m: m, k: k, n: n, transposeA: false, transposeB: false)
        }
        expectClose(matmul(a, b).scalars, expected, tolerance: 1e-13)
    }

    @Test func threadCountDoesNotChangeResults() {
        var generator = RandomGenerator(seed: 43)
        let a = randomTensor([90, 70], dtype: .float32, using: &generator), b = randomTensor([70, 80], dtype: .float32, using: &generator)
        let previous = ComputeThreads.maximum
        defer { ComputeThreads.maximum = previous }
        ComputeThreads.maximum = 1
        let single = matmul(a, b).scalars
        ComputeThreads.maximum = 2
        #expect(matmul(a, b).scalars == single)
    }

    /// In a task of a parallel loop the pool is taken, so work started there does not split
    /// (its parts would only run one after another); after the loop it may use every thread.
    /// (Other tests change ``ComputeThreads/maximum`` concurrently: this one does not read it.)
    @Test func workInsideAParallelTaskDoesNotSplit() {
        #expect(!ComputeThreads.isInParallelTask)
        let seen = Mutex<[Int]>([])
        ComputeThreads.concurrentPerform(2) { _ in
            let threads = (ComputeThreads.isInParallelTask, ComputeThreads.available)
            seen.withLock { $0.append(threads.0 && threads.1 == 1 ? 1 : 0) }
        }
        #expect(seen.withLock { $0 } == [1, 1])
        #expect(!ComputeThreads.isInParallelTask)
    }

    @Test func emptyInnerDimensionGivesZeros() {
        let product = matmul(Tensor(zeros: [2, 0]), Tensor(zeros: [0, 3]))
        #expect(product.shape == [2, 3] && product.scalars == Array(repeating: 0, count: 6))
    }

    /// Two threads multiplying large matrices at once share one worker pool: whichever finds it
    /// busy runs alone. Every product must still be exact.
    @Test func concurrentLargeProductsFromTwoThreadsAreCorrect() {
        var generator = RandomGenerator(seed: 44)
        let a = randomTensor([96, 80], dtype: .float32, using: &generator), b = randomTensor([80, 120], dtype: .float32, using: &generator)
        let expected = matmul(a, b).scalars
        let results = Mutex<[[Double]]>([])
        let threads = (0..<2).map { _ in
            Thread {
                for _ in 0..<20 {
                    let product = matmul(a, b).scalars
                    results.withLock { $0.append(product) }
                }
            }
        }
        threads.forEach { $0.start() }
        while results.withLock({ $0.count }) < 40 { Thread.sleep(forTimeInterval: 0.001) }
        #expect(results.withLock { $0.allSatisfy { $0 == expected } })
    }
}
