import Foundation
import Testing
@testable import Layers

@Suite struct LayerNormLSTMCellTests {
    @Test func passesTheGradientCheck() throws {
        try checkCellGradients(LayerNormLSTMCell(inputSize: 3, hiddenSize: 4))
        try checkCellGradients(LayerNormLSTMCell(inputSize: 3, hiddenSize: 2, bias: false, learnsInitialState: true))
    }

    /// Ba et al.'s equations 20–22 by scalar loops: normalisation of each pre-activation over
    /// its 4·hidden units, and of the new cell before the output tanh.
    @Test func stepMatchesThePaperEquations() {
        let cell = LayerNormLSTMCell(inputSize: 2, hiddenSize: 3)
        randomize(cell, seed: 41)  // gains and biases too, so a misplaced LN shows
        let x = [0.9, -0.3], h = [0.4, 0.1, -0.7], c = [-0.2, 0.5, 0.3]
        let (output, next) = cell.step(Tensor([x], dtype: .float64), state: [Tensor([h], dtype: .float64), Tensor([c], dtype: .float64)])
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        func layerNorm(_ v: [Double], _ norm: LayerNorm) -> [Double] {
            let mean = v.reduce(0, +) / Double(v.count)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
            return v.indices.map { (v[$0] - mean) / (variance + 1e-5).squareRoot() * norm.weight!.value[$0] + norm.bias!.value[$0] }
        }
        func product(_ w: Parameter, _ v: [Double]) -> [Double] {
            (0..<w.value.shape[0]).map { row in v.indices.map { w.value[row, $0] * v[$0] }.reduce(0, +) }
        }
        let fromInput = layerNorm(product(cell.weight_ih, x), cell.ln_ih)
        let fromHidden = layerNorm(product(cell.weight_hh, h), cell.ln_hh)
        let z = (0..<12).map { fromInput[$0] + fromHidden[$0] + cell.bias!.value[$0] }
        let newCell = (0..<3).map { sigmoid(z[3 + $0]) * c[$0] + sigmoid(z[$0]) * Foundation.tanh(z[6 + $0]) }
        let normalizedCell = layerNorm(newCell, cell.ln_c)
        for j in 0..<3 {
            #expect(abs(next[1][0, j] - newCell[j]) < 1e-14)
            #expect(abs(output[0, j] - sigmoid(z[9 + j]) * Foundation.tanh(normalizedCell[j])) < 1e-14)
        }
    }

    @Test func parameterNamesAndInitialization() {
        let cell = LayerNormLSTMCell(inputSize: 2, hiddenSize: 3, forgetBias: 1)
        #expect(cell.namedParameters().map(\.name) == ["weight_ih", "weight_hh", "bias", "ln_ih.weight", "ln_ih.bias",
                                                        "ln_hh.weight", "ln_hh.bias", "ln_c.weight", "ln_c.bias"])
        #expect(cell.ln_c.weight!.value.scalars == [1, 1, 1] && cell.ln_ih.bias!.value.scalars.allSatisfy { $0 == 0 })
        #expect((3..<6).allSatisfy { cell.bias!.value[$0] == 1 })
    }

    /// Stacked, bidirectional, with lengths, in the shared engine.
    @Test func runsInARecurrentNetwork() throws {
        let network = RecurrentNetwork(inputSize: 2, numLayers: 2, bidirectional: true, batchFirst: true) { _, size in
            LayerNormLSTMCell(inputSize: size, hiddenSize: 2, learnsInitialState: true)
        }
        randomize(network, seed: 12)
        #expect(network.parameterDictionary()["ln_c.weight_l1_reverse"]?.value.shape == [2])
        var generator = RandomGenerator(seed: 13)
        let x = Tensor.randomNormal([2, 3, 2], dtype: .float64, using: &generator)
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [3, 2])
            return concat([output.flattened(), state[0].flattened(), state[1].flattened()], along: 0)
        }, at: [x], parameters: network.parameters())
    }
}
