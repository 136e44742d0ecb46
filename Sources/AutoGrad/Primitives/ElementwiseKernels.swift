import CKernels

/// A primitive that applies a scalar function to every element. Conformers write `value(_:)`
/// (specialized for Float and Double, so the loop has no closure call per element) and a
/// pullback; the shape rule and forward loop come from here.
public protocol UnaryElementwisePrimitive: Primitive {
    /// The function of one element.
    func value<T: FloatElement>(_ x: T) -> T
    /// A vectorized float32 loop computing the same function, if there is one (CKernels).
    var float32Kernel: Float32Kernel? { get }
    /// `y[i] = value(x[i])` for `i < count` (the loop fused kernels call per block).
    func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int)
    /// `y[i] = value(x[i])` for `i < count`, in float64.
    func map(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int)
}

extension UnaryElementwisePrimitive {
    public var float32Kernel: Float32Kernel? { nil }

    public func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }

    public func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        let x = inputs[0], result = TensorStorage.make(count: x.count, dtype: x.dtype)
        switch x.dtype {
        case .float32: map(x.storage.pointer(Float.self), result.pointer(Float.self), count: x.count)
        case .float64: map(x.storage.pointer(Double.self), result.pointer(Double.self), count: x.count)
        }
        return Tensor(storage: result, shape: x.shape)
    }

    public func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        if let kernel = float32Kernel { kernel(x, y, Int64(count)) } else { mapLoop(x, y, count) }
    }

    public func map(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) { mapLoop(x, y, count) }

    @inline(__always)
    func mapLoop<T: FloatElement>(_ x: UnsafePointer<T>, _ result: UnsafeMutablePointer<T>, _ count: Int) {
        for i in 0..<count { result[i] = value(x[i]) }
    }
}

/// A vectorized float32 loop `y[i] = f(x[i])` (CKernels' tanh, sigmoid, exp): a C function,
/// so fused kernels hold and call it as a plain pointer.
public typealias Float32Kernel = @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int64) -> Void

/// A primitive that combines two tensors element by element with NumPy broadcasting.
public protocol BinaryElementwisePrimitive: Primitive {
    /// The function of one pair of elements.
    func value<T: FloatElement>(_ a: T, _ b: T) -> T
    /// `y[i] = value(a[i], b[i])` for `i < count`, where an operand flagged as a scalar is
    /// read at index 0 only (the loop fused kernels call per block).
    func zip(_ a: UnsafePointer<Float>, scalarA: Bool, _ b: UnsafePointer<Float>, scalarB: Bool,
             _ y: UnsafeMutablePointer<Float>, count: Int)
    /// The same loop in float64.
    func zip(_ a: UnsafePointer<Double>, scalarA: Bool, _ b: UnsafePointer<Double>, scalarB: Bool,
             _ y: UnsafeMutablePointer<Double>, count: Int)
    /// A vectorized C loop computing the float32 loop exactly as ``value(_:_:)`` rounds, or `nil`.
    var float32Kernel: BinaryFloat32Kernel? { get }
}

/// A vectorized float32 loop `y[i] = f(a[i], b[i])` (CKernels' binary.c); an operand whose
/// flag is nonzero is a scalar read at index 0. A C function, like ``Float32Kernel``.
public typealias BinaryFloat32Kernel = @convention(c) (UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, UnsafeMutablePointer<Float>?, Int64) -> Void

extension BinaryElementwisePrimitive {
    public var float32Kernel: BinaryFloat32Kernel? { nil }

