import CKernels

/// An operation of the graph IR: its name and typed attributes (what the IR prints and passes
/// read), its type rule, its forward computation and its pullback, side by side. Adding an op
/// is adding one conforming type plus a public front door that calls ``apply(_:_:)`` (and,
/// for the text IR's parser, an entry in ``PrimitiveRegistry``).
///
/// Pullbacks are written with differentiable tensor ops, so when the backward pass is recorded
/// (`createGraph: true`, or a ``Program``'s gradient transform) the gradient is itself a graph:
/// second derivatives come for free.
public protocol Primitive: Sendable {
    /// The op's name in the IR, e.g. `matmul`.
    var name: String { get }
    /// Attributes printed in brackets after the name, in order, e.g. `axes=[1]`.
    var attributes: [(name: String, value: Attribute)] { get }
    /// The shape rule: the output shape for operands of these shapes, or an error naming the
    /// op and the shapes when they do not fit.
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int]
    /// The element rule: by default every operand must be a float of one dtype, which the
    /// output has.
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType
    /// Computes the output value (never recorded; inputs are plain values).
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor
    /// The gradient with respect to each input, given the gradient of the output, or `nil`
    /// where an input gets none. Gradients may have the output's broadcast shape: the caller
    /// sums them back to each input's shape.
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?]
    /// Whether the primitive is an ``AccumulatingPullback`` (asked first because it is much
    /// cheaper than a dynamic cast on every node of the backward walk).
    var accumulatesInPlace: Bool { get }
    /// The values the pullback reads: the tape keeps only these (and constants) for backward,
    /// which is what sets memory under backpropagation through time. By default everything;
    /// a test traces every primitive's pullback to check that it reads nothing else.
    var pullbackReads: PullbackReads { get }
}

/// Which of the values an op saw its pullback reads: operands by position, and the output.
public struct PullbackReads: Sendable, Equatable {
    /// Bit k set: operand k is read.
    public let operandMask: UInt64
    /// Whether the output is read.
    public let output: Bool

    /// Operands at `positions` and, if `output`, the output.
    public init(operands positions: [Int], output: Bool = false) {
        operandMask = positions.reduce(0) { $0 | (1 << UInt64($1)) }
        self.output = output
    }

    private init(operandMask: UInt64, output: Bool) {
        self.operandMask = operandMask
        self.output = output
    }

    /// Every operand and the output (the safe default).
    public static let everything = PullbackReads(operandMask: ~0, output: true)
    /// No value at all (the gradient is built from the output gradient and shapes only).
    public static let nothing = PullbackReads(operands: [])
    /// The output alone (tanh, sigmoid, exp, sqrt).
    public static let outputOnly = PullbackReads(operands: [], output: true)

    /// Whether operand `position` is read.
    public func reads(operand position: Int) -> Bool { position < 64 ? operandMask & (1 << UInt64(position)) != 0 : true }
}

extension Primitive {
    public var attributes: [(name: String, value: Attribute)] { [] }

    public var pullbackReads: PullbackReads { .everything }

    public var accumulatesInPlace: Bool { false }

    public func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        try sameFloatElement(elements)
    }

    /// The one float element type all `elements` share, or an error naming the op.
    public func sameFloatElement(_ elements: some Collection<ElementType>) throws(ShapeError) -> ElementType {
        let first = elements.first!
        guard elements.allSatisfy({ $0.floatType != nil }) else { throw ShapeError(name, "operands must be floats") }
        guard elements.allSatisfy({ $0 == first }) else { throw ShapeError(name, "dtypes differ (convert with .to(_:))") }
        return first
    }

    /// The output type for operands of `types`: the element and shape rules together (an
    /// element error names the operand types).
    public func outputType(_ types: [ValueType]) throws(ShapeError) -> ValueType {
        try outputType(OperandShapes(types), OperandElements(types))
    }

    /// The output type from views of the operands' shapes and element types (no copies:
    /// what ``apply(_:_:)`` calls on every op).
    func outputType(_ shapes: OperandShapes, _ elements: OperandElements) throws(ShapeError) -> ValueType {
        let element: ElementType
        do {
            element = try outputElement(elements)
        } catch {
            let types = zip(elements, shapes).map { ValueType($0, $1).description }
            throw ShapeError(error.op, error.message + ": " + types.joined(separator: " and "))
        }
        return ValueType(element, try outputShape(shapes))
    }
}

