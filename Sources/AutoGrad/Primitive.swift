import CKernels

/// An operation of the graph IR: its name and attributes (what the IR prints), its shape rule,
/// its forward computation and its pullback, side by side. Adding an op is adding one
/// conforming type plus a public front door that calls ``apply(_:_:)``.
///
/// Pullbacks are written with differentiable tensor ops, so when the backward pass is recorded
/// (`createGraph: true`) the gradient is itself a graph: second derivatives come for free.
public protocol Primitive: Sendable {
    /// The op's name in the IR, e.g. `matmul`.
    var name: String { get }
    /// Attributes printed in brackets after the name, in order, e.g. `[("axes", "[1]")]`.
    var attributes: [(name: String, value: String)] { get }
    /// The shape rule: the output shape for these inputs. Stops with a message naming the op
    /// and the shapes when they do not fit.
    func outputShape(_ inputs: [Tensor]) -> [Int]
    /// The output dtype; by default all inputs must share one dtype, which the output has.
    func outputDType(_ inputs: [Tensor]) -> DType
    /// Computes the output value (never recorded; inputs are plain values).
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor
    /// The gradient with respect to each input, given the gradient of the output, or `nil`
    /// where an input gets none. Gradients may have the output's broadcast shape: the caller
    /// sums them back to each input's shape.
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?]
    /// Whether the primitive is an ``AccumulatingPullback`` (asked first because it is much
    /// cheaper than a dynamic cast on every node of the backward walk).
    var accumulatesInPlace: Bool { get }
}

extension Primitive {
    public var attributes: [(name: String, value: String)] { [] }

    public var accumulatesInPlace: Bool { false }

    public func outputDType(_ inputs: [Tensor]) -> DType {
        let dtype = inputs[0].dtype
        for input in inputs where input.dtype != dtype {
            opFailure(name, "dtypes differ: " + inputs.map { describe($0.dtype, $0.shape) }.joined(separator: " and ")
                      + " (convert with .to(_:))")
        }
        return dtype
    }
}

/// A single-input primitive whose pullback, when the backward pass is not recorded, can add
/// the input's gradient straight into its running total in place (a slice adds into its
/// region) instead of materializing a full-size gradient per use.
public protocol AccumulatingPullback: Primitive {
    /// Adds the gradient of the input, given the output's `gradient`, into `total` (which has
    /// the input's shape).
    func accumulate(_ gradient: Tensor, into total: inout Tensor)
}

extension AccumulatingPullback {
    public var accumulatesInPlace: Bool { true }
}

/// Runs `primitive` on `inputs` and, when recording and any input requires gradients, records
/// a node for it on the graph: the only place ops are recorded.
public func apply(_ primitive: some Primitive, _ inputs: [Tensor]) -> Tensor {
    ag_prepare_thread()
    let dtype = primitive.outputDType(inputs)
    let shape = primitive.outputShape(inputs)
    var output = primitive.forward(inputs, shape: shape)
    if ag_anomaly_scope() != nil { noteForwardAnomaly(primitive, inputs, output) }  // Anomaly.swift
    assert(output.shape == shape && output.dtype == dtype, "\(primitive.name): forward disagrees with its shape rule")
    if ag_grad_mode() != 0 && inputs.contains(where: { $0.node != nil }) {
        output.node = Node(primitive: primitive, inputs: inputs, output: output)
    }
    return output
}