    public func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        try broadcastShapes(shapes[0], shapes[1], op: name)
    }

    public func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        // Scalars and equal shapes take the tight loops, and so does an operand repeated whole
        // over leading axes (a bias added to every row), a block at a time; other broadcasts
        // materialize first.
        var a = inputs[0], b = inputs[1]
        let count = elementCount(shape), result = TensorStorage.make(count: count, dtype: a.dtype)
        let blockA = repeatedBlock(a.shape, in: shape), blockB = repeatedBlock(b.shape, in: shape)
        if let block = blockA ?? blockB, (blockA == nil ? a : b).count == count {
            switch a.dtype {
            case .float32: zipBlocks(a, b, result.pointer(Float.self), count, block: block, repeatsA: blockA != nil)
            case .float64: zipBlocks(a, b, result.pointer(Double.self), count, block: block, repeatsA: blockA != nil)
            }
            return Tensor(storage: result, shape: shape)
        }
        if a.count != 1 { a = a.broadcastIfNeeded(to: shape) }
        if b.count != 1 { b = b.broadcastIfNeeded(to: shape) }
        switch a.dtype {
        case .float32: zipLoop(a, b, result.pointer(Float.self), count)
        case .float64: zipLoop(a, b, result.pointer(Double.self), count)
        }
        return Tensor(storage: result, shape: shape)
    }

    /// The loop over `count` elements where one operand (`a` if `repeatsA`) holds `block`
    /// elements repeated over and over and the other is full-length.
    @inline(__always)
    func zipBlocks<T: FloatElement>(_ a: Tensor, _ b: Tensor, _ result: UnsafeMutablePointer<T>, _ count: Int,
                                    block: Int, repeatsA: Bool) {
        let (pa, pb) = (UnsafePointer(a.storage.pointer(T.self)), UnsafePointer(b.storage.pointer(T.self)))
        for start in stride(from: 0, to: count, by: block) {
            zipPointers(repeatsA ? pa : pa + start, false, repeatsA ? pb + start : pb, false, result + start, block)
        }
    }

    public func zip(_ a: UnsafePointer<Float>, scalarA: Bool, _ b: UnsafePointer<Float>, scalarB: Bool,
                    _ y: UnsafeMutablePointer<Float>, count: Int) {
        zipPointers(a, scalarA, b, scalarB, y, count)
    }

    public func zip(_ a: UnsafePointer<Double>, scalarA: Bool, _ b: UnsafePointer<Double>, scalarB: Bool,
                    _ y: UnsafeMutablePointer<Double>, count: Int) {
        zipPointers(a, scalarA, b, scalarB, y, count)
    }

    @inline(__always)
    func zipLoop<T: FloatElement>(_ a: Tensor, _ b: Tensor, _ result: UnsafeMutablePointer<T>, _ count: Int) {
        zipPointers(a.storage.pointer(T.self), a.count != count, b.storage.pointer(T.self), b.count != count, result, count)
    }

    /// The loop over operands that are full-length or (flagged) scalars.
    @inline(__always)
    func zipPointers<T: FloatElement>(_ pa: UnsafePointer<T>, _ scalarA: Bool, _ pb: UnsafePointer<T>, _ scalarB: Bool,
                                      _ result: UnsafeMutablePointer<T>, _ count: Int) {
        if T.self == Float.self, let kernel = float32Kernel {
            kernel(UnsafeRawPointer(pa).assumingMemoryBound(to: Float.self), scalarA ? 1 : 0,
                   UnsafeRawPointer(pb).assumingMemoryBound(to: Float.self), scalarB ? 1 : 0,
                   UnsafeMutableRawPointer(result).assumingMemoryBound(to: Float.self), Int64(count))
        } else if !scalarA && !scalarB {
            for i in 0..<count { result[i] = value(pa[i], pb[i]) }
        } else if !scalarA {
            let scalar = pb[0]
            for i in 0..<count { result[i] = value(pa[i], scalar) }
        } else if !scalarB {
            let scalar = pa[0]
            for i in 0..<count { result[i] = value(scalar, pb[i]) }
        } else {
            let value = value(pa[0], pb[0])
            for i in 0..<count { result[i] = value }
        }
    }
}

/// The size of an operand of `shape` that broadcasting repeats whole over `target`'s leading
/// axes (its shape, without leading 1s, is a proper suffix of `target`), or `nil`.
private func repeatedBlock(_ shape: [Int], in target: [Int]) -> Int? {
    let core = shape.drop { $0 == 1 }, count = core.reduce(1, *)
    guard count > 1, core.count < target.count, Array(target.suffix(core.count)) == Array(core) else { return nil }
    return count
}

/// A primitive that writes its result into a buffer it is given: what a compiled program runs
/// into its planned memory. Its forward allocates a buffer and writes into it.
protocol WritesIntoBuffer: Primitive {
    /// Writes the result (of `shape`) into `output`, which has its size and dtype.
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int])
}

extension WritesIntoBuffer {
    /// The result written into a fresh buffer of `dtype` (the operands' unless given).
    func written(_ inputs: [Tensor], shape: [Int], dtype: DType? = nil) -> Tensor {
        let output = TensorStorage.make(count: elementCount(shape), dtype: dtype ?? inputs[0].dtype)
        write(inputs, into: output, shape: shape)
        return Tensor(storage: output, shape: shape)
    }
}

extension Tensor {
    /// This tensor's values laid out contiguously in `shape`, given per-axis element strides
    /// into this tensor's buffer starting at `offset` (stride 0 repeats, negative reverses).
    /// The one strided-copy kernel behind expand, permute, slice and reverse.
    func stridedValues(shape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        let result = TensorStorage.make(count: elementCount(shape), dtype: dtype)
        copyStrided(into: result, shape: shape, strides: strides, offset: offset)
        return Tensor(storage: result, shape: shape)
    }

