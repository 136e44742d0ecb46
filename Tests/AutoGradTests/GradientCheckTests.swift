import Foundation
import Testing
@testable import AutoGrad

/// A primitive with a deliberately wrong pullback (d/dx x³ claimed to be 2x²), to show the
/// checker catches broken gradient rules.
private struct WrongCube: UnaryElementwisePrimitive {
    var name: String { "wrong_cube" }
    func value<T: FloatElement>(_ x: T) -> T { x * x * x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * 2 * inputs[0] * inputs[0]]
    }
}

@Suite struct GradientCheckTests {
    @Test func passesOnCorrectRule() throws {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([2, 3], dtype: .float64, using: &rng)
        try checkGradients(of: { ($0[0] * $0[0] * $0[0]).tanh() }, at: [x])
    }

    @Test func catchesWrongRuleAndNamesTheEntry() {
        var rng = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([3], dtype: .float64, using: &rng) + 2
        let report = gradientCheck(of: { apply(WrongCube(), [$0[0]]) }, at: [x])
        #expect(!report.passed)
        #expect(report.mismatches.count == 3)  // the three diagonal Jacobian entries
        let worst = try! #require(report.worst)
        // Analytic 2x², numeric 3x² at the worst element.
        let value = x[worst.inputElement[0]]
        #expect(abs(worst.analytic - 2 * value * value) < 1e-9)
        #expect(abs(worst.numeric - 3 * value * value) < 1e-4)
        #expect(report.description.contains("input 0 element"))
        #expect(throws: GradientCheckError.self) { try checkGradients(of: { apply(WrongCube(), [$0[0]]) }, at: [x]) }
    }

    @Test func fastModeAlsoCatchesWrongRule() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([4], dtype: .float64, using: &rng) + 2
        #expect(!gradientCheck(of: { apply(WrongCube(), [$0[0]]) }, at: [x], fastMode: true).passed)
        #expect(gradientCheck(of: { $0[0].tanh() }, at: [x], fastMode: true).passed)
    }

    @Test func secondOrderOfTanh() throws {
        var rng = RandomGenerator(seed: 6)
        let x = Tensor.randomNormal([5], dtype: .float64, using: &rng)
        try checkSecondOrderGradients(of: { $0[0].tanh() }, at: [x])
        // d²/dx² tanh = −2 tanh (1 − tanh²), against the closed form.
        let leaf = x.requiringGrad()
        let first = gradients(of: leaf.tanh().sum(), withRespectTo: [leaf], createGraph: true)[0]
        let second = gradients(of: first.sum(), withRespectTo: [leaf])[0]
        for i in 0..<5 {
            let t = Foundation.tanh(x[i])
            #expect(abs(second[i] - (-2 * t * (1 - t * t))) < 1e-12)
        }
    }
}
