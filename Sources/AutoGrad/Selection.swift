// Choosing elements by value along an axis: argmax / argmin, top-k, and the per-position
// gather (NumPy's take_along_axis) that makes the chosen values differentiable.

/// The input's elements at per-position indices (an `i64` operand) along `axis` (PyTorch's
/// `torch.gather`, NumPy's `take_along_axis`): output[…, k, …] = input[…, indices[…, k, …], …].
/// The indices have the input's shape except along `axis`, where they may have any size.
struct TakeAlongAxis: Primitive {
    let axis: Int
    var name: String { "take_along_axis" }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis))] }
    var pullbackReads: PullbackReads { PullbackReads(operands: [1]) }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        try checkAlongAxis(shapes[1], axis: axis, shape: shapes[0], op: name)
        return shapes[1]
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        try indexedElement(elements, op: name)
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], indices = checkedIndices(inputs[1], size: source.shape[axis], axis: axis, op: name)
        let result = TensorStorage.make(count: indices.values.count, dtype: source.dtype)
        forEachPosition(indices, axis: axis, size: source.shape[axis]) { packed, indexed in
            result[double: packed] = source.storage[double: indexed]
        }
        return Tensor(storage: result, shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(ScatterAlongAxis(axis: axis, size: inputs[0].shape[axis]), [gradient, inputs[1]]), nil]
    }
}

/// The transpose of ``TakeAlongAxis``: zeros of `size` along `axis`, each input element added
/// at its index (an `i64` operand of the input's shape; repeats add up).
struct ScatterAlongAxis: Primitive {
    let axis: Int
    let size: Int
    var name: String { "scatter_add_along_axis" }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis)), ("size", .int(size))] }
    var pullbackReads: PullbackReads { PullbackReads(operands: [1]) }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes[0] == shapes[1], (0..<shapes[0].count).contains(axis) else {
            throw ShapeError(name, "values \(describe(shapes[0])) and indices \(describe(shapes[1])) differ, or axis \(axis) is out of range")
        }
        var shape = shapes[1]
        shape[axis] = size
        return shape
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        try indexedElement(elements, op: name)
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let source = inputs[0], result = TensorStorage.make(zeros: elementCount(shape), dtype: source.dtype)
        let indices = checkedIndices(inputs[1], size: size, axis: axis, op: name)
        forEachPosition(indices, axis: axis, size: size) { packed, indexed in
            result[double: indexed] += source.storage[double: packed]
        }
        return Tensor(storage: result, shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(TakeAlongAxis(axis: axis), [gradient, inputs[1]]), nil]
    }
}

/// Checks that indices of `indices` shape fit a tensor of `shape` off `axis`.
private func checkAlongAxis(_ indices: [Int], axis: Int, shape: [Int], op: String) throws(ShapeError) {
    var mine = indices, theirs = shape
    guard mine.count == theirs.count, (0..<shape.count).contains(axis) else {
        throw ShapeError(op, "indices \(describe(indices)) and input \(describe(shape)) differ in rank")
    }
    mine[axis] = 0
    theirs[axis] = 0
    guard mine == theirs else {
        throw ShapeError(op, "indices \(describe(indices)) and input \(describe(shape)) differ off axis \(axis)")
    }
}

/// The indices held in an `i64` operand, each checked to lie in `0..<size`.
private func checkedIndices(_ tensor: Tensor, size: Int, axis: Int, op: String) -> IndexTensor {
    let values = (0..<tensor.count).map { Int(tensor.storage[double: $0]) }
    if let bad = values.first(where: { $0 < 0 || $0 >= size }) {
        opFailure(op, "index \(bad) is out of range for size \(size) along axis \(axis)")
    }
    return IndexTensor(values, shape: tensor.shape)
}

/// Calls `body(packed, indexed)` for each element of `indices`: its own flat position and the
/// flat position it points at in a tensor whose `axis` has `size` (other axes as `indices`).
private func forEachPosition(_ indices: IndexTensor, axis: Int, size: Int, _ body: (Int, Int) -> Void) {
    let count = indices.shape[axis]
    let inner = indices.shape[(axis + 1)...].reduce(1, *)
    for (packed, index) in indices.values.enumerated() {
        let outer = packed / (count * inner), within = packed % inner
        body(packed, (outer * size + index) * inner + within)
    }
}

extension Tensor {
    /// The elements at per-position `indices` along `axis` (PyTorch's `torch.gather`, NumPy's
    /// `take_along_axis`): `indices` has this tensor's shape except along `axis`, and so does
    /// the result. Differentiable; the gradient is scattered back (repeats add up).
    public func taking(_ indices: IndexTensor, along axis: Int) -> Tensor {
        apply(TakeAlongAxis(axis: normalizeAxis(axis, of: shape, op: "take_along_axis")), [self, indices.tensor])
    }

