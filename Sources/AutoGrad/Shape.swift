/// Shape arithmetic shared by all primitives: element counts, strides, axis normalization and
/// NumPy broadcasting. Misuse stops the program with a message naming the op, the shapes and
/// the axis, like an out-of-range array index does in Swift (see Docs: Errors).

/// Stops with `"<op>: <message>"`: how ops, layers and optimizers report programmer errors
/// (shape, axis, dtype, option misuse). `fatalError` rather than `precondition` so the message
/// survives release builds. Public so user-defined primitives and layers report alike.
public func opFailure(_ op: String, _ message: String) -> Never {
    fatalError("\(op): \(message)")
}

/// Formats a shape as `[2,3]`.
@usableFromInline
func describe(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ",") + "]"
}

/// Formats a tensor type as `f32[2,3]`, the IR's spelling.
@usableFromInline
func describe(_ dtype: DType, _ shape: [Int]) -> String {
    "\(dtype)\(describe(shape))"
}

/// The number of elements of a shape.
@inlinable
func elementCount(_ shape: [Int]) -> Int {
    var count = 1
    for dimension in shape { count &*= dimension }
    return count
}

/// Row-major strides of a contiguous tensor.
@usableFromInline
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var stride = 1
    for axis in shape.indices.reversed() {
        strides[axis] = stride
        stride *= shape[axis]
    }
    return strides
}

/// Maps a possibly negative axis into `0..<rank` (by default the rank of `shape`; ops that
/// insert an axis pass `shape.count + 1`), or stops naming the op, the axis and the shape.
@usableFromInline
func normalizeAxis(_ axis: Int, of shape: [Int], op: String, rank: Int? = nil) -> Int {
    let rank = rank ?? shape.count
    let normalized = axis < 0 ? axis + rank : axis
    guard normalized >= 0 && normalized < rank else {
        opFailure(op, "axis \(axis) is out of range for shape \(describe(shape))")
    }
    return normalized
}

/// Sorted, deduplicated, normalized axes of a tensor of `shape`; `nil` means every axis.
@usableFromInline
func normalizeAxes(_ axes: [Int]?, shape: [Int], op: String) -> [Int] {
    guard let axes else { return Array(shape.indices) }
    let normalized = Set(axes.map { normalizeAxis($0, of: shape, op: op) }).sorted()
    return normalized
}

/// The NumPy broadcast of two shapes, or stops naming the op and both shapes.
@usableFromInline
func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    do { return try broadcastShapes(a, b, op: op) } catch { opFailure(error.op, error.message) }
}

/// The NumPy broadcast of two shapes, or an error naming the op and both shapes.
func broadcastShapes(_ a: [Int], _ b: [Int], op: String) throws(ShapeError) -> [Int] {
    if a == b { return a }
    let rank = max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw ShapeError(op, "shapes \(describe(a)) and \(describe(b)) cannot be broadcast together")
        }
        result[i] = da == 1 ? db : da
    }
    return result
}

/// Strides that read a contiguous tensor of `shape` as if it had the broadcast shape `target`
/// (stride 0 along broadcast axes).
@usableFromInline
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = contiguousStrides(shape)
    let offset = target.count - shape.count
    return target.indices.map { axis in
        axis < offset || shape[axis - offset] == 1 ? 0 : own[axis - offset]
    }
}
