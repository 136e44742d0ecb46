import XCTest
import AutoGrad

/// The checker as an XCTest user writes it: one assertion per check.
final class GradientCheckXCTests: XCTestCase {
    func testOneLineChecksInXCTest() {
        var generator = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal([3, 2], dtype: .float64, using: &generator)
        XCTAssertNoThrow(try checkGradients(of: { ($0[0] * $0[0]).softmax(along: 1) }, at: [x]))
        // A function whose gradient is cut (detached) fails, and the error says where.
        XCTAssertThrowsError(try checkGradients(of: { $0[0].detached() * $0[0] }, at: [x])) { error in
            XCTAssertTrue("\(error)".contains("input 0 element"))
        }
    }
}
