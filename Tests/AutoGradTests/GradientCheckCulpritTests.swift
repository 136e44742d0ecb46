import Testing
@testable import AutoGrad

/// A failed check names the first op whose own gradient is wrong, lists mismatches worst
/// first, and in fast mode says what it projected (issue 13).
@Suite struct GradientCheckCulpritTests {
    /// tanh (%0) → wrong_cube (%1) → mul → exp → sum: only wrong_cube's local gradient is wrong, though
    /// every input element's gradient is (the error flows through the later ops).
    @Test func namesTheOpWithTheWrongLocalGradient() throws {
        var generator = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 3], dtype: .float64, using: &generator)
        let w = Tensor.randomNormal([3], dtype: .float64, using: &generator)
        let report = gradientCheck(of: { (apply(WrongCube(), [$0[0].tanh()]) * $0[1]).exp().sum() }, at: [x, w])
        #expect(!report.passed)
        let culprit = try #require(report.culprit)
        #expect(culprit.hasPrefix("%1 = wrong_cube %0 : f64[2,3]"), "\(culprit)")
        #expect(report.description.contains("first op with a wrong local gradient: %1 = wrong_cube"))
        // Worst first: each mismatch's error relative to its tolerance is no larger than the previous one's.
        let excesses = report.mismatches.map { $0.error / (1e-5 + 1e-3 * abs($0.numeric)) }
        #expect(excesses.count > 1 && zip(excesses, excesses.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(report.mismatches.first?.error == report.worst?.error)
    }

    /// A function whose ops are all right locally but that is wrong as a whole (it cuts the
    /// graph) has no culprit op: the report says nothing false.
    @Test func noCulpritWhenEveryOpIsRight() {
        let x = Tensor([0.5, -1, 2], dtype: .float64)
        let report = gradientCheck(of: { $0[0] * $0[0].detached() }, at: [x])  // d/dx x·x is 2x, backward gives x
        #expect(!report.passed && report.culprit == nil)
        #expect(gradientCheck(of: { $0[0].tanh() }, at: [x]).culprit == nil)
    }

    @Test func fastModeSaysWhatItProjected() {
        let x = Tensor([0.5, -1, 2, 3], shape: [2, 2], dtype: .float64)
        let report = gradientCheck(of: { apply(WrongCube(), [$0[0]]).sum(along: [1]) }, at: [x], fastMode: true, seed: 4)
        #expect(!report.passed)
        #expect(report.projection?.contains("output [2]") == true && report.projection?.contains("seed 4") == true)
        #expect(report.description.contains("fast mode: one projection") && report.culprit?.contains("wrong_cube") == true)
        #expect(gradientCheck(of: { $0[0].tanh() }, at: [x]).projection == nil)
    }
}
