/// Finding the op behind a failed gradient check: each recorded node's pullback is checked on
/// its own recorded inputs against central differences of its own forward, along one random
/// projection (cheap: one pullback and two forwards per node), in recording order. The first
/// node that fails is the culprit; every op after it sees an already wrong gradient only
/// through the chain rule, so the first is the one to fix.
extension GradientCheckReport {
    /// The IR line of the first op whose local gradient disagrees with its forward, with both
    /// values, or `nil` when every op agrees locally (then the function itself is at fault,
    /// e.g. it is not differentiable at the point, or it detaches something it should not).
    static func culprit(of output: Tensor, tolerance: GradientCheckTolerance, seed: UInt64) -> String? {
        guard output.requiresGrad else { return nil }
        let graph = Graph(output)
        let lines = graph.description.split(separator: "\n")
        var generator = RandomGenerator(seed: seed &+ 2)
        for (index, node) in graph.operations.enumerated() {
            if let (analytic, numeric) = localMismatch(node, tolerance: tolerance, using: &generator) {
                let line = lines[1 + index].trimmingPrefix(while: { $0 == " " })
                return "\(line) — its pullback gives \(analytic) along a random projection, its forward's central difference \(numeric)"
            }
        }
        return nil
    }

    /// The analytic and numeric projections uᵀ·J·v of one node's Jacobian when they disagree.
    private static func localMismatch(_ node: Node, tolerance: GradientCheckTolerance,
                                      using generator: inout RandomGenerator) -> (Double, Double)? {
        guard let primitive = node.primitive, node.dtype == .float64, let (linked, output) = node.savedTensors() else { return nil }
        // Only float64 operands that carry gradients are perturbed; constants stay as recorded.
        let moving = node.operands.indices.filter { node.operands[$0].node != nil && linked[$0].dtype == .float64 }
        guard !moving.isEmpty else { return nil }
        let inputs = linked.map { $0.detached() }
        let direction = Tensor.randomNormal(node.shape, dtype: .float64, using: &generator)
        var tangents: [Int: Tensor] = [:]
        for k in moving { tangents[k] = Tensor.randomNormal(inputs[k].shape, dtype: .float64, using: &generator) }
        return noGrad {
            // The pullback sees inputs linked to their nodes, as in backward (it may ask requiresGrad).
            let gradients = primitive.pullback(direction, inputs: linked, output: output)
            var analytic = 0.0
            for k in moving {
                guard k < gradients.count, let gradient = gradients[k] else { continue }
                let reduced = gradient.shape == inputs[k].shape ? gradient : gradient.sum(toShape: inputs[k].shape)
                analytic += (reduced.to(.float64) * tangents[k]!).sum().item()
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
