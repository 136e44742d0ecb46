import Testing
@testable import Layers

/// The regularisers' masks: the fast fill draws exactly what comparing uniform draws with p in
/// the mask's dtype gives, and a run's masks drawn at once equal one draw per step and mask.
@Suite struct MaskDrawingTests {
    /// `Tensor.randomUniform` from the same seed, compared with p rounded to the dtype.
    private func expectedMask(_ shape: [Int], dtype: DType, probability p: Double, hit: Double, miss: Double) -> [Double] {
        let threshold = dtype == .float32 ? Double(Float(p)) : p
        return Tensor.randomUniform(shape, dtype: dtype).scalars.map { $0 >= threshold ? miss : hit }
    }

    // 1 − 1e-9 rounds to 1 in float32, so there only draws of at least 1 − 2⁻²⁵ miss.
    @Test(arguments: [DType.float32, .float64], [0, 0.05, 0.3, 0.5, 0.9, 1 - 1e-9])
    func maskEqualsComparedUniformDraws(dtype: DType, probability: Double) {
        RandomGenerator.seedThread(41)
        let mask = drawnMask([64, 33], dtype: dtype, probability: probability, hit: 0, miss: 2.5)
        RandomGenerator.seedThread(41)
        #expect(mask.scalars == expectedMask([64, 33], dtype: dtype, probability: probability, hit: 0, miss: 2.5))
        #expect(mask.dtype == dtype && mask.shape == [64, 33])
    }

    /// The integer thresholds at the rounding edge: in float64 a draw k · 2⁻⁵³ is ≥ ½ from
    /// k = 2⁵²; in float32 it already rounds to ½ from ½ − 2⁻²⁶ (the tie rounds to ½'s even
    /// mantissa), so from k = 2⁵² − 2²⁷.
    @Test func thresholdsFollowTheDtypeRounding() {
        #expect(smallestBitsDrawing(atLeast: 0.5 as Double) == 1 << 52)
        #expect(smallestBitsDrawing(atLeast: 0.5 as Float) == (1 << 52) - (1 << 27))
        #expect(smallestBitsDrawing(atLeast: 0 as Float) == 0 && smallestBitsDrawing(atLeast: 0 as Double) == 0)
        #expect(smallestBitsDrawing(atLeast: 1 as Double) == 1 << 53)
    }

    /// Masks of two shapes over 4 steps: step t's masks, mask 0 then mask 1, are the draws
    /// of one mask after the other.
    @Test func stepMasksEqualOneDrawPerStepAndMask() {
        RandomGenerator.seedThread(43)
        let masks = drawnStepMasks([[3, 5], [3, 2]], probabilities: [0.3, 0.6], steps: 4, dtype: .float32, hit: 1, miss: 0)
        RandomGenerator.seedThread(43)
        var drawn: [[Tensor]] = []
        for _ in 0..<4 {
            drawn.append([drawnMask([3, 5], dtype: .float32, probability: 0.3, hit: 1, miss: 0),
                          drawnMask([3, 2], dtype: .float32, probability: 0.6, hit: 1, miss: 0)])
        }
        #expect(masks.map { $0.map(\.shape) } == Array(repeating: [[3, 5], [3, 2]], count: 4))
        #expect(masks.map { $0.map(\.scalars) } == drawn.map { $0.map(\.scalars) })
    }
}
