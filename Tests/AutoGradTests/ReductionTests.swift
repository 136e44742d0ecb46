import Foundation
import Testing
import AutoGrad

/// A reduction over `axes` by loops: every element is combined into the output element at
/// its index with the reduced axes set to 0.
private func reduceReference(_ x: Tensor, axes: [Int], keepDims: Bool,
                             _ combine: (Double, Double) -> Double) -> (shape: [Int], values: [Double]) {
    let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    var values = [Double?](repeating: nil, count: kept.reduce(1, *))
    let input = x.scalars
    for index in multiIndices(x.shape) {
        let target = flatPosition(index.enumerated().map { axes.contains($0.offset) ? 0 : $0.element }, in: kept)
        let element = input[flatPosition(index, in: x.shape)]
        values[target] = values[target].map { combine($0, element) } ?? element
    }
    let shape = keepDims ? kept : x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    return (shape, values.map { $0! })
}

/// exp of every element, in float64, without the library's ops.
private func elementwiseExp(_ x: Tensor) -> Tensor {
    Tensor(x.scalars.map(Foundation.exp), shape: x.shape, dtype: .float64)
}

/// Softmax of each row of a matrix along `axis` by loops: exp(x) / Σ exp(x).
private func softmaxReference(_ x: Tensor, axis: Int) -> [Double] {
    let sums = reduceReference(elementwiseExp(x), axes: [axis], keepDims: true, +)
    return multiIndices(x.shape).map { index in
        var reduced = index
        reduced[axis] = 0
        return Foundation.exp(x.scalars[flatPosition(index, in: x.shape)]) / sums.values[flatPosition(reduced, in: sums.shape)]
    }
}

