import Foundation
import Testing
import AutoGrad

/// A mutation fuzzer for the safetensors reader: byte flips, truncations, splices and JSON edits
/// of small valid files, 100,000 cases from fixed seeds (reproducible; a failure prints the
/// partition and case). Each case must throw a `SafeTensorsError` or load exactly what the
/// file says; a crash fails the whole run.
@Suite struct SafeTensorsFuzzTests {
    static let partitions = 4, casesPerPartition = 25_000

    /// The valid files mutated: mixed dtypes and metadata; a scalar and an empty tensor; half
    /// precision. Small, so each case is cheap.
    static let seeds: [Data] = {
        var generator = RandomGenerator(seed: 99)
        return [
            SafeTensors.encode(["w": Tensor.randomNormal([2, 3], using: &generator),
                                "b": Tensor.randomNormal([3], dtype: .float64, using: &generator)],
                               metadata: ["format": "pt", "k": "é"]),
            SafeTensors.encode(["s": Tensor(2.5, dtype: .float64), "e": Tensor(zeros: [0, 3]), "v": Tensor([1, 2])]),
            SafeTensors.encode(["h": Tensor([0.5, -2, 3]), "g": Tensor([1, 4])], storageType: .float16),
            SafeTensors.encode(["h": Tensor([0.5, -2, 3])], storageType: .bfloat16),
        ]
    }()

    /// Text spliced into headers: wrong types, signs, overflowing integers, structure.
    static let fragments = [
        "2.5", "true", "false", "null", "-1", "-0", "0", "1", "7", "1e2", "2.0", #""3""#, "[]", "{}", "[", "]", "{", "}",
        ",", ":", #"""#, "\\", "\\u0000", "\\ud800", "9223372036854775807", "9223372036854775808",
        "18446744073709551616", "4611686018427387904", "\"F16\"", "\"BF16\"", "\"F64\"", "\"I8\"", "\"__metadata__\"",
        "\"shape\"", "\"data_offsets\"", "\"dtype\"", " ", "\u{1}", "é", "\u{FF}",
    ]

    @Test(arguments: 0..<partitions)
    func mutatedFilesThrowOrLoadExactly(_ partition: Int) {
        var generator = RandomGenerator(seed: 1000 + UInt64(partition))
        var outcomes = [0, 0]
        for index in 0..<Self.casesPerPartition {
            let base = Self.seeds[Int(generator.next() % UInt64(Self.seeds.count))]
            let (mutated, preservesMeaning) = Self.mutate(base, using: &generator)
            do {
                let loaded = try SafeTensors.decode(mutated)
                outcomes[0] += 1
                if let problem = Self.mismatch(loaded, in: mutated) {
                    Issue.record("partition \(partition), case \(index): loaded but \(problem)")
                    return
                }
                if preservesMeaning, let problem = Self.difference(loaded.tensors, try! SafeTensors.decode(base).tensors) {
                    Issue.record("partition \(partition), case \(index): whitespace changed the result: \(problem)")
                    return
                }
            } catch {
                outcomes[1] += 1
                if preservesMeaning {
                    Issue.record("partition \(partition), case \(index): whitespace made it throw \(error)")
                    return
                }
            }
        }
        // Both outcomes must occur often, or the mutations are too weak or too destructive.
        #expect(outcomes.allSatisfy { $0 > Self.casesPerPartition / 20 }, "loaded, thrown: \(outcomes)")
    }

