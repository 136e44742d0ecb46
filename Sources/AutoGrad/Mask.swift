import CKernels

/// A boolean tensor: the result of a comparison, used by `Tensor.where` and masked losses.
/// Masks are never differentiated, so they are their own type.
public struct Mask: Sendable, Equatable, CustomStringConvertible {
    /// The size of each axis.
    public let shape: [Int]
    /// The elements in row-major order.
    public let values: [Bool]
    /// The traced value this mask is, while tracing a ``Program`` (a `bool` input or a
    /// comparison's result), so ops that take it record it as an operand.
    var traced: Tensor?

    /// A mask of `shape` holding `values` (row-major).
    public init(_ values: [Bool], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        guard elementCount(shape) == values.count else {
            opFailure("Mask", "\(values.count) values do not fill shape \(describe(shape))")
        }
        self.shape = shape
        self.values = values
    }

    /// The elements where `tensor` is non-zero.
    public init(_ tensor: Tensor) {
        self.init(tensor.scalars.map { $0 != 0 }, shape: tensor.shape)
    }

    /// The number of `true` elements.
    public var trueCount: Int { values.lazy.filter { $0 }.count }

    /// `true` where both are (with broadcasting).
    public static func & (lhs: Mask, rhs: Mask) -> Mask {
        Mask(lhs.asTensor(.float64) * rhs.asTensor(.float64))
    }
    /// `true` where either is (with broadcasting).
    public static func | (lhs: Mask, rhs: Mask) -> Mask {
        Mask(maximum(lhs.asTensor(.float64), rhs.asTensor(.float64)))
    }
    /// `true` where this mask is `false`.
    public static prefix func ! (mask: Mask) -> Mask { Mask(mask.values.map { !$0 }, shape: mask.shape) }

    /// 1 where `true`, 0 where `false`.
    public func asTensor(_ dtype: DType = .float32) -> Tensor {
        traced.map { $0.to(dtype) } ?? Tensor(values.map { $0 ? 1 : 0 }, shape: shape, dtype: dtype)
    }

    /// The mask as an operand of ops: a `bool` value in `dtype` storage (the traced one while
    /// tracing).
    func tensor(dtype: DType) -> Tensor {
        if let traced { return traced }
        var result = Tensor(values.map { $0 ? 1 : 0 }, shape: shape, dtype: dtype)
        result.elementType = .bool
        return result
    }

    public static func == (lhs: Mask, rhs: Mask) -> Bool { lhs.shape == rhs.shape && lhs.values == rhs.values }

    public var description: String { "mask(\(asTensor().description.dropFirst("tensor(".count))" }
}

/// An integer tensor of indices (token ids, class labels, gather positions): not
/// differentiable, so it has its own type.
public struct IndexTensor: Sendable, Equatable {
    /// The size of each axis.
    public let shape: [Int]
    /// The indices in row-major order.
    public let values: [Int]
    /// The traced `i64` value these indices are, while tracing a ``Program``.
    var traced: Tensor?

    /// The indices as an operand of ops: an `i64` value in float64 storage (exact below 2⁵³),
    /// the traced one while tracing.
    var tensor: Tensor {
        if let traced { return traced }
        var result = Tensor(values.map(Double.init), shape: shape, dtype: .float64)
        result.elementType = .int64
        return result
    }

    public static func == (lhs: IndexTensor, rhs: IndexTensor) -> Bool {
        lhs.shape == rhs.shape && lhs.values == rhs.values
    }

    /// Indices of `shape` (default `[values.count]`), row-major.
    public init(_ values: [Int], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        guard elementCount(shape) == values.count else {
            opFailure("IndexTensor", "\(values.count) values do not fill shape \(describe(shape))")
        }
        self.shape = shape
        self.values = values
    }

