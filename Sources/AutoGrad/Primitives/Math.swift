import CKernels

// Unary math and activations. Where the derivative is cheaper from the output (exp, tanh,
// sigmoid, sqrt), the pullback reads the saved output instead of recomputing.

struct Negate: UnaryElementwisePrimitive {
    var name: String { "neg" }
    var pullbackReads: PullbackReads { .nothing }
    func value<T: FloatElement>(_ x: T) -> T { -x }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [-gradient] }
}

struct Exp: UnaryElementwisePrimitive {
    var name: String { "exp" }
    var pullbackReads: PullbackReads { .outputOnly }
    func value<T: FloatElement>(_ x: T) -> T { T.exp(x) }
    var float32Kernel: Float32Kernel? { ag_expf }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [gradient * output] }
}

struct Log: UnaryElementwisePrimitive {
    var name: String { "log" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    func value<T: FloatElement>(_ x: T) -> T { T.log(x) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [gradient / inputs[0]] }
}

struct SquareRoot: UnaryElementwisePrimitive {
    var name: String { "sqrt" }
    var pullbackReads: PullbackReads { .outputOnly }
    func value<T: FloatElement>(_ x: T) -> T { x.squareRoot() }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [gradient * 0.5 / output] }
}

struct AbsoluteValue: UnaryElementwisePrimitive {
    var name: String { "abs" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    func value<T: FloatElement>(_ x: T) -> T { Swift.abs(x) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * constant(Sign(), of: inputs[0])]
    }
}

struct Tanh: UnaryElementwisePrimitive {
    var name: String { "tanh" }
    var pullbackReads: PullbackReads { .outputOnly }
    func value<T: FloatElement>(_ x: T) -> T { T.tanh(x) }
    var float32Kernel: Float32Kernel? { ag_tanhf }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(SaturatingGradient(function: .tanh), [gradient, output])]
    }
}

struct Sigmoid: UnaryElementwisePrimitive {
    var name: String { "sigmoid" }
    var pullbackReads: PullbackReads { .outputOnly }
    func value<T: FloatElement>(_ x: T) -> T {
        // Two branches so neither exp overflows.
        x >= 0 ? 1 / (1 + T.exp(-x)) : T.exp(x) / (1 + T.exp(x))
    }
    var float32Kernel: Float32Kernel? { ag_sigmoidf }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [apply(SaturatingGradient(function: .sigmoid), [gradient, output])]
    }
}

/// The pullback of tanh or sigmoid from the output y, fused into one kernel because both are
/// hot in recurrent cells: g·(1 − y²) or g·y·(1 − y). Its own pullback is made of ops, so
/// higher-order gradients still work.
struct SaturatingGradient: BinaryElementwisePrimitive {
    enum Function: String, Sendable { case tanh, sigmoid }
    let function: Function
    var name: String { "\(function.rawValue)_grad" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0, 1]) }
    var float32Kernel: BinaryFloat32Kernel? {
        switch function {
        case .tanh: ag_tanh_grad_f32
        case .sigmoid: ag_sigmoid_grad_f32
        }
    }
    func value<T: FloatElement>(_ g: T, _ y: T) -> T {
        function == .tanh ? g * (1 - y * y) : g * y * (1 - y)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (g, y) = (inputs[0], inputs[1])
        switch function {
        case .tanh:
            return [g.requiresGrad ? gradient * (1 - y * y) : nil,
                    y.requiresGrad ? gradient * g * y * -2 : nil]
        case .sigmoid:
            return [g.requiresGrad ? gradient * y * (1 - y) : nil,
                    y.requiresGrad ? gradient * g * (1 - 2 * y) : nil]
        }
    }
}

/// log(1 + eˣ), and x itself above PyTorch's threshold of 20 (where they agree to round-off),
/// so values and gradients match `torch.nn.functional.softplus` exactly.
struct Softplus: UnaryElementwisePrimitive {
    static let threshold = 20.0
    var name: String { "softplus" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    func value<T: FloatElement>(_ x: T) -> T { x > T(Softplus.threshold) ? x : T.log1p(T.exp(x)) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let x = inputs[0]
        return [gradient * apply(SoftplusSlope(), [x])]
    }
}

/// max(x, 0), or x·slope for x < 0 (leaky); slope 0 is ReLU.
struct Rectifier: UnaryElementwisePrimitive {
    let negativeSlope: Double
    var name: String { negativeSlope == 0 ? "relu" : "leaky_relu" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    var attributes: [(name: String, value: Attribute)] {
        negativeSlope == 0 ? [] : [("slope", .double(negativeSlope))]
    }
    func value<T: FloatElement>(_ x: T) -> T { x > 0 ? x : x * T(negativeSlope) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * constant(RectifierSlope(negativeSlope: negativeSlope), of: inputs[0])]
    }
}

struct Clamp: UnaryElementwisePrimitive {
    let lower: Double, upper: Double
    var name: String { "clamp" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0]) }
    var attributes: [(name: String, value: Attribute)] { [("min", .double(lower)), ("max", .double(upper))] }
    func value<T: FloatElement>(_ x: T) -> T { Swift.min(Swift.max(x, T(lower)), T(upper)) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [gradient * constant(Indicator(lower: lower, upper: upper), of: inputs[0])]
    }
}

