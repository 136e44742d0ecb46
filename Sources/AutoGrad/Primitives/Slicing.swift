import CKernels

// Slices along an axis and their transpose (pad), concatenation, and selection by mask.

/// Elements `start, start+step, …` (below `end`) along `axis`.
struct Slice: AccumulatingPullback, WritesIntoBuffer {
    let axis: Int, start: Int, end: Int, step: Int
    var name: String { "slice" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] {
        [("axis", .int(axis)), ("start", .int(start)), ("end", .int(end))] + (step == 1 ? [] : [("step", .int(step))])
    }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let shape = shapes[0]
        guard (0..<shape.count).contains(axis), step > 0, start >= 0, start <= end, end <= shape[axis] else {
            throw ShapeError(name, "range \(start)..<\(end) (step \(step)) is out of bounds for axis \(axis) of \(describe(shape))")
        }
        var result = shape
        result[axis] = (end - start + step - 1) / step
        return result
    }
    /// A range of whole leading rows (every axis before `axis` of size 1, step 1) is contiguous
    /// in the input: it is returned as a view of the input's storage, not copied, so selecting
    /// a sequence's steps one by one costs nothing.
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let input = inputs[0]
        guard let offset = viewOffset(in: input.shape) else { return written(inputs, shape: shape) }
        return Tensor(storage: .view(of: input.storage, from: offset, count: elementCount(shape)), shape: shape)
    }

    /// Where the slice starts in an input of `shape`, when it is a contiguous range of it
    /// (whole leading rows): its elements are then a view of the input's.
    func viewOffset(in shape: [Int]) -> Int? {
        guard step == 1, shape[..<axis].allSatisfy({ $0 == 1 }) else { return nil }
        return start * shape[(axis + 1)...].reduce(1, *)
    }
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        var strides = contiguousStrides(inputs[0].shape)
        let offset = start * strides[axis]
        strides[axis] *= step
        inputs[0].copyStrided(into: output, shape: shape, strides: strides, offset: offset)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [firstGradient(gradient, inputShape: inputs[0].shape)]
    }

    /// `gradient` padded with zeros to the input's shape, each element written once.
    func firstGradient(_ gradient: Tensor, inputShape: [Int]) -> Tensor {
        apply(Pad(axis: axis, start: start, step: step, size: inputShape[axis]), [gradient])
    }

    /// Adds `gradient` into its region of `total`: slicing a long sequence step by step then
    /// does not write a full-size padded gradient per step.
    func accumulate(_ gradient: Tensor, into total: inout Tensor) {
        total.makeStorageUnique()
        var strides = contiguousStrides(total.shape)
        let offset = start * strides[axis]
        strides[axis] *= step
        switch total.dtype {
        case .float32: stridedTransfer(total.storage.pointer(Float.self) + offset, strides, gradient.shape, gradient.storage.pointer(Float.self), .scatterAdd)
        case .float64: stridedTransfer(total.storage.pointer(Double.self) + offset, strides, gradient.shape, gradient.storage.pointer(Double.self), .scatterAdd)
        }
    }
}

/// The transpose of `Slice`: zeros of `size` along `axis`, with the input placed at
/// `start, start+step, …`.
struct Pad: WritesIntoBuffer {
    let axis: Int, start: Int, step: Int, size: Int
    var name: String { "pad" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] {
        [("axis", .int(axis)), ("start", .int(start)), ("size", .int(size))] + (step == 1 ? [] : [("step", .int(step))])
    }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        var shape = shapes[0]
        guard (0..<shape.count).contains(axis), step > 0, start >= 0,
              start + (shape[axis] - 1) * step < size || shape[axis] == 0 else {
            throw ShapeError(name, "\(describe(shape)) does not fit in size \(size) at \(start) step \(step) along axis \(axis)")
        }
        shape[axis] = size
        return shape
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    func write(_ inputs: [Tensor], into result: TensorStorage, shape: [Int]) {
        let source = inputs[0]
        zeroOutsidePlacedRegion(of: result, shape: shape, placed: source.shape[axis])
        var strides = contiguousStrides(shape)
        let offset = start * strides[axis]
        strides[axis] *= step
        switch source.dtype {
        case .float32: stridedTransfer(result.pointer(Float.self) + offset, strides, source.shape, source.storage.pointer(Float.self), .scatter)
        case .float64: stridedTransfer(result.pointer(Double.self) + offset, strides, source.shape, source.storage.pointer(Double.self), .scatter)
        }
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(Slice(axis: axis, start: start, end: start + (inputs[0].shape[axis] - 1) * step + 1, step: step), [gradient])]
    }

    /// Zeros every element of `result` the input does not overwrite, where the `placed` entries
    /// along the axis are one run (step 1): the elements before and after it in each outer
    /// row. A recurrent run's result gradient is mostly its step outputs' (a placed run of
    /// 97–99% of it), and zeroing all of it first was a serial memset as large as the copy.
    private func zeroOutsidePlacedRegion(of result: TensorStorage, shape: [Int], placed: Int) {
        let bytes = result.dtype.byteCount
        guard step == 1 else {
            result.base.initializeMemory(as: UInt8.self, repeating: 0, count: result.count * bytes)
            return
        }
        let inner = shape[(axis + 1)...].reduce(1, *) * bytes, row = size * inner
        let (before, after) = (start * inner, (size - start - placed) * inner)
        for outer in 0..<shape[..<axis].reduce(1, *) {
            let base = result.base + outer * row
            base.initializeMemory(as: UInt8.self, repeating: 0, count: before)
            (base + row - after).initializeMemory(as: UInt8.self, repeating: 0, count: after)
        }
    }
}