    /// A random mutation of `base`, and whether it keeps the meaning (whitespace only).
    static func mutate(_ base: Data, using generator: inout RandomGenerator) -> (Data, Bool) {
        var bytes = [UInt8](base)
        func random(_ bound: Int) -> Int { Int(generator.next() % UInt64(Swift.max(bound, 1))) }
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        let header = 8..<(8 + headerLength)
        switch random(5) {
        case 0:  // byte flips anywhere, the length prefix included
            for _ in 0...random(3) { bytes[random(bytes.count)] ^= UInt8(1 + random(255)) }
        case 1:  // truncation
            bytes.removeLast(1 + random(bytes.count))
        case 2:  // splice of another seed file's bytes
            let other = [UInt8](seeds[random(seeds.count)])
            let start = random(bytes.count), end = start + random(bytes.count - start + 1)
            let from = random(other.count), to = from + random(other.count - from + 1)
            bytes.replaceSubrange(start..<end, with: other[from..<to])
        case 3:  // JSON edit: replace a short run of the header by a fragment, length prefix fixed
            let start = header.lowerBound + random(header.count), end = Swift.min(start + random(4), header.upperBound)
            bytes.replaceSubrange(start..<end, with: Array(fragments[random(fragments.count)].utf8))
            setHeaderLength(&bytes, headerLength + bytes.count - base.count)
        default:  // whitespace after a separator: the same file
            var position = header.lowerBound + random(header.count)
            while bytes[position] != UInt8(ascii: ",") && bytes[position] != UInt8(ascii: ":") {
                position = position + 1 == header.upperBound ? header.lowerBound : position + 1
            }
            position += 1
            bytes.insert(contentsOf: Array(repeating: [0x20, 0x0A, 0x09, 0x0D][random(4)], count: 1 + random(3)), at: position)
            setHeaderLength(&bytes, headerLength + bytes.count - base.count)
            return (Data(bytes), true)
        }
        return (Data(bytes), false)
    }

    static func setHeaderLength(_ bytes: inout [UInt8], _ length: Int) {
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
    }

    /// What differs between a successful load and the file, read with Foundation's JSON parser
    /// (an independent reader): names, metadata, shapes, and every element's bytes.
    static func mismatch(_ loaded: (tensors: [String: Tensor], metadata: [String: String]), in file: Data) -> String? {
        let bytes = [UInt8](file)
        let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any] else {
            return "Foundation cannot parse its header"
        }
        let data = Array(bytes[(8 + length)...])
        if (json["__metadata__"] as? [String: String] ?? [:]) != loaded.metadata { return "metadata differs" }
        let names = Set(json.keys).subtracting(["__metadata__"])
        guard names == Set(loaded.tensors.keys) else { return "names \(names.sorted()) vs \(loaded.tensors.keys.sorted())" }
        for name in names {
            guard let entry = json[name] as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  let tensor = loaded.tensors[name] else { return "'\(name)' has no proper entry" }
            guard shape == tensor.shape else { return "'\(name)' shape \(shape) loaded as \(tensor.shape)" }
            let stored = Array(data[offsets[0]..<offsets[1]])
            let storageType = SafeTensors.StorageType(rawValue: dtype)!
            guard stored.count == tensor.count * storageType.byteCount else { return "'\(name)' has \(stored.count) bytes" }
            switch storageType {
            case .float32, .float64:
                let written = tensor.dtype == .float32 ? [Float](tensor).withUnsafeBytes { Array($0) }
                                                       : [Double](tensor).withUnsafeBytes { Array($0) }
                guard written == stored else { return "'\(name)' values differ" }
            case .float16, .bfloat16:
                // Converted to float32: equal values, or NaN for NaN (the payload need not survive).
                let expected = (0..<tensor.count).map { i -> Float in
                    let bits = UInt16(stored[2 * i]) | UInt16(stored[2 * i + 1]) << 8
                    return storageType == .float16 ? Float(Float16(bitPattern: bits)) : Float(bitPattern: UInt32(bits) << 16)
                }
                let same = zip(expected, [Float](tensor)).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
                guard same else { return "'\(name)' values differ" }
            }
        }
        return nil
    }

    /// The first difference between two sets of tensors, bit for bit.
    static func difference(_ a: [String: Tensor], _ b: [String: Tensor]) -> String? {
        guard Set(a.keys) == Set(b.keys) else { return "names differ" }
        for (name, tensor) in a {
            let other = b[name]!
            guard tensor.shape == other.shape, tensor.dtype == other.dtype,
                  tensor.scalars.map(\.bitPattern) == other.scalars.map(\.bitPattern) else { return "'\(name)' differs" }
        }
        return nil
    }
}
