import Foundation
import Testing
@testable import Layers

@Suite struct BasicLayersTests {
    @Test func embeddingLooksUpRowsAndPaddingGetsNoGradient() throws {
        RandomGenerator.seedThread(1)
        let embedding = Embedding(5, 3, paddingIndex: 0)
        embedding.to(.float64)
        #expect((0..<3).allSatisfy { embedding.weight.value[0, $0] == 0 })
        let indices = IndexTensor([[2, 0], [4, 2]])
        let vectors = embedding(indices)
        #expect(vectors.shape == [2, 2, 3])
        for (position, index) in indices.values.enumerated() {
            #expect((0..<3).allSatisfy { vectors[position / 2, position % 2, $0] == embedding.weight.value[index, $0] })
        }
        (vectors * vectors).sum().backward()
        let grad = embedding.weight.grad!
        #expect((0..<3).allSatisfy { grad[0, $0] == 0 })                                   // padding row
        #expect((0..<3).allSatisfy { abs(grad[2, $0] - 4 * embedding.weight.value[2, $0]) < 1e-14 })  // used twice
        // The true derivative everywhere but the padding row, whose gradient is zero by design.
        let unpadded = IndexTensor([[2, 1], [4, 2]])
        try checkGradients(of: { embedding(unpadded) * $0[0] }, at: [Tensor(ones: [2, 2, 3], dtype: .float64)],
                           parameters: embedding.parameters())
    }

    @Test func dropoutZeroesAboutPAndPreservesTheMeanInTrainingOnly() throws {
        RandomGenerator.seedThread(2)
        let dropout = Dropout(probability: 0.3)
        let x = Tensor(ones: [100_000])
        let y = dropout(x).scalars
        let zeroed = Double(y.filter { $0 == 0 }.count) / Double(y.count)
        #expect(abs(zeroed - 0.3) < 0.01)
        #expect(abs(y.reduce(0, +) / Double(y.count) - 1) < 0.02)
        #expect(Set(y).isSubset(of: [0, 1 / 0.7].map { Double(Float($0)) }))
        dropout.eval()
        #expect(dropout(x).scalars == x.scalars)
        // Reseeding inside the function gives every evaluation the same mask.
        dropout.train()
        var generator = RandomGenerator(seed: 9)
        try checkGradients(of: { values in
            RandomGenerator.seedThread(10)
            return dropout(values[0]).tanh()
        }, at: [Tensor.randomNormal([4, 5], dtype: .float64, using: &generator)])
    }

    @Test func sequentialNamesByPositionAndChains() throws {
        let model = Sequential([Linear(3, 4), Tanh(), Linear(4, 2), LeakyReLU(negativeSlope: 0.1)])
        #expect(model.namedParameters().map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        model.to(.float64)
        var generator = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([5, 3], dtype: .float64, using: &generator)
        let first = model.layers[0] as! Linear, second = model.layers[2] as! Linear
        #expect(maxDifference(model(x), second(first(x).tanh()).leakyRelu(negativeSlope: 0.1)) == 0)
        try checkGradients(of: { model($0[0]) }, at: [x], parameters: model.parameters())
        model.eval()
        #expect(!model.layers[2].isTraining)
    }

    @Test func xavierBoundsAndVariance() {
        var generator = RandomGenerator(seed: 4)
        let uniform = Initializer.xavierUniform([200, 300], gain: 2, using: &generator)
        let bound = 2 * (6.0 / 500).squareRoot()
        #expect(uniform.scalars.allSatisfy { abs($0) <= bound + 1e-6 })
        let normal = Initializer.xavierNormal([200, 300], using: &generator).scalars
        let variance = normal.map { $0 * $0 }.reduce(0, +) / Double(normal.count)
        #expect(abs(variance - 2.0 / 500) / (2.0 / 500) < 0.05)
        #expect(Initializer.fans([8, 3, 5, 5]) == (75, 200))
    }

    @Test(arguments: [[6, 4], [4, 6], [5, 5], [3, 2, 2]])
    func orthogonalHasOrthonormalRowsOrColumns(_ shape: [Int]) {
        var generator = RandomGenerator(seed: 5)
        let q = Initializer.orthogonal(shape, gain: 1.5, dtype: .float64, using: &generator).reshaped(to: [shape[0], -1])
        let (rows, columns) = (q.shape[0], q.shape[1])
        // QᵀQ = gain²·I for tall matrices, QQᵀ = gain²·I for wide ones.
        let gram = rows >= columns ? matmul(q, q, transposeA: true) : matmul(q, q, transposeB: true)
        let size = min(rows, columns)
        for i in 0..<size {
            for j in 0..<size { #expect(abs(gram[i, j] - (i == j ? 2.25 : 0)) < 1e-12) }
        }
    }
}
