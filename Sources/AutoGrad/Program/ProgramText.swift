/// The text of a ``Program`` (grammar in Docs/AutoGrad.docc/GraphIR.md), which
/// ``Program/init(parsing:)`` reads back:
///
///     graph(%x: f32[2,3], %ids: i64[4]) {
///       %c0 = const f32[3] [0.5, 1.0, 2.0]
///       %0 = gather[axis=1] %x, %ids : f32[2,4]
///       %1 = mul %0, 3 : f32[2,4]
///       return %1
///     }
///
/// Inputs are named by their names, constants `%c0, %c1, …`, results `%0, %1, …`. A scalar
/// constant whose type is its equation's *literal type* (that of the first float operand that
/// is not a literal, else the result's, else f64) prints inline as its value.
extension Program: CustomStringConvertible {
    public var description: String {
        let names = valueNames()
        var lines = ["graph(" + inputs.indices.map { "%\(names[.input($0)]!): \(inputs[$0].type)" }
                        .joined(separator: ", ") + ") {"]
        let inlined = inlinedConstants()
        for (index, constant) in constants.enumerated() where !inlined.contains(index) {
            lines.append("  %\(names[.constant(index)]!) = const \(constant.valueType) [" + literalValues(constant) + "]")
        }
        for (position, equation) in equations.enumerated() {
            let operands = equation.operands.map { operand in
                if case .constant(let index) = operand, inlined.contains(index) { return literal(constants[index]) }
                return "%" + names[operand]!
            }
            lines.append("  %\(names[.result(position)]!) = \(Program.label(equation.primitive))"
                         + (operands.isEmpty ? "" : " " + operands.joined(separator: ", ")) + " : \(equation.type)")
        }
        lines.append("  return " + outputs.map { "%" + names[$0]! }.joined(separator: ", "))
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    /// `name[key=value …]`: how an equation's op prints.
    static func label(_ primitive: any Primitive) -> String {
        let attributes = primitive.attributes
        return primitive.name + (attributes.isEmpty ? "" : "[" + attributes.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "]")
    }

    /// Unique names: inputs keep theirs (a repeat gets `#2`), constants printed on their own
    /// line `c0…` in order, results `0…`.
    func valueNames() -> [Value: String] {
        var names: [Value: String] = [:], taken = Set<String>()
        func claim(_ wanted: String, for value: Value) {
            var name = wanted, suffix = 2
            while taken.contains(name) { name = "\(wanted)#\(suffix)"; suffix += 1 }
            taken.insert(name)
            names[value] = name
        }
        for (index, input) in inputs.enumerated() { claim(input.name.isEmpty ? "in\(index)" : input.name, for: .input(index)) }
        let inlined = inlinedConstants()
        for (number, index) in constants.indices.filter({ !inlined.contains($0) }).enumerated() {
            claim("c\(number)", for: .constant(index))
        }
        for index in equations.indices { claim("\(index)", for: .result(index)) }
        return names
    }

    /// Scalar constants printed inline: used once each, where their type is the literal type.
    private func inlinedConstants() -> Set<Int> {
        var uses: [Int: Int] = [:], fits = Set<Int>()
        for equation in equations {
            let literalType = Program.literalElement(operandTypes: equation.operands.map { operand in
                if case .constant(let index) = operand, constants[index].shape.isEmpty { return nil }
                return type(of: operand)
            }, result: equation.type)
            for case .constant(let index) in equation.operands {
                uses[index, default: 0] += 1
                if constants[index].valueType == ValueType(literalType, []) {
                fits.insert(index)
            }
            }
        }
        for case .constant(let index) in outputs { uses[index, default: 0] += 2 }
        return fits.filter { uses[$0] == 1 }
    }

    /// The element type an inline number takes: that of the first float operand that is not a
    /// literal (`nil` marks literals), else the result's if float, else f64.
    static func literalElement(operandTypes: [ValueType?], result: ValueType) -> ElementType {
        if let first = operandTypes.lazy.compactMap({ $0 }).first(where: { $0.element.floatType != nil }) {
            return first.element
        }
        return result.element.floatType != nil ? result.element : .float64
    }

    private func literal(_ constant: Tensor) -> String { number(constant.storage[double: 0], constant.dtype) }

    private func literalValues(_ constant: Tensor) -> String {
        (0..<constant.count).map { number(constant.storage[double: $0], constant.dtype) }.joined(separator: ", ")
    }

    /// The shortest text that parses back to the same value of `dtype`.
    private func number(_ value: Double, _ dtype: DType) -> String {
        if value == value.rounded() && Swift.abs(value) < 1e15 && !(value == 0 && value.sign == .minus) {
            return String(Int(value))
        }
        return dtype == .float32 ? "\(Float(value))" : "\(value)"
    }
}
