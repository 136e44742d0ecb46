/// A read-only view of the recorded graph (the tape) behind some outputs: its nodes in the
/// order they were recorded (every node after its operands), ready to print, export, walk
/// or replay. No second structure is built: this is the tape itself.
///
///     let loss = (matmul(x, w, transposeB: true).tanh() * 2).sum()
///     print(Graph(loss))
///     // graph(%x: f32[2,3], %w: f32[4,3]) {
///     //   %0 = matmul[transB=true] %x, %w : f32[2,4]
///     //   ...
public struct Graph: Sendable {
    /// Every node reachable from the outputs, each after its operands.
    public let nodes: [Node]
    /// The nodes of the outputs, in the order given.
    public let outputs: [Node]

    /// The graph behind `outputs`, which must require gradients.
    public init(_ outputs: [Tensor]) {
        self.outputs = outputs.map { output in
            guard let node = output.node else {
                opFailure("Graph", "a tensor of shape \(describe(output.shape)) was not recorded (it requires no gradients)")
            }
            return node
        }
        nodes = topologicalOrder(from: self.outputs)
    }

    /// The graph behind one output.
    public init(_ output: Tensor) { self.init([output]) }

    /// The leaves (tensors that require gradients), in recording order: the graph's inputs.
    public var inputs: [Node] { nodes.filter(\.isLeaf) }

    /// The op nodes (not leaves), in recording order.
    public var operations: [Node] { nodes.filter { !$0.isLeaf } }

    /// The nodes that use `node` as an operand, in recording order.
    public func users(of node: Node) -> [Node] {
        nodes.filter { user in user.operands.contains { $0.node === node } }
    }

    /// Runs the recorded primitives again on new values for ``inputs`` (same order, shapes
    /// and dtypes); constants keep their recorded values. The replay is recorded like any
    /// computation, so it can be differentiated. Returns the outputs' new values.
    public func replay(_ newInputs: [Tensor]) -> [Tensor] {
        let leaves = inputs
        guard newInputs.count == leaves.count else {
            opFailure("replay", "\(newInputs.count) inputs for a graph with \(leaves.count)")
        }
        var values: [ObjectIdentifier: Tensor] = [:]
        for (leaf, value) in zip(leaves, newInputs) {
            guard value.shape == leaf.shape && value.dtype == leaf.dtype else {
                opFailure("replay", "input \(leaf.name ?? "") expects \(describe(leaf.dtype, leaf.shape)), got \(describe(value.dtype, value.shape))")
            }
            values[ObjectIdentifier(leaf)] = value
        }
        for node in nodes {
            guard let primitive = node.primitive else { continue }
            guard let saved = node.savedInputs else {
                opFailure("replay", "the graph was released by backward; call backward with retainGraph: true to replay it")
            }
            let operands = zip(node.operands, saved).map { operand, value in
                operand.node.flatMap { values[ObjectIdentifier($0)] } ?? Tensor(storage: value, shape: operand.shape)
            }
            values[ObjectIdentifier(node)] = apply(primitive, operands)
        }
        return outputs.map { values[ObjectIdentifier($0)]! }
    }
}
