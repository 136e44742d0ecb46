/// A learnable tensor: a leaf that requires gradients, whose identity (and gradient slot)
/// survives in-place updates by optimizers and loading of new values.
///
/// Modules hold parameters as stored properties; optimizers update `value` in place.
public final class Parameter: @unchecked Sendable {
    /// The current value, always a leaf that requires gradients. Assigning a tensor of the
    /// same shape and dtype keeps the gradient slot; another shape or dtype starts a new one.
    public var value: Tensor {
        get { storedValue }
        set {
            storedValue = newValue
            adoptLeaf(previous: leaf)
        }
        // In-place access (`parameter.value.withUnsafeMutableBufferPointer`): a `didSet`
        // observer would make every mutation copy the tensor out and back, so the buffer
        // would never be uniquely referenced and each optimizer step would copy it.
        _modify {
            defer { adoptLeaf(previous: leaf) }
            yield &storedValue
        }
    }
    private var storedValue: Tensor
    private var leaf: Node

    /// A parameter holding `initialValue` (copied into a fresh leaf).
    public init(_ initialValue: Tensor, name: String? = nil) {
        leaf = Node(leafShape: initialValue.shape, dtype: initialValue.dtype, name: name)
        storedValue = Tensor(storage: initialValue.storage, shape: initialValue.shape, node: leaf)
    }

    /// The label used in the IR and in saved files (a module sets it to the dotted path).
    public var name: String? {
        get { leaf.name }
        set { leaf.name = newValue }
    }

    /// The accumulated gradient, or `nil` before the first backward or after `zeroGrad()`.
    public var grad: Tensor? {
        get { leaf.grad }
        set {
            if let newValue, newValue.shape != value.shape || newValue.dtype != value.dtype {
                opFailure("Parameter.grad", "gradient \(describe(newValue.dtype, newValue.shape)) for a parameter \(describe(value.dtype, value.shape))")
            }
            leaf.grad = newValue?.detached()
        }
    }

    /// Calls `body` with in-place access to the gradient (no copy when nothing else shares it),
    /// for clipping and other updates that must not allocate.
    public func withGrad<R>(_ body: (inout Tensor?) throws -> R) rethrows -> R {
        try body(&leaf.grad)
    }

    /// Forgets the accumulated gradient.
    public func zeroGrad() { leaf.grad = nil }

    /// Runs `body` with ``value`` reading `replacement`, a tensor computed from the value (e.g.
    /// the value times a DropConnect mask), so what `body` records differentiates through the
    /// replacement into this parameter's gradient; the value is back when `body` returns. Not
    /// for a parameter another thread reads meanwhile.
    public func substituting<R>(_ replacement: Tensor, during body: () throws -> R) rethrows -> R {
        guard replacement.shape == storedValue.shape, replacement.dtype == storedValue.dtype else {
            opFailure("Parameter.substituting", "replacement \(describe(replacement.dtype, replacement.shape)) for a parameter \(describe(storedValue.dtype, storedValue.shape))")
        }
        let saved = storedValue
        storedValue = replacement
        defer { storedValue = saved }
        return try body()
    }

    private func adoptLeaf(previous: Node) {
        if storedValue.node === previous { return }
        if storedValue.shape != previous.shape || storedValue.dtype != previous.dtype {
            leaf = Node(leafShape: storedValue.shape, dtype: storedValue.dtype, name: previous.name)
        }
        storedValue.node = leaf
    }
}