struct Concat: WritesIntoBuffer {
    let axis: Int
    var name: String { "concatenate" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("axis", .int(axis))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        var shape = shapes[0]
        // Described only for a message: a concatenation of a run's steps checks every step's shape.
        func all() -> String { shapes.map(describe).joined(separator: ", ") }
        guard (0..<shape.count).contains(axis) else {
            throw ShapeError(name, "axis \(axis) is out of range for shapes \(all())")
        }
        for input in shapes.dropFirst() {
            guard input.count == shape.count else { throw ShapeError(name, "ranks differ: " + all()) }
            guard input.indices.allSatisfy({ $0 == axis || input[$0] == shape[$0] }) else {
                throw ShapeError(name, "shapes differ off axis \(axis): " + all())
            }
            shape[axis] += input[axis]
        }
        return shape
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    /// A large result's inputs are copied by several threads, a run of them each (a recurrent
    /// run's per-step pieces of a weight gradient's operand: memory-bound copies).
    func write(_ inputs: [Tensor], into result: TensorStorage, shape: [Int]) {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let rowBytes = shape[axis] * inner * result.dtype.byteCount
        var positions: [Int] = [], position = 0
        for input in inputs {
            positions.append(position)
            position += input.shape[axis] * inner * result.dtype.byteCount
        }
        let target = result.base
        func copy(_ indices: Range<Int>) {
            for index in indices {
                let chunkBytes = inputs[index].shape[axis] * inner * result.dtype.byteCount, source = inputs[index].storage.base
                for o in 0..<outer {
                    (target + o * rowBytes + positions[index]).copyMemory(from: source + o * chunkBytes, byteCount: chunkBytes)
                }
            }
        }
        let threads = elementCount(shape) >= parallelTransferCount ? Swift.min(ComputeThreads.available, inputs.count) : 1
        guard threads > 1 else { return copy(inputs.indices) }
        parallelFor(threads, threads: threads) { part in
            copy((part * inputs.count / threads)..<((part + 1) * inputs.count / threads))
        }
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        var start = 0
        return inputs.map { input in
            defer { start += input.shape[axis] }
            return input.requiresGrad ? gradient.slice(start..<(start + input.shape[axis]), along: axis) : nil
        }
    }
}

/// `a` where the boolean `condition` holds, else `b` (all three broadcast together); the
/// condition is an operand, so a traced program takes masks as data.
struct Where: WritesIntoBuffer {
    var name: String { "where" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        try broadcastShapes(try broadcastShapes(shapes[0], shapes[1], op: name), shapes[2], op: name)
    }
    /// The condition is a `bool` or, as in NumPy and JAX, a float of the result's type whose
    /// non-zero elements count as true (a 0/1 mask read in place, without a comparison).
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        let result = try sameFloatElement(elements.dropFirst())
        guard elements[0] == .bool || elements[0] == result else {
            throw ShapeError(name, "the condition must be bool or \(result) (non-zero is true), got \(elements[0])")
        }
        return result
    }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape, dtype: inputs[1].dtype) }
    func write(_ inputs: [Tensor], into result: TensorStorage, shape: [Int]) {
        let a = inputs[1].broadcastIfNeeded(to: shape), b = inputs[2].broadcastIfNeeded(to: shape)
        let condition = inputs[0].broadcastIfNeeded(to: shape).converted(to: a.dtype)
        switch a.dtype {
        case .float32: pick(condition, a, b, result.pointer(Float.self))
        case .float64: pick(condition, a, b, result.pointer(Double.self))
        }
    }
    private func pick<T: FloatElement>(_ condition: Tensor, _ a: Tensor, _ b: Tensor, _ result: UnsafeMutablePointer<T>) {
        blendWhere(condition.storage.pointer(T.self), false, a.storage.pointer(T.self), false, b.storage.pointer(T.self), false,
               result, condition.count)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let zero = gradient.scalar(0), condition = inputs[0]
        return [nil,
                inputs[1].requiresGrad ? apply(Where(), [condition, gradient, zero]) : nil,
                inputs[2].requiresGrad ? apply(Where(), [condition, zero, gradient]) : nil]
    }
}

