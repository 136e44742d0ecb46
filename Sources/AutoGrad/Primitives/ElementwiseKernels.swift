/// A primitive that applies a scalar function to every element. Conformers write `value(_:)`
/// (specialized for Float and Double, so the loop has no closure call per element) and a
/// pullback; the shape rule and forward loop come from here.
public protocol UnaryElementwisePrimitive: Primitive {
    /// The function of one element.
    func value<T: FloatElement>(_ x: T) -> T
}

extension UnaryElementwisePrimitive {
    public func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }

    public func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        mapElements(inputs[0], float32Kernel: nil)
    }

    /// `value` applied to every element of `x`, or `float32Kernel` (a vectorized C loop) for
    /// float32 when given.
    func mapElements(_ x: Tensor, float32Kernel: Float32Kernel?) -> Tensor {
        let result = TensorStorage.make(count: x.count, dtype: x.dtype)
        switch (x.dtype, float32Kernel) {
        case let (.float32, kernel?): kernel(x.storage.pointer(Float.self), result.pointer(Float.self), Int64(x.count))
        case (.float32, nil): mapLoop(x.storage.pointer(Float.self), result.pointer(Float.self), x.count)
        case (.float64, _): mapLoop(x.storage.pointer(Double.self), result.pointer(Double.self), x.count)
        }
        return Tensor(storage: result, shape: x.shape)
    }

    @inline(__always)
    func mapLoop<T: FloatElement>(_ x: UnsafeMutablePointer<T>, _ result: UnsafeMutablePointer<T>, _ count: Int) {
        for i in 0..<count { result[i] = value(x[i]) }
    }
}

/// A vectorized float32 loop `y[i] = f(x[i])` from CKernels.
typealias Float32Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64) -> Void

/// A primitive that combines two tensors element by element with NumPy broadcasting.
public protocol BinaryElementwisePrimitive: Primitive {
    /// The function of one pair of elements.
    func value<T: FloatElement>(_ a: T, _ b: T) -> T
}

extension BinaryElementwisePrimitive {
    public func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        try broadcastShapes(shapes[0], shapes[1], op: name)
    }

    public func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        // Scalars and equal shapes take the tight loops; other broadcasts materialize first.
        var a = inputs[0], b = inputs[1]
        if a.count != 1 { a = a.broadcastIfNeeded(to: shape) }
        if b.count != 1 { b = b.broadcastIfNeeded(to: shape) }
        let result = TensorStorage.make(count: elementCount(shape), dtype: a.dtype)
        switch a.dtype {
        case .float32: zipLoop(a, b, result.pointer(Float.self), result.count)
        case .float64: zipLoop(a, b, result.pointer(Double.self), result.count)
        }
        return Tensor(storage: result, shape: shape)
    }

    @inline(__always)
    func zipLoop<T: FloatElement>(_ a: Tensor, _ b: Tensor, _ result: UnsafeMutablePointer<T>, _ count: Int) {
        let pa = a.storage.pointer(T.self), pb = b.storage.pointer(T.self)
        if a.count == count && b.count == count {
            for i in 0..<count { result[i] = value(pa[i], pb[i]) }
        } else if a.count == count {
            let scalar = pb[0]
            for i in 0..<count { result[i] = value(pa[i], scalar) }
        } else if b.count == count {
            let scalar = pa[0]
            for i in 0..<count { result[i] = value(scalar, pb[i]) }
        } else {
            let value = value(pa[0], pb[0])
            for i in 0..<count { result[i] = value }
        }
    }
}

extension Tensor {
    /// This tensor's values laid out contiguously in `shape`, given per-axis element strides
    /// into this tensor's buffer starting at `offset` (stride 0 repeats, negative reverses).
    /// The one strided-copy kernel behind expand, permute, slice and reverse.
    func stridedValues(shape: [Int], strides: [Int], offset: Int = 0) -> Tensor {
        let result = TensorStorage.make(count: elementCount(shape), dtype: dtype)
        switch dtype {
        case .float32: stridedTransfer(storage.pointer(Float.self) + offset, strides, shape, result.pointer(Float.self))
        case .float64: stridedTransfer(storage.pointer(Double.self) + offset, strides, shape, result.pointer(Double.self))
        }
        return Tensor(storage: result, shape: shape)
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
func stridedTransfer<T: FloatElement>(_ strided: UnsafeMutablePointer<T>, _ strides: [Int], _ shape: [Int],
                                      _ contiguous: UnsafeMutablePointer<T>, _ mode: TransferMode = .gather) {
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
        case (.scatterAdd, _): for i in 0..<inner { run[i * innerStride] += flat[i] }
        }
        done += inner
        // Advance the outer multi-index like an odometer.
        var axis = outerRank - 1
        while axis >= 0 {
            index[axis] += 1
            stridedOffset += strides[axis]
            if index[axis] < shape[axis] { break }
            stridedOffset -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}
