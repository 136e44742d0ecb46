import Foundation

/// Weight initializers as in `torch.nn.init`. Fans follow PyTorch: for a weight [out, in, …],
/// fan_in = in · receptive field, fan_out = out · receptive field.
public enum Initializer {
    /// Xavier/Glorot uniform: U(−a, a), a = gain·√(6 / (fan_in + fan_out)).
    public static func xavierUniform(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                     using generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let bound = gain * (6 / Double(fanIn + fanOut)).squareRoot()
        return Tensor.randomUniform(shape, low: -bound, high: bound, dtype: dtype, using: &generator)
    }

    /// Xavier/Glorot normal: N(0, σ²), σ = gain·√(2 / (fan_in + fan_out)).
    public static func xavierNormal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                    using generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        return Tensor.randomNormal(shape, standardDeviation: gain * (2 / Double(fanIn + fanOut)).squareRoot(),
                                   dtype: dtype, using: &generator)
    }

    /// A (semi-)orthogonal matrix, flattened to [shape[0], rest] (Saxe et al. 2013): Q of the QR
    /// factorization of a normal matrix, signs fixed by R's diagonal as PyTorch does, times
    /// `gain`. Rows are orthonormal when there are fewer rows than columns, else columns.
    public static func orthogonal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32,
                                  using generator: inout RandomGenerator) -> Tensor {
        guard shape.count >= 2 else { opFailure("orthogonal", "needs at least 2 dimensions, got \(shape)") }
        let rows = shape[0], columns = shape.dropFirst().reduce(1, *)
        let (tall, wide) = (max(rows, columns), min(rows, columns))
        // Columns of a tall × wide normal matrix, orthonormalized by modified Gram–Schmidt (two
        // passes for accuracy). Gram–Schmidt's R has a positive diagonal, which is exactly
        // PyTorch's sign correction Q·sign(diag(R)).
        var basis = (0..<wide).map { _ in (0..<tall).map { _ in generator.nextNormal() } }
        for j in 0..<wide {
            for _ in 0..<2 {
                for i in 0..<j {
                    let projection = zip(basis[i], basis[j]).map(*).reduce(0, +)
                    basis[j] = zip(basis[j], basis[i]).map { $0 - projection * $1 }
                }
                let norm = basis[j].map { $0 * $0 }.reduce(0, +).squareRoot()
                basis[j] = basis[j].map { $0 / norm }
            }
        }
        // basis[j][i] is Q[i, j] of the tall matrix; transpose back when rows < columns.
        let values = rows >= columns
            ? (0..<rows).flatMap { i in (0..<columns).map { j in gain * basis[j][i] } }
            : (0..<rows).flatMap { i in (0..<columns).map { j in gain * basis[i][j] } }
        return Tensor(values, shape: shape, dtype: dtype)
    }

    /// The same initializers drawing from the calling thread's generator (see
    /// `RandomGenerator.seedThread(_:)`).
    public static func xavierUniform(_ shape: [Int], gain: Double = 1, dtype: DType = .float32) -> Tensor {
        RandomGenerator.withThreadGenerator { xavierUniform(shape, gain: gain, dtype: dtype, using: &$0) }
    }

    /// Xavier normal from the calling thread's generator.
    public static func xavierNormal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32) -> Tensor {
        RandomGenerator.withThreadGenerator { xavierNormal(shape, gain: gain, dtype: dtype, using: &$0) }
    }

    /// Orthogonal from the calling thread's generator.
    public static func orthogonal(_ shape: [Int], gain: Double = 1, dtype: DType = .float32) -> Tensor {
        RandomGenerator.withThreadGenerator { orthogonal(shape, gain: gain, dtype: dtype, using: &$0) }
    }

    /// PyTorch's fan_in and fan_out of a weight shape.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        guard shape.count >= 2 else { opFailure("fans", "needs at least 2 dimensions, got \(shape)") }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }
}
