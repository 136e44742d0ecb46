import Testing
import AutoGrad

@Suite struct GatherTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("embedding lookup with repeats", [[5, 3]]) { $0[0].gathering(IndexTensor([4, 0, 4, 2, 4])) },
        GradientCase("index matrix", [[4, 2]]) { $0[0].gathering(IndexTensor([[1, 1], [3, 0]])) },
        GradientCase("middle axis", [[2, 4, 3]]) { $0[0].gathering(IndexTensor([3, 3, 0]), along: 1) },
        GradientCase("last axis, weighted", [[3, 4]]) { $0[0].gathering(IndexTensor([2, 2, 1, 2]), along: -1).tanh() * $0[0].sum(along: [1], keepDims: true) },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test(arguments: [DType.float32, .float64]) func gatherMatchesLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 31)
        let x = randomTensor([3, 4, 2], dtype: dtype, using: &generator)
        let indices = IndexTensor([[3, 0, 3], [1, 1, 2]])
        for axis in 0..<3 {
            let valid = IndexTensor(indices.values.map { $0 % x.shape[axis] }, shape: indices.shape)
            let shape = Array(x.shape[..<axis]) + valid.shape + Array(x.shape[(axis + 1)...])
            // The result's indices along the two index axes pick the source position.
            let expected = multiIndices(shape).map { index -> Double in
                let picked = valid.values[flatPosition(Array(index[axis..<(axis + 2)]), in: valid.shape)]
                return element(x, Array(index[..<axis]) + [picked] + Array(index[(axis + 2)...]))
            }
            expectTensor(x.gathering(valid, along: axis), shape: shape, expected, tolerance: 0)
        }
    }

    /// The gradient of a lookup adds up at repeated indices (scatter-add).
    @Test func repeatedIndicesAccumulate() {
        let table = Tensor(zeros: [4, 2], dtype: .float64).requiringGrad()
        let rows = IndexTensor([2, 0, 2, 2])
        let weights = Tensor([[1, 10], [2, 20], [3, 30], [4, 40]], dtype: .float64)
        (table.gathering(rows) * weights).sum().backward()
        // Row 2 is used by lookups 0, 2 and 3; row 0 by lookup 1; rows 1 and 3 by none.
        #expect(table.grad?.scalars == [2, 20, 0, 0, 1 + 3 + 4, 10 + 30 + 40, 0, 0])
    }

    @Test func oneHotMatchesIndices() {
        let indices = IndexTensor([[2, 0], [1, 2]])
        let encoded = Tensor.oneHot(indices, classCount: 3, dtype: .float64)
        #expect(encoded.shape == [2, 2, 3])
        let expected = multiIndices([2, 2, 3]).map { index -> Double in
            indices.values[flatPosition([index[0], index[1]], in: [2, 2])] == index[2] ? 1 : 0
        }
        #expect(encoded.scalars == expected)
        #expect(encoded.dtype == .float64 && !encoded.requiresGrad)
    }
}
