import Foundation
import Testing
import AutoGrad

// Shared pieces of the AutoGrad tests: seeded inputs, one table row type for gradient checks,
// comparisons with independently computed references, and reading an exit test's stderr.

/// Where a gradient-check input is drawn from, so inputs stay in an op's domain and away from
/// its kinks (finite differences across a kink measure neither one-sided derivative).
enum Domain: Sendable {
    /// Uniform in [-1, 1].
    case any
    /// Uniform in [0.5, 2]: logarithms, square roots, bases of powers, denominators.
    case positive
    /// Uniform magnitude in [0.2, 1] with a random sign: abs, relu and other kinks at 0.
    case awayFromZero
}

/// Float64 values of `shape` from `generator`, drawn from `domain`.
func randomTensor(_ shape: [Int], _ domain: Domain = .any, dtype: DType = .float64,
                  using generator: inout RandomGenerator) -> Tensor {
    let values = (0..<shape.reduce(1, *)).map { _ -> Double in
        let u = generator.nextUniform()
        switch domain {
        case .any: return 2 * u - 1
        case .positive: return 0.5 + 1.5 * u
        case .awayFromZero: return (0.2 + 0.8 * u) * (generator.nextUniform() < 0.5 ? -1 : 1)
        }
    }
    return Tensor(values, shape: shape, dtype: dtype)
}

/// One row of a gradient-check table: a function of some inputs and the inputs' shapes.
struct GradientCase: Sendable, CustomTestStringConvertible {
    let name: String
    let shapes: [[Int]]
    let domain: Domain
    let function: @Sendable ([Tensor]) -> Tensor

    init(_ name: String, _ shapes: [[Int]], _ domain: Domain = .any,
         _ function: @escaping @Sendable ([Tensor]) -> Tensor) {
        self.name = name
        self.shapes = shapes
        self.domain = domain
        self.function = function
    }

    var testDescription: String { name }

    /// Seeded float64 inputs, the same on every run.
    func inputs() -> [Tensor] {
        var generator = RandomGenerator(seed: 17)
        return shapes.map { randomTensor($0, domain, using: &generator) }
    }

    /// Checks the rule with the public gradient checker (full Jacobian, PyTorch tolerances).
    func check() throws {
        try checkGradients(of: function, at: inputs())
    }
}

/// Expects `actual` to match `expected` element by element within `tolerance`, relative to
/// the magnitude of the expected value when it exceeds 1.
func expectClose(_ actual: [Double], _ expected: [Double], tolerance: Double = 1e-12,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "element counts differ", sourceLocation: sourceLocation)
    let errors = zip(actual, expected).map { abs($0 - $1) / max(1, abs($1)) }
    let worst = errors.indices.max { errors[$0] < errors[$1] }
    if let worst {
        #expect(errors[worst] <= tolerance,
                "element \(worst): \(actual[worst]) vs expected \(expected[worst])", sourceLocation: sourceLocation)
    }
}

/// Expects `tensor` to have `shape` and the `expected` row-major values.
func expectTensor(_ tensor: Tensor, shape: [Int], _ expected: [Double], tolerance: Double = 1e-12,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(tensor.shape == shape, sourceLocation: sourceLocation)
    expectClose(tensor.scalars, expected, tolerance: tolerance, sourceLocation: sourceLocation)
}

/// Every multi-index of `shape`, in row-major order (the reference loops' odometer).
func multiIndices(_ shape: [Int]) -> [[Int]] {
    shape.reduce([[]]) { prefixes, size in prefixes.flatMap { prefix in (0..<size).map { prefix + [$0] } } }
}

/// The row-major position of `index` in `shape`, computed independently of the library.
func flatPosition(_ index: [Int], in shape: [Int]) -> Int {
    zip(index, shape).reduce(0) { $0 * $1.1 + $1.0 }
}

/// The value of `x` at a multi-index, read by the test's own row-major arithmetic.
func element(_ x: Tensor, _ index: [Int]) -> Double {
    x.scalars[flatPosition(index, in: x.shape)]
}

/// Expects a finished exit test to have written every one of `fragments` to stderr.
func expectStandardError(_ result: ExitTest.Result?, contains fragments: [String],
                         sourceLocation: SourceLocation = #_sourceLocation) {
    guard let result else { return }  // the exit test itself already failed
    let text = String(decoding: result.standardErrorContent, as: UTF8.self)
    for fragment in fragments {
        #expect(text.contains(fragment), "stderr lacks \"\(fragment)\": \(text)", sourceLocation: sourceLocation)
    }
}
