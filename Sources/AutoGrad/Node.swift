import Synchronization

/// One node of the graph IR: a leaf (a tensor that requires gradients) or the application of
/// a primitive to operands. Nodes are created by recording ops; read them through ``Graph``.
public final class Node: @unchecked Sendable {
    /// An input of an op node: the producing node, or `nil` for a constant (a tensor that does
    /// not require gradients), with its type.
    public struct Operand: Sendable {
        /// The node that produced the operand, or `nil` for a constant.
        public let node: Node?
        /// The operand's shape.
        public let shape: [Int]
        /// The operand's storage dtype.
        public let dtype: DType
        /// The operand's element type in the IR (indices and masks are held in float storage).
        public let elementType: ElementType

        /// The operand's type in the IR.
        public var type: ValueType { ValueType(elementType, shape) }
    }

    /// The primitive this node applies, or `nil` for a leaf.
    public let primitive: (any Primitive)?
    /// The operands, in the primitive's order (empty for a leaf).
    public private(set) var operands: [Operand]
    /// The output shape.
    public let shape: [Int]
    /// The output's storage dtype.
    public let dtype: DType
    /// The output's element type in the IR (``ElementType/int64`` or ``ElementType/bool`` for
    /// traced indices and masks, held in float storage).
    public let elementType: ElementType
    /// Whether gradients flow through this node: false for traced data (indices, masks) and
    /// for values a trace computed under no-grad (behind a `stop_gradient`).
    public let isDifferentiable: Bool
    /// A label for the IR, e.g. a parameter's dotted path (`encoder.weight_ih_l0`).
    public internal(set) var name: String?

    /// Operand values at record time as far as the pullback reads them, and always constants
    /// (the graph's ``Graph/program`` owns them); backward releases the others.
    var savedInputs: [TensorStorage]
    /// The output value if the pullback reads it; `nil` once backward released the node.
    var savedOutput: TensorStorage?
    /// The accumulated gradient of a leaf, what `Tensor.grad` reads.
    var grad: Tensor?
    /// The gradient being summed during one backward walk.
    var pending: Tensor?
    /// The backward walk summing into this leaf's `pending` (0: none). A leaf (a parameter)
    /// shared by two threads' graphs is claimed by one walk at a time, so two threads running
    /// backward through it at once stop with a message instead of racing.
    let walkClaim = Atomic<Int>(0)

    init(leafShape shape: [Int], dtype: DType, name: String?, elementType: ElementType? = nil) {
        primitive = nil
        isLeaf = true
        operands = []
        savedInputs = []
        self.shape = shape
        self.dtype = dtype
        self.elementType = elementType ?? ElementType(dtype)
        isDifferentiable = self.elementType.floatType != nil
        self.name = name
    }

    init(primitive: any Primitive, inputs: [Tensor], output: Tensor, isDifferentiable: Bool = true) {
        self.primitive = primitive
        isLeaf = false
        operands = inputs.map { Operand(node: $0.node, shape: $0.shape, dtype: $0.dtype, elementType: $0.elementType) }
        shape = output.shape
        dtype = output.dtype
        elementType = output.elementType
        self.isDifferentiable = isDifferentiable
        // Only what the pullback reads is kept, and constants and leaves (a program built from
        // the tape reads them; a leaf's buffer is its parameter's, alive anyway); the rest
        // becomes an empty placeholder of the right dtype.
        let reads = primitive.pullbackReads
        savedInputs = inputs.enumerated().map { position, input in
            input.node?.isLeaf ?? true || reads.reads(operand: position) ? input.storage : TensorStorage.placeholder(input.dtype)
        }
        savedOutput = reads.output ? output.storage : TensorStorage.placeholder(output.dtype)
    }

    /// The output's type in the IR.
    public var type: ValueType { ValueType(elementType, shape) }

    /// Whether this node is a leaf (no primitive produced it). Stored: the backward walk asks
    /// it for every operand, and testing the optional existential each time is not free.
    public let isLeaf: Bool

    /// Whether backward released the values this node kept for its pullback.
    public var isReleased: Bool { primitive != nil && savedOutput == nil }

    /// The operands as tensors (values at record time, still linked to their nodes), and the
    /// output linked to this node, so a pullback recorded under `createGraph` differentiates.
    func savedTensors() -> (inputs: [Tensor], output: Tensor)? {
        guard let savedOutput else { return nil }
        let inputs = zip(operands, savedInputs).map {
            Tensor(storage: $1, shape: $0.shape, node: $0.node, elementType: $0.elementType)
        }
        return (inputs, Tensor(storage: savedOutput, shape: shape, node: self, elementType: elementType))
    }

    /// Frees the chain of nodes only this one kept alive iteratively: the default recursive
    /// release would overflow the stack on a long unrolled sequence (tens of thousands of ops).
    deinit {
        var orphans = operands.compactMap(\.node)
        operands = []
        while var node = orphans.popLast() {
            if isKnownUniquelyReferenced(&node) {
                orphans.append(contentsOf: node.operands.compactMap(\.node))
                node.operands = []
            }
        }
    }

    /// Drops the values kept for the pullback, the leaves' too; constants stay (they are part
    /// of the program). A parameter's buffer still shared with a released graph — the loss
    /// tensor alive while the optimizer steps, as in most training loops — would make every
    /// in-place update copy it first.
    func release() {
        for (position, operand) in operands.enumerated() where operand.node != nil {
            savedInputs[position] = TensorStorage.placeholder(operand.dtype)
        }
        savedOutput = nil
    }
}
