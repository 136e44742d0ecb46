extension Tensor {
    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Double, shape: [Int], dtype: DType = .float32) {
        Tensor.validate(shape, op: "init(repeating:shape:)")
        let storage = TensorStorage.make(count: elementCount(shape), dtype: dtype)
        switch dtype {
        case .float32: storage.pointer(Float.self).update(repeating: Float(value), count: storage.count)
        case .float64: storage.pointer(Double.self).update(repeating: value, count: storage.count)
        }
        self.init(storage: storage, shape: shape)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        Tensor.validate(shape, op: "init(zeros:)")
        self.init(storage: TensorStorage.make(zeros: elementCount(shape), dtype: dtype), shape: shape)
    }

    /// A tensor of `shape` whose elements start uninitialized, for elements computed in a loop
    /// (a dropout mask's draws) without zeroing them first, as
    /// `Array(unsafeUninitializedCapacity:initializingWith:)` does: `initializer` gets the
    /// elements' buffer, which stays valid as long as the tensor's storage (no copy is made
    /// while no other tensor shares it), and every element must be written before the tensor
    /// is read — usually by `initializer` itself. The tensor's dtype is `T`'s.
    public init<T: FloatElement>(unsafeUninitializedShape shape: [Int], as _: T.Type,
                                 initializingWith initializer: (UnsafeMutableBufferPointer<T>) throws -> Void) rethrows {
        Tensor.validate(shape, op: "init(unsafeUninitializedShape:as:initializingWith:)")
        let storage = TensorStorage.make(count: elementCount(shape), dtype: T.dtype)
        try initializer(UnsafeMutableBufferPointer(start: storage.pointer(T.self), count: storage.count))
        self.init(storage: storage, shape: shape)
    }

    /// A tensor of ones.
    public init(ones shape: [Int], dtype: DType = .float32) {
        self.init(repeating: 1, shape: shape, dtype: dtype)
    }

    /// A scalar (rank-0) tensor.
    public init(_ value: Double, dtype: DType = .float32) {
        self.init(repeating: value, shape: [], dtype: dtype)
    }

    /// A tensor with the given row-major values; `shape` defaults to `[values.count]`.
    public init(_ values: [Double], shape: [Int]? = nil, dtype: DType = .float32) {
        let shape = shape ?? [values.count]
        Tensor.validate(shape, op: "init(_:shape:)")
        guard elementCount(shape) == values.count else {
            opFailure("init(_:shape:)", "\(values.count) values do not fill shape \(describe(shape))")
        }
        let storage = TensorStorage.make(count: values.count, dtype: dtype)
        for (i, value) in values.enumerated() { storage[double: i] = value }
        self.init(storage: storage, shape: shape)
    }

    /// A tensor of `shape` holding `scalars` (row-major); the dtype is `T`'s.
    public init<T: FloatElement>(shape: [Int], scalars: [T]) {
        Tensor.validate(shape, op: "init(shape:scalars:)")
        guard elementCount(shape) == scalars.count else {
            opFailure("init(shape:scalars:)", "\(scalars.count) values do not fill shape \(describe(shape))")
        }
        let storage = TensorStorage.make(count: scalars.count, dtype: T.dtype)
        scalars.withUnsafeBufferPointer { storage.pointer(T.self).update(from: $0.baseAddress!, count: $0.count) }
        self.init(storage: storage, shape: shape)
    }

    /// A matrix from rows, which must all have the same length.
    public init(_ rows: [[Double]], dtype: DType = .float32) {
        let width = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == width }) else {
            opFailure("init(_:)", "rows have different lengths \(rows.map(\.count))")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, width], dtype: dtype)
    }

    /// A rank-3 tensor from nested arrays, which must be rectangular.
    public init(_ planes: [[[Double]]], dtype: DType = .float32) {
        let matrices = planes.map { Tensor($0, dtype: dtype) }
        let inner = matrices.first?.shape ?? [0, 0]
        guard matrices.allSatisfy({ $0.shape == inner }) else {
            opFailure("init(_:)", "nested arrays are not rectangular: \(matrices.map { describe($0.shape) })")
        }
        self.init(planes.flatMap { $0.flatMap { $0 } }, shape: [planes.count] + inner, dtype: dtype)
    }

    /// `[start, start + step, …]` up to but excluding `end`.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1,
                              dtype: DType = .float32) -> Tensor {
        guard step != 0 else { opFailure("arange", "step must not be 0") }
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor((0..<count).map { start + Double($0) * step }, dtype: dtype)
    }

    /// Normal samples with the given mean and standard deviation.
    public static func randomNormal(_ shape: [Int], mean: Double = 0, standardDeviation: Double = 1,
                                    dtype: DType = .float32,
                                    using generator: inout RandomGenerator) -> Tensor {
        validate(shape, op: "randomNormal")
        let values = (0..<elementCount(shape)).map { _ in
            mean + standardDeviation * generator.nextNormal()
        }
        return Tensor(values, shape: shape, dtype: dtype)
    }

    /// Uniform samples in `[low, high)`.
    public static func randomUniform(_ shape: [Int], low: Double = 0, high: Double = 1,
                                     dtype: DType = .float32,
                                     using generator: inout RandomGenerator) -> Tensor {
        validate(shape, op: "randomUniform")
        let values = (0..<elementCount(shape)).map { _ in low + (high - low) * generator.nextUniform() }
        return Tensor(values, shape: shape, dtype: dtype)
    }

    /// Normal samples from the calling thread's generator (see ``RandomGenerator/seedThread(_:)``).
    public static func randomNormal(_ shape: [Int], mean: Double = 0, standardDeviation: Double = 1,
                                    dtype: DType = .float32) -> Tensor {
        RandomGenerator.withThreadGenerator { randomNormal(shape, mean: mean, standardDeviation: standardDeviation, dtype: dtype, using: &$0) }
    }

    /// Uniform samples in `[low, high)` from the calling thread's generator.
    public static func randomUniform(_ shape: [Int], low: Double = 0, high: Double = 1,
                                     dtype: DType = .float32) -> Tensor {
        RandomGenerator.withThreadGenerator { randomUniform(shape, low: low, high: high, dtype: dtype, using: &$0) }
    }

    /// A tensor of zeros with this tensor's shape and dtype.
    public func zerosLike() -> Tensor { Tensor(zeros: shape, dtype: dtype) }

    /// A tensor of ones with this tensor's shape and dtype.
    public func onesLike() -> Tensor { Tensor(ones: shape, dtype: dtype) }

    static func validate(_ shape: [Int], op: String) {
        guard shape.allSatisfy({ $0 >= 0 }) else { opFailure(op, "negative dimension in shape \(describe(shape))") }
    }
}