/// A single-input primitive whose pullback, when the backward pass is not recorded, can add
/// the input's gradient straight into its running total in place (a slice adds into its
/// region) instead of materializing a full-size gradient per use.
public protocol AccumulatingPullback: Primitive {
    /// Adds the gradient of the input, given the output's `gradient`, into `total` (which has
    /// the input's shape).
    func accumulate(_ gradient: Tensor, into total: inout Tensor)
    /// The input's gradient when this is its first contribution: what ``accumulate(_:into:)``
    /// makes of zeros of `inputShape`, written once instead of zeroed and then added to.
    func firstGradient(_ gradient: Tensor, inputShape: [Int]) -> Tensor
}

extension AccumulatingPullback {
    public var accumulatesInPlace: Bool { true }

    /// Zeros of `inputShape` with `gradient` accumulated into them.
    public func firstGradient(_ gradient: Tensor, inputShape: [Int]) -> Tensor {
        var total = Tensor(zeros: inputShape, dtype: gradient.dtype)
        accumulate(gradient, into: &total)
        return total
    }
}

/// Runs `primitive` on `inputs` and records a node for it when recording and any input
/// requires gradients, or, while tracing a ``Program``, when any input is traced: the only
/// place ops are recorded.
public func apply(_ primitive: some Primitive, _ inputs: [Tensor]) -> Tensor {
    ag_prepare_thread()
    let type: ValueType
    do {
        type = try primitive.outputType(OperandShapes(inputs), OperandElements(inputs))
    } catch {
        opFailure(error.op, error.message)
    }
    var output = primitive.forward(inputs, shape: type.shape)
    assert(output.shape == type.shape && (type.element.floatType.map { $0 == output.dtype } ?? true),
           "\(primitive.name): forward disagrees with its type rule")
    output.elementType = type.element
    if ag_trace_mode() != 0 {
        recordTraced(primitive, inputs, &output)
    } else if ag_grad_mode() != 0 && inputs.contains(where: { $0.node != nil }) {
        output.node = Node(primitive: primitive, inputs: inputs, output: output)
    }
    // After recording, so the hook can note where the node was recorded.
    if ag_anomaly_scope() != nil { noteForwardAnomaly(primitive, inputs, output) }  // Anomaly.swift
    return output
}

/// Records an op while tracing: every op on a traced value, so data (indices, masks) and
/// no-grad computations become equations too. An op run under no-grad on a differentiable
/// value is followed by a `stop_gradient`, as in JAX, so its result stays a constant for
/// differentiation.
private func recordTraced(_ primitive: some Primitive, _ inputs: [Tensor], _ output: inout Tensor) {
    guard inputs.contains(where: { $0.node != nil }) else { return }
    let differentiable = output.elementType.floatType != nil
        && inputs.contains { $0.node?.isDifferentiable == true }
    let recording = ag_grad_mode() != 0
    output.node = Node(primitive: primitive, inputs: inputs, output: output,
                       isDifferentiable: differentiable && recording)
    if differentiable && !recording {
        let stopped = output
        output.node = Node(primitive: StopGradient(), inputs: [stopped], output: output, isDifferentiable: false)
    }
}

/// The identity whose gradient is zero: how a traced program marks values computed under
/// ``noGrad(_:)`` or ``Tensor/detached()``.
struct StopGradient: Primitive {
    var name: String { "stop_gradient" }
    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }
    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType { elements[0] }
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { Tensor(storage: inputs[0].storage, shape: shape) }
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] { [nil] }
    var pullbackReads: PullbackReads { .nothing }
}
