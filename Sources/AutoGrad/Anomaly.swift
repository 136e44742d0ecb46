import CKernels

// Anomaly mode: find the first op that turns finite values into NaN or ±∞, forward or in a
// pullback. Off, it costs apply() and the backward walk one thread-local load each.

/// Runs `body` in anomaly mode on this thread: the first op whose result holds a NaN or ±∞
/// stops the program with an ``AnomalyError``'s message — the op's name, its operands' types
/// and value ranges. Forward, that is the first ``apply(_:_:)`` whose output is not finite;
/// in a backward pass, the first pullback that produces a non-finite gradient, named after the
/// op whose pullback it is (and the op inside that pullback that produced it).
///
/// Scopes nest; the innermost decides whether an anomaly traps or is recorded (see
/// ``detectingAnomalies(_:)``). Only ops run on this thread are checked, and only those that
/// go through ``apply(_:_:)`` (in-place updates, such as an optimizer's, are not ops).
/// Checking scans every result, so it is a debugging mode, not one to train in.
public func detectAnomalies<R>(_ body: () throws -> R) rethrows -> R {
    try withAnomalyScope(AnomalyScope(traps: true), body)
}

/// Runs `body` in anomaly mode and throws the first ``AnomalyError`` it found, if any, once
/// `body` has returned.
///
/// Swift cannot throw out of the non-throwing ops (`+`, `matmul`, `backward()`) in which an
/// anomaly is found, so nothing unwinds there: the first anomaly is recorded, `body` runs to
/// its end (on NaNs from then on; later anomalies are not checked), and the error is thrown
/// afterwards — also when `body` itself throws, since the anomaly came first. Keep side
/// effects that must not see NaNs (an optimizer step, a checkpoint) out of `body`, or test
/// ``recordedAnomaly`` inside it to stop early.
public func detectingAnomalies<R>(_ body: () throws -> R) throws -> R {
    let scope = AnomalyScope(traps: false)
    let result: R
    do {
        result = try withAnomalyScope(scope, body)
    } catch {
        throw scope.first ?? error
    }
    if let first = scope.first { throw first }
    return result
}

/// The first anomaly the innermost ``detectingAnomalies(_:)`` on this thread has recorded so
/// far; `nil` outside one, in a trapping scope, or before any anomaly.
public var recordedAnomaly: AnomalyError? { AnomalyScope.current?.first }

/// Runs `body` with `location` naming where its ops sit in a larger computation (the recurrent
/// engine passes "recurrent layer 0, forward direction, time step 3"): in anomaly mode, an
/// anomaly in an op `body` runs — forward, or later in the pullback of a node `body` recorded —
/// names it in ``AnomalyError/location``. Outside anomaly mode this costs one thread-local load
/// and `location` is not evaluated. Locations do not nest: the innermost one is reported.
public func withAnomalyLocation<R>(_ location: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
    guard let scope = AnomalyScope.current else { return try body() }
    let enclosing = scope.location
    scope.location = location()
    defer { scope.location = enclosing }
    return try body()
}

/// A non-finite value found by anomaly mode: where it appeared and what the op was given.
public struct AnomalyError: Error, Sendable, CustomStringConvertible {
    /// Whether the anomaly appeared in the forward or the backward pass.
    public enum Pass: String, Sendable {
        /// An op's output.
        case forward
        /// A gradient computed by a pullback, or received by one.
        case backward
    }

    /// The type and value range of one tensor.
    public struct Values: Sendable, CustomStringConvertible {
        /// The element type.
        public let dtype: DType
        /// The shape.
        public let shape: [Int]
        /// The smallest and largest finite element, or `nil` when none is finite (or empty).
        public let finiteRange: ClosedRange<Double>?
        /// How many elements are NaN.
        public let nanCount: Int
        /// How many elements are +∞.
        public let positiveInfinityCount: Int
        /// How many elements are −∞.
        public let negativeInfinityCount: Int

        /// Whether the values were there to inspect: backward, an operand the op's pullback
        /// does not read is not kept by the tape (see ``Primitive/pullbackReads``).
        public let isKept: Bool

        /// Whether every element is finite.
        public var isFinite: Bool { nanCount == 0 && positiveInfinityCount == 0 && negativeInfinityCount == 0 }

