import Testing
@testable import Layers

/// A regulariser's mask by its definition, one entry at a time: eight draws from a generator
/// seeded with `seed` seed eight generators; entries 16c + 2j, 16c + 2j + 1 are the high and
/// low halves of generator j's draw c, each `hit` below ⌈p · 2³²⌉.
func definedMask(_ count: Int, seed: UInt64, probability p: Double, hit: Double, miss: Double) -> [Double] {
    var generator = RandomGenerator(seed: seed)
    var lanes = (0..<8).map { _ in RandomGenerator(seed: generator.next()) }
    var halves: [UInt64] = []
    while halves.count < count {
        for j in lanes.indices {
            let bits = lanes[j].next()
            halves += [bits >> 32, bits & 0xFFFF_FFFF]
        }
    }
    let threshold = (p * 4_294_967_296).rounded(.up)
    return halves.prefix(count).map { Double($0) < threshold ? hit : miss }
}

/// The regularisers' masks: the vectorized fill draws what the definition gives — eight
/// seeded generators side by side, two entries per draw, each a hit below ⌈p · 2³²⌉ — and a
/// run's masks drawn at once equal one mask per step and mask drawn in turn.
@Suite struct MaskDrawingTests {
    // 63·33 = 2079 entries end inside a round of the eight generators, and 7 entries inside
    // its first; 1 − 1e-9 hits all but the top 4 of 2³² halves.
    @Test(arguments: [DType.float32, .float64], [0, 0.05, 0.3, 0.5, 0.9, 1 - 1e-9])
    func maskFollowsTheDefinition(dtype: DType, probability: Double) {
        for shape in [[64, 33], [63, 33], [7]] {
            RandomGenerator.seedThread(41)
            let mask = drawnMask(shape, dtype: dtype, probability: probability, hit: 0, miss: 2.5)
            #expect(mask.scalars == definedMask(shape.reduce(1, *), seed: 41, probability: probability, hit: 0, miss: 2.5))
            #expect(mask.dtype == dtype && mask.shape == shape)
        }
    }

    /// The threshold at its edges: p = ½ splits the halves evenly, 0 hits none, and a p just
    /// above a multiple of 2⁻³² rounds up to the next.
    @Test func thresholdsRoundUp() {
        #expect(maskThreshold(0.5) == 1 << 31 && maskThreshold(0) == 0 && maskThreshold(1) == 1 << 32)
        #expect(maskThreshold(0x1p-32 + 0x1p-60) == 2)
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
