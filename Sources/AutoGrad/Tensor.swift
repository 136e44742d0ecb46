import CKernels

/// An n-dimensional array of float32 or float64 values that records the operations applied
/// to it, so gradients can flow back to it.
///
/// `Tensor` has value semantics: copies share one contiguous buffer until one of them is
/// written (copy-on-write). A tensor that requires gradients also carries a node of the graph;
/// copies share that node, so `x.grad` is the same for every copy of `x`.
///
/// Operations stop the program with a message naming the op and the shapes when the shapes,
/// axes or dtypes do not fit (programmer errors, like an array index out of range); reading
/// anything from outside (files, checkpoints) throws instead.
public struct Tensor: @unchecked Sendable {
    @usableFromInline var storage: TensorStorage
    /// The size of each axis, outermost first; `[]` for a scalar.
    public private(set) var shape: [Int]
    /// The graph node this tensor is the value of, if it requires gradients.
    @usableFromInline var node: Node?
    /// Set for indices and masks held in float storage (traced data); `nil` for float tensors.
    @usableFromInline var dataElement: ElementType?

    @usableFromInline
    init(storage: TensorStorage, shape: [Int], node: Node? = nil, elementType: ElementType? = nil) {
        self.storage = storage
        self.shape = shape
        self.node = node
        dataElement = elementType?.floatType == nil ? elementType : nil
    }

    /// The element type in the IR: the dtype's, or indices or booleans for traced data.
    public internal(set) var elementType: ElementType {
        get { dataElement ?? ElementType(storage.dtype) }
        set { dataElement = newValue.floatType == nil ? newValue : nil }
    }

    /// The type in the IR: element type and shape.
    public var valueType: ValueType { ValueType(elementType, shape) }

    /// The element type.
    public var dtype: DType { storage.dtype }
    /// The number of axes.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { storage.count }
    /// Whether operations on this tensor are recorded so gradients can reach it.
    public var requiresGrad: Bool { node?.isDifferentiable ?? false }
    /// Whether this tensor is a leaf: no recorded op produced it (so, as in PyTorch, every
    /// tensor that requires no gradients is one too).
    public var isLeaf: Bool { node?.primitive == nil }

    /// The gradient accumulated into this leaf by `backward()`, or `nil` before any.
    /// Gradients accumulate across calls until `zeroGrad()`.
    public var grad: Tensor? { isLeaf ? node?.grad : nil }

    /// Forgets the accumulated gradient of this leaf.
    public func zeroGrad() {
        if isLeaf { node?.grad = nil }
    }

    /// The graph node behind this tensor (see ``Graph``), or `nil` if it requires no gradients.
    public var graphNode: Node? { node }

    /// A leaf that requires gradients, sharing this tensor's values; `name` labels it in the IR.
    public func requiringGrad(_ requiresGrad: Bool = true, name: String? = nil) -> Tensor {
        Tensor(storage: storage, shape: shape,
               node: requiresGrad ? Node(leafShape: shape, dtype: dtype, name: name) : nil)
    }

    /// The same values, cut from the graph: no gradient flows through the result. (While
    /// tracing a ``Program``, a traced value stays traced behind a `stop_gradient`.)
    public func detached() -> Tensor {
        if let node, ag_trace_mode() != 0 { return node.isDifferentiable ? apply(StopGradient(), [self]) : self }
        return Tensor(storage: storage, shape: shape, elementType: dataElement)
    }

    /// This tensor converted to `dtype` (differentiable; the gradient converts back).
    public func to(_ dtype: DType) -> Tensor {
        dtype == self.dtype && dataElement == nil ? self : apply(Cast(dtype: dtype), [self])
    }
}

// MARK: - Raw access

extension Tensor {
    /// Calls `body` with the elements as `T`, which must match `dtype`.
    public func withUnsafeBufferPointer<T: FloatElement, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        guard T.dtype == dtype else {
            opFailure("withUnsafeBufferPointer", "tensor is \(dtype), accessed as \(T.dtype)")
        }
        return try body(UnsafeBufferPointer(start: storage.pointer(T.self), count: count))
    }

    /// Calls `body` with the elements as `T` for writing in place. The buffer is copied first
    /// if another tensor shares it; the graph node (and so the gradient slot) is kept, which
    /// is what optimizers need when they update a parameter.
    public mutating func withUnsafeMutableBufferPointer<T: FloatElement, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        guard T.dtype == dtype else {
            opFailure("withUnsafeMutableBufferPointer", "tensor is \(dtype), accessed as \(T.dtype)")
        }
        makeStorageUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer(T.self), count: count))
    }

    @usableFromInline
    mutating func makeStorageUnique() {
        if storage.isView || !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// The values in `dtype` storage, unrecorded (kernels use it on plain values).
    func converted(to dtype: DType) -> Tensor {
        dtype == self.dtype ? self : Tensor(storage: storage.converted(to: dtype), shape: shape, elementType: dataElement)
    }

    /// Replaces this tensor's values with `other`'s (same shape), keeping its graph node.
    /// Optimizers and parameter loading use it; it is not recorded.
    public mutating func assign(_ other: Tensor) {
        guard other.shape == shape else {
            opFailure("assign", "shapes \(describe(shape)) and \(describe(other.shape)) differ")
        }
        storage = other.dtype == dtype ? other.storage : other.storage.converted(to: dtype)
    }

    /// The flat (row-major) position of a multi-index, checked against the shape.
    func flatIndex(_ indices: [Int]) -> Int {
        guard indices.count == rank else {
            opFailure("subscript", "\(indices.count) indices for a tensor of shape \(describe(shape))")
        }
        var flat = 0
        for (axis, index) in indices.enumerated() {
            guard index >= 0 && index < shape[axis] else {
                opFailure("subscript", "index \(index) is out of range for axis \(axis) of shape \(describe(shape))")
            }
            flat = flat * shape[axis] + index
        }
        return flat
    }

    /// The element at a multi-index, as a Double whatever the dtype. Not recorded.
    public subscript(indices: Int...) -> Double {
        get { storage[double: flatIndex(indices)] }
        set {
            let flat = flatIndex(indices)
            makeStorageUnique()
            storage[double: flat] = newValue
        }
    }

    /// The single element of a one-element tensor.
    public func item() -> Double {
        guard count == 1 else { opFailure("item", "tensor of shape \(describe(shape)) has \(count) elements") }
        return storage[double: 0]
    }

    /// All elements in row-major order, as Doubles.
    public var scalars: [Double] { (0..<count).map { storage[double: $0] } }
}

extension Array where Element: FloatElement {
    /// The elements of `tensor` in row-major order, converted to `Element`.
    public init(_ tensor: Tensor) {
        let converted = tensor.dtype == Element.dtype ? tensor : tensor.detached().to(Element.dtype)
        self = converted.withUnsafeBufferPointer(as: Element.self) { Array($0) }
    }
}
