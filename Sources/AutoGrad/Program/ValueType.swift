/// The element type of a value in the IR: the two float dtypes of tensors, plus the integer
/// indices and booleans that data (token ids, class labels, masks) is made of.
///
/// Index and boolean values are exact in float storage at run time (an index is held as a
/// float64, exact below 2⁵³; a boolean as 0 or 1), so every kernel works on one storage type;
/// the IR keeps their real types, which the type checker enforces.
public enum ElementType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// 32-bit float.
    case float32 = "f32"
    /// 64-bit float.
    case float64 = "f64"
    /// Integer indices.
    case int64 = "i64"
    /// Booleans (masks).
    case bool

    /// The element type of tensors of `dtype`.
    public init(_ dtype: DType) { self = dtype == .float32 ? .float32 : .float64 }

    /// The float dtype, or `nil` for indices and booleans.
    public var floatType: DType? {
        switch self {
        case .float32: .float32
        case .float64: .float64
        case .int64, .bool: nil
        }
    }

    /// The IR spelling: `f32`, `f64`, `i64` or `bool`.
    public var description: String { rawValue }
}

/// The type of a value in the IR: element type and shape, printed `f32[2,3]`.
public struct ValueType: Sendable, Hashable, CustomStringConvertible {
    /// The element type.
    public var element: ElementType
    /// The size of each axis; `[]` for a scalar.
    public var shape: [Int]

    /// A type of `element`s with `shape`.
    public init(_ element: ElementType, _ shape: [Int]) {
        self.element = element
        self.shape = shape
    }

    /// The number of elements.
    public var count: Int { elementCount(shape) }

    public var description: String { "\(element)\(describe(shape))" }
}

/// Why a primitive's type rule refused its operands: the op and what did not fit. ``apply(_:_:)``
/// stops with it (a programmer error); building a ``Program`` throws it inside a
/// ``ProgramError`` naming the equation.
public struct ShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The op whose rule failed.
    public let op: String
    /// What did not fit, naming the shapes, axes or types.
    public let message: String

    /// An error of `op` saying `message`.
    public init(_ op: String, _ message: String) {
        self.op = op
        self.message = message
    }

    public var description: String { "\(op): \(message)" }
}

/// A typed attribute of a primitive: what passes read (`axes`, `transB`) and what the IR prints
/// in brackets after the op's name.
public enum Attribute: Sendable, Hashable, CustomStringConvertible {
    /// An integer, printed `3`.
    case int(Int)
    /// A list of integers, printed `[0,1]`.
    case ints([Int])
    /// A flag, printed `true` or `false`.
    case bool(Bool)
    /// A real number, printed so that it parses back to the same value (`0.5`, `-inf`).
    case double(Double)
    /// A float dtype, printed `f32` or `f64`.
    case dtype(DType)
    /// Text (a fused kernel's body), printed in double quotes with `\"` and `\\` escaped.
    case text(String)

    public var description: String {
        switch self {
        case .int(let value): "\(value)"
        case .ints(let values): describe(values)
        case .bool(let value): "\(value)"
        case .double(let value): "\(value)"  // Swift prints the shortest text that parses back exactly
        case .dtype(let dtype): "\(dtype)"
        case .text(let text): "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
    }
}

/// A primitive's attributes by name, for reading them back (passes, the parser).
public struct Attributes: Sendable {
    /// The attributes in the primitive's order.
    public let list: [(name: String, value: Attribute)]

    /// Wraps a primitive's attribute list.
    public init(_ list: [(name: String, value: Attribute)]) { self.list = list }

    /// The attribute called `name`, if present.
    public subscript(name: String) -> Attribute? { list.first { $0.name == name }?.value }
}

/// One property of an operand (its shape, its element type), read from a tensor or a type.
public protocol OperandProperty {
    /// The property's type.
    associatedtype Value
    /// The property of an operand tensor.
    static func of(_ tensor: Tensor) -> Value
    /// The property of an operand of `type`.
    static func of(_ type: ValueType) -> Value
}

/// An operand's shape.
public enum ShapeProperty: OperandProperty {
    public static func of(_ tensor: Tensor) -> [Int] { tensor.shape }
    public static func of(_ type: ValueType) -> [Int] { type.shape }
}

/// An operand's element type.
public enum ElementProperty: OperandProperty {
    public static func of(_ tensor: Tensor) -> ElementType { tensor.elementType }
    public static func of(_ type: ValueType) -> ElementType { type.element }
}

/// One property of an op's operands, as its type rule reads it: a view of the operand
/// tensors (when an op runs) or of their types (when a program is checked), never a copy.
public struct OperandView<Property: OperandProperty>: RandomAccessCollection, Sendable {
    private let tensors: [Tensor]?
    private let types: [ValueType]

    /// The property of `tensors`.
    public init(_ tensors: [Tensor]) {
        self.tensors = tensors
        types = []
    }

    /// The property of values of `types`.
    public init(_ types: [ValueType]) {
        tensors = nil
        self.types = types
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { tensors?.count ?? types.count }
    public subscript(position: Int) -> Property.Value {
        tensors.map { Property.of($0[position]) } ?? Property.of(types[position])
    }
}

/// The operands' shapes, as shape rules read them.
public typealias OperandShapes = OperandView<ShapeProperty>
/// The operands' element types, as element rules read them.
public typealias OperandElements = OperandView<ElementProperty>
