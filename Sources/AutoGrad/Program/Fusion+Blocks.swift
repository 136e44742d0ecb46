// The per-block helpers of the fused kernel's loop: where a window's elements lie, gathering
// them, and the Swift loops for ops without a C float32 one.
extension FusedElementwise {
    /// Where element `flat` (row-major, in `shape`) of a tensor read through `strides` lies.
    static func offset(of flat: Int, shape: [Int], strides: [Int]) -> Int {
        var rest = flat, offset = 0
        for axis in shape.indices.reversed() {
            offset += rest % shape[axis] * strides[axis]
            rest /= shape[axis]
        }
        return offset
    }

    /// Elements `start ..< start + count` (row-major, in `shape`) of a tensor read through
    /// `strides`: where they lie contiguous in the source (a bias's row, a gate's columns of one
    /// row), the source itself; else copied into `target` run by run along the last axis (a
    /// bias added to rows shorter than a block), and `target` returned.
    func gatherWindow<T>(_ source: UnsafePointer<T>, strides: [Int], shape: [Int], start: Int, count: Int,
                                    into target: UnsafeMutablePointer<T>) -> UnsafePointer<T> {
        let rank = shape.count, last = rank - 1, rowLength = shape[last], step = strides[last]
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: Swift.max(1, rank)) { buffer in
            var index = buffer, rest = start, offset = 0
            for axis in shape.indices.reversed() {
                index[axis] = rest % shape[axis]
                rest /= shape[axis]
                offset += index[axis] * strides[axis]
            }
            if step == 1 && index[last] + count <= rowLength { return source + offset }
            var written = 0
            while written < count {
                let run = Swift.min(rowLength - index[last], count - written)
                switch step {
                case 1: (target + written).update(from: source + offset, count: run)
                case 0: (target + written).update(repeating: source[offset], count: run)
                default: for i in 0..<run { target[written + i] = source[offset + i * step] }
                }
                written += run
                // On to the start of the next row.
                offset -= index[last] * step
                index[last] = 0
                advanceOdometer(&index, &offset, shape: shape, strides: strides, rank: last)
            }
            return UnsafePointer(target)
        }
    }

    /// A float32 block's pointer as its C loop takes it.
    static func float<T>(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }
    static func float<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
    }

    static func mapBlock<T: FloatElement>(_ op: any UnaryElementwisePrimitive, _ x: UnsafePointer<T>,
                                             _ y: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            op.map(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), count: n)
        } else {
            op.map(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self), UnsafeMutableRawPointer(y).assumingMemoryBound(to: Double.self), count: n)
        }
    }

    static func zipBlock<T: FloatElement>(_ op: any BinaryElementwisePrimitive, _ a: UnsafePointer<T>, _ scalarA: Bool,
                                             _ b: UnsafePointer<T>, _ scalarB: Bool, _ y: UnsafeMutablePointer<T>, _ n: Int) {
        if T.self == Float.self {
            op.zip(UnsafeRawPointer(a).assumingMemoryBound(to: Float.self), scalarA: scalarA, UnsafeRawPointer(b).assumingMemoryBound(to: Float.self),
                   scalarB: scalarB, UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), count: n)
        } else {
            op.zip(UnsafeRawPointer(a).assumingMemoryBound(to: Double.self), scalarA: scalarA, UnsafeRawPointer(b).assumingMemoryBound(to: Double.self),
                   scalarB: scalarB, UnsafeMutableRawPointer(y).assumingMemoryBound(to: Double.self), count: n)
        }
    }
}
