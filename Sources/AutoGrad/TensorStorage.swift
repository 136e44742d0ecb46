import CKernels

/// Done before the first large tensor is allocated (once): see `ag_tune_allocator`.
private let allocatorTuning: Void = ag_tune_allocator()

/// A raw, contiguous buffer of float32 or float64 elements: its own allocation, or a view of a
/// range of another storage's (unaligned, and copied before any write: `isView`).
///
/// Tensors share storages and copy them only when a shared one is about to be written
/// (copy-on-write), which gives `Tensor` value semantics without copies on hot paths.
@usableFromInline
struct StorageHeader {
    @usableFromInline let count: Int
    @usableFromInline let dtype: DType
    /// For a view, the storage whose elements it reads (never itself a view) and the byte
    /// offset of its first element there.
    @usableFromInline var owner: TensorStorage? = nil
    @usableFromInline var offset = 0
}

/// The elements live in the same allocation as the object (one malloc per tensor, which is
/// most of the per-op cost on small tensors).
@usableFromInline
final class TensorStorage: ManagedBuffer<StorageHeader, Double> {
    // The header is read through its pointer: a read of the `header` property is checked for
    // exclusive access at run time (swift_beginAccess), and `base` alone is read thousands of
    // times per training step (7% of config A's instructions went to those checks).

    /// The number of elements.
    @inlinable var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }
    /// The element type.
    @inlinable var dtype: DType { withUnsafeMutablePointerToHeader { $0.pointee.dtype } }
    /// The first byte of the elements (stable while the storage is alive).
    @inlinable var base: UnsafeMutableRawPointer {
        let (owner, offset) = withUnsafeMutablePointerToHeader { ($0.pointee.owner, $0.pointee.offset) }
        if let owner { return owner.base + offset }
        return withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
    }

    /// Whether the elements are a range of another storage's, which a write would change
    /// too: such a storage is copied before any write (`Tensor.makeStorageUnique()`).
    @inlinable var isView: Bool { withUnsafeMutablePointerToHeader { $0.pointee.owner != nil } }

    /// The `count` elements from element `start` of `owner`, shared rather than copied (a
    /// contiguous slice along the first axes); it keeps `owner` alive.
    static func view(of owner: TensorStorage, from start: Int, count: Int) -> TensorStorage {
        let (root, ownerOffset) = owner.withUnsafeMutablePointerToHeader { ($0.pointee.owner ?? owner, $0.pointee.offset) }
        let offset = ownerOffset + start * owner.dtype.byteCount
        return unsafeDowncast(create(minimumCapacity: 0) { _ in
            StorageHeader(count: count, dtype: owner.dtype, owner: root, offset: offset)
        }, to: TensorStorage.self)
    }

    /// Uninitialized storage for `count` elements.
    @usableFromInline
    static func make(count: Int, dtype: DType) -> TensorStorage {
        if count * dtype.byteCount >= 1 << 17 { _ = allocatorTuning }
        let words = (Swift.max(count, 1) * dtype.byteCount + 7) / 8
        return unsafeDowncast(create(minimumCapacity: words) { _ in StorageHeader(count: count, dtype: dtype) },
                              to: TensorStorage.self)
    }

    /// Storage for `count` zeros.
    @usableFromInline
    static func make(zeros count: Int, dtype: DType) -> TensorStorage {
        let storage = make(count: count, dtype: dtype)
        storage.base.initializeMemory(as: UInt8.self, repeating: 0, count: count * dtype.byteCount)
        return storage
    }

    /// The elements as `T`; `T` must match `dtype`.
    @inlinable @inline(__always)
    func pointer<T: FloatElement>(_: T.Type) -> UnsafeMutablePointer<T> {
        base.assumingMemoryBound(to: T.self)
    }

    /// An empty storage of `dtype`, standing in for a value a pullback does not read.
    static func placeholder(_ dtype: DType) -> TensorStorage {
        dtype == .float32 ? emptyFloat32 : emptyFloat64
    }
    // Never written: they hold no elements.
    nonisolated(unsafe) private static let emptyFloat32 = make(count: 0, dtype: .float32)
    nonisolated(unsafe) private static let emptyFloat64 = make(count: 0, dtype: .float64)

    /// An independent copy.
    func copy() -> TensorStorage {
        let result = TensorStorage.make(count: count, dtype: dtype)
        result.base.copyMemory(from: base, byteCount: count * dtype.byteCount)
        return result
    }

    /// A copy converted to `dtype` (shares nothing with `self`).
    func converted(to target: DType) -> TensorStorage {
        if target == dtype { return copy() }
        let result = TensorStorage.make(count: count, dtype: target)
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
    ///
    /// (Indices and masks are stored as floats too; see ``ElementType``.)
    @inlinable
    subscript(double i: Int) -> Double {
        get { dtype == .float32 ? Double(pointer(Float.self)[i]) : pointer(Double.self)[i] }
        set {
            if dtype == .float32 { pointer(Float.self)[i] = Float(newValue) }
            else { pointer(Double.self)[i] = newValue }
        }
    }
}
