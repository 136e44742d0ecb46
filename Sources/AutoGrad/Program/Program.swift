/// A program of the graph IR as a value, like a jaxpr: typed inputs (float tensors, `i64`
/// indices, `bool` masks), constants it owns, equations (a primitive with typed attributes
/// applied to earlier values) and outputs.
///
/// Programs come from ``trace(_:parameters:names:_:)``, from a recorded ``Graph``, from parsing their
/// text (``init(parsing:)``), or from a ``ProgramBuilder``; they are transformed by passes
/// (functions from program to program), differentiated by ``gradient(withRespectTo:)`` and
/// run by ``run(_:)``. Every program is type-checked when it is built: an operand that is
/// not defined yet, or an equation whose type rule refuses its operands or disagrees with its
/// declared type, is a ``ProgramError`` naming the equation.
///
///     graph(%x: f64[2,3], %w: f64[4,3]) {
///       %0 = matmul[transB=true] %x, %w : f64[2,4]
///       %1 = tanh %0 : f64[2,4]
///       return %1
///     }
public struct Program: Sendable {
    /// A value of the program: an input, a constant or an equation's result, by position.
    public enum Value: Hashable, Sendable {
        /// The input at this position.
        case input(Int)
        /// The constant at this position.
        case constant(Int)
        /// The result of the equation at this position.
        case result(Int)
    }

    /// An input: its name in the text (a parameter's dotted path, for instance) and type.
    public struct Input: Sendable {
        /// The name printed after `%`.
        public var name: String
        /// The type a run must supply.
        public var type: ValueType

        /// An input called `name` of `type`.
        public init(name: String, type: ValueType) {
            self.name = name
            self.type = type
        }
    }

    /// One equation: `primitive` applied to `operands`, with the result's `type`.
    public struct Equation: Sendable {
        /// The operation, with its typed attributes.
        public var primitive: any Primitive
        /// The operands, each defined before this equation.
        public var operands: [Value]
        /// The result's type (checked against the primitive's type rule).
        public var type: ValueType

        /// An equation applying `primitive` to `operands`, giving a value of `type`.
        public init(_ primitive: any Primitive, _ operands: [Value], type: ValueType) {
            self.primitive = primitive
            self.operands = operands
            self.type = type
        }
    }

    /// The inputs, in the order ``run(_:)`` takes their values.
    public let inputs: [Input]
    /// The constants the program owns (their element types included).
    public let constants: [Tensor]
    /// The equations, each after the values it reads.
    public let equations: [Equation]
    /// The values the program returns.
    public let outputs: [Value]

    /// A program of these parts, type-checked: throws a ``ProgramError`` naming the first
    /// equation or output that does not check.
    public init(inputs: [Input], constants: [Tensor], equations: [Equation], outputs: [Value]) throws(ProgramError) {
        self.inputs = inputs
        self.constants = constants
        self.equations = equations
        self.outputs = outputs
        try check()
    }

    /// The type of `value`.
    public func type(of value: Value) -> ValueType {
        Program.type(of: value, inputs: inputs, constants: constants, equations: equations)
    }

    /// The type of `value` among these parts (shared by the program and its builder).
    fileprivate static func type(of value: Value, inputs: [Input], constants: [Tensor], equations: [Equation]) -> ValueType {
        switch value {
        case .input(let index): inputs[index].type
        case .constant(let index): constants[index].valueType
        case .result(let index): equations[index].type
        }
    }

    /// The equations that read each value (computed in one pass; passes build it once).
    public func users() -> [Value: [Int]] {
        var users: [Value: [Int]] = [:]
        for (index, equation) in equations.enumerated() {
            for operand in Set(equation.operands) { users[operand, default: []].append(index) }
        }
        return users
    }

    private func check() throws(ProgramError) {
        func isDefined(_ value: Value, before position: Int) -> Bool {
            switch value {
            case .input(let index): index >= 0 && index < inputs.count
            case .constant(let index): index >= 0 && index < constants.count
            case .result(let index): index >= 0 && index < position
            }
        }
        for (position, equation) in equations.enumerated() {
            if let undefined = equation.operands.first(where: { !isDefined($0, before: position) }) {
                throw ProgramError(equation: position, op: equation.primitive.name,
                                   message: "operand \(undefined) is not defined before it")
            }
            let expected: ValueType
            do {
                expected = try equation.primitive.outputType(equation.operands.map(type(of:)))
            } catch {
                throw ProgramError(equation: position, op: equation.primitive.name, message: error.message)
            }
            guard expected == equation.type else {
                throw ProgramError(equation: position, op: equation.primitive.name,
                                   message: "declared type \(equation.type) but the operands give \(expected)")
            }
        }
        if let undefined = outputs.first(where: { !isDefined($0, before: equations.count) }) {
            throw ProgramError(equation: nil, op: "return", message: "output \(undefined) is not defined")
        }
    }
}

/// Why a program did not type-check: the equation (by position; `nil` for the outputs), its
/// op and what was wrong.
public struct ProgramError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The position of the offending equation, or `nil` when an output is at fault.
    public let equation: Int?
    /// The equation's op name (`return` for the outputs).
    public let op: String
    /// What did not check.
    public let message: String

    /// An error of the equation at `equation` (`nil`: the outputs) applying `op`.
    public init(equation: Int?, op: String, message: String) {
        self.equation = equation
        self.op = op
        self.message = message
    }

    public var description: String {
        (equation.map { "equation \($0) (\(op))" } ?? op) + ": " + message
    }
}

/// Builds a ``Program`` value by value: what passes and transformations use to write their
/// result, and what a user uses to write a program in Swift. Each equation is type-checked
/// as it is added.
public struct ProgramBuilder {
    private(set) var inputs: [Program.Input] = []
    private(set) var constants: [Tensor] = []
    private(set) var equations: [Program.Equation] = []

    /// An empty builder.
    public init() {}

    /// Declares the next input.
    public mutating func input(_ name: String, _ type: ValueType) -> Program.Value {
        inputs.append(Program.Input(name: name, type: type))
        return .input(inputs.count - 1)
    }

    /// Adds a constant the program owns.
    public mutating func constant(_ value: Tensor) -> Program.Value {
        constants.append(value.detached())
        return .constant(constants.count - 1)
    }

    /// Adds an equation applying `primitive` to `operands`; its type comes from the
    /// primitive's rule, which throws when the operands do not fit.
    public mutating func apply(_ primitive: any Primitive, _ operands: [Program.Value]) throws(ProgramError) -> Program.Value {
        let type: ValueType
        do {
            type = try primitive.outputType(operands.map(type(of:)))
        } catch {
            throw ProgramError(equation: equations.count, op: primitive.name, message: error.message)
        }
        equations.append(Program.Equation(primitive, operands, type: type))
        return .result(equations.count - 1)
    }

    /// The type of a value added so far.
    public func type(of value: Program.Value) -> ValueType {
        Program.type(of: value, inputs: inputs, constants: constants, equations: equations)
    }

    /// The program returning `outputs`.
    public func build(outputs: [Program.Value]) throws(ProgramError) -> Program {
        try Program(inputs: inputs, constants: constants, equations: equations, outputs: outputs)
    }
}
