import Testing
@testable import Layers

/// A regulariser's mask by its definition, one entry at a time: eight draws from a generator
/// seeded with `seed` seed eight generators; entries 16c + 2j, 16c + 2j + 1 are the low and
/// high halves of generator j's draw c, each `hit` below ⌈p · 2³²⌉.
func definedMask(_ count: Int, seed: UInt64, probability p: Double, hit: Double, miss: Double) -> [Double] {
    var generator = RandomGenerator(seed: seed)
    return definedEntries(count, lanes: (0..<8).map { _ in RandomGenerator(seed: generator.next()) }, probability: p, hit: hit, miss: miss)
}

/// `count` entries from eight generators side by side: the low, then the high half of each
/// one's draw in turn, each `hit` below ⌈p · 2³²⌉.
private func definedEntries(_ count: Int, lanes: [RandomGenerator], probability p: Double, hit: Double, miss: Double) -> [Double] {
    var lanes = lanes, halves: [UInt64] = []
    while halves.count < count {
        for j in lanes.indices {
            let bits = lanes[j].next()
            halves += [bits & 0xFFFF_FFFF, bits >> 32]
        }
    }
    let threshold = (p * 4_294_967_296).rounded(.up)
    return halves.prefix(count).map { Double($0) < threshold ? hit : miss }
}

/// Row `row` of a step mask drawn from `seed`, by its definition: generator j's state words are
/// the splitmix64 outputs 32·row + 4j + 1 … + 4 of the stream seeded with `seed` — the
/// generator `RandomGenerator(seed:)` makes of the seed 32·row + 4j increments of 𝛾 on.
private func definedRow(_ row: Int, columns: Int, seed: UInt64, probability p: Double) -> [Double] {
    let lanes = (0..<8).map { j in RandomGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(32 * row + 4 * j)) }
    return definedEntries(columns, lanes: lanes, probability: p, hit: 1, miss: 0)
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

    /// Step masks: each step's seeds are the thread generator's next draws, mask by mask;
    /// each row follows its definition; and any range of rows drawn alone (a lane's) equals
    /// those rows of the whole mask.
    @Test(arguments: [DType.float32, .float64])
    func stepMasksDrawEachRowOnItsOwn(dtype: DType) {
        RandomGenerator.seedThread(43)
        let probabilities = [0.3, 0.05, 1 - 1e-9, 0]
        let masks = StepMasks(steps: 3, columns: [33, 256, 7, 16], probabilities: probabilities, hit: 1, miss: 0)
        var generator = RandomGenerator(seed: 43)
        #expect(masks.seeds == (0..<3).map { _ in (0..<4).map { _ in generator.next() } })
        for t in 0..<3 {
            let whole = masks.masks(at: t, rows: 0..<10, dtype: dtype)
            #expect(whole.map(\.shape) == [[10, 33], [10, 256], [10, 7], [10, 16]] && whole.allSatisfy { $0.dtype == dtype })
            for (k, mask) in whole.enumerated() {
                let columns = mask.shape[1]
                let defined = (0..<10).flatMap { definedRow($0, columns: columns, seed: masks.seeds[t][k], probability: probabilities[k]) }
                #expect(mask.scalars == defined, "step \(t), mask \(k)")
            }
            let lane = masks.masks(at: t, rows: 3..<7, dtype: dtype)
            #expect(zip(lane, whole).allSatisfy { $0.scalars == $1.slice(3..<7, along: 0).scalars })
        }
    }
}
