import CKernels

// Binary arithmetic with NumPy broadcasting. Pullbacks return gradients in the broadcast
// shape; the backward walk sums them back to each input's shape.

struct Add: BinaryElementwisePrimitive {
    var name: String { "add" }
    var pullbackReads: PullbackReads { .nothing }
    var float32Kernel: BinaryFloat32Kernel? { ag_add_f32 }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T { a + b }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient, gradient]
    }
}

struct Subtract: BinaryElementwisePrimitive {
    var name: String { "sub" }
    var pullbackReads: PullbackReads { .nothing }
    var float32Kernel: BinaryFloat32Kernel? { ag_sub_f32 }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T { a - b }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient, inputs[1].requiresGrad ? -gradient : nil]
    }
}

struct Multiply: BinaryElementwisePrimitive {
    var name: String { "mul" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0, 1]) }
    var float32Kernel: BinaryFloat32Kernel? { ag_mul_f32 }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T { a * b }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [inputs[0].requiresGrad ? gradient * inputs[1] : nil,
         inputs[1].requiresGrad ? gradient * inputs[0] : nil]
    }
}

struct Divide: BinaryElementwisePrimitive {
    var name: String { "div" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [1], output: true) }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T { a / b }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        // d(a/b)/db = -(a/b)/b: reuses the output instead of squaring b.
        [inputs[0].requiresGrad ? gradient / inputs[1] : nil,
         inputs[1].requiresGrad ? -(gradient * output) / inputs[1] : nil]
    }
}

struct Power: BinaryElementwisePrimitive {
    var name: String { "pow" }
    var pullbackReads: PullbackReads { .everything }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T { T.pow(a, b) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (a, b) = (inputs[0], inputs[1])
        // The exponent's gradient needs log(a); it is skipped unless the exponent is learned,
        // so a constant exponent works for negative bases.
        return [a.requiresGrad ? gradient * b * a.pow(b - 1) : nil,
                b.requiresGrad ? gradient * output * a.log() : nil]
    }
}

/// Elementwise maximum or minimum; at ties each input gets half the gradient, as in PyTorch.
struct Extremum: BinaryElementwisePrimitive {
    let isMaximum: Bool
    var name: String { isMaximum ? "maximum" : "minimum" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0, 1]) }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T {
        // A NaN on either side wins, as in PyTorch (a comparison with NaN alone would pick b).
        a.isNaN || (isMaximum ? a >= b : a <= b) ? a : b
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let share = apply(SelectionShare(isMaximum: isMaximum), inputs)
        return [inputs[0].requiresGrad ? gradient * share : nil,
                inputs[1].requiresGrad ? gradient * (1 - share) : nil]
    }
}

/// 1 where `a` wins the max/min, 0 where `b` does, ½ at ties (a constant for the pullback).
struct SelectionShare: BinaryElementwisePrimitive {
    let isMaximum: Bool
    var name: String { isMaximum ? "max_share" : "min_share" }
    var pullbackReads: PullbackReads { .nothing }
    func value<T: FloatElement>(_ a: T, _ b: T) -> T {
        a == b ? 0.5 : ((a > b) == isMaximum ? 1 : 0)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil, nil] }
}

extension Tensor {
    /// Elementwise sum with broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { apply(Add(), [lhs, rhs]) }
    /// Elementwise difference with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { apply(Subtract(), [lhs, rhs]) }
    /// Elementwise product with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { apply(Multiply(), [lhs, rhs]) }
    /// Elementwise quotient with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { apply(Divide(), [lhs, rhs]) }

    /// Adds a scalar (of this tensor's dtype).
    public static func + (lhs: Tensor, rhs: Double) -> Tensor { lhs + lhs.scalar(rhs) }
    /// Adds to a scalar.
    public static func + (lhs: Double, rhs: Tensor) -> Tensor { rhs.scalar(lhs) + rhs }
    /// Subtracts a scalar.
    public static func - (lhs: Tensor, rhs: Double) -> Tensor { lhs - lhs.scalar(rhs) }
    /// Subtracts from a scalar.
    public static func - (lhs: Double, rhs: Tensor) -> Tensor { rhs.scalar(lhs) - rhs }
    /// Multiplies by a scalar.
    public static func * (lhs: Tensor, rhs: Double) -> Tensor { lhs * lhs.scalar(rhs) }
    /// Multiplies a scalar.
    public static func * (lhs: Double, rhs: Tensor) -> Tensor { rhs.scalar(lhs) * rhs }
    /// Divides by a scalar.
    public static func / (lhs: Tensor, rhs: Double) -> Tensor { lhs / lhs.scalar(rhs) }
    /// Divides a scalar.
    public static func / (lhs: Double, rhs: Tensor) -> Tensor { rhs.scalar(lhs) / rhs }

    /// `self += other` (records a new node; the old value is kept for any pullback).
    public static func += (lhs: inout Tensor, rhs: Tensor) { lhs = lhs + rhs }
    /// `self -= other`.
    public static func -= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs - rhs }
    /// `self *= other`.
    public static func *= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs * rhs }
    /// `self /= other`.
    public static func /= (lhs: inout Tensor, rhs: Tensor) { lhs = lhs / rhs }

    /// Elementwise power `self ** exponent`, with broadcasting.
    public func pow(_ exponent: Tensor) -> Tensor { apply(Power(), [self, exponent]) }
    /// Elementwise power by a scalar exponent.
    public func pow(_ exponent: Double) -> Tensor { pow(scalar(exponent)) }

    /// Adds `other` (same shape and dtype) into this tensor's buffer, unrecorded.
    mutating func addInPlace(_ other: Tensor) {
        makeStorageUnique()
        switch dtype {
        case .float32: addLoop(storage.pointer(Float.self), other.storage.pointer(Float.self), count)
        case .float64: addLoop(storage.pointer(Double.self), other.storage.pointer(Double.self), count)
        }
    }

    private func addLoop<T: FloatElement>(_ target: UnsafeMutablePointer<T>, _ source: UnsafeMutablePointer<T>, _ count: Int) {
        for i in 0..<count { target[i] += source[i] }
    }

    /// A rank-0 constant of this tensor's dtype.
    func scalar(_ value: Double) -> Tensor { Tensor(value, dtype: dtype) }
}

/// The elementwise maximum of two tensors, with broadcasting.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { apply(Extremum(isMaximum: true), [a, b]) }
/// The elementwise minimum of two tensors, with broadcasting.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { apply(Extremum(isMaximum: false), [a, b]) }
