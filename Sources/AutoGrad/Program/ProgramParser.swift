/// Why program text did not parse: where (1-based line and column), what was expected there
/// and what was found.
public struct ProgramParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line, from 1.
    public let line: Int
    /// The column, from 1.
    public let column: Int
    /// What the grammar expected there.
    public let expected: String
    /// What the text had instead.
    public let found: String

    /// An error at `line` and `column`: `expected` was wanted, `found` was there.
    public init(line: Int, column: Int, expected: String, found: String) {
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found
    }

    public var description: String { "\(line):\(column): expected \(expected), found \(found)" }
}

extension Program {
    /// Parses program text as ``description`` prints it (the grammar in GraphIR.md). Throws
    /// a ``ProgramParseError`` for malformed text, or a ``ProgramError`` when the text parses
    /// but does not type-check (naming the equation).
    public init(parsing text: String) throws {
        var parser = ProgramParser(text)
        self = try parser.program()
    }
}

/// A recursive-descent parser over the text's characters, tracking line and column.
private struct ProgramParser {
    private let characters: [Character]
    private var position = 0, line = 1, column = 1
    private var builder = ProgramBuilder()
    private var values: [String: Program.Value] = [:]

    init(_ text: String) { characters = Array(text) }

    mutating func program() throws -> Program {
        try keyword("graph")
        try symbol("(")
        if !peek(")") {
            repeat {
                let name = try valueName()
                try symbol(":")
                try define(name, builder.input(name, try type()))
            } while try optional(",")
        }
        try symbol(")")
        try symbol("{")
        while !peekWord("return") { try statement() }
        try keyword("return")
        var outputs: [Program.Value] = []
        repeat { outputs.append(try reference()) } while try optional(",")
        try symbol("}")
        skipSpace()
        guard position == characters.count else { throw failure("the end of the text") }
        return try builder.build(outputs: outputs)
    }

    private mutating func statement() throws {
        let name = try valueName()
        try symbol("=")
        if peekWord("const") {
            try keyword("const")
            let type = try type()
            try symbol("[")
            var numbers: [Double] = []
            if !peek("]") { repeat { numbers.append(try number()) } while try optional(",") }
            try symbol("]")
            guard numbers.count == type.count else { throw failure("\(type.count) values for \(type)", found: "\(numbers.count)") }
            try define(name, builder.constant(Program.constant(numbers, type)))
            return
        }
        let (line, column) = (self.line, self.column)
        let op = try word("an op name")
        var attributes: [(name: String, value: Attribute)] = []
        if try optional("[") {
            repeat {
                let key = try word("an attribute name")
                try symbol("=")
                attributes.append((key, try attribute()))
            } while !peek("]")
            try symbol("]")
        }
        // Operands until the type; literals are resolved once the result type is known.
        var operands: [Program.Value?] = [], literals: [Int: Double] = [:]
        if !peek(":") {
            repeat {
                if peek("%") { operands.append(try reference()) } else {
                    literals[operands.count] = try number()
                    operands.append(nil)
                }
            } while try optional(",")
        }
        try symbol(":")
        let declared = try type()
        let literalType = Program.literalElement(operandTypes: operands.map { $0.map(builder.type(of:)) }, result: declared)
        let resolved = operands.enumerated().map { index, operand in
            operand ?? builder.constant(Program.constant([literals[index]!], ValueType(literalType, [])))
        }
        let primitive: any Primitive
        do {
            primitive = try PrimitiveRegistry.make(op, Attributes(attributes))
        } catch {
            throw ProgramParseError(line: line, column: column, expected: error.expected, found: op)
        }
        let result = try builder.apply(primitive, resolved)
        guard builder.type(of: result) == declared else {
            throw ProgramError(equation: nil, op: op, message: "declared type \(declared) but the operands give \(builder.type(of: result)) (line \(line))")
        }
        try define(name, result)
    }

    // MARK: Pieces

    private mutating func type() throws -> ValueType {
        let spelling = try word("a type")
        guard let element = ElementType(rawValue: spelling) else { throw failure("a type (f32, f64, i64 or bool)", found: spelling) }
        try symbol("[")
        var shape: [Int] = []
        if !peek("]") {
            repeat {
                let dimension = try number()
                guard dimension >= 0, dimension == dimension.rounded(), dimension < 1e15 else {
                    throw failure("a non-negative integer dimension", found: "\(dimension)")
                }
                shape.append(Int(dimension))
            } while try optional(",")
        }
        try symbol("]")
        return ValueType(element, shape)
    }