/// Converts to another dtype; the gradient converts back.
struct Cast: Primitive {
    let dtype: DType
    var name: String { "convert" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("dtype", .dtype(dtype))] }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }
    /// Any element type converts, so a mask or indices become 0/1 or integer-valued floats.
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType { ElementType(dtype) }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor {
        Tensor(storage: inputs[0].storage.converted(to: dtype), shape: shape)
    }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        [inputs[0].requiresGrad ? gradient.to(inputs[0].dtype) : nil]
    }
}

// Piecewise-constant derivatives: ops like any other (so a traced gradient program computes
// them from its inputs), whose own derivative is zero almost everywhere.

struct Sign: UnaryElementwisePrimitive {
    var name: String { "sign" }
    var pullbackReads: PullbackReads { .nothing }
    func value<T: FloatElement>(_ x: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : 0) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil] }
}

struct RectifierSlope: UnaryElementwisePrimitive {
    let negativeSlope: Double
    var name: String { "relu_slope" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("slope", .double(negativeSlope))] }
    func value<T: FloatElement>(_ x: T) -> T { x > 0 ? 1 : T(negativeSlope) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil] }
}

/// 1 inside [lower, upper] (inclusive, as PyTorch's clamp passes gradients), else 0.
struct Indicator: UnaryElementwisePrimitive {
    let lower: Double, upper: Double
    var name: String { "indicator" }
    var pullbackReads: PullbackReads { .nothing }
    var attributes: [(name: String, value: Attribute)] { [("min", .double(lower)), ("max", .double(upper))] }
    func value<T: FloatElement>(_ x: T) -> T { x >= T(lower) && x <= T(upper) ? 1 : 0 }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil] }
}

/// The derivative of softplus: σ(x), and 1 above the threshold where softplus is x itself.
struct SoftplusSlope: UnaryElementwisePrimitive {
    var name: String { "softplus_slope" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0], output: true) }
    func value<T: FloatElement>(_ x: T) -> T { x > T(Softplus.threshold) ? 1 : Sigmoid().value(x) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        // d σ(x)/dx = σ(x)(1 − σ(x)) below the threshold, 0 above: the second derivative.
        let x = inputs[0]
        return [gradient * output * (1 - output) * apply(Indicator(lower: -.infinity, upper: Softplus.threshold), [x])]
    }
}

/// `function` of `x`: a derivative factor that gradients do not flow through.
private func constant(_ function: some UnaryElementwisePrimitive, of x: Tensor) -> Tensor {
    apply(function, [x.detached()])
}

extension Tensor {
    /// Elementwise negation.
    public static prefix func - (x: Tensor) -> Tensor { apply(Negate(), [x]) }
    /// eˣ elementwise.
    public func exp() -> Tensor { apply(Exp(), [self]) }
    /// Natural logarithm elementwise.
    public func log() -> Tensor { apply(Log(), [self]) }
    /// Square root elementwise.
    public func sqrt() -> Tensor { apply(SquareRoot(), [self]) }
    /// Absolute value elementwise (gradient 0 at 0, as in PyTorch).
    public func abs() -> Tensor { apply(AbsoluteValue(), [self]) }
    /// Hyperbolic tangent elementwise.
    public func tanh() -> Tensor { apply(Tanh(), [self]) }
    /// Logistic sigmoid 1 / (1 + e⁻ˣ) elementwise.
    public func sigmoid() -> Tensor { apply(Sigmoid(), [self]) }
    /// log(1 + eˣ) elementwise (x itself above 20, as PyTorch).
    public func softplus() -> Tensor { apply(Softplus(), [self]) }
    /// max(x, 0) elementwise.
    public func relu() -> Tensor { apply(Rectifier(negativeSlope: 0), [self]) }
    /// x for x > 0, else `negativeSlope`·x (PyTorch's default slope 0.01).
    public func leakyRelu(negativeSlope: Double = 0.01) -> Tensor {
        apply(Rectifier(negativeSlope: negativeSlope), [self])
    }
    /// Each element limited to `[lower, upper]`.
    public func clamped(to range: ClosedRange<Double>) -> Tensor {
        apply(Clamp(lower: range.lowerBound, upper: range.upperBound), [self])
    }
    /// Each element limited to at least `lower` and at most `upper` (either may be omitted).
    public func clamped(min lower: Double = -.infinity, max upper: Double = .infinity) -> Tensor {
        guard lower <= upper else { opFailure("clamp", "min \(lower) is greater than max \(upper)") }
        return apply(Clamp(lower: lower, upper: upper), [self])
    }
}
