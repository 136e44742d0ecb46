import Foundation
import Testing
import AutoGrad

/// A unary op and the scalar function it must compute.
private struct UnaryOp: Sendable, CustomTestStringConvertible {
    let name: String
    let domain: Domain
    let apply: @Sendable (Tensor) -> Tensor
    let reference: @Sendable (Double) -> Double
    var testDescription: String { name }
}

private func logistic(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

private let unaryOps: [UnaryOp] = [
    UnaryOp(name: "neg", domain: .any, apply: { -$0 }, reference: { -$0 }),
    UnaryOp(name: "exp", domain: .any, apply: { $0.exp() }, reference: Foundation.exp),
    UnaryOp(name: "log", domain: .positive, apply: { $0.log() }, reference: Foundation.log),
    UnaryOp(name: "sqrt", domain: .positive, apply: { $0.sqrt() }, reference: Foundation.sqrt),
    UnaryOp(name: "abs", domain: .awayFromZero, apply: { $0.abs() }, reference: Swift.abs),
    UnaryOp(name: "tanh", domain: .any, apply: { $0.tanh() }, reference: Foundation.tanh),
    UnaryOp(name: "sigmoid", domain: .any, apply: { $0.sigmoid() }, reference: logistic),
    UnaryOp(name: "relu", domain: .awayFromZero, apply: { $0.relu() }, reference: { Swift.max($0, 0) }),
    UnaryOp(name: "leakyRelu", domain: .awayFromZero, apply: { $0.leakyRelu() }, reference: { $0 > 0 ? $0 : 0.01 * $0 }),
    UnaryOp(name: "leakyRelu slope 0.2", domain: .awayFromZero, apply: { $0.leakyRelu(negativeSlope: 0.2) },
            reference: { $0 > 0 ? $0 : 0.2 * $0 }),
    UnaryOp(name: "softplus", domain: .any, apply: { $0.softplus() }, reference: { Foundation.log(1 + Foundation.exp($0)) }),
    UnaryOp(name: "clamp", domain: .any, apply: { $0.clamped(min: -0.5, max: 0.3) }, reference: { Swift.min(Swift.max($0, -0.5), 0.3) }),
    UnaryOp(name: "clamp min only", domain: .any, apply: { $0.clamped(min: -0.5) }, reference: { Swift.max($0, -0.5) }),
    UnaryOp(name: "clamp to range", domain: .any, apply: { $0.clamped(to: -0.2...0.4) }, reference: { Swift.min(Swift.max($0, -0.2), 0.4) }),
]

@Suite struct MathTests {
    @Test(arguments: unaryOps) private func gradient(_ op: UnaryOp) throws {
        var generator = RandomGenerator(seed: 2)
        // Inputs for clamp may land in the flat parts: that checks the zero gradient there.
        try checkGradients(of: { op.apply($0[0]) }, at: [randomTensor([2, 3], op.domain, using: &generator)])
    }

    @Test(arguments: unaryOps, [DType.float32, .float64]) private func forwardMatchesScalarFunction(_ op: UnaryOp, dtype: DType) {
        var generator = RandomGenerator(seed: 3)
        let x = randomTensor([3, 5], op.domain, dtype: dtype, using: &generator)
        let result = op.apply(x)
        #expect(result.dtype == dtype && result.shape == x.shape)
        expectClose(result.scalars, x.scalars.map(op.reference), tolerance: dtype == .float32 ? 1e-6 : 1e-15)
    }

    @Test func fanOutAndComposition() throws {
        var generator = RandomGenerator(seed: 4)
        let x = randomTensor([2, 3], .positive, using: &generator)
        try checkGradients(of: { x in (x[0] * x[0] + x[0].tanh()).log() * x[0].sqrt().sigmoid() + x[0].exp().softplus() }, at: [x])
    }

    /// Sigmoid and softplus stay finite where the naive formulas overflow.
    @Test func saturatingFunctionsAreStable() {
        for dtype in DType.allCases {
            let x = Tensor([-1000, -100, 100, 1000], dtype: dtype)
            let sigmoid = x.sigmoid().scalars, softplus = x.softplus().scalars
            #expect(sigmoid[0] == 0 && sigmoid[2] == 1 && sigmoid[3] == 1)
            #expect(sigmoid[1] >= 0 && sigmoid[1] < 1e-40)
            #expect(softplus[0] == 0 && softplus[2] == 100 && softplus[3] == 1000)
            #expect(softplus[1] >= 0 && softplus[1] < 1e-40)
        }
    }

    /// PyTorch's subgradients at the kinks: relu and abs give 0 at 0, leaky relu its slope,
    /// clamp passes the gradient at its bounds (inclusive).
    @Test func gradientsAtKinksFollowPyTorch() {
        let x = Tensor([0, -0.5, 0.3, 1], dtype: .float64).requiringGrad()
        func gradient(_ f: (Tensor) -> Tensor) -> [Double] {
            gradients(of: f(x).sum(), withRespectTo: [x])[0].scalars
        }
        #expect(gradient { $0.relu() } == [0, 0, 1, 1])
        #expect(gradient { $0.abs() } == [0, -1, 1, 1])
        #expect(gradient { $0.leakyRelu(negativeSlope: 0.2) } == [0.2, 0.2, 1, 1])
        #expect(gradient { $0.clamped(min: -0.5, max: 0.3) } == [1, 1, 1, 0])
    }

    @Test func dtypeConversionRoundTrip() throws {
        var generator = RandomGenerator(seed: 5)
        let x = randomTensor([2, 3], using: &generator)
        // Through float32 the values round to ~1e-7, so the step must be far larger than that.
        try checkGradients(of: { ($0[0].to(.float32).to(.float64) * 3).tanh() }, at: [x],
                           tolerance: .init(epsilon: 1e-3))
        let leaf = Tensor([1, 2], dtype: .float32).requiringGrad()
        let doubled = leaf.to(.float64) * 2
        #expect(doubled.dtype == .float64)
        doubled.sum().backward()
        #expect(leaf.grad?.dtype == .float32)
        #expect(leaf.grad?.scalars == [2, 2])
        #expect(x.to(.float64).graphNode == nil)  // converting to the own dtype records nothing
    }

    /// Above PyTorch's threshold of 20 softplus is x itself with gradient exactly 1; below, the
    /// gradient is σ(x).
    @Test func softplusFollowsPyTorchThreshold() {
        let x = Tensor([5, 30], dtype: .float64).requiringGrad()
        let y = x.softplus()
        #expect(y.scalars == [Foundation.log1p(Foundation.exp(5.0)), 30])
        y.sum().backward()
        #expect(x.grad?.scalars == [1 / (1 + Foundation.exp(-5.0)), 1])
    }
}
