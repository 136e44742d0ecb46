import Foundation
import Testing
import Optim

/// Parameters whose gradients are set directly (no backward needed).
private func parameters(withGradients gradients: [[Double]], dtype: DType = .float64) -> [Parameter] {
    gradients.map { values in
        let parameter = Parameter(Tensor(zeros: [values.count], dtype: dtype))
        parameter.grad = Tensor(values, dtype: dtype)
        return parameter
    }
}

@Suite struct ClippingTests {
    // Trajectories under clipping (norms 1, 2, 3, ∞ and by value) are checked against torch in
    // TorchParityTests; these pin the edge cases by hand.

    @Test func normAboveTheMaximumScalesEveryGradient() throws {
        let clipped = parameters(withGradients: [[3, 0], [0, 4]])
        let norm = clipGradientNorm(clipped, maxNorm: 1)
        #expect(norm == 5)  // √(3² + 4²)
        let scale = 1 / (5 + 1e-6)  // torch's max_norm / (total + 1e-6)
        #expect(clipped[0].grad?.scalars == [3 * scale, 0])
        #expect(clipped[1].grad?.scalars == [0, 4 * scale])
    }

    @Test func normBelowTheMaximumLeavesGradientsAlone() throws {
        let clipped = parameters(withGradients: [[-1, 2], [2]])
        #expect(clipGradientNorm(clipped, maxNorm: 10, normType: 1) == 5)  // |−1| + 2 + 2
        #expect(clipped[0].grad?.scalars == [-1, 2] && clipped[1].grad?.scalars == [2])
    }

    @Test func infinityNormIsTheLargestMagnitudeAndNoGradientsGiveZero() throws {
        let clipped = parameters(withGradients: [[0.5, -3], [2]], dtype: .float32) + [Parameter(Tensor(ones: [2]))]
        #expect(clipGradientNorm(clipped, maxNorm: 1, normType: .infinity) == 3)
        let scale = Float(1 / (3 + 1e-6))
        #expect(clipped[0].grad.map { [Float]($0) } == [0.5 * scale, -3 * scale])
        #expect(clipped[2].grad == nil)
        #expect(clipGradientNorm([Parameter(Tensor(ones: [2]))], maxNorm: 1) == 0)
    }

    /// The norm clipping reports, without clipping: √(3² + 4²) = 5, |−1| + 2 + 2 = 5, max 3.
    @Test func globalNormLeavesGradientsAlone() {
        let measured = parameters(withGradients: [[3, 0], [0, 4]]) + [Parameter(Tensor(ones: [2]))]
        #expect(globalGradientNorm(measured) == 5 && globalGradientNorm(measured, normType: .infinity) == 4)
        #expect(globalGradientNorm(parameters(withGradients: [[-1, 2], [2]]), normType: 1) == 5)
        #expect(measured[0].grad?.scalars == [3, 0] && measured[1].grad?.scalars == [0, 4])
        #expect(globalGradientNorm([]) == 0)
    }

    @Test func valueClippingClampsEachElement() throws {
        let clipped = parameters(withGradients: [[-2, 0.05, 0.3], [0.1]])
        clipGradientValue(clipped, maxValue: 0.1)
        #expect(clipped[0].grad?.scalars == [-0.1, 0.05, 0.1] && clipped[1].grad?.scalars == [0.1])
    }

    @Test func clippingWritesTheGradientInPlace() throws {
        let clipped = parameters(withGradients: [[30, 40]])
        func address() -> UnsafeRawPointer? {
            clipped[0].grad!.withUnsafeBufferPointer(as: Double.self) { UnsafeRawPointer($0.baseAddress) }
        }
        let before = address()
        clipGradientNorm(clipped, maxNorm: 1)
        clipGradientValue(clipped, maxValue: 0.5)
        #expect(address() == before)
    }
}
