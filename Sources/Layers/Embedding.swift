/// A lookup table of learned vectors, PyTorch's `nn.Embedding`: indices of any shape give
/// vectors of shape `indices.shape + [dimension]`.
///
/// | parameter | shape | initialization |
/// |---|---|---|
/// | `weight` | count × dimension | N(0, 1); the padding row zeros |
///
/// With `paddingIndex`, that row starts at zero and receives no gradient (as in PyTorch).
open class Embedding: Module {
    public let weight: Parameter
    public let paddingIndex: Int?

    /// A table of `count` vectors drawn from `generator`.
    public init(_ count: Int, _ dimension: Int, paddingIndex: Int? = nil, using generator: inout RandomGenerator) {
        weight = Embedding.initialTable(count, dimension, paddingIndex: paddingIndex, using: &generator)
        self.paddingIndex = paddingIndex
        super.init()
    }

    /// A table of `count` vectors drawn from the calling thread's generator (see
    /// `RandomGenerator.seedThread(_:)`).
    public init(_ count: Int, _ dimension: Int, paddingIndex: Int? = nil) {
        weight = RandomGenerator.withThreadGenerator {
            Embedding.initialTable(count, dimension, paddingIndex: paddingIndex, using: &$0)
        }
        self.paddingIndex = paddingIndex
        super.init()
    }

    private static func initialTable(_ count: Int, _ dimension: Int, paddingIndex: Int?,
                                     using generator: inout RandomGenerator) -> Parameter {
        if let paddingIndex, !(0..<count).contains(paddingIndex) {
            opFailure("Embedding", "padding index \(paddingIndex) is outside 0..<\(count)")
        }
        var table = Tensor.randomNormal([count, dimension], using: &generator)
        if let paddingIndex { for column in 0..<dimension { table[paddingIndex, column] = 0 } }
        return Parameter(table)
    }

    /// The vectors of `indices`.
    open func callAsFunction(_ indices: IndexTensor) -> Tensor {
        let vectors = weight.value.gathering(indices, along: 0)
        guard let paddingIndex, indices.values.contains(paddingIndex) else { return vectors }
        // The padding row is looked up but cut from the graph, so its gradient stays zero.
        let isPadding = Mask(indices.values.map { $0 == paddingIndex }, shape: indices.shape + [1])
        return Tensor.where(isPadding, vectors.detached(), vectors)
    }
}
