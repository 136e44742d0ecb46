import Foundation
import Testing
import AutoGrad

/// argmax / argmin / top-k, take-along-axis, the categorical sampler and IndexTensor shaping,
/// against the test's own loops and the gradient checker.
@Suite struct SelectionTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("take along the last axis, repeats", [[3, 4]]) {
            $0[0].taking(IndexTensor([[3, 3, 0], [1, 2, 1], [0, 0, 0]]), along: 1).tanh() * 2
        },
        GradientCase("take along the first axis", [[3, 2, 2]]) {
            $0[0].taking(IndexTensor([2, 0, 1, 1, 0, 0, 2, 2], shape: [2, 2, 2]), along: 0)
        },
        GradientCase("top-2 values along the middle axis", [[2, 5, 3]]) { $0[0].topK(2, along: 1).values * $0[0].sum() },
        GradientCase("smallest 3 along the last axis", [[4, 6]]) { $0[0].topK(3, largest: false).values.exp() },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test func argmaxAndArgminMatchLoops() {
        var generator = RandomGenerator(seed: 8)
        let x = randomTensor([3, 4, 5], using: &generator)
        for axis in 0..<3 {
            var reducedShape = x.shape
            reducedShape.remove(at: axis)
            let maxima = x.argmax(along: axis), minima = x.argmin(along: axis)
            #expect(maxima.shape == reducedShape && minima.shape == reducedShape)
            for index in multiIndices(reducedShape) {
                let line = (0..<x.shape[axis]).map { k -> Double in
                    var full = index
                    full.insert(k, at: axis)
                    return element(x, full)
                }
                let position = flatPosition(index, in: reducedShape)
                #expect(maxima.values[position] == line.firstIndex(of: line.max()!)!)
                #expect(minima.values[position] == line.firstIndex(of: line.min()!)!)
            }
        }
        #expect(x.argmax(along: 1, keepDims: true).shape == [3, 1, 5])
    }

    /// PyTorch: the first of equal maxima; NaN wins argmax and argmin.
    @Test func tiesAndNaN() {
        let x = Tensor([[1, 3, 3, 0], [2, .nan, 5, .nan]], dtype: .float64)
        #expect(x.argmax().values == [1, 1])
        #expect(x.argmin().values == [3, 1])
        let top = x.topK(2)
        #expect(top.indices.values == [1, 2, 1, 3])
    }

    @Test func topKSortsAndPicksTheValues() {
        let x = Tensor([[0.5, -1, 2, 0.5, 7], [3, 1, 4, 1, 5]], dtype: .float64)
        let (values, indices) = x.topK(3)
        #expect(indices == IndexTensor([[4, 2, 0], [4, 2, 0]]))
        #expect(values.scalars == [7, 2, 0.5, 5, 4, 3])
        let (low, lowIndices) = x.topK(2, largest: false)
        #expect(lowIndices == IndexTensor([[1, 0], [1, 3]]) && low.scalars == [-1, 0.5, 1, 1])
        #expect(x.topK(0).values.shape == [2, 0])
    }

    /// The gradient of the chosen values lands on the chosen positions, and repeats add up.
    @Test func takeScattersGradientBack() {
        let x = Tensor([[1, 2, 3], [4, 5, 6]], dtype: .float64).requiringGrad()
        (x.taking(IndexTensor([[2, 2], [0, 1]]), along: 1) * Tensor([[1, 10], [100, 1000]], dtype: .float64)).sum().backward()
        #expect(x.grad?.scalars == [0, 0, 11, 100, 1000, 0])
    }

    /// Sample frequencies approach softmax(logits / temperature) (4σ bounds for 20 000 draws).
    @Test func categoricalSamplesFollowTheSoftmax() {
        var generator = RandomGenerator(seed: 3)
        let logits = Tensor([Foundation.log(0.1), Foundation.log(0.2), Foundation.log(0.7), -.infinity], dtype: .float64)
        let draws = 20_000
        for temperature in [1.0, 0.5] {
            var counts = [0, 0, 0, 0]
            let batch = logits.reshaped(to: [1, 4]).expanded(to: [draws, 4])
            let samples = sampleCategorical(logits: batch, temperature: temperature, using: &generator)
            #expect(samples.shape == [draws])
            for sample in samples.values { counts[sample] += 1 }
            let weights = [0.1, 0.2, 0.7].map { Foundation.pow($0, 1 / temperature) }
            let expected = weights.map { $0 / weights.reduce(0, +) } + [0]
            for (count, p) in zip(counts, expected) {
                let sigma = (p * (1 - p) / Double(draws)).squareRoot()
                #expect(abs(Double(count) / Double(draws) - p) <= 4 * sigma + 1e-12)
            }
        }
    }

    @Test func indexTensorShaping() {
        let ids = IndexTensor(Array(0..<24), shape: [2, 3, 4])
        #expect(ids[1, 2, 3] == 23 && ids.rank == 3)
        #expect(ids.reshaped(to: [6, -1]).shape == [6, 4])
        #expect(ids.slice(1..<3, along: 1).values == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        #expect(ids.select(-1, along: 2) == IndexTensor([[3, 7, 11], [15, 19, 23]]))
        #expect(ids.select(0, along: 0).values == Array(0..<12))
        let transposed = ids.transposed(0, 2)
        #expect(transposed.shape == [4, 3, 2])
        for index in multiIndices([4, 3, 2]) { #expect(transposed[index[0], index[1], index[2]] == ids[index[2], index[1], index[0]]) }
        let joined = concat([IndexTensor([[1, 2], [3, 4]]), IndexTensor([[5], [6]])], along: 1)
        #expect(joined == IndexTensor([[1, 2, 5], [3, 4, 6]]))
        #expect(concat([IndexTensor([[1, 2]]), IndexTensor([[3, 4]])], along: 0) == IndexTensor([[1, 2], [3, 4]]))
        #expect(stack([IndexTensor([1, 2]), IndexTensor([3, 4])], along: 1) == IndexTensor([[1, 3], [2, 4]]))
    }

    @Test func misuseNamesTheOp() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).topK(4, along: 1)
        }
        expectStandardError(result, contains: ["topk:", "k = 4", "[2,3]"])
        let take = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).taking(IndexTensor([[0, 3]]), along: 1)
        }
        expectStandardError(take, contains: ["take_along_axis:", "[1,2]", "[2,3]"])
    }
}
