import Foundation

/// Reading and writing the safetensors format: an 8-byte little-endian header length N, N
/// bytes of JSON mapping each tensor name to `{"dtype", "shape", "data_offsets"}` (plus an
/// optional `"__metadata__"` of strings), then the little-endian row-major data. F32 and F64
/// are read as such, F16 and BF16 into float32; any of them can be written. Files are written
/// atomically; anything wrong with a file throws a ``SafeTensorsError`` saying what.
public enum SafeTensors {
    /// The tensors and metadata of a safetensors file.
    public static func read(from url: URL) throws(SafeTensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(url.path, reason: error.localizedDescription) }
        return try decode(data)
    }

    /// The largest header accepted, as in the reference implementation: a header length read
    /// from a corrupt file must not make the reader allocate or scan gigabytes.
    public static let maximumHeaderSize = 100_000_000

    /// The tensors and metadata encoded in `data`. Every header field must have exactly its
    /// JSON type (dimensions and offsets non-negative integers), every size fits in an `Int`,
    /// and the tensors tile the data; F16 and BF16 tensors are converted to float32.
    public static func decode(_ data: Data) throws(SafeTensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        try data.withUnsafeBytes { bytes in
            Result { () throws(SafeTensorsError) in try decode(bytes: bytes) }
        }.get()
    }

    private static func decode(bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw .truncated("the file has \(bytes.count) bytes, fewer than the 8 of the header length") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(maximumHeaderSize) else {
            throw .invalidHeader("the header claims \(headerLength) bytes, more than the limit of \(maximumHeaderSize)")
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .truncated("the header claims \(headerLength) bytes but only \(bytes.count - 8) follow")
        }
        let dataStart = 8 + Int(headerLength), dataLength = bytes.count - dataStart
        guard case let .object(header) = try HeaderParser.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])) else {
            throw .invalidHeader("the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard case let .object(fields) = raw else {
                throw .invalidEntry(tensor: "__metadata__", field: "", reason: "is \(raw.kind), not an object of strings")
            }
            for (key, value) in fields {
                guard case let .string(text) = value else {
                    throw .invalidEntry(tensor: "__metadata__", field: key, reason: "is \(value.kind), not a string")
                }
                metadata[key] = text
            }
        }
        var tensors: [String: Tensor] = [:], ranges: [(name: String, range: Range<Int>)] = []
        for (name, value) in header where name != "__metadata__" {
            let entry = try Entry(name: name, value)
            guard entry.offsets.upperBound <= dataLength else {
                throw .invalidEntry(tensor: name, field: "data_offsets",
                                    reason: "ends at byte \(entry.offsets.upperBound) of the data, which has \(dataLength) (truncated file?)")
            }
            ranges.append((name, entry.offsets))
            tensors[name] = entry.stored.tensor(shape: entry.shape, count: entry.count,
                                                from: UnsafeRawBufferPointer(rebasing: bytes[(dataStart + entry.offsets.lowerBound)...].prefix(entry.offsets.count)))
        }
        // As the reference implementation requires, the tensors tile the data without gaps.
        var end = 0
        for (name, range) in ranges.sorted(by: { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }) {
            guard range.lowerBound == end else { throw .invalidOffsets("'\(name)' starts at byte \(range.lowerBound), expected \(end) (gap or overlap)") }
            end = range.upperBound
        }
        guard end == dataLength else {
            throw .invalidOffsets("\(dataLength - end) bytes after the last tensor are not described by the header")
        }
        return (tensors, metadata)
    }

    /// The safetensors encoding of `tensors` (in name order) and `metadata`; each tensor is
    /// stored as its own dtype, or every one as `storageType` (e.g. `.bfloat16` to halve a file).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:],
                              storageType: StorageType? = nil) -> Data {
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var body = Data()
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            let stored = storageType ?? StorageType(tensor.dtype)
            let start = body.count
            body.append(contentsOf: stored.bytes(of: tensor))
            header[name] = ["dtype": stored.rawValue, "shape": tensor.shape, "data_offsets": [start, body.count]] as [String: Any]
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writers do.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var result = Data((0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * $0)) })
        result.append(json)
        result.append(body)
        return result
    }

    /// Writes `tensors` and `metadata` to `url` atomically: a temporary file in the same
    /// directory, then a rename, so a crash never leaves a half-written file in its place.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:],
                             storageType: StorageType? = nil, to url: URL) throws(SafeTensorsError) {
        do { try encode(tensors, metadata: metadata, storageType: storageType).write(to: url, options: .atomic) } catch {
            throw .writeFailed(url.path, reason: error.localizedDescription)
        }
    }
}

/// What is wrong with a safetensors file.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case missingFile(String)
    case unreadable(String, reason: String)
    case truncated(String)
    case invalidHeader(String)
    /// A field of one tensor's header entry (or of `__metadata__`) has the wrong JSON type or
    /// value; `field` is empty when the entry itself is wrong.
    case invalidEntry(tensor: String, field: String, reason: String)
    case unsupportedDType(name: String, dtype: String)
    case invalidOffsets(String)
    case writeFailed(String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): return "safetensors file '\(path)' does not exist"
        case let .unreadable(path, reason): return "cannot read safetensors file '\(path)': \(reason)"
        case let .truncated(detail): return "truncated safetensors file: \(detail)"
        case let .invalidHeader(detail): return "invalid safetensors header: \(detail)"
        case let .invalidEntry(tensor, field, reason):
            return "invalid safetensors header: '\(tensor)'" + (field.isEmpty ? "" : " field '\(field)'") + " \(reason)"
        case let .unsupportedDType(name, dtype): return "tensor '\(name)' has dtype \(dtype); only F32, F64, F16 and BF16 are supported"
        case let .invalidOffsets(detail): return "invalid safetensors data offsets: \(detail)"
        case let .writeFailed(path, reason): return "cannot write safetensors file '\(path)': \(reason)"
        }
    }
}

extension Tensor {
    /// The raw little-endian element bytes (this package runs on little-endian machines).
    func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: storage.base, count: count * dtype.byteCount))
    }
}
