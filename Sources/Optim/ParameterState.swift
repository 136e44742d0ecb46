/// What an optimizer remembers about one parameter between steps (torch's `optimizer.state[p]`):
/// the number of updates so far and named buffers such as `exp_avg`.
///
/// Buffers live in memory the optimizer owns, allocated on first use and updated in place
/// afterwards, so steps allocate nothing. The subscript gives tensor-level access for
/// optimizers written with tensor ops (it copies).
public final class ParameterState {
    /// The number of updates of the parameter, including the one in progress.
    public var step = 0
    private var buffers: [String: StateBuffer] = [:]

    /// An empty state (no updates yet).
    public init() {}

    /// The buffer names, sorted.
    public var bufferNames: [String] { buffers.keys.sorted() }

    /// Whether a buffer named `name` exists.
    public func contains(_ name: String) -> Bool { buffers[name] != nil }

    /// The buffer named `name`, created shaped like `parameter` and filled with `value` the
    /// first time it is asked for.
    public func buffer(_ name: String, like parameter: Parameter, filledWith value: Double = 0) -> StateBuffer {
        let shape = parameter.value.shape, dtype = parameter.value.dtype
        if let buffer = buffers[name] {
            guard buffer.shape == shape && buffer.dtype == dtype else {
                optimizerFailure("ParameterState", "buffer '\(name)' is \(buffer.dtype)\(buffer.shape) but the parameter is now \(dtype)\(shape)")
            }
            return buffer
        }
        let buffer = StateBuffer(shape: shape, dtype: dtype, repeating: value)
        buffers[name] = buffer
        return buffer
    }

    /// The buffer named `name` as a tensor (a copy), or `nil`. Setting copies the values into
    /// the buffer (replacing it if the shape or dtype differs); setting `nil` removes it.
    public subscript(name: String) -> Tensor? {
        get { buffers[name]?.tensor }
        set {
            guard let newValue else { buffers[name] = nil; return }
            if let buffer = buffers[name], buffer.shape == newValue.shape, buffer.dtype == newValue.dtype {
                buffer.copy(from: newValue)
            } else {
                buffers[name] = StateBuffer(copying: newValue)
            }
        }
    }
}

/// A float32 or float64 buffer owned by an optimizer: allocated once, updated in place, its
/// address stable for its lifetime.
public final class StateBuffer {
    /// The shape (the parameter's).
    public let shape: [Int]
    /// The element type (the parameter's).
    public let dtype: DType
    /// The number of elements.
    public let count: Int
    private let base: UnsafeMutableRawPointer

    init(shape: [Int], dtype: DType, repeating value: Double) {
        self.shape = shape
        self.dtype = dtype
        count = shape.reduce(1, *)
        base = .allocate(byteCount: max(count, 1) * dtype.byteCount, alignment: 64)
        switch dtype {
        case .float32: base.initializeMemory(as: Float.self, repeating: Float(value), count: count)
        case .float64: base.initializeMemory(as: Double.self, repeating: value, count: count)
        }
    }

    /// A buffer holding a copy of `tensor`'s values.
    convenience init(copying tensor: Tensor) {
        self.init(shape: tensor.shape, dtype: tensor.dtype, repeating: 0)
        copy(from: tensor)
    }

    deinit { base.deallocate() }

    /// The elements, for reading and writing in place; `T` must match ``dtype``. The pointer
    /// stays valid while the buffer is alive.
    public func elements<T: FloatElement>(as type: T.Type) -> UnsafeMutableBufferPointer<T> {
        guard T.dtype == dtype else {
            optimizerFailure("StateBuffer.elements", "buffer is \(dtype), accessed as \(T.dtype)")
        }
        return UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: T.self), count: count)
    }

    /// A tensor holding a copy of the values.
    public var tensor: Tensor {
        switch dtype {
        case .float32: Tensor(shape: shape, scalars: Array(elements(as: Float.self)))
        case .float64: Tensor(shape: shape, scalars: Array(elements(as: Double.self)))
        }
    }

    /// Overwrites the values with `tensor`'s (same shape), converting the dtype if needed.
    func copy(from tensor: Tensor) {
        guard tensor.shape == shape else {
            optimizerFailure("StateBuffer.copy", "tensor of shape \(tensor.shape) into a buffer of shape \(shape)")
        }
        let source = tensor.dtype == dtype ? tensor : tensor.detached().to(dtype)
        switch dtype {
        case .float32: copy(source, as: Float.self)
        case .float64: copy(source, as: Double.self)
        }
    }

    private func copy<T: FloatElement>(_ source: Tensor, as type: T.Type) {
        source.withUnsafeBufferPointer(as: T.self) { values in
            _ = elements(as: T.self).update(fromContentsOf: values)
        }
    }
}

extension Parameter {
    /// Calls `body` with the parameter's values as `T`, for updating in place, and
    /// `gradient`'s elements: the access optimizer kernels need. `T` must match the dtype.
    public func withValues<T: FloatElement, R>(
        as type: T.Type, gradient: Tensor,
        _ body: (UnsafeMutableBufferPointer<T>, UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        try gradient.withUnsafeBufferPointer(as: T.self) { gradient in
            try value.withUnsafeMutableBufferPointer(as: T.self) { try body($0, gradient) }
        }
    }
}
