import Testing
import AutoGrad

/// A comparison operator and the Bool relation it must compute.
private struct Relation: Sendable, CustomTestStringConvertible {
    let name: String
    let tensors: @Sendable (Tensor, Tensor) -> Mask
    let scalar: @Sendable (Tensor, Double) -> Mask
    let reference: @Sendable (Double, Double) -> Bool
    var testDescription: String { name }
}

private let relations: [Relation] = [
    Relation(name: "<", tensors: { $0 .< $1 }, scalar: { $0 .< $1 }, reference: { $0 < $1 }),
    Relation(name: "<=", tensors: { $0 .<= $1 }, scalar: { $0 .<= $1 }, reference: { $0 <= $1 }),
    Relation(name: ">", tensors: { $0 .> $1 }, scalar: { $0 .> $1 }, reference: { $0 > $1 }),
    Relation(name: ">=", tensors: { $0 .>= $1 }, scalar: { $0 .>= $1 }, reference: { $0 >= $1 }),
    Relation(name: "==", tensors: { $0 .== $1 }, scalar: { $0 .== $1 }, reference: { $0 == $1 }),
    Relation(name: "!=", tensors: { $0 .!= $1 }, scalar: { $0 .!= $1 }, reference: { $0 != $1 }),
]

@Suite struct MaskTests {
    @Test(arguments: relations) private func comparisonsMatchLoops(_ relation: Relation) {
        // Small integers so that equal pairs occur.
        let a = Tensor([[0, 1, 2], [2, 1, 0]]), b = Tensor([1, 1, 0])
        let mask = relation.tensors(a, b)
        #expect(mask.shape == [2, 3])
        #expect(mask.values == multiIndices([2, 3]).map { relation.reference(element(a, $0), element(b, [$0[1]])) })
        #expect(relation.scalar(a, 1).values == a.scalars.map { relation.reference($0, 1) })
    }

    @Test func logicalOperatorsMatchLoops() {
        let a = Mask([true, false, true, false], shape: [2, 2]), b = Mask([true, true])
        #expect((a & b).values == [true, false, true, false])
        #expect((a | Mask([false, true])).values == [true, true, true, true])
        #expect((!a).values == [false, true, false, true])
        #expect((a | b).shape == [2, 2] && a.trueCount == 2)
    }

    @Test func masksAndTensorsConvert() {
        let mask = Mask(Tensor([0, 2, -1, 0]))
        #expect(mask.values == [false, true, true, false])
        #expect(mask.asTensor(.float64).scalars == [0, 1, 1, 0] && mask.asTensor(.float64).dtype == .float64)
        #expect(mask.description.hasPrefix("mask("))
        #expect(IndexTensor([[1, 2], [3, 4]]).shape == [2, 2])
    }

    /// Comparisons are constants: they never join the graph.
    @Test func comparisonsAreNotRecorded() {
        let x = Tensor([1, -1], dtype: .float64).requiringGrad()
        let masked = Tensor.where(x .> 0, x, x * 0)
        masked.sum().backward()
        #expect(x.grad?.scalars == [1, 0])
    }
}
