import Foundation
import Synchronization

/// A small, fast, seedable generator (xoshiro256**), so runs are reproducible.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    /// A generator whose whole sequence is determined by `seed`.
    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// A uniform sample in `[0, 1)` with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal sample (Box–Muller; the second sample of each pair is kept).
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = 1 - nextUniform(), u2 = nextUniform()
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        spareNormal = radius * Foundation.sin(2 * .pi * u2)
        return radius * Foundation.cos(2 * .pi * u2)
    }
}

extension RandomGenerator {
    private static let shared = Mutex(RandomGenerator(seed: 0))

    /// Reseeds the process-wide generator that initializers and `Tensor.random…` use when no
    /// generator is passed (PyTorch's `torch.manual_seed`).
    public static func seedGlobal(_ seed: UInt64) {
        shared.withLock { $0 = RandomGenerator(seed: seed) }
    }

    /// Calls `body` with exclusive access to the process-wide generator.
    public static func withGlobal<R: Sendable>(_ body: (inout RandomGenerator) -> R) -> R {
        shared.withLock { body(&$0) }
    }
}
