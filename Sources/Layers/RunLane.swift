import AutoGrad

/// Values a run keeps from its forward for its pullback (residuals), set from the thread
/// that made them.
final class Kept<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// One thread's share of a run: a range of the batch's rows, with the steps compiled for
/// that many rows (a lane's own, since a compiled step runs one call at a time).
struct RunLane: Sendable {
    let rows: Range<Int>
    let plain: CompiledStep
    /// The step with a validity mask, for steps past the shortest of the lane's lengths.
    let masked: CompiledStep?
    /// The lane's rows' lengths (`nil` without a mask).
    let lengths: [Int]?
    /// The first step run masked (`Int.max` without a mask): the run's shortest length, the
    /// same in every lane, so that the lanes' steps of one time are of one kind.
    let firstMaskedStep: Int
    /// Each step's residuals.
    let residuals = Kept<[[Tensor]]>([])

    init(rows: Range<Int>, plain: CompiledStep, masked: CompiledStep?, lengths: [Int]?, firstMaskedStep: Int) {
        self.rows = rows
        self.plain = plain
        self.masked = masked
        self.lengths = lengths
        self.firstMaskedStep = masked == nil ? .max : firstMaskedStep
    }

    /// The step for time `t`: masked from the shortest sequence's length on.
    func step(at t: Int) -> CompiledStep {
        t >= firstMaskedStep ? masked! : plain
    }

    /// The lane's rows of `value` [batch, ·], or of its step `t` when it is a sequence
    /// [steps, batch, ·]: a view of them, as they lie together (ops when the caller records).
    func rows(of value: Tensor, step t: Int? = nil) -> Tensor {
        let batch = value.shape[t == nil ? 0 : 1], rowShape = value.shape.dropFirst(t == nil ? 1 : 2)
        if !AutoGrad.isRecording {
            if t == nil && rows.count == batch { return value }
            return value.unrecordedView(from: ((t ?? 0) * batch + rows.lowerBound) * rowShape.reduce(1, *),
                                        shape: [rows.count] + rowShape)
        }
        guard let t else { return rows.count == batch ? value : value.slice(rows, along: 0) }
        if rows.count == batch { return value.select(t, along: 0) }
        let flat = value.reshaped(to: [value.shape[0] * batch] + value.shape.dropFirst(2))
        return flat.slice((t * batch + rows.lowerBound)..<(t * batch + rows.upperBound), along: 0)
    }

    /// `columns` of the lane's rows of step `t` of the sequence `value` [steps, batch, ·]: a
    /// view when they are whole rows, else a copy (ops when the caller records).
    func rows(of value: Tensor, step t: Int, columns: Range<Int>) -> Tensor {
        let whole = rows(of: value, step: t)
        return columns.count == value.shape[2] ? whole : whole.slice(columns, along: 1)
    }

    /// The validity mask of step `t` for the lane's rows.
    func validity(at t: Int) -> Tensor {
        Mask(lengths!.map { t < $0 }, shape: [lengths!.count, 1]).programValue
    }
}

/// A tensor the lanes of a run fill from their threads, each its own rows: written through a
/// pointer taken once, since simultaneous mutable accesses to one tensor variable would trap.
/// It starts uninitialized: the lanes write every element (each step's rows of every lane, or
/// each lane's rows of a final value), so zeroing it first would only be paid for.
final class SharedBuffer: @unchecked Sendable {
    let tensor: Tensor
    private let base: UnsafeMutableRawPointer

    init(filledByLanes shape: [Int], dtype: DType) {
        var base: UnsafeMutableRawPointer?
        tensor = switch dtype {
        case .float32: Tensor(unsafeUninitializedShape: shape, as: Float.self) { base = UnsafeMutableRawPointer($0.baseAddress) }
        case .float64: Tensor(unsafeUninitializedShape: shape, as: Double.self) { base = UnsafeMutableRawPointer($0.baseAddress) }
        }
        self.base = base!
    }

    /// Copies the rows of `values` [rows, length] to the flat `offset` on, one row every
    /// `rowStride` elements (columns of a wider matrix).
    func write(rows values: Tensor, at offset: Int, rowStride: Int) {
        let (length, size) = (values.shape[1], values.dtype.byteCount)
        withElements(of: values) { source in
            for row in 0..<values.shape[0] {
                (base + (offset + row * rowStride) * size).copyMemory(from: source + row * length * size, byteCount: length * size)
            }
        }
    }

    /// Copies `values`' elements to the flat `offset`.
    func write(_ values: Tensor, at offset: Int) {
        let size = values.dtype.byteCount
        withElements(of: values) { (base + offset * size).copyMemory(from: $0, byteCount: values.count * size) }
    }

    /// Calls `body` with `values`' first element's address.
    private func withElements(of values: Tensor, _ body: (UnsafeRawPointer) -> Void) {
        switch values.dtype {
        case .float32: values.withUnsafeBufferPointer(as: Float.self) { body(UnsafeRawPointer($0.baseAddress!)) }
        case .float64: values.withUnsafeBufferPointer(as: Double.self) { body(UnsafeRawPointer($0.baseAddress!)) }
        }
    }
}

/// One result per lane (or run), set from the lanes' threads, each its own slot (of memory
/// allocated once: an array property mutated from two threads at once would trap).
final class LaneResults<Value>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Value>
    init(count: Int, empty: Value) { slots = .allocate(capacity: count); slots.initialize(repeating: empty) }
    deinit { slots.deinitialize().deallocate() }
    var values: [Value] { Array(slots) }
    subscript(index: Int) -> Value {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}
