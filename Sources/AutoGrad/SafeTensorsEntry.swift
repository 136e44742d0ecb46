/// One tensor's header entry, `{"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}`,
/// checked field by field: each failure names the tensor and the field.
struct Entry {
    let stored: SafeTensors.StorageType
    let shape: [Int]
    /// The element count, the product of `shape` (checked for overflow).
    let count: Int
    /// The bytes of the data section holding the elements.
    let offsets: Range<Int>

    init(name: String, _ value: HeaderValue) throws(SafeTensorsError) {
        guard case let .object(fields) = value else {
            throw .invalidEntry(tensor: name, field: "", reason: "is \(value.kind), not an object with dtype, shape and data_offsets")
        }
        guard let dtypeValue = fields["dtype"] else { throw .invalidEntry(tensor: name, field: "dtype", reason: "is missing") }
        guard case let .string(dtypeName) = dtypeValue else {
            throw .invalidEntry(tensor: name, field: "dtype", reason: "is \(dtypeValue.kind), not a string")
        }
        guard let stored = SafeTensors.StorageType(rawValue: dtypeName) else { throw .unsupportedDType(name: name, dtype: dtypeName) }
        shape = try Entry.integers(fields, "shape", of: name)
        let bounds = try Entry.integers(fields, "data_offsets", of: name)
        guard bounds.count == 2 else {
            throw .invalidEntry(tensor: name, field: "data_offsets", reason: "has \(bounds.count) elements, not [begin, end]")
        }
        guard bounds[0] <= bounds[1] else {
            throw .invalidEntry(tensor: name, field: "data_offsets", reason: "begins at \(bounds[0]) after its end \(bounds[1])")
        }
        var count = 1
        if !shape.contains(0) {
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw .invalidEntry(tensor: name, field: "shape", reason: "\(shape) has more elements than an Int can count") }
                count = product
            }
        } else {
            count = 0
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: stored.byteCount)
        guard !overflow else { throw .invalidEntry(tensor: name, field: "shape", reason: "\(shape) of \(dtypeName) has more bytes than an Int can count") }
        guard bounds[1] - bounds[0] == byteCount else {
            throw .invalidEntry(tensor: name, field: "data_offsets",
                                reason: "span \(bounds[1] - bounds[0]) bytes, but shape \(shape) of \(dtypeName) needs \(byteCount)")
        }
        self.stored = stored
        self.count = count
        offsets = bounds[0]..<bounds[1]
    }

    /// The array of non-negative integers `fields[field]`.
    private static func integers(_ fields: [String: HeaderValue], _ field: String, of name: String) throws(SafeTensorsError) -> [Int] {
        guard let value = fields[field] else { throw .invalidEntry(tensor: name, field: field, reason: "is missing") }
        guard case let .array(elements) = value else {
            throw .invalidEntry(tensor: name, field: field, reason: "is \(value.kind), not an array of non-negative integers")
        }
        var result: [Int] = []
        for (index, element) in elements.enumerated() {
            guard case let .integer(integer) = element else {
                throw .invalidEntry(tensor: name, field: field,
                                    reason: "element \(index) is \(element.kind), not a non-negative integer that fits in an Int")
            }
            result.append(integer)
        }
        return result
    }
}

extension SafeTensors {
/// The element types a safetensors file may store. F16 and BF16 are read into float32
/// tensors, and written from either dtype rounded to nearest even (as PyTorch converts).
public enum StorageType: String, Sendable, CaseIterable {
    /// IEEE float32, `"F32"`.
    case float32 = "F32"
    /// IEEE float64, `"F64"`.
    case float64 = "F64"
    /// IEEE half precision, `"F16"`.
    case float16 = "F16"
    /// bfloat16 (float32's upper half), `"BF16"`.
    case bfloat16 = "BF16"

    /// The storage type of `dtype` itself.
    public init(_ dtype: DType) { self = dtype == .float32 ? .float32 : .float64 }

    /// Bytes per stored element.
    public var byteCount: Int {
        switch self {
        case .float32: 4
        case .float64: 8
        case .float16, .bfloat16: 2
        }
    }

    /// The dtype the elements are read into.
    public var dtype: DType { self == .float64 ? .float64 : .float32 }

    /// A tensor of `shape` from the little-endian elements in `bytes` (`count · byteCount` of them).
    func tensor(shape: [Int], count: Int, from bytes: UnsafeRawBufferPointer) -> Tensor {
        let storage = TensorStorage.make(count: count, dtype: dtype)
        switch self {
        case .float32, .float64:
            if count > 0 { storage.base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        case .float16, .bfloat16:
            let destination = storage.pointer(Float.self)
            for i in 0..<count {
                let bits = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8
                destination[i] = self == .float16 ? Float(Float16(bitPattern: bits)) : Float(bitPattern: UInt32(bits) << 16)
            }
        }
        return Tensor(storage: storage, shape: shape)
    }

    /// The little-endian bytes of `tensor`'s elements stored as this type (rounded to nearest
    /// even for F16 and BF16, as PyTorch converts).
    func bytes(of tensor: Tensor) -> [UInt8] {
        switch self {
        case .float32, .float64:
            let source = tensor.detached().to(dtype)
            return source.withRawBytes { Array($0) }
        case .float16, .bfloat16:
            let values = [Float](tensor)
            var result = [UInt8](repeating: 0, count: 2 * values.count)
            for (i, value) in values.enumerated() {
                let bits = self == .float16 ? Float16(value).bitPattern : StorageType.bfloat16Bits(value)
                result[2 * i] = UInt8(truncatingIfNeeded: bits)
                result[2 * i + 1] = UInt8(truncatingIfNeeded: bits >> 8)
            }
            return result
        }
    }

    /// bfloat16 is float32's upper half: round the lower half to nearest even; NaN stays NaN.
    private static func bfloat16Bits(_ value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let bits = value.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }
}
}