    /// The position of the largest element along `axis` (the first one among ties; NaN counts
    /// as largest, as in PyTorch). The axis is removed unless `keepDims`.
    public func argmax(along axis: Int = -1, keepDims: Bool = false) -> IndexTensor {
        extremePositions(along: axis, keepDims: keepDims, op: "argmax") { $0 > $1 || ($0.isNaN && !$1.isNaN) }
    }

    /// The position of the smallest element along `axis` (the first one among ties; NaN counts
    /// as smallest, as in PyTorch). The axis is removed unless `keepDims`.
    public func argmin(along axis: Int = -1, keepDims: Bool = false) -> IndexTensor {
        extremePositions(along: axis, keepDims: keepDims, op: "argmin") { $0 < $1 || ($0.isNaN && !$1.isNaN) }
    }

    /// The `k` largest (or smallest) elements along `axis`, in order (ties by position), and
    /// their positions (PyTorch's `torch.topk` with `sorted=True`). The values are
    /// differentiable: they are ``taking(_:along:)`` of the indices.
    public func topK(_ k: Int, along axis: Int = -1, largest: Bool = true) -> (values: Tensor, indices: IndexTensor) {
        let axis = normalizeAxis(axis, of: shape, op: "topk")
        guard (0...shape[axis]).contains(k) else {
            opFailure("topk", "k = \(k) is out of range for axis \(axis) of \(describe(shape))")
        }
        let rows = rowsAlong(axis)
        var chosen = [Int](repeating: 0, count: rows.outer * k * rows.inner)
        for o in 0..<rows.outer {
            for i in 0..<rows.inner {
                let base = o * shape[axis] * rows.inner + i
                let values = (0..<shape[axis]).map { storage[double: base + $0 * rows.inner] }
                // A stable sort with NaN first, as PyTorch ranks NaN above everything.
                let order = values.indices.sorted { a, b in
                    let (x, y) = (values[a], values[b])
                    if x.isNaN || y.isNaN { return x.isNaN && !y.isNaN }
                    return x == y ? a < b : (largest ? x > y : x < y)
                }
                for (rank, position) in order.prefix(k).enumerated() { chosen[(o * k + rank) * rows.inner + i] = position }
            }
        }
        var indexShape = shape
        indexShape[axis] = k
        let indices = IndexTensor(chosen, shape: indexShape)
        return (taking(indices, along: axis), indices)
    }

    private func rowsAlong(_ axis: Int) -> (outer: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
    }

    private func extremePositions(along axis: Int, keepDims: Bool, op: String,
                                  isBetter: (Double, Double) -> Bool) -> IndexTensor {
        let axis = normalizeAxis(axis, of: shape, op: op)
        guard shape[axis] > 0 else { opFailure(op, "cannot reduce the empty axis \(axis) of \(describe(shape))") }
        let rows = rowsAlong(axis)
        var positions = [Int](repeating: 0, count: rows.outer * rows.inner)
        for o in 0..<rows.outer {
            for i in 0..<rows.inner {
                let base = o * shape[axis] * rows.inner + i
                var best = 0, bestValue = storage[double: base]
                for k in 1..<shape[axis] {
                    let value = storage[double: base + k * rows.inner]
                    if isBetter(value, bestValue) { (best, bestValue) = (k, value) }
                }
                positions[o * rows.inner + i] = best
            }
        }
        var resultShape = shape
        if keepDims { resultShape[axis] = 1 } else { resultShape.remove(at: axis) }
        return IndexTensor(positions, shape: resultShape)
    }
}

/// Draws one class per row from the categorical distribution softmax(logits / temperature)
/// over the last axis (PyTorch's `torch.multinomial(softmax(logits), 1)`); the result has the
/// logits' shape without the last axis. Not recorded. A temperature below 1 sharpens the
/// distribution; it must be positive.
public func sampleCategorical(logits: Tensor, temperature: Double = 1,
                              using generator: inout RandomGenerator) -> IndexTensor {
    guard logits.rank >= 1, let classes = logits.shape.last, classes > 0 else {
        opFailure("sampleCategorical", "logits of shape \(describe(logits.shape)) have no classes")
    }
    guard temperature > 0 else { opFailure("sampleCategorical", "temperature must be positive, got \(temperature)") }
    let values = logits.scalars, rows = values.count / classes
    var samples: [Int] = []
    samples.reserveCapacity(rows)
    for row in 0..<rows {
        let scaled = values[(row * classes)..<((row + 1) * classes)].map { $0 / temperature }
        let shift = scaled.max()!
        let weights = scaled.map { Double.exp($0 - shift) }
        var threshold = generator.nextUniform() * weights.reduce(0, +)
        // The last class with positive weight absorbs the round-off of the running sum.
        var chosen = weights.lastIndex { $0 > 0 } ?? classes - 1
        for (index, weight) in weights.enumerated() where weight > 0 {
            threshold -= weight
            if threshold < 0 { chosen = index; break }
        }
        samples.append(chosen)
    }
    return IndexTensor(samples, shape: Array(logits.shape.dropLast()))
}
