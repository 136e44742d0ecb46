// Reductions over axes, and the numerically stable compositions built from them.

/// How a reduction combines elements.
enum ReductionKind: String, Sendable {
    case sum, max, min

    @inline(__always)
    func combine<T: FloatElement>(_ a: T, _ b: T) -> T {
        switch self {
        case .sum: return a + b
        // NaN propagates, as in PyTorch.
        case .max: return a > b || a.isNaN ? a : b
        case .min: return a < b || a.isNaN ? a : b
        }
    }
}

struct Reduce: WritesIntoBuffer {
    let kind: ReductionKind
    let axes: [Int]
    let keepDims: Bool
    var name: String { "reduce_\(kind.rawValue)" }
    var pullbackReads: PullbackReads { kind == .sum ? .nothing : PullbackReads(operands: [0], output: true) }
    var attributes: [(name: String, value: Attribute)] {
        [("axes", .ints(axes))] + (keepDims ? [("keepDims", .bool(true))] : [])
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let shape = shapes[0]
        guard axes.allSatisfy({ (0..<shape.count).contains($0) }), axes == Array(Set(axes)).sorted() else {
            throw ShapeError(name, "axes \(describe(axes)) are not sorted distinct axes of \(describe(shape))")
        }
        if kind != .sum, axes.contains(where: { shape[$0] == 0 }) {
            throw ShapeError(name, "cannot reduce an empty axis of \(describe(shape))")
        }
        return reducedShape(shape, keepDims: keepDims)
    }

    func reducedShape(_ shape: [Int], keepDims: Bool) -> [Int] {
        keepDims ? shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
                 : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }

    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        var current = inputs[0]
        // One axis at a time, innermost first, each viewed as [outer, n, inner]; the last one
        // writes into the output.
        for (step, axis) in axes.reversed().enumerated() {
            let dims = current.shape
            let outer = dims[..<axis].reduce(1, *), n = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
            var reduced = dims
            reduced[axis] = 1
            let result = step == axes.count - 1 ? output : TensorStorage.make(count: outer * inner, dtype: current.dtype)
            switch current.dtype {
            case .float32: reduceLoop(current.storage.pointer(Float.self), result.pointer(Float.self), outer, n, inner)
            case .float64: reduceLoop(current.storage.pointer(Double.self), result.pointer(Double.self), outer, n, inner)
            }
            current = Tensor(storage: result, shape: reduced)
        }
        if axes.isEmpty { output.base.copyMemory(from: current.storage.base, byteCount: output.count * output.dtype.byteCount) }
    }

    private func reduceLoop<T: FloatElement>(_ x: UnsafeMutablePointer<T>, _ result: UnsafeMutablePointer<T>,
                                             _ outer: Int, _ n: Int, _ inner: Int) {
        for o in 0..<outer {
            let out = result + o * inner, source = x + o * n * inner
            if n == 0 {
                out.update(repeating: 0, count: inner)
            } else if inner == 1 && kind == .sum {
                out[0] = contiguousSum(source, n)
            } else if kind == .sum {
                // A loop of its own, so it vectorizes (through `combine` it does not).
                out.update(from: source, count: inner)
                for k in 1..<n {
                    let row = source + k * inner
                    for i in 0..<inner { out[i] += row[i] }
                }
            } else {
                out.update(from: source, count: inner)
                for k in 1..<n {
                    let row = source + k * inner
                    for i in 0..<inner { out[i] = kind.combine(out[i], row[i]) }
                }
            }
        }
    }

    /// The sum of a contiguous run, in eight interleaved partial sums: a single running sum
    /// is a serial dependency chain that cannot vectorize.
    @inline(__always)
    private func contiguousSum<T: FloatElement>(_ source: UnsafeMutablePointer<T>, _ n: Int) -> T {
        var partial = SIMD8<T>(), i = 0
        while i + 8 <= n {
            partial += UnsafeRawPointer(source + i).loadUnaligned(as: SIMD8<T>.self)
            i += 8
        }
        var total = partial.sum()
        while i < n {
            total += source[i]
            i += 1
        }
        return total
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let input = inputs[0]
        let kept = reducedShape(input.shape, keepDims: true)
        let spread = gradient.reshaped(to: kept).expanded(to: input.shape)
        guard kind != .sum else { return [spread] }
        // The gradient goes to the elements equal to the extremum, split evenly among ties.
        let winners = input.detached().elementsEqual(output.detached().reshaped(to: kept))
        return [spread * (winners / winners.sum(along: axes, keepDims: true))]
    }
}

extension Tensor {
    /// The sum over `axes` (all axes when `nil`).
    public func sum(along axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        apply(Reduce(kind: .sum, axes: normalizeAxes(axes, shape: shape, op: "reduce_sum"), keepDims: keepDims), [self])
    }

    /// The mean over `axes` (all axes when `nil`).
    public func mean(along axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let normalized = normalizeAxes(axes, shape: shape, op: "mean")
        let n = normalized.map { shape[$0] }.reduce(1, *)
        return sum(along: normalized, keepDims: keepDims) / Double(n)
    }

    /// The maximum over `axes` (all axes when `nil`); ties share the gradient.
    public func max(along axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        apply(Reduce(kind: .max, axes: normalizeAxes(axes, shape: shape, op: "reduce_max"), keepDims: keepDims), [self])
    }

    /// The minimum over `axes` (all axes when `nil`); ties share the gradient.
    public func min(along axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        apply(Reduce(kind: .min, axes: normalizeAxes(axes, shape: shape, op: "reduce_min"), keepDims: keepDims), [self])
    }

    /// The sum of a broadcast gradient back to `shape`, the shape it was broadcast from.
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        guard broadcastShape(target, shape, op: "sum_to") == shape else {
            opFailure("sum_to", "\(describe(shape)) is not a broadcast of \(describe(target))")
        }
        let leading = rank - target.count
        let axes = (0..<rank).filter { $0 < leading || (target[$0 - leading] == 1 && shape[$0] != 1) }
        return sum(along: axes, keepDims: true).reshaped(to: target)
    }

    /// log Σ exp over `axis`, computed stably by shifting by the (constant) maximum.
    public func logSumExp(along axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = normalizeAxis(axis, of: shape, op: "logsumexp")
        guard shape[axis] > 0 else { opFailure("logSumExp", "axis \(axis) of shape \(describe(shape)) is empty: there is no maximum to shift by") }
        // An infinite maximum would give ∞ − ∞ = NaN; such rows are shifted by 0, as in PyTorch.
        let shift = noGrad { () -> Tensor in
            let maximum = max(along: [axis], keepDims: true)
            return Tensor.where(maximum.abs() .== .infinity, maximum.zerosLike(), maximum)
        }
        let result = (self - shift).exp().sum(along: [axis], keepDims: true).log() + shift
        return keepDims ? result : result.squeezed(at: axis)
    }

    /// log softmax over `axis`: x − logΣexp(x).
    public func logSoftmax(along axis: Int = -1) -> Tensor {
        self - logSumExp(along: axis, keepDims: true)
    }

    /// softmax over `axis`: exp(x) / Σexp(x).
    public func softmax(along axis: Int = -1) -> Tensor {
        logSoftmax(along: axis).exp()
    }
}
