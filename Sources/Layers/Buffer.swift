/// A tensor a module holds that is not learned (PyTorch's registered buffer): a mask, a
/// constant table, running statistics. Declared as a stored property like a ``Parameter``, it
/// is found by reflection and named by its dotted path; `Module.to(_:)` converts it, and
/// `saveParameters(to:)` and `loadParameters(_:strict:)` save and load it with the parameters.
/// It never requires gradients.
///
///     final class Normalizer: Module, UnaryLayer {
///         let mean = Buffer(Tensor(zeros: [3]))
///         func forward(_ x: Tensor) -> Tensor { x - mean.value }
///     }
public final class Buffer: @unchecked Sendable {
    /// The current value (detached: gradients never flow into a buffer).
    public var value: Tensor {
        didSet { value = value.detached() }
    }

    /// A buffer holding `initialValue`.
    public init(_ initialValue: Tensor) {
        value = initialValue.detached()
    }
}
