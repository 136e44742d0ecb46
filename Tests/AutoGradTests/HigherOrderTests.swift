import Foundation
import Testing
import AutoGrad

/// Second and higher derivatives: backward recorded with `createGraph` differentiates again.
@Suite struct HigherOrderTests {
    static let secondOrderCases: [GradientCase] = [
        GradientCase("mul", [[2, 3], [3]]) { $0[0] * $0[1] * $0[0] },
        GradientCase("div", [[2, 3], [2, 3]], .positive) { $0[0] / $0[1] },
        GradientCase("pow", [[2, 3], [2, 3]], .positive) { $0[0].pow($0[1]) },
        GradientCase("exp", [[2, 3]]) { $0[0].exp() },
        GradientCase("log", [[2, 3]], .positive) { $0[0].log() },
        GradientCase("sqrt", [[2, 3]], .positive) { $0[0].sqrt() },
        GradientCase("tanh", [[2, 3]]) { $0[0].tanh() },
        GradientCase("sigmoid", [[2, 3]]) { $0[0].sigmoid() },
        GradientCase("softplus", [[2, 3]]) { $0[0].softplus() },
        GradientCase("matmul", [[2, 3], [4, 3]]) { matmul($0[0], $0[1], transposeB: true).tanh() },
        GradientCase("batched matmul, transposed A", [[2, 3, 2], [2, 3, 2]]) { matmul($0[0], $0[1], transposeA: true) * $0[0].sum() },
        GradientCase("softmax", [[2, 4]]) { $0[0].softmax() },
        GradientCase("logSoftmax weighted", [[2, 4], [2, 4]]) { ($0[0].logSoftmax() * $0[1]).sum(along: [1]) },
        GradientCase("gather and concat", [[4, 2]]) { x in
            concat([x[0].gathering(IndexTensor([3, 1, 3])), x[0].slice(0..<4, along: 0, step: 2)], along: 0).exp()
        },
        GradientCase("mean of squares over broadcast", [[3, 1], [4]]) { (($0[0] - $0[1]) * ($0[0] - $0[1])).mean(along: [0]) },
    ]

    @Test(arguments: secondOrderCases) func secondOrder(_ row: GradientCase) throws {
        try checkSecondOrderGradients(of: row.function, at: row.inputs())
    }

    /// σ'' = σ(1 − σ)(1 − 2σ) and tanh''' = −2(1 − t²)(1 − 3t²), closed forms by hand.
    @Test func higherDerivativesMatchClosedForms() {
        var generator = RandomGenerator(seed: 51)
        let x = randomTensor([5], using: &generator) * 2
        let leaf = x.requiringGrad()
        func derivative(_ y: Tensor, createGraph: Bool = true) -> Tensor {
            gradients(of: y.sum(), withRespectTo: [leaf], createGraph: createGraph)[0]
        }
        let sigmoidSecond = derivative(derivative(leaf.sigmoid()), createGraph: false)
        let tanhThird = derivative(derivative(derivative(leaf.tanh())), createGraph: false)
        let expectedSigmoid = x.scalars.map { v -> Double in
            let s = 1 / (1 + Foundation.exp(-v))
            return s * (1 - s) * (1 - 2 * s)
        }
        let expectedTanh = x.scalars.map { v -> Double in
            let t = Foundation.tanh(v)
            return -2 * (1 - t * t) * (1 - 3 * t * t)
        }
        expectClose(sigmoidSecond.scalars, expectedSigmoid, tolerance: 1e-14)
        expectClose(tanhThird.scalars, expectedTanh, tolerance: 1e-14)
    }

    /// A Hessian-vector product of a two-layer tanh MLP's loss (double backward) agrees with
    /// central differences of its gradient: (∇f(θ + εv) − ∇f(θ − εv)) / 2ε.
    @Test func hessianVectorProductOfAnMLP() {
        var generator = RandomGenerator(seed: 52)
        let input = randomTensor([5, 3], using: &generator), target = randomTensor([5, 2], using: &generator)
        let parameters = [[4, 3], [4], [2, 4], [2]].map { randomTensor($0, using: &generator) }
        let direction = parameters.map { randomTensor($0.shape, using: &generator) }
        func loss(_ p: [Tensor]) -> Tensor {
            let hidden = (matmul(input, p[0], transposeB: true) + p[1]).tanh()
            let output = (matmul(hidden, p[2], transposeB: true) + p[3]).tanh()
            return ((output - target) * (output - target)).mean()
        }
        func gradient(at p: [Tensor], createGraph: Bool = false) -> (leaves: [Tensor], gradient: [Tensor]) {
            let leaves = p.map { $0.requiringGrad() }
            return (leaves, gradients(of: loss(leaves), withRespectTo: leaves, createGraph: createGraph))
        }
        let (leaves, first) = gradient(at: parameters, createGraph: true)
        let projection = zip(first, direction).map { ($0 * $1).sum() }.reduce(Tensor(0, dtype: .float64), +)
        let hvp = gradients(of: projection, withRespectTo: leaves)

        let epsilon = 1e-5
        let plus = gradient(at: zip(parameters, direction).map { $0 + epsilon * $1 }).gradient
        let minus = gradient(at: zip(parameters, direction).map { $0 - epsilon * $1 }).gradient
        for (analytic, (high, low)) in zip(hvp, zip(plus, minus)) {
            let numeric = zip(high.scalars, low.scalars).map { ($0 - $1) / (2 * epsilon) }
            expectClose(analytic.scalars, numeric, tolerance: 1e-7)
        }
        #expect(hvp.allSatisfy { $0.scalars.contains { $0 != 0 } })
    }

    /// With createGraph the gradient is itself recorded (and requires gradients); without it
    /// the gradient is a plain value.
    @Test func createGraphRecordsTheBackwardPass() {
        let x = Tensor([0.3, -0.7], dtype: .float64).requiringGrad()
        let recorded = gradients(of: x.tanh().sum(), withRespectTo: [x], createGraph: true)[0]
        #expect(recorded.requiresGrad)
        #expect(Graph(recorded).inputs.contains { $0 === x.graphNode })
        let plain = gradients(of: x.tanh().sum(), withRespectTo: [x])[0]
        #expect(!plain.requiresGrad)
        x.tanh().sum().backward(createGraph: true)
        #expect(x.grad?.requiresGrad == true)
    }
}
