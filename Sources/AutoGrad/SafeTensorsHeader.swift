/// The JSON of a safetensors header, parsed strictly enough that every field can be held to
/// exactly its type: integers stay apart from fractions, exponents, booleans and numbers too
/// large for an `Int` (a general JSON reader turns `2.5` or `true` into a dimension of 2 or 1).
enum HeaderValue: Equatable {
    case object([String: HeaderValue])
    case array([HeaderValue])
    case string(String)
    /// A non-negative integer literal (no sign, fraction or exponent) that fits in an `Int`.
    case integer(Int)
    /// Any other number, as written.
    case number(String)
    case boolean(Bool)
    case null

    /// What the value is, for error messages: `the number 2.5`, `a string`, `true`.
    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case let .integer(value): "the integer \(value)"
        case let .number(text): "the number \(text)"
        case let .boolean(value): "\(value)"
        case .null: "null"
        }
    }
}

/// A recursive-descent JSON parser over the header bytes (RFC 8259), with a nesting limit so a
/// header of nested brackets cannot overflow the stack, and duplicate keys refused.
struct HeaderParser {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private static let maximumDepth = 16

    /// Parses `bytes` as one JSON value followed only by whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) -> HeaderValue {
        var parser = HeaderParser(bytes: bytes)
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.failure("unexpected text after the JSON value") }
        return value
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func failure(_ detail: String) -> SafeTensorsError {
        .invalidHeader("\(detail) at byte \(position) of the header")
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ literal: StaticString) throws(SafeTensorsError) {
        // Plain loops here and below: this runs per byte, and a fuzzer runs it in debug builds.
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw failure("expected \(literal)") }
        var offset = 0
        while offset < count {
            guard bytes[position + offset] == literal.utf8Start[offset] else { throw failure("expected \(literal)") }
            offset += 1
        }
        position += count
    }

    private mutating func value(depth: Int) throws(SafeTensorsError) -> HeaderValue {
        guard depth <= Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth)") }
        skipWhitespace()
        switch current {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .boolean(true)
        case UInt8(ascii: "f"): try expect("false"); return .boolean(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case let byte? where byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte): return try number()
        case nil: throw failure("unexpected end")
        default: throw failure("unexpected character")
        }
    }

    private mutating func object(depth: Int) throws(SafeTensorsError) -> HeaderValue {
        position += 1
        var members: [String: HeaderValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let key = try string()
            skipWhitespace()
            try expect(":")
            guard members.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                throw failure("duplicate key '\(key)'")
            }
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect("}")
            return .object(members)
        }
    }

    private mutating func array(depth: Int) throws(SafeTensorsError) -> HeaderValue {
        position += 1
        var elements: [HeaderValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") { position += 1; continue }
            try expect("]")
            return .array(elements)
        }
    }

    private mutating func number() throws(SafeTensorsError) -> HeaderValue {
        let start = position
        var isInteger = true
        if current == UInt8(ascii: "-") { position += 1; isInteger = false }
        func digits(_ parser: inout HeaderParser) -> Int {
            let first = parser.position
            while let byte = parser.current, (0x30...0x39).contains(byte) { parser.position += 1 }
            return parser.position - first
        }
        let integerDigits = digits(&self)
        guard integerDigits > 0 else { throw failure("a number needs digits") }
        guard integerDigits == 1 || bytes[start + (isInteger ? 0 : 1)] != 0x30 else { throw failure("leading zero in a number") }
        if current == UInt8(ascii: ".") {
            position += 1
            isInteger = false
            guard digits(&self) > 0 else { throw failure("a fraction needs digits") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            isInteger = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard digits(&self) > 0 else { throw failure("an exponent needs digits") }
        }
        let (bytes, end) = (bytes, position)
        let text = { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) }
        guard isInteger else { return .number(text()) }
        var value = 0, index = start
        while index < position {
            let (scaled, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = scaled.addingReportingOverflow(Int(bytes[index] &- 0x30))
            guard !overflow && !carry else { return .number(text()) }
            value = sum
            index += 1
        }
        return .integer(value)
    }

    private mutating func string() throws(SafeTensorsError) -> String {
        position += 1
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: utf8, as: UTF8.self) else { throw failure("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &utf8)
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                utf8.append(byte)
            }
        }
    }

    private mutating func escape(into utf8: inout [UInt8]) throws(SafeTensorsError) {
        guard let byte = current else { throw failure("unterminated escape") }
        position += 1
        let simple: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]
        if let replacement = simple[byte] { utf8.append(replacement); return }
        guard byte == UInt8(ascii: "u") else { throw failure("invalid escape") }
        var scalar = try hexQuad()
        if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by an escaped low one.
            try expect("\\u")
            let low = try hexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate") }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let unicode = Unicode.Scalar(scalar) else { throw failure("unpaired surrogate") }
        utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
    }

    private mutating func hexQuad() throws(SafeTensorsError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw failure("unterminated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else { throw failure("invalid \\u escape") }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