    /// A matrix of indices from rows of equal length.
    public init(_ rows: [[Int]]) {
        let width = rows.first?.count ?? 0
        guard rows.allSatisfy({ $0.count == width }) else {
            opFailure("IndexTensor", "rows have different lengths \(rows.map(\.count))")
        }
        self.init(rows.flatMap { $0 }, shape: [rows.count, width])
    }
}

/// Elementwise comparison of two floats of one dtype producing a `bool` (held as 1 or 0): the
/// kernel behind masks.
struct Comparison: BinaryElementwisePrimitive {
    enum Relation: String, Sendable { case less, lessEqual, greater, greaterEqual, equal, notEqual }
    let relation: Relation
    var name: String { relation.rawValue }
    var pullbackReads: PullbackReads { .nothing }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T {
        let holds: Bool
        switch relation {
        case .less: holds = a < b
        case .lessEqual: holds = a <= b
        case .greater: holds = a > b
        case .greaterEqual: holds = a >= b
        case .equal: holds = a == b
        case .notEqual: holds = a != b
        }
        return holds ? 1 : 0
    }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        _ = try sameFloatElement(elements)
        return .bool
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil, nil] }

    var float32Kernel: BinaryFloat32Kernel? {
        switch relation {
        case .less: ag_less_f32
        case .lessEqual: ag_less_equal_f32
        case .greater: ag_greater_f32
        case .greaterEqual: ag_greater_equal_f32
        case .equal: ag_equal_f32
        case .notEqual: ag_not_equal_f32
        }
    }

    func zip(_ a: UnsafePointer<Double>, scalarA: Bool, _ b: UnsafePointer<Double>, scalarB: Bool,
             _ y: UnsafeMutablePointer<Double>, count: Int) {
        compare(a, scalarA, b, scalarB, y, count)
    }

    /// The float64 loop with the relation chosen once, not per element (a fused kernel's
    /// condition).
    private func compare<T: FloatElement>(_ a: UnsafePointer<T>, _ scalarA: Bool, _ b: UnsafePointer<T>, _ scalarB: Bool,
                                          _ y: UnsafeMutablePointer<T>, _ count: Int) {
        @inline(__always) func loop(_ holds: (T, T) -> Bool) {
            switch (scalarA, scalarB) {
            case (false, false): for i in 0..<count { y[i] = holds(a[i], b[i]) ? 1 : 0 }
            case (false, true): for i in 0..<count { y[i] = holds(a[i], b[0]) ? 1 : 0 }
            case (true, false): for i in 0..<count { y[i] = holds(a[0], b[i]) ? 1 : 0 }
            case (true, true): y.update(repeating: holds(a[0], b[0]) ? 1 : 0, count: count)
            }
        }
        switch relation {
        case .less: loop(<)
        case .lessEqual: loop(<=)
        case .greater: loop(>)
        case .greaterEqual: loop(>=)
        case .equal: loop(==)
        case .notEqual: loop(!=)
        }
    }
}

extension Tensor {
    /// 1 where equal to `other` (broadcast), else 0, in this tensor's dtype; not differentiable.
    func elementsEqual(_ other: Tensor) -> Tensor {
        apply(Comparison(relation: .equal), [self.detached(), other.detached()]).to(dtype)
    }

    private func compare(_ relation: Comparison.Relation, _ other: Tensor) -> Mask {
        // A comparison has no gradient. Eager operands are detached so the tape does not grow;
        // a traced one is not, since a stop_gradient would only hide from the passes what the
        // comparison reads (fusion, recomputing it in a backward half).
        let operands = isTracing ? [self, other] : [self.detached(), other.detached()]
        let result = apply(Comparison(relation: relation), operands)
        var mask = Mask(result.scalars.map { $0 != 0 }, shape: result.shape)
        if result.node != nil { mask.traced = result }
        return mask
    }

    /// Elementwise `<` with broadcasting.
    public static func .< (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.less, rhs) }
    /// Elementwise `<=` with broadcasting.
    public static func .<= (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.lessEqual, rhs) }
    /// Elementwise `>` with broadcasting.
    public static func .> (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.greater, rhs) }
    /// Elementwise `>=` with broadcasting.
    public static func .>= (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.greaterEqual, rhs) }
    /// Elementwise `==` with broadcasting.
    public static func .== (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.equal, rhs) }
    /// Elementwise `!=` with broadcasting.
    public static func .!= (lhs: Tensor, rhs: Tensor) -> Mask { lhs.compare(.notEqual, rhs) }
    /// Elementwise `<` against a scalar.
    public static func .< (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.less, lhs.scalar(rhs)) }
    /// Elementwise `<=` against a scalar.
    public static func .<= (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.lessEqual, lhs.scalar(rhs)) }
    /// Elementwise `>` against a scalar.
    public static func .> (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.greater, lhs.scalar(rhs)) }
    /// Elementwise `>=` against a scalar.
    public static func .>= (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.greaterEqual, lhs.scalar(rhs)) }
    /// Elementwise `==` against a scalar.
    public static func .== (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.equal, lhs.scalar(rhs)) }
    /// Elementwise `!=` against a scalar.
    public static func .!= (lhs: Tensor, rhs: Double) -> Mask { lhs.compare(.notEqual, lhs.scalar(rhs)) }
}
