import Foundation
import Testing
import AutoGrad

/// A binary op and the scalar function it must compute, for forward checks against loops.
private struct BinaryOp: Sendable, CustomTestStringConvertible {
    let name: String
    let apply: @Sendable (Tensor, Tensor) -> Tensor
    let reference: @Sendable (Double, Double) -> Double
    var testDescription: String { name }
}

private let binaryOps: [BinaryOp] = [
    BinaryOp(name: "add", apply: { $0 + $1 }, reference: { $0 + $1 }),
    BinaryOp(name: "sub", apply: { $0 - $1 }, reference: { $0 - $1 }),
    BinaryOp(name: "mul", apply: { $0 * $1 }, reference: { $0 * $1 }),
    BinaryOp(name: "div", apply: { $0 / $1 }, reference: { $0 / $1 }),
    BinaryOp(name: "pow", apply: { $0.pow($1) }, reference: { Foundation.pow($0, $1) }),
    BinaryOp(name: "maximum", apply: { maximum($0, $1) }, reference: { Swift.max($0, $1) }),
    BinaryOp(name: "minimum", apply: { minimum($0, $1) }, reference: { Swift.min($0, $1) }),
]

/// `a op b` with NumPy broadcasting, by loops: each output index reads the inputs at the same
/// right-aligned index, or at 0 along their size-1 (or missing) axes.
private func broadcastReference(_ a: Tensor, _ b: Tensor, _ function: (Double, Double) -> Double) -> (shape: [Int], values: [Double]) {
    let rank = max(a.rank, b.rank)
    let padA = Array(repeating: 1, count: rank - a.rank) + a.shape
    let padB = Array(repeating: 1, count: rank - b.rank) + b.shape
    let shape = zip(padA, padB).map { max($0, $1) }
    let va = a.scalars, vb = b.scalars
    let values = multiIndices(shape).map { index -> Double in
        let ia = zip(index, padA).map { $1 == 1 ? 0 : $0 }, ib = zip(index, padB).map { $1 == 1 ? 0 : $0 }
        return function(va[flatPosition(ia, in: padA)], vb[flatPosition(ib, in: padB)])
    }
    return (shape, values)
}

@Suite struct ArithmeticTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("add", [[2, 3], [2, 3]]) { $0[0] + $0[1] },
        GradientCase("add [2,3] + [3]", [[2, 3], [3]]) { $0[0] + $0[1] },
        GradientCase("add [2,1,4] + [3,1]", [[2, 1, 4], [3, 1]]) { $0[0] + $0[1] },
        GradientCase("sub [3] - [2,3]", [[3], [2, 3]]) { $0[0] - $0[1] },
        GradientCase("mul [2,1,4] * [3,1]", [[2, 1, 4], [3, 1]]) { $0[0] * $0[1] },
        GradientCase("mul by scalar tensor", [[2, 3], []]) { $0[0] * $0[1] },
        GradientCase("div", [[2, 3], [2, 3]], .positive) { $0[0] / $0[1] },
        GradientCase("div [2,3] / [3]", [[2, 3], [3]], .positive) { $0[0] / $0[1] },
        GradientCase("div [3,1] / [2,1,4]", [[3, 1], [2, 1, 4]], .positive) { $0[0] / $0[1] },
        GradientCase("pow tensor exponent", [[2, 3], [2, 3]], .positive) { $0[0].pow($0[1]) },
        GradientCase("pow broadcast exponent [3]", [[2, 3], [3]], .positive) { $0[0].pow($0[1]) },
        GradientCase("pow scalar exponent 2.5", [[2, 3]], .positive) { $0[0].pow(2.5) },
        GradientCase("pow scalar exponent -1.5", [[2, 3]], .positive) { $0[0].pow(-1.5) },
        GradientCase("maximum [2,3] with [3]", [[2, 3], [3]]) { maximum($0[0], $0[1]) },
        GradientCase("minimum [2,1,4] with [3,1]", [[2, 1, 4], [3, 1]]) { minimum($0[0], $0[1]) },
        GradientCase("scalar on either side", [[2, 3]], .positive) { x in
            (2 + x[0]) * 3 - (1 - x[0]) / 4 + 5 / x[0] - x[0] * 0.5 + x[0] / 2
        },
        GradientCase("compound assignment", [[2, 3], [3]]) { x in
            var y = x[0]
            y += x[1]
            y *= x[0]
            y -= x[1]
            y /= x[1] * x[1] + 1
            return y
        },
        GradientCase("fan-out x*x + tanh(x)", [[2, 3]]) { $0[0] * $0[0] + $0[0].tanh() },
        GradientCase("fan-out through broadcast", [[3], [2, 3]]) { x in (x[0] * x[1] + x[0]).sum(along: [1]) * x[0].slice(0..<1, along: 0) },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test(arguments: binaryOps, [DType.float32, .float64])
    private func forwardBroadcastsLikeLoops(_ op: BinaryOp, dtype: DType) {
        var generator = RandomGenerator(seed: 1)
        let pairs: [([Int], [Int])] = [([2, 3], [2, 3]), ([2, 3], [3]), ([2, 1, 4], [3, 1]), ([3], []), ([], [2, 2])]
        for (shapeA, shapeB) in pairs {
            let a = randomTensor(shapeA, .positive, dtype: dtype, using: &generator)
            let b = randomTensor(shapeB, .positive, dtype: dtype, using: &generator)
            let expected = broadcastReference(a, b, op.reference)
            let result = op.apply(a, b)
            #expect(result.dtype == dtype)
            // Inputs are exact in either dtype; float32 results round once per element.
            expectTensor(result, shape: expected.shape, expected.values, tolerance: dtype == .float32 ? 1e-6 : 1e-15)
        }
    }

    /// At ties each input gets half the gradient (PyTorch's rule for maximum/minimum).
    @Test func extremumSplitsTiesEvenly() {
        let x = Tensor([1, 2, 3], dtype: .float64).requiringGrad()
        let y = Tensor([1, 0, 5], dtype: .float64).requiringGrad()
        (maximum(x, y) + minimum(x, y) * 10).sum().backward()
        // max: x wins at 1, y at 2, tie at 0; min: the other way round.
        #expect(x.grad?.scalars == [0.5 + 5, 1, 10])
        #expect(y.grad?.scalars == [0.5 + 5, 10, 1])
    }

    /// NaN wins in maximum and minimum whichever side it is on, as in `torch.maximum`.
    @Test func extremumPropagatesNaN() {
        let a = Tensor([.nan, 1, 2]), b = Tensor([1, .nan, 3])
        for result in [maximum(a, b), minimum(a, b), maximum(b, a), minimum(b, a)] {
            #expect(result.scalars[0].isNaN && result.scalars[1].isNaN)
            #expect(!result.scalars[2].isNaN)
        }
    }

    @Test func scalarOperandsTakeTheTensorsDType() {
        let x = Tensor([1, 2], dtype: .float64)
        for result in [x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 2 / x, x.pow(2)] {
            #expect(result.dtype == .float64)
        }
        #expect((1 - x).scalars == [0, -1])
        #expect((2 / x).scalars == [2, 1])
    }

    @Test func constantExponentAllowsNegativeBases() {
        // The exponent's gradient (which needs log of the base) is skipped when it is constant.
        let x = Tensor([-2, 3], dtype: .float64).requiringGrad()
        x.pow(3).sum().backward()
        #expect(x.grad?.scalars == [3 * 4, 3 * 9])
    }
}
