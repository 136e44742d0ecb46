/// A view of the recorded graph (the tape) behind some outputs: its nodes in the order they
/// were recorded (every node after its operands), ready to walk, print and export. Printing,
/// Graphviz export and replay go through ``program``, the tape as a ``Program`` (its inputs are
/// the leaves), so there is one printer for the eager and the traced IR.
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
    /// For each node, the nodes that use it as an operand, in recording order.
    private let userLists: [ObjectIdentifier: [Node]]

    /// The graph behind `outputs`, which must require gradients.
    public init(_ outputs: [Tensor]) {
        self.outputs = outputs.map { output in
            guard let node = output.node else {
                opFailure("Graph", "a tensor of shape \(describe(output.shape)) was not recorded (it requires no gradients)")
            }
            return node
        }
        nodes = topologicalOrder(from: self.outputs)
        var users: [ObjectIdentifier: [Node]] = [:]
        for user in nodes {
            for operand in Set(user.operands.compactMap { $0.node.map(ObjectIdentifier.init) }) {
                users[operand, default: []].append(user)
            }
        }
        userLists = users
    }

    /// The graph behind one output.
    public init(_ output: Tensor) { self.init([output]) }

    /// The leaves (tensors that require gradients), in recording order: the graph's inputs.
    public var inputs: [Node] { nodes.filter(\.isLeaf) }

    /// The op nodes (not leaves), in recording order.
    public var operations: [Node] { nodes.filter { !$0.isLeaf } }

    /// The nodes that use `node` as an operand, in recording order (each once).
    public func users(of node: Node) -> [Node] { userLists[ObjectIdentifier(node)] ?? [] }

    /// The tape as a program: the leaves are its inputs (named by their labels), constants
    /// keep their recorded values (backward keeps them too), and the outputs are returned.
    public var program: Program {
        Program(recordedNodes: outputs, inputs: inputs.map { ($0, $0.name ?? "") })
    }

    /// Runs the recorded primitives again on new values for ``inputs`` (same order, shapes
    /// and dtypes); constants keep their recorded values. The replay is recorded like any
    /// computation, so it can be differentiated. Returns the outputs' new values.
    public func replay(_ newInputs: [Tensor]) -> [Tensor] {
        let program = program
        guard newInputs.count == program.inputs.count else {
            opFailure("replay", "\(newInputs.count) inputs for a graph with \(program.inputs.count)")
        }
        for (input, value) in zip(program.inputs, newInputs) where value.valueType != input.type {
            opFailure("replay", "input \(input.name) expects \(input.type), got \(value.valueType)")
        }
        return program.evaluate(on: newInputs)
    }
}

extension Graph: CustomStringConvertible {
    /// The IR text of ``program``.
    public var description: String { program.description }

    /// The graph in Graphviz DOT (see ``Program/dot(name:)``).
    public func dot(name: String = "autograd") -> String { program.dot(name: name) }
}
