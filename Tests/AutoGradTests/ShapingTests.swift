import Testing
import AutoGrad

@Suite struct ShapingTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("permute [2,0,1]", [[2, 3, 4]]) { $0[0].permuted([2, 0, 1]) },
        GradientCase("transpose", [[2, 3]]) { $0[0].transposed() },
        GradientCase("transpose axes 0,2", [[2, 3, 2]]) { $0[0].transposed(0, 2) },
        GradientCase("reshape", [[2, 3, 2]]) { $0[0].reshaped(to: [4, 3]) },
        GradientCase("reshape inferred", [[2, 3, 2]]) { $0[0].reshaped(to: [-1, 2]) * $0[0].reshaped(to: [6, 2]) },
        GradientCase("expand [3,1] to [2,3,4]", [[3, 1]]) { $0[0].expanded(to: [2, 3, 4]) },
        GradientCase("expand scalar", [[]]) { $0[0].expanded(to: [2, 2]) },
        GradientCase("reverse axis 0", [[3, 2]]) { $0[0].reversed(along: 0) },
        GradientCase("reverse axis -1", [[2, 3]]) { $0[0].reversed(along: -1) * $0[0] },
        GradientCase("unsqueeze, squeeze, flatten", [[2, 3]]) { x in
            let row = x[0].unsqueezed(at: -1).squeezed(at: 2).flattened()  // [2,3,1] → [2,3] → [6]
            return x[0].unsqueezed(at: 1).expanded(to: [2, 2, 3]).flattened().reshaped(to: [2, 6]) * row
        },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test(arguments: [DType.float32, .float64]) func permuteMatchesLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 11)
        let x = randomTensor([2, 3, 4], dtype: dtype, using: &generator)
        for permutation in [[2, 0, 1], [1, 0, 2], [0, 2, 1], [2, 1, 0]] {
            let result = x.permuted(permutation)
            let shape = permutation.map { x.shape[$0] }
            // Result axis i walks input axis permutation[i].
            let expected = multiIndices(shape).map { index -> Double in
                var source = [0, 0, 0]
                for (axis, position) in zip(permutation, index) { source[axis] = position }
                return element(x, source)
            }
            expectTensor(result, shape: shape, expected, tolerance: 0)
        }
        let matrix = randomTensor([3, 5], dtype: dtype, using: &generator)
        expectTensor(matrix.transposed(), shape: [5, 3], multiIndices([5, 3]).map { element(matrix, [$0[1], $0[0]]) }, tolerance: 0)
        #expect(x.transposed(0, -1).scalars == x.permuted([2, 1, 0]).scalars)
    }

    @Test func expandMatchesLoops() {
        var generator = RandomGenerator(seed: 12)
        let x = randomTensor([3, 1], using: &generator)
        let expected = multiIndices([2, 3, 4]).map { element(x, [$0[1], 0]) }
        expectTensor(x.expanded(to: [2, 3, 4]), shape: [2, 3, 4], expected, tolerance: 0)
        expectTensor(Tensor(7).expanded(to: [2, 2]), shape: [2, 2], [7, 7, 7, 7], tolerance: 0)
    }

    @Test func reverseMatchesLoops() {
        var generator = RandomGenerator(seed: 13)
        let x = randomTensor([2, 3, 4], using: &generator)
        for axis in 0..<3 {
            let expected = multiIndices(x.shape).map { index -> Double in
                var mirrored = index
                mirrored[axis] = x.shape[axis] - 1 - index[axis]
                return element(x, mirrored)
            }
            expectTensor(x.reversed(along: axis), shape: x.shape, expected, tolerance: 0)
        }
    }

    @Test func reshapeKeepsRowMajorOrder() {
        let x = Tensor.arange(0, 24).reshaped(to: [2, 3, 4])
        #expect(x.shape == [2, 3, 4])
        #expect(x.scalars == (0..<24).map(Double.init))
        #expect(x.reshaped(to: [4, -1]).shape == [4, 6])
        #expect(x.unsqueezed(at: 0).shape == [1, 2, 3, 4])
        #expect(x.unsqueezed(at: -1).shape == [2, 3, 4, 1])
        #expect(x.unsqueezed(at: 1).squeezed(at: 1).shape == [2, 3, 4])
        #expect(x.flattened().shape == [24])
        #expect(element(x, [1, 2, 3]) == 23 && x[1, 2, 3] == 23)
    }

    /// Shaping ops that change nothing return the tensor itself, so they record no node.
    @Test func identityShapingRecordsNothing() {
        let x = Tensor(zeros: [2, 3], dtype: .float64).requiringGrad()
        for same in [x.reshaped(to: [2, 3]), x.permuted([0, 1]), x.expanded(to: [2, 3]), x.slice(0..<2, along: 0)] {
            #expect(same.isLeaf)
        }
        #expect(!x.transposed().isLeaf)
    }
}
