// Selecting slices by index (embeddings, index_select) and its transpose (scatter-add).

/// Input slices at the indices (an `i64` operand) along `axis`: the axis is replaced by the
/// indices' shape (NumPy's `take`).
struct IndexSelect: Primitive {
    let axis: Int
    var name: String { "gather" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [1]) }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let (source, indices) = (shapes[0], shapes[1])
        guard (0..<source.count).contains(axis) else {
            throw ShapeError(name, "axis \(axis) is out of range for shape \(describe(source))")
        }
        return Array(source[..<axis]) + indices + Array(source[(axis + 1)...])
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        try indexedElement(elements, op: name)
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], result = TensorStorage.make(count: elementCount(shape), dtype: source.dtype)
        let indices = checkedIndices(inputs[1], size: source.shape[axis], op: name, axis: axis, shape: source.shape)
        let bytes = source.dtype.byteCount
        let (outer, inner) = runs(source.shape, axis: axis)
        forEachRun(outer: outer, inner: inner, indexedSize: source.shape[axis], indices: indices) { indexed, packed in
            (result.base + packed * bytes).copyMemory(from: source.storage.base + indexed * bytes, byteCount: inner * bytes)
        }
        return Tensor(storage: result, shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(IndexAdd(axis: axis, size: inputs[0].shape[axis]), [gradient, inputs[1]]), nil]
    }
}

/// Zeros of `size` along `axis`, with the input's slice at each position of the indices (an
/// `i64` operand, whose shape spans axes `axis...` of the input) added at that index; repeats
/// add up. The transpose of ``IndexSelect``.
struct IndexAdd: Primitive {
    let axis: Int
    let size: Int
    var name: String { "scatter_add" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [1]) }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis)), ("size", .int(size))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let (source, indices) = (shapes[0], shapes[1])
        guard axis >= 0, axis + indices.count <= source.count,
              Array(source[axis..<(axis + indices.count)]) == indices else {
            throw ShapeError(name, "indices of shape \(describe(indices)) do not match axes \(axis)... of \(describe(source))")
        }
        return Array(source[..<axis]) + [size] + Array(source[(axis + indices.count)...])
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        try indexedElement(elements, op: name)
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], result = TensorStorage.make(zeros: elementCount(shape), dtype: source.dtype)
        let indices = checkedIndices(inputs[1], size: size, op: name, axis: axis, shape: shape)
        switch source.dtype {
        case .float32: scatterAdd(source.storage.pointer(Float.self), into: result.pointer(Float.self), shape: shape, indices)
        case .float64: scatterAdd(source.storage.pointer(Double.self), into: result.pointer(Double.self), shape: shape, indices)
        }
        return Tensor(storage: result, shape: shape)
    }
    private func scatterAdd<T: FloatElement>(_ source: UnsafeMutablePointer<T>, into result: UnsafeMutablePointer<T>,
                                             shape: [Int], _ indices: [Int]) {
        let (outer, inner) = runs(shape, axis: axis)
        forEachRun(outer: outer, inner: inner, indexedSize: size, indices: indices) { indexed, packed in
            for i in 0..<inner { result[indexed + i] += source[packed + i] }
        }
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(IndexSelect(axis: axis), [gradient, inputs[1]]), nil]
    }
}

/// Rows of `classCount` zeros with a 1 at each index of an `i64` operand.
struct OneHot: Primitive {
    let classCount: Int
    let dtype: DType
    /// An index that gives a row of zeros (a loss's ignore index).
    let ignoredIndex: Int?
    var name: String { "one_hot" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] {
        [("classes", .int(classCount)), ("dtype", .dtype(dtype))] + (ignoredIndex.map { [("ignoring", .int($0))] } ?? [])
    }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] + [classCount] }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        guard elements[0] == .int64 else { throw ShapeError(name, "expects i64 indices, got \(elements[0])") }
        return ElementType(dtype)
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let all = (0..<inputs[0].count).map { Int(inputs[0].storage[double: $0]) }
        checkIndices(all.filter { $0 != ignoredIndex }, size: classCount, op: name, axis: 0, shape: [classCount])
        let result = TensorStorage.make(zeros: elementCount(shape), dtype: dtype)
        for (row, index) in all.enumerated() where index != ignoredIndex { result[double: row * classCount + index] = 1 }
        return Tensor(storage: result, shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil] }
}

/// The element rule of ops indexed by an `i64` operand: a float source and indices.
func indexedElement(_ elements: OperandElements, op: String) throws(ShapeError) -> ElementType {
    guard elements[0].floatType != nil, elements[1] == .int64 else {
        throw ShapeError(op, "expects a float tensor and i64 indices, got \(elements[0]) and \(elements[1])")
    }
    return elements[0]
}

/// The indices held (exactly) in `tensor`'s float storage, each checked against `size`.
private func checkedIndices(_ tensor: Tensor, size: Int, op: String, axis: Int, shape: [Int]) -> [Int] {
    let indices = (0..<tensor.count).map { Int(tensor.storage[double: $0]) }
    checkIndices(indices, size: size, op: op, axis: axis, shape: shape)
    return indices
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
        return apply(IndexSelect(axis: axis), [self, indices.tensor])
    }

    /// One-hot rows: shape `indices.shape + [classCount]`, 1 at each index. Not differentiable
    /// (its input is data).
    /// Indices equal to `ignoredIndex` give rows of zeros.
    public static func oneHot(_ indices: IndexTensor, classCount: Int, dtype: DType = .float32,
                              ignoring ignoredIndex: Int? = nil) -> Tensor {
        apply(OneHot(classCount: classCount, dtype: dtype, ignoredIndex: ignoredIndex), [indices.tensor])
    }
}
