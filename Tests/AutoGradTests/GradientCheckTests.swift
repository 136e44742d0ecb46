import Foundation
import Testing
@testable import AutoGrad

/// A primitive with a deliberately wrong pullback (d/dx x³ claimed to be 2x²), to show the
/// checker catches broken gradient rules (also used by GradientCheckCulpritTests).
struct WrongCube: UnaryElementwisePrimitive {
    var name: String { "wrong_cube" }
    func value<T: FloatElement>(_ x: T) -> T { x * x * x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * 2 * inputs[0] * inputs[0]]
    }
}

/// x² whose pullback 2x·g is right but computed as a constant, so it cannot be differentiated
/// again: first-order checks pass, second-order checks must not.
private struct OpaqueSquare: UnaryElementwisePrimitive {
    var name: String { "opaque_square" }
    func value<T: FloatElement>(_ x: T) -> T { x * x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let slope = Tensor(inputs[0].scalars.map { 2 * $0 }, shape: inputs[0].shape, dtype: inputs[0].dtype)
        return [gradient * slope]
    }
}

/// x² with a pullback 0.5% too large: outside the default relative tolerance (0.1%).
private struct SlightlyWrongSquare: UnaryElementwisePrimitive {
    var name: String { "slightly_wrong_square" }
    func value<T: FloatElement>(_ x: T) -> T { x * x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * inputs[0] * 2.01]
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

    @Test func secondOrderCatchesAPullbackThatIsNotDifferentiable() throws {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randomNormal([4], dtype: .float64, using: &rng)
        try checkGradients(of: { apply(OpaqueSquare(), [$0[0]]) * $0[0] }, at: [x])
        #expect(throws: GradientCheckError.self) {
            try checkSecondOrderGradients(of: { apply(OpaqueSquare(), [$0[0]]) * $0[0] }, at: [x])
        }
    }

    @Test func tolerancesFollowPyTorchDefaults() throws {
        let x = Tensor([0.5, 1, 2], dtype: .float64) + 1
        let wrong: ([Tensor]) -> Tensor = { apply(SlightlyWrongSquare(), [$0[0]]) }
        #expect(!gradientCheck(of: wrong, at: [x]).passed)
        try checkGradients(of: wrong, at: [x], tolerance: .init(relative: 1e-2))
        let defaults = GradientCheckTolerance()
        #expect(defaults.epsilon == 1e-6 && defaults.absolute == 1e-5 && defaults.relative == 1e-3)
    }

    @Test func reportCountsEntriesAndNamesTheOutputElement() {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 3], dtype: .float64, using: &rng)
        let y = Tensor.randomNormal([3], dtype: .float64, using: &rng)
        // The full Jacobian: 6 outputs × (6 + 3) input elements.
        let report = gradientCheck(of: { $0[0] * $0[1] }, at: [x, y])
        #expect(report.passed && report.comparedCount == 6 * 9 && report.warnings.isEmpty)
        #expect(report.description.hasPrefix("Gradient check passed: 54 entries"))
        #expect(gradientCheck(of: { $0[0] * $0[1] }, at: [x, y], fastMode: true).comparedCount == 1)

        let failing = gradientCheck(of: { apply(SlightlyWrongSquare(), [$0[0]]) }, at: [x + 3])
        #expect(failing.description.hasPrefix("Gradient check FAILED: 6 of 36 entries"))
        #expect(failing.mismatches.allSatisfy { $0.outputElement == $0.inputElement[0] * 3 + $0.inputElement[1] })
        #expect(failing.description.contains("output element"))
    }

    @Test func warnsAboutFloat32() {
        let x = Tensor([0.1, 0.2, 0.3])  // float32
        let converted = gradientCheck(of: { $0[0].tanh() }, at: [x])
        #expect(converted.warnings.count == 1 && converted.warnings[0].contains("float32 inputs"))
        let float32Output = gradientCheck(of: { $0[0].to(.float32).tanh() }, at: [x.to(.float64)])
        #expect(float32Output.warnings.contains { $0.contains("returns float32") })
    }

    @Test func inputsThatDoNotMatterGetZeroGradients() throws {
        let x = Tensor([1, 2], dtype: .float64), unused = Tensor([3], dtype: .float64)
        try checkGradients(of: { $0[0].exp() }, at: [x, unused])
        try checkGradients(of: { _ in Tensor([1, 2], dtype: .float64) }, at: [x])  // a constant function
        try checkSecondOrderGradients(of: { $0[0] * 2 }, at: [x, unused])         // a linear one
    }

    /// With `parameters:`, gradients reach a parameter through its own leaf; a forward that
    /// cuts the parameter from the graph (detached) is caught and the report names it.
    @Test func checksParametersAndNamesThem() throws {
        var rng = RandomGenerator(seed: 9)
        let weight = Parameter(Tensor.randomNormal([3, 2], dtype: .float64, using: &rng), name: "weight")
        let x = Tensor.randomNormal([4, 2], dtype: .float64, using: &rng)
        try checkGradients(of: { matmul($0[0], weight.value, transposeB: true).tanh() }, at: [x], parameters: [weight])
        let report = gradientCheck(of: { matmul($0[0], weight.value.detached(), transposeB: true).tanh() },
                                   at: [x], parameters: [weight])
        #expect(!report.passed)
        #expect(report.mismatches.allSatisfy { $0.parameterName == "weight" })
        #expect(report.description.contains("parameter 'weight'"))
        #expect(weight.value.requiresGrad && weight.value.dtype == .float64)  // restored afterwards
    }
}