@Suite struct ReductionTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("sum all", [[2, 3, 4]]) { $0[0].sum() },
        GradientCase("sum axis 1", [[2, 3, 4]]) { $0[0].sum(along: [1]) },
        GradientCase("sum axes 0,2 keepDims", [[2, 3, 4]]) { $0[0].sum(along: [0, 2], keepDims: true) },
        GradientCase("sum axis -1 keepDims", [[2, 3]]) { $0[0].sum(along: [-1], keepDims: true) },
        GradientCase("mean all", [[2, 3]]) { $0[0].mean() },
        GradientCase("mean axis 0", [[2, 3, 2]]) { $0[0].mean(along: [0]) },
        GradientCase("mean axes 1,2 keepDims", [[2, 3, 2]]) { $0[0].mean(along: [1, 2], keepDims: true) },
        GradientCase("max all", [[2, 3]]) { $0[0].max() },
        GradientCase("max axis 1", [[2, 3, 2]]) { $0[0].max(along: [1]) },
        GradientCase("max axes 0,2 keepDims", [[2, 3, 2]]) { $0[0].max(along: [0, 2], keepDims: true) },
        GradientCase("min axis -1", [[3, 4]]) { $0[0].min(along: [-1]) },
        GradientCase("min axis 0 keepDims", [[3, 4]]) { $0[0].min(along: [0], keepDims: true) },
        GradientCase("sum to [3,1]", [[2, 3, 4]]) { $0[0].sum(toShape: [3, 1]) },
        GradientCase("sum to [4]", [[2, 3, 4]]) { $0[0].sum(toShape: [4]) },
        GradientCase("sum to [1,1,4]", [[2, 3, 4]]) { $0[0].sum(toShape: [1, 1, 4]) },
        GradientCase("logSumExp axis 1", [[3, 4]]) { $0[0].logSumExp(along: 1) },
        GradientCase("logSumExp axis 0 keepDims", [[3, 4]]) { $0[0].logSumExp(along: 0, keepDims: true) },
        GradientCase("softmax last axis", [[3, 4]]) { $0[0].softmax() },
        GradientCase("softmax axis 0", [[3, 4]]) { $0[0].softmax(along: 0) },
        GradientCase("logSoftmax axis 1", [[2, 3, 2]]) { $0[0].logSoftmax(along: 1) },
        GradientCase("softmax weighted", [[3, 4], [3, 4]]) { ($0[0].softmax() * $0[1]).sum() },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test(arguments: [DType.float32, .float64]) func reductionsMatchLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 7)
        let x = randomTensor([2, 3, 4], dtype: dtype, using: &generator)
        let tolerance = dtype == .float32 ? 1e-6 : 1e-14
        for axes in [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]] {
            for keepDims in [false, true] {
                let sum = reduceReference(x, axes: axes, keepDims: keepDims, +)
                expectTensor(x.sum(along: axes, keepDims: keepDims), shape: sum.shape, sum.values, tolerance: tolerance)
                let count = Double(axes.map { x.shape[$0] }.reduce(1, *))
                expectTensor(x.mean(along: axes, keepDims: keepDims), shape: sum.shape, sum.values.map { $0 / count }, tolerance: tolerance)
                let max = reduceReference(x, axes: axes, keepDims: keepDims, Swift.max)
                expectTensor(x.max(along: axes, keepDims: keepDims), shape: max.shape, max.values, tolerance: 0)
                let min = reduceReference(x, axes: axes, keepDims: keepDims, Swift.min)
                expectTensor(x.min(along: axes, keepDims: keepDims), shape: min.shape, min.values, tolerance: 0)
            }
        }
        // Negative axes count from the end; nil is every axis.
        #expect(x.sum(along: [-1]).scalars == x.sum(along: [2]).scalars)
        expectTensor(x.sum(), shape: [], reduceReference(x, axes: [0, 1, 2], keepDims: false, +).values, tolerance: tolerance)
    }

    @Test func sumToShapeMatchesLoops() {
        var generator = RandomGenerator(seed: 8)
        let x = randomTensor([2, 3, 4], using: &generator)
        // [2,3,4] → [3,1]: the leading axis and the last one are summed away.
        let reference = reduceReference(x, axes: [0, 2], keepDims: true, +)
        expectTensor(x.sum(toShape: [3, 1]), shape: [3, 1], reference.values)
        expectTensor(x.sum(toShape: [1, 3, 4]), shape: [1, 3, 4], reduceReference(x, axes: [0], keepDims: true, +).values)
        #expect(x.sum(toShape: [2, 3, 4]).scalars == x.scalars)
    }

    @Test(arguments: [DType.float32, .float64]) func softmaxMatchesLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 9)
        let x = randomTensor([3, 5], dtype: dtype, using: &generator) * 3
        let tolerance = dtype == .float32 ? 1e-6 : 1e-14
        for axis in [0, 1] {
            let probabilities = x.softmax(along: axis)
            expectClose(probabilities.scalars, softmaxReference(x, axis: axis), tolerance: tolerance)
            expectClose(probabilities.sum(along: [axis]).scalars, Array(repeating: 1, count: 15 / x.shape[axis]), tolerance: tolerance)
            expectClose(x.logSoftmax(along: axis).scalars, softmaxReference(x, axis: axis).map(Foundation.log), tolerance: tolerance)
            let sums = reduceReference(elementwiseExp(x), axes: [axis], keepDims: false, +)
            expectTensor(x.logSumExp(along: axis), shape: sums.shape, sums.values.map(Foundation.log), tolerance: tolerance)
        }
    }

    /// Large logits do not overflow: softmax is invariant to shifting a row.
    @Test func softmaxIsShiftInvariantAndStable() {
        let x = Tensor([[0, 1, 2], [-3, 0, 0.5]], dtype: .float64)
        let shifted = x + Tensor([[1000], [-1000]], dtype: .float64)
        expectClose(shifted.softmax().scalars, x.softmax().scalars, tolerance: 1e-13)
        expectClose(shifted.logSumExp(along: 1).scalars, (x.logSumExp(along: 1) + Tensor([1000, -1000], dtype: .float64)).scalars)
    }

    /// Infinite entries behave as in `torch.logsumexp` and `torch.softmax`: −∞ (a masked entry)
    /// contributes nothing, an all −∞ row gives −∞, and +∞ gives +∞.
    @Test func logSumExpHandlesInfinities() {
        let x = Tensor([[-.infinity, -.infinity], [.infinity, 0], [-.infinity, 0]], dtype: .float64)
        #expect(x.logSumExp(along: 1).scalars == [-.infinity, .infinity, 0])
        #expect(x.softmax().scalars.suffix(2) == [0, 1])
        let leaf = Tensor([-.infinity, 0, 0], dtype: .float64).requiringGrad()
        leaf.logSumExp(along: 0).backward()
        #expect(leaf.grad?.scalars == [0, 0.5, 0.5])
    }

    /// The gradient of max/min goes to the elements equal to the extremum, split evenly among
    /// ties (as `torch.amax`).
    @Test func extremumGradientSplitsTies() {
        let x = Tensor([[1, 3, 3], [2, 0, 2]], dtype: .float64).requiringGrad()
        x.max(along: [1]).sum().backward()
        #expect(x.grad?.scalars == [0, 0.5, 0.5, 0.5, 0, 0.5])
        x.zeroGrad()
        x.min().backward()
        #expect(x.grad?.scalars == [0, 0, 0, 0, 1, 0])
    }

    @Test func maxAndMinPropagateNaN() {
        let x = Tensor([1, .nan, 2])
        #expect(x.max().item().isNaN && x.min().item().isNaN)
        #expect(Tensor([.nan, 1]).max().item().isNaN)
    }

    @Test func sumOfAnEmptyAxisIsZero() {
        let x = Tensor(zeros: [2, 0])
        #expect(x.sum(along: [1]).scalars == [0, 0])
        #expect(x.sum().item() == 0)
    }
}
