import Foundation

/// Reading and writing the safetensors format: an 8-byte little-endian header length N, N
/// bytes of JSON mapping each tensor name to `{"dtype", "shape", "data_offsets"}` (plus an
/// optional `"__metadata__"` of strings), then the little-endian row-major data. F32 and F64
/// are supported. Files are written atomically; anything wrong with a file throws a
/// ``SafeTensorsError`` saying what.
public enum SafeTensors {
    /// The tensors and metadata of a safetensors file.
    public static func read(from url: URL) throws(SafeTensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(url.path) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(url.path, reason: error.localizedDescription) }
        return try decode(data)
    }

    /// The tensors and metadata encoded in `data`.
    public static func decode(_ data: Data) throws(SafeTensorsError) -> (tensors: [String: Tensor], metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw .truncated("the file has \(bytes.count) bytes, fewer than the 8 of the header length") }
        let headerLength = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .truncated("the header claims \(headerLength) bytes but only \(bytes.count - 8) follow")
        }
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
              let header = json as? [String: Any] else { throw .invalidHeader("the header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let strings = raw as? [String: String] else { throw .invalidHeader("__metadata__ must map strings to strings") }
            metadata = strings
        }
        var tensors: [String: Tensor] = [:], ranges: [(name: String, range: Range<Int>)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  shape.count == (entry["shape"] as? [Any])?.count,
                  let offsets = (entry["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2 else {
                throw .invalidHeader("entry '\(name)' needs dtype (string), shape (integers) and data_offsets ([begin, end])")
            }
            guard let dtype = DType(safeTensorsName: dtypeName) else { throw .unsupportedDType(name: name, dtype: dtypeName) }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw .invalidHeader("entry '\(name)' has a negative dimension or decreasing offsets")
            }
            let byteCount = shape.reduce(1, *) * dtype.byteCount
            guard offsets[1] - offsets[0] == byteCount else {
                throw .invalidOffsets("'\(name)' of shape \(shape) and dtype \(dtypeName) needs \(byteCount) bytes, its offsets span \(offsets[1] - offsets[0])")
            }
            guard dataStart + offsets[1] <= bytes.count else {
                throw .truncated("'\(name)' ends at byte \(offsets[1]) of the data, which has \(bytes.count - dataStart)")
            }
            ranges.append((name, offsets[0]..<offsets[1]))
            let storage = TensorStorage.make(count: shape.reduce(1, *), dtype: dtype)
            bytes.withUnsafeBytes { raw in
                storage.base.copyMemory(from: raw.baseAddress! + dataStart + offsets[0], byteCount: byteCount)
            }
            tensors[name] = Tensor(storage: storage, shape: shape)
        }
        // As the reference implementation requires, the tensors tile the data without gaps.
        var end = 0
        for (name, range) in ranges.sorted(by: { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }) {
            guard range.lowerBound == end else { throw .invalidOffsets("'\(name)' starts at byte \(range.lowerBound), expected \(end) (gap or overlap)") }
            end = range.upperBound
        }
        guard dataStart + end == bytes.count else {
            throw .invalidOffsets("\(bytes.count - dataStart - end) bytes after the last tensor are not described by the header")
        }
        return (tensors, metadata)
    }

    /// The safetensors encoding of `tensors` (in name order) and `metadata`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var body = Data()
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            let start = body.count
            tensor.withRawBytes { body.append(contentsOf: $0) }
            header[name] = ["dtype": tensor.dtype.safeTensorsName, "shape": tensor.shape, "data_offsets": [start, body.count]] as [String: Any]
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
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws(SafeTensorsError) {
        do { try encode(tensors, metadata: metadata).write(to: url, options: .atomic) } catch {
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
    case unsupportedDType(name: String, dtype: String)
    case invalidOffsets(String)
    case writeFailed(String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path): return "safetensors file '\(path)' does not exist"
        case let .unreadable(path, reason): return "cannot read safetensors file '\(path)': \(reason)"
        case let .truncated(detail): return "truncated safetensors file: \(detail)"
        case let .invalidHeader(detail): return "invalid safetensors header: \(detail)"
        case let .unsupportedDType(name, dtype): return "tensor '\(name)' has dtype \(dtype); only F32 and F64 are supported"
        case let .invalidOffsets(detail): return "invalid safetensors data offsets: \(detail)"
        case let .writeFailed(path, reason): return "cannot write safetensors file '\(path)': \(reason)"
        }
    }
}

extension DType {
    /// The safetensors spelling: F32 or F64.
    var safeTensorsName: String { self == .float32 ? "F32" : "F64" }

    init?(safeTensorsName: String) {
        switch safeTensorsName {
        case "F32": self = .float32
        case "F64": self = .float64
        default: return nil
        }
    }
}

extension Tensor {
    /// The raw little-endian element bytes (this package runs on little-endian machines).
    func withRawBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: storage.base, count: count * dtype.byteCount))
    }
}