    /// ``stridedValues(shape:strides:offset:)`` written into `result`.
    func copyStrided(into result: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        switch dtype {
        case .float32: stridedTransfer(storage.pointer(Float.self) + offset, strides, shape, result.pointer(Float.self))
        case .float64: stridedTransfer(storage.pointer(Double.self) + offset, strides, shape, result.pointer(Double.self))
        }
    }

    /// The values broadcast (repeated) to `shape`, without recording.
    func broadcastValues(to shape: [Int]) -> Tensor {
        stridedValues(shape: shape, strides: broadcastStrides(self.shape, to: shape))
    }

    /// `broadcastValues(to:)`, or this tensor itself when it already has `shape`.
    func broadcastIfNeeded(to shape: [Int]) -> Tensor {
        shape == self.shape ? self : broadcastValues(to: shape)
    }
}

/// The direction of a strided transfer.
enum TransferMode {
    /// strided → contiguous.
    case gather
    /// contiguous → strided.
    case scatter
    /// strided += contiguous.
    case scatterAdd
}

/// Moves elements between a strided view and contiguous memory, innermost axis as a tight loop.
/// A large transfer is cut along its first axis into a part per thread: it is bound by memory,
/// and each core best reads what it wrote (a split product's rows of its result).
func stridedTransfer<T: FloatElement>(_ strided: UnsafeMutablePointer<T>, _ strides: [Int], _ shape: [Int],
                                      _ contiguous: UnsafeMutablePointer<T>, _ mode: TransferMode = .gather) {
    let count = elementCount(shape)
    guard count > 0 else { return }
    let threads = count >= parallelTransferCount ? Swift.min(ComputeThreads.available, shape[0]) : 1
    if threads > 1 {
        let (rows, rowCount) = (shape[0], count / shape[0])
        parallelFor(threads, threads: threads) { part in
            let first = part * rows / threads, last = (part + 1) * rows / threads
            serialStridedTransfer(strided + first * strides[0], strides, [last - first] + shape.dropFirst(), contiguous + first * rowCount,
                                  mode)
        }
        return
    }
    serialStridedTransfer(strided, strides, shape, contiguous, mode)
}

/// Transfers of at least this many elements (a recurrent layer's output gradient at config D)
/// are split between threads.
let parallelTransferCount = 1 << 16

/// ``stridedTransfer(_:_:_:_:_:)`` on the calling thread.
private func serialStridedTransfer<T: FloatElement>(_ strided: UnsafeMutablePointer<T>, _ strides: [Int], _ shape: [Int],
                                                    _ contiguous: UnsafeMutablePointer<T>, _ mode: TransferMode) {
    let count = elementCount(shape)
    guard count > 0 else { return }
    guard let inner = shape.last else {
        switch mode {
        case .gather: contiguous[0] = strided[0]
        case .scatter: strided[0] = contiguous[0]
        case .scatterAdd: strided[0] += contiguous[0]
        }
        return
    }
    let innerStride = strides[shape.count - 1]
    let outerRank = shape.count - 1
    var index = [Int](repeating: 0, count: outerRank)
    var stridedOffset = 0, done = 0
    while done < count {
        let run = strided + stridedOffset, flat = contiguous + done
        switch (mode, innerStride == 1) {
        case (.gather, true): flat.update(from: run, count: inner)
        case (.scatter, true): run.update(from: flat, count: inner)
        case (.gather, false): for i in 0..<inner { flat[i] = run[i * innerStride] }
        case (.scatter, false): for i in 0..<inner { run[i * innerStride] = flat[i] }
        case (.scatterAdd, true) where T.self == Float.self:
            // The vectorized C add (in place): a gradient gathered from slices of a recurrent
            // run's result is mostly whole rows, added into zeros on the backward's own thread.
            let target = UnsafeMutableRawPointer(run).assumingMemoryBound(to: Float.self)
            ag_add_f32(target, 0, UnsafeRawPointer(flat).assumingMemoryBound(to: Float.self), 0, target, Int64(inner))
        case (.scatterAdd, _): for i in 0..<inner { run[i * innerStride] += flat[i] }
        }
        done += inner
        advanceOdometer(&index, &stridedOffset, shape: shape, strides: strides, rank: outerRank)
    }
}

/// Advances a multi-index over the first `rank` axes of `shape` by one, like an odometer,
/// keeping `offset` (its position through `strides`) in step.
@inline(__always)
func advanceOdometer<Index: MutableCollection<Int>>(_ index: inout Index, _ offset: inout Int, shape: [Int], strides: [Int],
                                                    rank: Int) where Index.Index == Int {
    var axis = rank - 1
    while axis >= 0 {
        index[axis] += 1
        offset += strides[axis]
        if index[axis] < shape[axis] { break }
        offset -= strides[axis] * shape[axis]
        index[axis] = 0
        axis -= 1
    }
}