    private mutating func attribute() throws -> Attribute {
        if try optional("\"") {
            var text = ""
            while let next = characters[safe: position], next != "\"" {
                advance()
                if next == "\\", let escaped = characters[safe: position] {
                    text.append(escaped)
                    advance()
                } else {
                    text.append(next)
                }
            }
            try symbol("\"")
            return .text(text)
        }
        if try optional("[") {
            var values: [Int] = []
            if !peek("]") {
                repeat {
                    let value = try number()
                    guard value == value.rounded(), Swift.abs(value) < 1e15 else { throw failure("an integer", found: "\(value)") }
                    values.append(Int(value))
                } while try optional(",")
            }
            try symbol("]")
            return .ints(values)
        }
        skipSpace()
        if let next = characters[safe: position], next.isLetter, !peekWord("inf"), !peekWord("nan") {
            let spelling = try word("an attribute value")
            switch spelling {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "f32": return .dtype(.float32)
            case "f64": return .dtype(.float64)
            default: throw failure("true, false, f32, f64, a number or a list", found: spelling)
            }
        }
        let text = try numberText()
        if let integer = Int(text) { return .int(integer) }
        return .double(Double(text)!)
    }

    private mutating func reference() throws -> Program.Value {
        let (line, column) = (self.line, self.column)
        let name = try valueName()
        guard let value = values[name] else {
            throw ProgramParseError(line: line, column: column, expected: "a value defined earlier", found: "%" + name)
        }
        return value
    }

    private mutating func define(_ name: String, _ value: Program.Value) throws {
        guard values[name] == nil else { throw failure("a new value name", found: "%\(name) (defined twice)") }
        values[name] = value
    }

    private mutating func valueName() throws -> String {
        try symbol("%")
        return try word("a value name", allowingLeadingDigit: true)
    }

    private mutating func number() throws -> Double { Double(try numberText())! }

    private mutating func numberText() throws -> String {
        skipSpace()
        let start = position
        var text = ""
        while let next = characters[safe: position], next.isLetter || next.isNumber || "+-.".contains(next) {
            text.append(next)
            advance()
        }
        guard !text.isEmpty, Double(text) != nil else {
            position = start
            throw failure("a number", found: text.isEmpty ? nil : text)
        }
        return text
    }

    private mutating func word(_ expected: String, allowingLeadingDigit: Bool = false) throws -> String {
        skipSpace()
        var text = ""
        while let next = characters[safe: position], next.isLetter || next.isNumber || "_.#".contains(next) {
            if text.isEmpty && next.isNumber && !allowingLeadingDigit { break }
            text.append(next)
            advance()
        }
        guard !text.isEmpty else { throw failure(expected) }
        return text
    }

    private mutating func keyword(_ keyword: String) throws {
        skipSpace()
        guard peekWord(keyword) else { throw failure("'\(keyword)'") }
        for _ in keyword { advance() }
    }

    private mutating func symbol(_ symbol: Character) throws {
        skipSpace()
        guard characters[safe: position] == symbol else { throw failure("'\(symbol)'") }
        advance()
    }

    private mutating func optional(_ symbol: Character) throws -> Bool {
        guard peek(symbol) else { return false }
        advance()
        return true
    }

    private mutating func peek(_ symbol: Character) -> Bool {
        skipSpace()
        return characters[safe: position] == symbol
    }

    private mutating func peekWord(_ word: String) -> Bool {
        skipSpace()
        let end = position + word.count
        guard end <= characters.count, String(characters[position..<end]) == word else { return false }
        return characters[safe: end].map { !($0.isLetter || $0.isNumber || $0 == "_") } ?? true
    }

    private mutating func skipSpace() {
        while let next = characters[safe: position], next.isWhitespace { advance() }
    }

    private mutating func advance() {
        if characters[position].isNewline { line += 1; column = 1 } else { column += 1 }
        position += 1
    }

    private mutating func failure(_ expected: String, found: String? = nil) -> ProgramParseError {
        skipSpace()
        let found = found ?? characters[safe: position].map { "'\($0)'" } ?? "the end of the text"
        return ProgramParseError(line: line, column: column, expected: expected, found: found)
    }
}

extension Program {
    /// A constant of `type` holding `values` (row-major), in float storage.
    static func constant(_ values: [Double], _ type: ValueType) -> Tensor {
        var tensor = Tensor(values, shape: type.shape, dtype: type.element.floatType ?? (type.element == .int64 ? .float64 : .float32))
        tensor.elementType = type.element
        return tensor
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
