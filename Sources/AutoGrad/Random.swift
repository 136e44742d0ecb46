import Foundation

/// A small, fast, seedable generator (xoshiro256**), so runs are reproducible.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    // Inlinable draws: a loop in another module (a dropout mask's, one draw per entry) would
    // otherwise pay a call per draw, several times the draw itself.
    @usableFromInline var state: (UInt64, UInt64, UInt64, UInt64)
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
    @inlinable
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
    @inlinable
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

/// The state behind ``RandomGenerator/seedThread(_:)``: one generator per thread.
private final class ThreadGenerator {
    var generator = RandomGenerator(seed: 0)
}

extension RandomGenerator {
    private static let threadKey = "AutoGrad.RandomGenerator"

    /// The calling thread's generator: created with seed 0 on the thread's first draw.
    private static var threadGenerator: ThreadGenerator {
        let dictionary = Thread.current.threadDictionary
        if let box = dictionary[threadKey] as? ThreadGenerator { return box }
        let box = ThreadGenerator()
        dictionary[threadKey] = box
        return box
    }

    /// Reseeds the calling thread's generator, the one initializers, dropout and
    /// `Tensor.random…` use when no generator is passed (PyTorch's `torch.manual_seed`, but per
    /// thread). Each thread has its own, starting from seed 0, so threads never interleave
    /// draws: two threads that seed alike and build the same model get identical weights.
    public static func seedThread(_ seed: UInt64) {
        threadGenerator.generator = RandomGenerator(seed: seed)
    }

    /// Calls `body` with the calling thread's generator.
    public static func withThreadGenerator<R>(_ body: (inout RandomGenerator) throws -> R) rethrows -> R {
        try body(&threadGenerator.generator)
    }

    /// Runs `body` with `generator` standing in for the calling thread's generator, so every
    /// draw in it that passes no generator — any layer's initializer, a whole model's
    /// construction — takes from `generator`, which is left advanced past them:
    ///
    ///     var generator = RandomGenerator(seed: 7)
    ///     let model = RandomGenerator.drawing(from: &generator) { LSTM(inputSize: 8, hiddenSize: 16) }
    public static func drawing<R>(from generator: inout RandomGenerator, _ body: () throws -> R) rethrows -> R {
        let box = threadGenerator
        let saved = box.generator
        box.generator = generator
        defer {
            generator = box.generator
            box.generator = saved
        }
        return try body()
    }

    /// Reseeds the calling thread's generator; there is no process-wide one any more.
    @available(*, deprecated, renamed: "seedThread(_:)")
    public static func seedGlobal(_ seed: UInt64) { seedThread(seed) }
}
