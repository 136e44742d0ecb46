import Synchronization

/// Why a primitive could not be made from its name and attributes.
public struct PrimitiveLookupError: Error, Sendable {
    /// What was expected (a known op name, an attribute of some type).
    public let expected: String
}

/// Makes primitives from their IR name and attributes: how the parser (and any pass that
/// builds ops it did not receive) gets a primitive back. The built-in ops are registered;
/// ``register(_:_:)`` adds a user-defined one.
public enum PrimitiveRegistry {
    /// Makes a primitive from its attributes, or throws saying which attribute is missing.
    public typealias Maker = @Sendable (Attributes) throws -> any Primitive

    private static let makers = Mutex<[String: Maker]>(builtIns())

    /// Registers (or replaces) the maker of the op called `name`.
    public static func register(_ name: String, _ maker: @escaping Maker) {
        makers.withLock { $0[name] = maker }
    }

    /// The primitive called `name` with `attributes`.
    public static func make(_ name: String, _ attributes: Attributes) throws(PrimitiveLookupError) -> any Primitive {
        guard let maker = makers.withLock({ $0[name] }) else { throw PrimitiveLookupError(expected: "a known op name") }
        do {
            return try maker(attributes)
        } catch let error as PrimitiveLookupError {
            throw error
        } catch {
            throw PrimitiveLookupError(expected: "attributes its maker accepts (\(error))")
        }
    }

    private static func builtIns() -> [String: Maker] {
        var table: [String: Maker] = [
            "add": { _ in Add() }, "sub": { _ in Subtract() }, "mul": { _ in Multiply() }, "div": { _ in Divide() },
            "pow": { _ in Power() }, "maximum": { _ in Extremum(isMaximum: true) }, "minimum": { _ in Extremum(isMaximum: false) },
            "max_share": { _ in SelectionShare(isMaximum: true) }, "min_share": { _ in SelectionShare(isMaximum: false) },
            "neg": { _ in Negate() }, "exp": { _ in Exp() }, "log": { _ in Log() }, "sqrt": { _ in SquareRoot() },
            "abs": { _ in AbsoluteValue() }, "tanh": { _ in Tanh() }, "sigmoid": { _ in Sigmoid() },
            "tanh_grad": { _ in SaturatingGradient(function: .tanh) }, "sigmoid_grad": { _ in SaturatingGradient(function: .sigmoid) },
            "softplus": { _ in Softplus() }, "softplus_slope": { _ in SoftplusSlope() }, "sign": { _ in Sign() },
            "relu": { _ in Rectifier(negativeSlope: 0) },
            "leaky_relu": { a in Rectifier(negativeSlope: try a.double("slope")) },
            "relu_slope": { a in RectifierSlope(negativeSlope: try a.double("slope")) },
            "clamp": { a in Clamp(lower: try a.double("min"), upper: try a.double("max")) },
            "indicator": { a in Indicator(lower: try a.double("min"), upper: try a.double("max")) },
            "convert": { a in Cast(dtype: try a.dtype("dtype")) },
            "reshape": { a in Reshape(shape: try a.ints("shape")) },
            "transpose": { a in Permute(permutation: try a.ints("perm")) },
            "broadcast": { a in Expand(shape: try a.ints("shape")) },
            "rev": { a in Reverse(axis: try a.int("axis")) },
            "slice": { a in
                Slice(axis: try a.int("axis"), start: try a.int("start"), end: try a.int("end"), step: try a.int("step", default: 1))
            },
            "pad": { a in
                Pad(axis: try a.int("axis"), start: try a.int("start"), step: try a.int("step", default: 1), size: try a.int("size"))
            },
            "concatenate": { a in Concat(axis: try a.int("axis")) },
            "where": { _ in Where() },
            "gather": { a in IndexSelect(axis: try a.int("axis")) },
            "scatter_add": { a in IndexAdd(axis: try a.int("axis"), size: try a.int("size")) },
            "one_hot": { a in 
                OneHot(classCount: try a.int("classes"), dtype: try a.dtype("dtype"), ignoredIndex: a["ignoring"] == nil ? nil : try a.int("ignoring"))
            },
            "matmul": { a in
                MatMul(transposeA: try a.bool("transA", default: false), transposeB: try a.bool("transB", default: false))
            },
            "pack_rhs": { a in PackRightOperand(transposed: try a.bool("transB", default: false)) },
            "matmul_packed": { a in
                PackedMatMul(transposeA: try a.bool("transA", default: false), columns: try a.int("n"), addsAddend: try a.bool("addend", default: false))
            },
            "stop_gradient": { _ in StopGradient() },
            "fused": { a in
                guard let fused = FusedElementwise(body: try Program(parsing: try a.text("body"))) else {
                    throw PrimitiveLookupError(expected: "a body of unary and binary elementwise ops")
                }
                return fused
            },
        ]
        for kind in [ReductionKind.sum, .max, .min] {
            table["reduce_\(kind.rawValue)"] = { a in
                Reduce(kind: kind, axes: try a.ints("axes"), keepDims: try a.bool("keepDims", default: false))
            }
        }
        for relation in [Comparison.Relation.less, .lessEqual, .greater, .greaterEqual, .equal, .notEqual] {
            table[relation.rawValue] = { _ in Comparison(relation: relation) }
        }
        return table
    }
}

extension Attributes {
    /// The integer attribute `name` (or `fallback` when absent and one is given).
    public func int(_ name: String, default fallback: Int? = nil) throws -> Int {
        if case .int(let value)? = self[name] { return value }
        if self[name] == nil, let fallback { return fallback }
        throw PrimitiveLookupError(expected: "an integer attribute \(name)")
    }

    /// The integer-list attribute `name`.
    public func ints(_ name: String) throws -> [Int] {
        if case .ints(let values)? = self[name] { return values }
        throw PrimitiveLookupError(expected: "an integer list attribute \(name)")
    }

    /// The real attribute `name` (an integer is accepted too).
    public func double(_ name: String) throws -> Double {
        switch self[name] {
        case .double(let value)?: return value
        case .int(let value)?: return Double(value)
        default: throw PrimitiveLookupError(expected: "a real attribute \(name)")
        }
    }

    /// The flag attribute `name` (or `fallback` when absent).
    public func bool(_ name: String, default fallback: Bool) throws -> Bool {
        switch self[name] {
        case .bool(let value)?: return value
        case nil: return fallback
        default: throw PrimitiveLookupError(expected: "a true/false attribute \(name)")
        }
    }

    /// The text attribute `name`.
    public func text(_ name: String) throws -> String {
        if case .text(let text)? = self[name] { return text }
        throw PrimitiveLookupError(expected: "a text attribute \(name)")
    }

    /// The dtype attribute `name`.
    public func dtype(_ name: String) throws -> DType {
        if case .dtype(let dtype)? = self[name] { return dtype }
        throw PrimitiveLookupError(expected: "a dtype attribute \(name)")
    }
}
