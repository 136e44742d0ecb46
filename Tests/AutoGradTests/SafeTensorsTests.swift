import Foundation
import Testing
import AutoGrad

@Suite struct SafeTensorsTests {
    private func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)-\(name)")
    }

    /// A file built byte by byte: header length, the given JSON header, then `data`.
    private func file(header: String, data: [UInt8]) -> Data {
        let json = Array(header.utf8)
        return Data((0..<8).map { UInt8(truncatingIfNeeded: json.count >> (8 * $0)) } + json + data)
    }

    @Test func roundTripKeepsValuesShapesDTypesAndMetadata() throws {
        var generator = RandomGenerator(seed: 1)
        let tensors = [
            "weight": Tensor.randomNormal([3, 4], using: &generator),
            "bias": Tensor.randomNormal([4], dtype: .float64, using: &generator),
            "scalar": Tensor(2.5, dtype: .float64),
            "empty": Tensor(zeros: [0, 3]),
        ]
        let url = temporaryURL("round.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "ünïcode"], to: url)
        let (read, metadata) = try SafeTensors.read(from: url)
        #expect(metadata == ["format": "pt", "note": "ünïcode"])
        #expect(Set(read.keys) == Set(tensors.keys))
        for (name, tensor) in tensors {
            #expect(read[name]!.shape == tensor.shape && read[name]!.dtype == tensor.dtype && read[name]!.scalars == tensor.scalars)
        }
        // The data starts 8-byte aligned, as the reference writers lay it out.
        let bytes = [UInt8](try Data(contentsOf: url))
        var headerLength = 0
        for (position, byte) in bytes[0..<8].enumerated() { headerLength |= Int(byte) << (8 * position) }
        #expect(headerLength % 8 == 0)
    }

    /// Bytes built by hand (little-endian 1.0 and 2.0 as float32) decode to those values.
    @Test func decodesAHandBuiltFile() throws {
        let data = file(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        #expect(try SafeTensors.decode(data).tensors["x"]?.scalars == [1, 2])
    }

    @Test func malformedFilesThrowTypedErrors() {
        let good = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        func error(_ data: Data) -> SafeTensorsError? {
            do { _ = try SafeTensors.decode(data); return nil } catch { return error }
        }
        guard case .truncated = error(Data([1, 2, 3])) else { Issue.record("short file"); return }
        guard case .truncated = error(Data([200, 0, 0, 0, 0, 0, 0, 0, 0x7B])) else { Issue.record("header longer than file"); return }
        guard case .invalidHeader = error(file(header: "not json", data: [])) else { Issue.record("bad JSON"); return }
        guard case .invalidEntry(tensor: "x", field: "shape", _) = error(file(header: #"{"x":{"dtype":"F32"}}"#, data: [])) else {
            Issue.record("missing fields"); return
        }
        guard case .unsupportedDType(name: "x", dtype: "I8") = error(file(header: #"{"x":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0])) else {
            Issue.record("I8"); return
        }
        guard case .invalidEntry(tensor: "x", field: "data_offsets", _) = error(file(header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8))) else {
            Issue.record("size mismatch"); return
        }
        guard case .invalidEntry(tensor: "x", field: "data_offsets", _) = error(file(header: good, data: [0, 0, 0, 0])) else { Issue.record("truncated data"); return }
        guard case .invalidOffsets = error(file(header: good, data: Array(repeating: 0, count: 12))) else { Issue.record("trailing bytes"); return }
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        guard case .invalidOffsets = error(file(header: gap, data: Array(repeating: 0, count: 12))) else { Issue.record("gap"); return }
        #expect(error(file(header: good, data: Array(repeating: 0, count: 8))) == nil)
    }

    @Test func missingFileAndUnwritableTargetThrow() {
        #expect(throws: SafeTensorsError.missingFile("/nonexistent/x.safetensors")) {
            try SafeTensors.read(from: URL(fileURLWithPath: "/nonexistent/x.safetensors"))
        }
        #expect { try SafeTensors.write(["x": Tensor(ones: [1])], to: URL(fileURLWithPath: "/nonexistent/dir/x.safetensors")) } throws: { error in
            if case .writeFailed = error as? SafeTensorsError { return true }
            return false
        }
    }

    /// Writing replaces the whole file or nothing: an existing file is intact until the rename.
    @Test func writeReplacesAtomically() throws {
        let url = temporaryURL("atomic.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(["old": Tensor(ones: [1000])], to: url)
        try SafeTensors.write(["new": Tensor(zeros: [2])], to: url)
        #expect(try SafeTensors.read(from: url).tensors.keys.sorted() == ["new"])
        let siblings = try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path)
        #expect(!siblings.contains { $0.contains("atomic.safetensors") && $0 != url.lastPathComponent })
    }
}
