import Testing
@testable import Layers

@Suite struct LinearTests {
    @Test func forwardIsXWTransposePlusBiasOnAnyBatchShape() {
        let layer = Linear(3, 2)
        layer.to(.float64)
        var generator = RandomGenerator(seed: 1)
        let x = Tensor.randomNormal([2, 4, 3], dtype: .float64, using: &generator)
        let y = layer(x)
        #expect(y.shape == [2, 4, 2])
        for b in 0..<2 {
            for t in 0..<4 {
                for o in 0..<2 {
                    let expected = (0..<3).map { layer.weight.value[o, $0] * x[b, t, $0] }.reduce(0, +) + layer.bias!.value[o]
                    #expect(abs(y[b, t, o] - expected) < 1e-14)
                }
            }
        }
    }

    @Test func gradientsWithRespectToInputAndParameters() throws {
        let layer = Linear(3, 4)
        layer.to(.float64)
        var generator = RandomGenerator(seed: 2)
        try checkGradients(of: { layer($0[0]).tanh() }, at: [Tensor.randomNormal([5, 3], dtype: .float64, using: &generator)],
                           parameters: layer.parameters())
    }

    @Test func pyTorchDefaultInitializationBounds() {
        let layer = Linear(16, 8)
        #expect(layer.weight.value.scalars.allSatisfy { abs($0) <= 0.25 } && layer.bias!.value.scalars.allSatisfy { abs($0) <= 0.25 })
        #expect(Linear(4, 2, bias: false).namedParameters().map(\.name) == ["weight"])
    }

    @Test func subclassOverridesForward() {
        final class ScaledLinear: Linear {
            override func forward(_ input: Tensor) -> Tensor { super.forward(input) * 2 }
        }
        let plain = ScaledLinear(2, 2)
        let x = Tensor([[1, 2]])
        #expect(plain(x).scalars == (matmul(x, plain.weight.value, transposeB: true) + plain.bias!.value).scalars.map { $0 * 2 })
    }
}
