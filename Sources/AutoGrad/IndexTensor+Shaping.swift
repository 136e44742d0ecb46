// Moving indices around without arithmetic: the IndexTensor counterparts of Tensor's reshape,
// slice, select, concatenation and transpose, for token ids, targets and decoded sequences.

extension IndexTensor {
    /// The number of axes.
    public var rank: Int { shape.count }

    /// The index at a multi-index.
    public subscript(position: Int...) -> Int {
        guard position.count == rank else {
            opFailure("IndexTensor", "\(position.count) indices for shape \(describe(shape))")
        }
        var flat = 0
        for (axis, index) in position.enumerated() {
            guard (0..<shape[axis]).contains(index) else {
                opFailure("IndexTensor", "index \(index) is out of range for axis \(axis) of \(describe(shape))")
            }
            flat = flat * shape[axis] + index
        }
        return values[flat]
    }

    /// The same indices in a new shape; one dimension may be -1 (inferred).
    public func reshaped(to newShape: [Int]) -> IndexTensor {
        var shape = newShape
        if let inferred = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            guard known > 0, values.count % known == 0 else {
                opFailure("IndexTensor.reshape", "cannot reshape \(describe(self.shape)) to \(describe(newShape))")
            }
            shape[inferred] = values.count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), elementCount(shape) == values.count else {
            opFailure("IndexTensor.reshape", "cannot reshape \(describe(self.shape)) to \(describe(newShape))")
        }
        return IndexTensor(values, shape: shape)
    }

    /// The indices in `range` along `axis`.
    public func slice(_ range: Range<Int>, along axis: Int) -> IndexTensor {
        let axis = normalizeAxis(axis, of: shape, op: "IndexTensor.slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[axis] else {
            opFailure("IndexTensor.slice", "range \(range) is out of bounds for axis \(axis) of \(describe(shape))")
        }
        let (outer, inner) = (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
        var result: [Int] = []
        result.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            let start = (o * shape[axis] + range.lowerBound) * inner
            result += values[start..<(start + range.count * inner)]
        }
        var newShape = shape
        newShape[axis] = range.count
        return IndexTensor(result, shape: newShape)
    }

    /// The sub-tensor at `index` along `axis`, which is removed (negative counts from the end).
    public func select(_ index: Int, along axis: Int) -> IndexTensor {
        let axis = normalizeAxis(axis, of: shape, op: "IndexTensor.select")
        let position = index < 0 ? index + shape[axis] : index
        guard (0..<shape[axis]).contains(position) else {
            opFailure("IndexTensor.select", "index \(index) is out of range for axis \(axis) of \(describe(shape))")
        }
        var newShape = shape
        newShape.remove(at: axis)
        return slice(position..<(position + 1), along: axis).reshaped(to: newShape)
    }

    /// Two axes swapped (by default the last two), e.g. batch-first ↔ time-first.
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> IndexTensor {
        let a = normalizeAxis(axis0, of: shape, op: "IndexTensor.transpose")
        let b = normalizeAxis(axis1, of: shape, op: "IndexTensor.transpose")
        var newShape = shape
        newShape.swapAt(a, b)
        let sourceStrides = contiguousStrides(shape)
        var strides = sourceStrides
        strides.swapAt(a, b)
        var result = [Int](repeating: 0, count: values.count), position = [Int](repeating: 0, count: rank)
        for flat in 0..<values.count {
            var source = 0
            for axis in 0..<rank { source += position[axis] * strides[axis] }
            result[flat] = values[source]
            var axis = rank - 1
            while axis >= 0 {
                position[axis] += 1
                if position[axis] < newShape[axis] { break }
                position[axis] = 0
                axis -= 1
            }
        }
        return IndexTensor(result, shape: newShape)
    }
}

/// The index tensors joined along an existing axis (their other axes must agree).
public func concat(_ tensors: [IndexTensor], along axis: Int) -> IndexTensor {
    guard let first = tensors.first else { opFailure("IndexTensor.concatenate", "no tensors to concatenate") }
    let axis = normalizeAxis(axis, of: first.shape, op: "IndexTensor.concatenate")
    for tensor in tensors {
        var mine = tensor.shape, theirs = first.shape
        if mine.count == theirs.count { (mine[axis], theirs[axis]) = (0, 0) }
        guard mine == theirs else {
            opFailure("IndexTensor.concatenate", "shapes differ off axis \(axis): " + tensors.map { describe($0.shape) }.joined(separator: ", "))
        }
    }
    let outer = first.shape[..<axis].reduce(1, *)
    let runs = tensors.map { $0.shape[axis...].reduce(1, *) }
    var result: [Int] = []
    result.reserveCapacity(tensors.map(\.values.count).reduce(0, +))
    for o in 0..<outer {
        for (tensor, run) in zip(tensors, runs) { result += tensor.values[(o * run)..<((o + 1) * run)] }
    }
    var shape = first.shape
    shape[axis] = tensors.map { $0.shape[axis] }.reduce(0, +)
    return IndexTensor(result, shape: shape)
}

/// The index tensors (of one shape) joined along a new axis.
public func stack(_ tensors: [IndexTensor], along axis: Int = 0) -> IndexTensor {
    guard let first = tensors.first else { opFailure("IndexTensor.stack", "no tensors to stack") }
    let axis = normalizeAxis(axis, of: first.shape, op: "IndexTensor.stack", rank: first.rank + 1)
    var expanded = first.shape
    expanded.insert(1, at: axis)
    return concat(tensors.map { $0.reshaped(to: expanded) }, along: axis)
}
