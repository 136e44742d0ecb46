/// Finding the op behind a failed gradient check: each recorded node's pullback is checked on
/// its own inputs against central differences of its own forward, along one random projection
/// (cheap: one pullback and two forwards per node), in recording order. The first node that
/// fails is the culprit; every op after it sees an already wrong gradient only through the
/// chain rule, so the first is the one to fix.
extension GradientCheckReport {
    /// The IR line of the first op whose local gradient disagrees with its forward, with both
    /// values, or `nil` when every op agrees locally (then the function itself is at fault,
    /// e.g. it is not differentiable at the point, or it detaches something it should not).
    /// `leaves` are the values of the graph's inputs (the checked inputs and parameters).
    static func culprit(of output: Tensor, leaves: [Tensor], tolerance: GradientCheckTolerance, seed: UInt64) -> String? {
        guard output.requiresGrad else { return nil }
        let graph = Graph(output)
        // The equations' lines of the IR text: those before the closing `return` and `}`.
        let equationLines = Array(graph.description.split(separator: "\n").dropLast(2).suffix(graph.operations.count))
        // Every value recomputed from the leaves: nodes keep only what their pullback reads,
        // so the recorded operands may be placeholders. Constants are always kept.
        var values: [ObjectIdentifier: Tensor] = [:]
        for leaf in leaves { if let node = leaf.node { values[ObjectIdentifier(node)] = leaf.detached() } }
        var generator = RandomGenerator(seed: seed &+ 2)
        for (index, node) in graph.operations.enumerated() {
            guard let primitive = node.primitive else { return nil }
            var inputs: [Tensor] = []
            for (operand, storage) in zip(node.operands, node.savedInputs) {
                if let source = operand.node {
                    guard let value = values[ObjectIdentifier(source)] else { return nil }  // a leaf the check does not bind
                    inputs.append(value)
                } else {
                    inputs.append(Tensor(storage: storage, shape: operand.shape, elementType: operand.elementType))
                }
            }
            let value = noGrad { primitive.forward(inputs, shape: node.shape) }
            values[ObjectIdentifier(node)] = value
            if let (analytic, numeric) = localMismatch(node, primitive, inputs, value, tolerance: tolerance, using: &generator) {
                let line = equationLines[index].trimmingPrefix(while: { $0 == " " })
                return "\(line) — its pullback gives \(analytic) along a random projection, its forward's central difference \(numeric)"
            }
        }
        return nil
    }

    /// The analytic and numeric projections uᵀ·J·v of one node's Jacobian when they disagree.
    private static func localMismatch(_ node: Node, _ primitive: any Primitive, _ inputs: [Tensor], _ output: Tensor,
                                      tolerance: GradientCheckTolerance, using generator: inout RandomGenerator) -> (Double, Double)? {
        // Only float64 operands that carry gradients are perturbed; constants stay as recorded.
        let moving = node.operands.indices.filter { node.operands[$0].node != nil && inputs[$0].dtype == .float64 }
        guard node.dtype == .float64, !moving.isEmpty else { return nil }
        let direction = Tensor.randomNormal(node.shape, dtype: .float64, using: &generator)
        var tangents: [Int: Tensor] = [:]
        for k in moving { tangents[k] = Tensor.randomNormal(inputs[k].shape, dtype: .float64, using: &generator) }
        // The pullback sees inputs linked to their nodes, as in backward (it may ask requiresGrad).
        let linked = zip(inputs, node.operands).map { Tensor(storage: $0.storage, shape: $0.shape, node: $1.node, elementType: $1.elementType) }
        let linkedOutput = Tensor(storage: output.storage, shape: node.shape, node: node, elementType: node.elementType)
        return noGrad {
            let gradients = primitive.pullback(direction, inputs: linked, output: linkedOutput)
            var analytic = 0.0
            for k in moving {
                guard k < gradients.count, let gradient = gradients[k] else { continue }
                let reduced = gradient.shape == inputs[k].shape ? gradient : gradient.sum(toShape: inputs[k].shape)
                analytic += (reduced.detached().to(.float64) * tangents[k]!).sum().item()
            }
            func projected(_ sign: Double) -> Double {
                let moved = inputs.indices.map { k in tangents[k].map { inputs[k] + sign * tolerance.epsilon * $0 } ?? inputs[k] }
                return (primitive.forward(moved, shape: node.shape) * direction).sum().item()
            }
            let numeric = (projected(1) - projected(-1)) / (2 * tolerance.epsilon)
            let allowed = tolerance.absolute + tolerance.relative * Swift.abs(numeric)
            return Swift.abs(analytic - numeric) <= allowed ? nil : (analytic, numeric)
        }
    }
}
