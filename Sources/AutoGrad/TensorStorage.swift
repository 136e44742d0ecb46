/// A raw, contiguous, 64-byte-aligned buffer of float32 or float64 elements.
///
/// Tensors share storages and copy them only when a shared one is about to be written
/// (copy-on-write), which gives `Tensor` value semantics without copies on hot paths.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let count: Int
    @usableFromInline let dtype: DType

    /// Uninitialized storage for `count` elements.
    @usableFromInline
    init(count: Int, dtype: DType) {
        self.count = count
        self.dtype = dtype
        base = .allocate(byteCount: max(count, 1) * dtype.byteCount, alignment: 64)
    }

    /// Storage for `count` zeros.
    @usableFromInline
    convenience init(zeros count: Int, dtype: DType) {
        self.init(count: count, dtype: dtype)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: count * dtype.byteCount)
    }

    deinit { base.deallocate() }

    /// The elements as `T`; `T` must match `dtype`.
    @inlinable @inline(__always)
    func pointer<T: FloatElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        base.assumingMemoryBound(to: T.self)
    }

    /// An independent copy.
    func copy() -> TensorStorage {
        let result = TensorStorage(count: count, dtype: dtype)
        result.base.copyMemory(from: base, byteCount: count * dtype.byteCount)
        return result
    }

    /// A copy converted to `dtype` (shares nothing with `self`).
    func converted(to target: DType) -> TensorStorage {
        if target == dtype { return copy() }
        let result = TensorStorage(count: count, dtype: target)
        switch dtype {
        case .float32:
            let source = pointer(Float.self), destination = result.pointer(Double.self)
            for i in 0..<count { destination[i] = Double(source[i]) }
        case .float64:
            let source = pointer(Double.self), destination = result.pointer(Float.self)
            for i in 0..<count { destination[i] = Float(source[i]) }
        }
        return result
    }

    /// Reads element `i` as a Double, whatever the dtype.
    @inlinable
    subscript(double i: Int) -> Double {
        get { dtype == .float32 ? Double(pointer(Float.self)[i]) : pointer(Double.self)[i] }
        set {
            if dtype == .float32 { pointer(Float.self)[i] = Float(newValue) }
            else { pointer(Double.self)[i] = newValue }
        }
    }
}