        init(_ tensor: Tensor) {
            dtype = tensor.dtype
            shape = tensor.shape
            isKept = tensor.storage.count == elementCount(tensor.shape)
            var range: ClosedRange<Double>?, nans = 0, positive = 0, negative = 0
            for i in 0..<tensor.count {
                let value = tensor.storage[double: i]
                if value.isNaN { nans += 1 }
                else if value == .infinity { positive += 1 }
                else if value == -.infinity { negative += 1 }
                else { range = range.map { min($0.lowerBound, value)...max($0.upperBound, value) } ?? value...value }
            }
            (finiteRange, nanCount, positiveInfinityCount, negativeInfinityCount) = (range, nans, positive, negative)
        }

        /// `f32[2,3] in [-1, 2]`, then the non-finite counts if any: `, 1 NaN, 2 +inf`.
        public var description: String {
            guard isKept else { return describe(dtype, shape) + " (not kept: the pullback does not read it)" }
            var text = describe(dtype, shape) + (finiteRange.map { " in [\($0.lowerBound), \($0.upperBound)]" } ?? " with no finite element")
            for (count, name) in [(nanCount, "NaN"), (positiveInfinityCount, "+inf"), (negativeInfinityCount, "-inf")] where count > 0 {
                text += ", \(count) \(name)"
            }
            return text
        }
    }

    /// Forward or backward.
    public let pass: Pass
    /// The op whose output (forward) or pullback (backward) held the non-finite value.
    public let op: String
    /// Backward, when the value came from an op the pullback ran (e.g. the `div` of `log`'s
    /// pullback): that op's name.
    public let innerOp: String?
    /// The op's operands (its forward inputs, also in the backward pass).
    public let operands: [Values]
    /// Backward: the gradient of the op's output that the pullback received.
    public let outputGradient: Values?
    /// Backward: the operand whose gradient was not finite; `nil` forward, when the value came
    /// from an inner op, or when the gradient received was already not finite.
    public let operandIndex: Int?
    /// The non-finite tensor: the output forward, else the gradient (or inner op's result).
    public let result: Values
    /// Where the op ran, when it ran inside ``withAnomalyLocation(_:_:)`` (backward: where the
    /// node whose pullback ran was recorded), e.g. a recurrent run's layer, direction and step.
    public let location: String?

    /// One line naming the op, what was not finite and the operands' types and ranges.
    public var description: String {
        let operandList = operands.map(\.description).joined(separator: "; ")
        let place = location.map { " (\($0))" } ?? ""
        switch pass {
        case .forward:
            let origin = operands.allSatisfy(\.isFinite) ? "" : " (it came in with the operands: from data, or from ops run outside anomaly mode)"
            return "forward op '\(op)'\(place) produced a non-finite output \(result); operands: \(operandList)" + origin
        case .backward:
            let what = if let innerOp { "its op '\(innerOp)' produced a non-finite value \(result)" }
                else if let operandIndex { "it produced a non-finite gradient for operand \(operandIndex): \(result)" }
                else { "it received a non-finite gradient \(result) (an overflowing sum of gradients, or the seed)" }
            return "backward: in the pullback of '\(op)'\(place), \(what); operands: \(operandList); output gradient: \(outputGradient.map(\.description) ?? "-")"
        }
    }
}

/// One anomaly-mode scope on one thread: how to report, what was found, which pullback is
/// running, where the ops run now sit and where recorded nodes were recorded.
final class AnomalyScope {
    let traps: Bool
    var first: AnomalyError?
    /// The pullback being run, so ops it runs are blamed on it (and its node's location).
    var pullback: (op: String, inputs: [Tensor], gradient: Tensor, location: String?)?
    /// The innermost ``withAnomalyLocation(_:_:)`` label.
    var location: String?
    /// Shared with the enclosing scope, so a backward pass in an inner scope still finds where
    /// the outer scope's forward recorded its nodes.
    let nodeLocations: NodeLocations

    init(traps: Bool, enclosing: AnomalyScope? = AnomalyScope.current) {
        self.traps = traps
        location = enclosing?.location
        nodeLocations = enclosing?.nodeLocations ?? NodeLocations()
    }

