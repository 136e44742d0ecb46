import Foundation
import Testing
@testable import AutoGrad

/// Every header field must have exactly its JSON type and every size must fit: each way of
/// getting it wrong throws an error naming the tensor and the field (issue 13).
@Suite struct SafeTensorsHeaderTests {
    /// A file built byte by byte: header length, the given JSON header, then `data`.
    static func file(header: String, data: [UInt8] = Array(repeating: 0, count: 8), length: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        let length = length ?? UInt64(json.count)
        return Data((0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + json + data)
    }

    static func error(_ data: Data) -> SafeTensorsError? {
        do { _ = try SafeTensors.decode(data); return nil } catch { return error }
    }

    /// (shape, data_offsets, the field that must be named) for a float32 tensor "x" over 8 bytes.
    static let wrongFields: [(shape: String, offsets: String, field: String)] = [
        ("[2.5]", "[0,8]", "shape"), ("[true]", "[0,8]", "shape"), ("[-1]", "[0,8]", "shape"),
        (#"["2"]"#, "[0,8]", "shape"), ("[2e0]", "[0,8]", "shape"), ("[2.0]", "[0,8]", "shape"),
        ("[null]", "[0,8]", "shape"), ("[[2]]", "[0,8]", "shape"), ("2", "[0,8]", "shape"),
        ("{}", "[0,8]", "shape"), ("[-0]", "[0,8]", "shape"),
        // Dimensions beyond Int, element counts and byte counts that overflow.
        ("[9223372036854775808]", "[0,8]", "shape"),
        ("[4611686018427387904,4611686018427387904]", "[0,8]", "shape"),
        ("[2305843009213693952]", "[0,8]", "shape"),
        ("[2]", "[0,8.0]", "data_offsets"), ("[2]", "[0,true]", "data_offsets"), ("[2]", "[-1,8]", "data_offsets"),
        ("[2]", "[0]", "data_offsets"), ("[2]", "[0,8,8]", "data_offsets"), ("[2]", "[8,0]", "data_offsets"),
        ("[2]", #"["0",8]"#, "data_offsets"), ("[2]", "[0,18446744073709551616]", "data_offsets"),
        ("[2]", "[0,9223372036854775807]", "data_offsets"),
        // Sizes that fit an Int but point far past the data: no overflow in dataStart + offset.
        ("[1152921504606846975]", "[0,9223372036854775800]", "data_offsets"),
        ("[2]", "[9223372036854775799,9223372036854775807]", "data_offsets"),
    ]

    @Test(arguments: wrongFields.indices)
    func fieldOfTheWrongTypeOrSizeIsNamed(_ index: Int) {
        let (shape, offsets, field) = Self.wrongFields[index]
        let header = #"{"x":{"dtype":"F32","shape":\#(shape),"data_offsets":\#(offsets)}}"#
        let thrown = Self.error(Self.file(header: header))
        guard case .invalidEntry(tensor: "x", field: field, _)? = thrown else {
            Issue.record("\(header): \(thrown.map { "\($0)" } ?? "loaded")"); return
        }
        #expect("\(thrown!)".contains("'x' field '\(field)'"))
    }

    @Test func otherFieldsAndEntries() {
        let cases: [(String, String, String)] = [
            (#"{"x":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#, "x", "dtype"),
            (#"{"x":{"shape":[2],"data_offsets":[0,8]}}"#, "x", "dtype"),
            (#"{"x":{"dtype":"F32","shape":[2]}}"#, "x", "data_offsets"),
            (#"{"x":3}"#, "x", ""),
            (#"{"__metadata__":{"k":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "__metadata__", "k"),
            (#"{"__metadata__":[],"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "__metadata__", ""),
        ]
        for (header, tensor, field) in cases {
            let thrown = Self.error(Self.file(header: header))
            guard case .invalidEntry(tensor: tensor, field: field, _)? = thrown else {
                Issue.record("\(header): \(thrown.map { "\($0)" } ?? "loaded")"); continue
            }
        }
    }

    @Test func malformedJSONAndHeaderSizesAreInvalidHeaders() {
        let good = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let headers = [
            #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
            #"{"x":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}"#, "{", "[]", #"{"a":"\ud800"}"#,
            "{\"a\":\"\u{1}\"}", good + "x", #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}"#,
        ]
        for header in headers {
            let thrown = Self.error(Self.file(header: header))
            guard case .invalidHeader? = thrown else { Issue.record("\(header.prefix(80)): \(thrown.map { "\($0)" } ?? "loaded")"); continue }
        }
        for length in [UInt64(SafeTensors.maximumHeaderSize) + 1, 1 << 40, UInt64.max] {
            guard case .invalidHeader? = Self.error(Self.file(header: good, length: length)) else { Issue.record("length \(length)"); continue }
        }
        // Escapes, unknown fields (as the reference reader) and whitespace are fine.
        let loaded = try? SafeTensors.decode(Self.file(header: #" { "x\u00e9\ud83d\ude00" : {"extra": [1.5], "dtype":"F32","shape" :[ 2 ],"data_offsets":[0, 8]} } "#))
        #expect(loaded?.tensors["xé😀"]?.shape == [2])
    }

    @Test func halfPrecisionFilesAreReadAsFloat32() throws {
        // float16 1.0 = 0x3C00, −2.0 = 0xC000; bfloat16 1.0 = 0x3F80, 0.5 = 0x3F00 (little-endian).
        let header = #"{"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        let read = try SafeTensors.decode(Self.file(header: header, data: [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F, 0x00, 0x3F])).tensors
        #expect(read["h"]?.dtype == .float32 && read["h"]?.scalars == [1, -2])
        #expect(read["b"]?.dtype == .float32 && read["b"]?.scalars == [1, 0.5])
    }

    /// Written half precision rounds to nearest, ties to even (as PyTorch's conversion): with 7
    /// stored mantissa bits, 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷ and goes to 1, 1 + 3·2⁻⁸
    /// goes to 1 + 2⁻⁶; with float16's 10 bits the same happens at 2⁻¹¹.
    @Test func halfPrecisionIsWrittenRoundedToNearestEven() throws {
        let (e8, e11): (Double, Double) = (0x1p-8, 0x1p-11)
        let inputs: [Double] = [1 + e8, 1 + 3 * e8, 1 + e11, 1 + 3 * e11, -3, 65504]
        let values = Tensor(inputs, dtype: .float64)
        let bfloat = try SafeTensors.decode(SafeTensors.encode(["v": values], storageType: .bfloat16)).tensors["v"]!
        let bfloatExpected: [Double] = [1, 1 + 4 * e8, 1, 1, -3, 65536]
        #expect(bfloat.scalars == bfloatExpected)
        let half = try SafeTensors.decode(SafeTensors.encode(["v": values], storageType: .float16)).tensors["v"]!
        let halfExpected: [Double] = [1 + e8, 1 + 3 * e8, 1, 1 + 4 * e11, -3, 65504]
        #expect(half.scalars == halfExpected)
    }
}
