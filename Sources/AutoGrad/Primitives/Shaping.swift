// Ops that move elements without changing them: reshape, permute, expand, reverse.

struct Reshape: Primitive {
    let shape: [Int]
    var name: String { "reshape" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("shape", .ints(shape))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let count = elementCount(shapes[0])
        guard elementCount(shape) == count, shape.allSatisfy({ $0 >= 0 }) else {
            throw ShapeError(name, "cannot reshape \(describe(shapes[0])) (\(count) elements) to \(describe(shape))")
        }
        return shape
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType { elements[0] }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        Tensor(storage: inputs[0].storage, shape: shape)  // contiguous: shares the buffer
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient.reshaped(to: inputs[0].shape)]
    }
}

struct Permute: WritesIntoBuffer {
    let permutation: [Int]
    var name: String { "transpose" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("perm", .ints(permutation))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let shape = shapes[0]
        guard permutation.sorted() == Array(0..<shape.count) else {
            throw ShapeError(name, "\(describe(permutation)) is not a permutation of the axes of \(describe(shape))")
        }
        return permutation.map { shape[$0] }
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        let strides = contiguousStrides(inputs[0].shape)
        inputs[0].copyStrided(into: output, shape: shape, strides: permutation.map { strides[$0] })
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        var inverse = permutation
        for (position, axis) in permutation.enumerated() { inverse[axis] = position }
        return [gradient.permuted(inverse)]
    }
}

/// Broadcasts to a larger shape (NumPy rules); the gradient sums back.
struct Expand: WritesIntoBuffer {
    let shape: [Int]
    var name: String { "broadcast" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("shape", .ints(shape))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard (try? broadcastShapes(shapes[0], shape, op: name)) == shape else {
            throw ShapeError(name, "cannot broadcast \(describe(shapes[0])) to \(describe(shape))")
        }
        return shape
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        inputs[0].copyStrided(into: output, shape: shape, strides: broadcastStrides(inputs[0].shape, to: shape))
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient.sum(toShape: inputs[0].shape)]
    }
}

struct Reverse: WritesIntoBuffer {
    let axis: Int
    var name: String { "rev" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard (0..<shapes[0].count).contains(axis) else {
            throw ShapeError(name, "axis \(axis) is out of range for shape \(describe(shapes[0]))")
        }
        return shapes[0]
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        var strides = contiguousStrides(shape)
        let offset = shape[axis] > 0 ? (shape[axis] - 1) * strides[axis] : 0
        strides[axis] = -strides[axis]
        inputs[0].copyStrided(into: output, shape: shape, strides: strides, offset: offset)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient.reversed(along: axis)]
    }
}

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1 (inferred).
    public func reshaped(to newShape: [Int]) -> Tensor {
        var shape = newShape
        if let inferred = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                opFailure("reshape", "cannot reshape \(describe(self.shape)) to \(describe(newShape))")
            }
            shape[inferred] = count / known
        }
        return shape == self.shape ? self : apply(Reshape(shape: shape), [self])
    }

    /// The axes reordered: result axis i is this tensor's axis `permutation[i]`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        let normalized = permutation.map { normalizeAxis($0, of: shape, op: "transpose") }
        return normalized == Array(0..<rank) ? self : apply(Permute(permutation: normalized), [self])
    }

    /// Two axes swapped (by default the last two: the matrix transpose).
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> Tensor {
        guard rank >= 2 || (axis0 == -2 && axis1 == -1 && rank < 2) else {
            opFailure("transpose", "axes \(axis0), \(axis1) of a tensor of shape \(describe(shape))")
        }
        if rank < 2 { return self }
        var permutation = Array(0..<rank)
        permutation.swapAt(normalizeAxis(axis0, of: shape, op: "transpose"),
                           normalizeAxis(axis1, of: shape, op: "transpose"))
        return permuted(permutation)
    }

    /// The values broadcast to `shape` (NumPy rules).
    public func expanded(to shape: [Int]) -> Tensor {
        shape == self.shape ? self : apply(Expand(shape: shape), [self])
    }

    /// The elements in reverse order along `axis`.
    public func reversed(along axis: Int) -> Tensor {
        apply(Reverse(axis: normalizeAxis(axis, of: shape, op: "rev")), [self])
    }

    /// A new axis of size 1 inserted at `axis`.
    public func unsqueezed(at axis: Int) -> Tensor {
        var newShape = shape
        newShape.insert(1, at: normalizeAxis(axis, of: shape, op: "unsqueeze", rank: rank + 1))
        return reshaped(to: newShape)
    }

    /// The axis `axis`, which must have size 1, removed.
    public func squeezed(at axis: Int) -> Tensor {
        let axis = normalizeAxis(axis, of: shape, op: "squeeze")
        guard shape[axis] == 1 else { opFailure("squeeze", "axis \(axis) of \(describe(shape)) has size \(shape[axis]), not 1") }
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(to: newShape)
    }

    /// All elements as one axis.
    public func flattened() -> Tensor { reshaped(to: [count]) }
}

extension Tensor {
    /// The `elementCount(shape)` elements from flat position `start` on, shaped `shape`, sharing
    /// this tensor's storage, not recorded: how a compiled recurrent run reads each step's rows
    /// of a sequence while nothing records (a slice and a squeeze as ops would check shapes
    /// and allocate twice per step and operand).
    package func unrecordedView(from start: Int, shape: [Int]) -> Tensor {
        let count = elementCount(shape)
        precondition(start >= 0 && start + count <= self.count, "view of \(count) elements from \(start) of \(self.count)")
        precondition(!requiresGrad || !AutoGrad.isRecording, "an unrecorded view of a recorded tensor while recording")
        let shared = start == 0 && count == storage.count ? storage : .view(of: storage, from: start, count: count)
        return Tensor(storage: shared, shape: shape, elementType: elementType)
    }
}
