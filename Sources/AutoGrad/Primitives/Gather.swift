// Selecting slices by index (embeddings, index_select) and its transpose (scatter-add).

/// Input slices at `indices` along `axis`: the axis takes the indices' count.
struct IndexSelect: Primitive {
    let axis: Int
    let indices: [Int]
    var name: String { "gather" }
    var attributes: [(name: String, value: String)] { [("axis", "\(axis)"), ("indices", "i64[\(indices.count)]")] }
    func outputShape(_ inputs: [Tensor]) -> [Int] {
        var shape = inputs[0].shape
        checkIndices(indices, size: shape[axis], op: name, axis: axis, shape: shape)
        shape[axis] = indices.count
        return shape
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], result = TensorStorage.make(count: elementCount(shape), dtype: source.dtype)
        let bytes = source.dtype.byteCount
        let (outer, inner) = runs(source.shape, axis: axis)
        forEachRun(outer: outer, inner: inner, indexedSize: source.shape[axis], indices: indices) { indexed, packed in
            (result.base + packed * bytes).copyMemory(from: source.storage.base + indexed * bytes, byteCount: inner * bytes)
        }
        return Tensor(storage: result, shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(IndexAdd(axis: axis, indices: indices, size: inputs[0].shape[axis]), [gradient])]
    }
}

/// Zeros of `size` along `axis`, with input slice k added at `indices[k]` (repeats add up).
struct IndexAdd: Primitive {
    let axis: Int
    let indices: [Int]
    let size: Int
    var name: String { "scatter_add" }
    var attributes: [(name: String, value: String)] {
        [("axis", "\(axis)"), ("indices", "i64[\(indices.count)]"), ("size", "\(size)")]
    }
    func outputShape(_ inputs: [Tensor]) -> [Int] {
        var shape = inputs[0].shape
        guard shape[axis] == indices.count else {
            opFailure(name, "\(indices.count) indices for axis \(axis) of \(describe(shape))")
        }
        checkIndices(indices, size: size, op: name, axis: axis, shape: shape)
        shape[axis] = size
        return shape
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], result = TensorStorage.make(zeros: elementCount(shape), dtype: source.dtype)
        switch source.dtype {
        case .float32: scatterAdd(source.storage.pointer(Float.self), into: result.pointer(Float.self), shape: shape)
        case .float64: scatterAdd(source.storage.pointer(Double.self), into: result.pointer(Double.self), shape: shape)
        }
        return Tensor(storage: result, shape: shape)
    }
    private func scatterAdd<T: FloatElement>(_ source: UnsafeMutablePointer<T>, into result: UnsafeMutablePointer<T>,
                                             shape: [Int]) {
        let (outer, inner) = runs(shape, axis: axis)
        forEachRun(outer: outer, inner: inner, indexedSize: size, indices: indices) { indexed, packed in
            for i in 0..<inner { result[indexed + i] += source[packed + i] }
        }
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(IndexSelect(axis: axis, indices: indices), [gradient])]
    }
}

/// The element counts before and after `axis`.
private func runs(_ shape: [Int], axis: Int) -> (outer: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
}

/// Calls `body(indexedOffset, packedOffset)` (in elements) for each contiguous run of `inner`
/// elements linking the indexed tensor (size `indexedSize` along the axis) and the packed one
/// (whose axis walks `indices` in order).
private func forEachRun(outer: Int, inner: Int, indexedSize: Int, indices: [Int],
                        _ body: (_ indexed: Int, _ packed: Int) -> Void) {
    for o in 0..<outer {
        for (k, index) in indices.enumerated() {
            body((o * indexedSize + index) * inner, (o * indices.count + k) * inner)
        }
    }
}

private func checkIndices(_ indices: [Int], size: Int, op: String, axis: Int, shape: [Int]) {
    if let bad = indices.first(where: { $0 < 0 || $0 >= size }) {
        opFailure(op, "index \(bad) is out of range for size \(size) (axis \(axis) of \(describe(shape)))")
    }
}

extension Tensor {
    /// The slices at `indices` along `axis`; the axis is replaced by the indices' shape
    /// (NumPy's `take`). With `axis` 0 on a weight matrix this is an embedding lookup.
    public func gathering(_ indices: IndexTensor, along axis: Int = 0) -> Tensor {
        let axis = normalizeAxis(axis, of: shape, op: "gather")
        let gathered = apply(IndexSelect(axis: axis, indices: indices.values), [self])
        return gathered.reshaped(to: Array(shape[..<axis]) + indices.shape + Array(shape[(axis + 1)...]))
    }

    /// One-hot rows: shape `indices.shape + [classCount]`, 1 at each index. A constant.
    public static func oneHot(_ indices: IndexTensor, classCount: Int, dtype: DType = .float32) -> Tensor {
        checkIndices(indices.values, size: classCount, op: "one_hot", axis: 0, shape: [classCount])
        let result = Tensor(zeros: indices.shape + [classCount], dtype: dtype)
        for (row, index) in indices.values.enumerated() { result.storage[double: row * classCount + index] = 1 }
        return result
    }
}