    static var current: AnomalyScope? {
        ag_anomaly_scope().map { Unmanaged<AnomalyScope>.fromOpaque($0).takeUnretainedValue() }
    }

    func report(_ pass: AnomalyError.Pass, op: String, innerOp: String? = nil, operands: [Tensor],
                outputGradient: Tensor? = nil, operandIndex: Int? = nil, result: AnomalyError.Values, location: String?) {
        let anomaly = AnomalyError(pass: pass, op: op, innerOp: innerOp, operands: operands.map(AnomalyError.Values.init),
                                   outputGradient: outputGradient.map(AnomalyError.Values.init),
                                   operandIndex: operandIndex, result: result, location: location)
        if traps { opFailure("anomaly", anomaly.description) }
        first = anomaly
    }

    func checkedPullback(_ primitive: any Primitive, _ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        guard first == nil else { return primitive.pullback(gradient, inputs: inputs, output: output) }
        // The output tensor the walk rebuilt carries the node, so its recorded location.
        let location = output.graphNode.flatMap(nodeLocations.location(of:))
        let incoming = AnomalyError.Values(gradient)
        if !incoming.isFinite {
            report(.backward, op: primitive.name, operands: inputs, outputGradient: gradient, result: incoming, location: location)
        }
        let enclosing = pullback
        pullback = (primitive.name, inputs, gradient, location)
        defer { pullback = enclosing }
        let gradients = primitive.pullback(gradient, inputs: inputs, output: output)
        for (index, inputGradient) in gradients.enumerated() where first == nil {
            guard let inputGradient, case let values = AnomalyError.Values(inputGradient), !values.isFinite else { continue }
            report(.backward, op: primitive.name, operands: inputs, outputGradient: gradient, operandIndex: index,
                   result: values, location: location)
        }
        return gradients
    }
}

/// The location each node was recorded at, for nodes recorded inside a location. Weak: the
/// table never keeps a graph alive, and an identifier reused by a new node is not mistaken
/// for the old one.
final class NodeLocations {
    private struct Entry {
        weak var node: Node?
        let location: String
    }
    private var entries: [ObjectIdentifier: Entry] = [:]
    /// The size after the last sweep of dead entries: sweeping when it doubles keeps the cost
    /// amortized constant per node.
    private var sweptCount = 1024

    func record(_ location: String, for node: Node) {
        entries[ObjectIdentifier(node)] = Entry(node: node, location: location)
        if entries.count >= 2 * sweptCount {
            entries = entries.filter { $0.value.node != nil }
            sweptCount = max(1024, entries.count)
        }
    }

    func location(of node: Node) -> String? {
        guard let entry = entries[ObjectIdentifier(node)], entry.node === node else { return nil }
        return entry.location
    }
}

private func withAnomalyScope<R>(_ scope: AnomalyScope, _ body: () throws -> R) rethrows -> R {
    let previous = ag_set_anomaly_scope(Unmanaged.passUnretained(scope).toOpaque())
    defer { ag_set_anomaly_scope(previous) }
    return try withExtendedLifetime(scope) { try body() }
}

/// ``apply(_:_:)``'s hook, called in anomaly mode only, once `output` has its node: notes the
/// node's location, and reports `output` if it is not finite.
func noteForwardAnomaly(_ primitive: any Primitive, _ inputs: [Tensor], _ output: Tensor) {
    guard let scope = AnomalyScope.current, scope.first == nil else { return }
    if let location = scope.location, let node = output.graphNode { scope.nodeLocations.record(location, for: node) }
    let values = AnomalyError.Values(output)
    guard !values.isFinite else { return }
    if let pullback = scope.pullback {
        scope.report(.backward, op: pullback.op, innerOp: primitive.name, operands: pullback.inputs,
                     outputGradient: pullback.gradient, result: values, location: pullback.location)
    } else {
        scope.report(.forward, op: primitive.name, operands: inputs, result: values, location: scope.location)
    }
}

/// The backward walk's hook: the pullback, checked in anomaly mode.
@inline(__always)
func pullbackCheckingAnomalies(_ primitive: any Primitive, _ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
    guard let scope = AnomalyScope.current else { return primitive.pullback(gradient, inputs: inputs, output: output) }
    return scope.checkedPullback(primitive, gradient, inputs: inputs, output: output)
}