extension Tensor {
    /// The elements in `range` (with `step`) along `axis`.
    public func slice(_ range: Range<Int>, along axis: Int, step: Int = 1) -> Tensor {
        let axis = normalizeAxis(axis, of: shape, op: "slice")
        if range == 0..<shape[axis] && step == 1 { return self }
        return apply(Slice(axis: axis, start: range.lowerBound, end: range.upperBound, step: step), [self])
    }

    /// The sub-tensor at `index` along `axis`, which is removed (negative counts from the end).
    public func select(_ index: Int, along axis: Int) -> Tensor {
        let axis = normalizeAxis(axis, of: shape, op: "select")
        let position = index < 0 ? index + shape[axis] : index
        guard position >= 0 && position < shape[axis] else {
            opFailure("select", "index \(index) is out of range for axis \(axis) of \(describe(shape))")
        }
        return slice(position..<(position + 1), along: axis).squeezed(at: axis)
    }

    /// Consecutive pieces of the given sizes along `axis` (they must add up to its size).
    public func split(sizes: [Int], along axis: Int) -> [Tensor] {
        let axis = normalizeAxis(axis, of: shape, op: "split")
        guard sizes.reduce(0, +) == shape[axis], sizes.allSatisfy({ $0 >= 0 }) else {
            opFailure("split", "sizes \(sizes) do not add up to \(shape[axis]), axis \(axis) of \(describe(shape))")
        }
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(start..<(start + size), along: axis)
        }
    }

    /// `count` equal pieces along `axis` (its size must be divisible by `count`).
    public func chunked(into count: Int, along axis: Int) -> [Tensor] {
        let axis = normalizeAxis(axis, of: shape, op: "chunk")
        guard count > 0, shape[axis] % count == 0 else {
            opFailure("chunk", "axis \(axis) of \(describe(shape)) does not split into \(count) equal chunks")
        }
        return split(sizes: Array(repeating: shape[axis] / count, count: count), along: axis)
    }

    /// `a` where `condition` holds, else `b`, with broadcasting (PyTorch's `torch.where`).
    public static func `where`(_ condition: Mask, _ a: Tensor, _ b: Tensor) -> Tensor {
        apply(Where(), [condition.tensor(dtype: a.dtype), a, b])
    }

    /// `a` where `condition` is non-zero, else `b`, with broadcasting (NumPy's and JAX's
    /// `where` with a numeric condition). A 0/1 mask drawn as a tensor is read as it is, with
    /// no comparison to make a ``Mask`` of it; `condition` must have the dtype of `a` and `b`
    /// and gets no gradient.
    public static func `where`(nonzero condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        apply(Where(), [condition, a, b])
    }
}

/// `y[i] = c[i] != 0 ? a[i] : b[i]` for `i < count`, where an operand flagged as a scalar is
/// read at index 0: both sides are read before choosing, so the choice is a blend rather than
/// a branch (a random mask, zoneout's, would mispredict half the time); float32 in C.
func blendWhere<T: FloatElement>(_ c: UnsafePointer<T>, _ scalarC: Bool, _ a: UnsafePointer<T>, _ scalarA: Bool,
                             _ b: UnsafePointer<T>, _ scalarB: Bool, _ y: UnsafeMutablePointer<T>, _ count: Int) {
    if T.self == Float.self {
        func float(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self) }
        return ag_where_f32(float(c), scalarC ? 1 : 0, float(a), scalarA ? 1 : 0, float(b), scalarB ? 1 : 0,
                            UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), Int64(count))
    }
    let (sc, sa, sb) = (scalarC ? 0 : 1, scalarA ? 0 : 1, scalarB ? 0 : 1)
    for i in 0..<count {
        let (x, z) = (a[i * sa], b[i * sb])
        y[i] = c[i * sc] != 0 ? x : z
    }
}

/// The tensors joined along an existing axis.
public func concat(_ tensors: [Tensor], along axis: Int) -> Tensor {
    guard let first = tensors.first else { opFailure("concatenate", "no tensors to concatenate") }
    if tensors.count == 1 { return first }
    return apply(Concat(axis: normalizeAxis(axis, of: first.shape, op: "concatenate")), tensors)
}

/// The tensors (of one shape) joined along a new axis.
public func stack(_ tensors: [Tensor], along axis: Int = 0) -> Tensor {
    guard let first = tensors.first else { opFailure("stack", "no tensors to stack") }
    let axis = normalizeAxis(axis, of: first.shape, op: "stack", rank: first.rank + 1)
    for tensor in tensors where tensor.shape != first.shape {
        opFailure("stack", "shapes differ: " + tensors.map { describe($0.shape) }.joined(separator: ", "))
    }
    return concat(tensors.map { $0.unsqueezed(at: axis) }, along: axis)
}
