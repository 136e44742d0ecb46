import Foundation
import Testing
import AutoGrad

/// float32 exp, tanh and sigmoid run vectorized C loops instead of libm; they must stay within
/// a few ulp of the float64 libm result, and handle the special values.
@Suite struct VectorizedMathTests {
    /// The distance from `value` to `exact` in units of the float32 spacing at `exact`.
    private func ulps(_ value: Float, _ exact: Double) -> Double {
        let rounded = Float(exact)
        let spacing = Double(rounded.magnitude.nextUp) - Double(rounded.magnitude)
        return abs(Double(value) - exact) / spacing
    }

    private let grid = (0...200_000).map { -30 + 60 * Float($0) / 200_000 }

    enum Function: String, CaseIterable, Sendable {
        case exp, tanh, sigmoid

        func callAsFunction(_ x: Tensor) -> Tensor {
            switch self {
            case .exp: x.exp()
            case .tanh: x.tanh()
            case .sigmoid: x.sigmoid()
            }
        }

        func exact(_ x: Double) -> Double {
            switch self {
            case .exp: Foundation.exp(x)
            case .tanh: Foundation.tanh(x)
            case .sigmoid: 1 / (1 + Foundation.exp(-x))
            }
        }
    }

    @Test(arguments: Function.allCases)
    func withinThreeUlpOfDoubleLibm(_ function: Function) {
        let values = [Float](function(Tensor(shape: [grid.count], scalars: grid)))
        let worst = zip(values, grid).map { ulps($0, function.exact(Double($1))) }.max() ?? .infinity
        #expect(worst <= 3, "\(function): worst error \(worst) ulp")
    }

    /// A result written over its operand (a fused kernel reusing a buffer) equals the result
    /// written elsewhere, for lengths around the vector width and the unrolled loop's.
    @Test(arguments: Function.allCases) func loopsWritingOverTheirOperandMatch(_ function: Function) throws {
        let unary = try #require(try PrimitiveRegistry.make(function.rawValue, Attributes([])) as? any UnaryElementwisePrimitive)
        for count in [1, 15, 16, 17, 63, 64, 65, 200] {
            var values = (0..<count).map { Float($0) * 0.13 - 9 }
            let expected = [Float](function(Tensor(shape: [count], scalars: values)))
            values.withUnsafeMutableBufferPointer { y in unary.map(UnsafePointer(y.baseAddress!), y.baseAddress!, count: count) }
            #expect(values == expected, "\(function) over \(count) elements")
        }
    }

    @Test func specialValues() {
        let x = Tensor(shape: [6], scalars: [0, -0.0, .infinity, -.infinity, .nan, 100] as [Float])
        let tanh = [Float](x.tanh()), sigmoid = [Float](x.sigmoid()), exp = [Float](x.exp())
        #expect(tanh[0] == 0 && tanh[1].sign == .minus && tanh[2] == 1 && tanh[3] == -1 && tanh[4].isNaN && tanh[5] == 1)
        #expect(sigmoid[0] == 0.5 && sigmoid[2] == 1 && sigmoid[3] == 0 && sigmoid[4].isNaN)
        #expect(exp[0] == 1 && exp[2] == .infinity && exp[3] == 0 && exp[4].isNaN && exp[5] == .infinity)
    }
}
