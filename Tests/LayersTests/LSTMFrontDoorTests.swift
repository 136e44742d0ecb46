import Foundation
import Testing
@testable import Layers

/// `LSTM(options:)` and `LayerNormLSTM` build the same networks as `RecurrentNetwork(makeCell:)`
/// with the corresponding cells.
@Suite struct LSTMFrontDoorTests {
    private func input(_ shape: [Int]) -> Tensor {
        var generator = RandomGenerator(seed: 5)
        return Tensor.randomNormal(shape, dtype: .float64, using: &generator)
    }

    /// Same parameter names, and after copying the values the same outputs and states.
    private func expectSame<Cell: RecurrentCell>(_ network: RecurrentNetwork<Cell>, _ reference: RecurrentNetwork<Cell>,
                                                 _ label: String) {
        #expect(network.namedParameters().map(\.name) == reference.namedParameters().map(\.name), "\(label)")
        randomize(network, seed: 3)
        for (target, source) in zip(reference.parameters(), network.parameters()) { target.value = source.value }
        let x = input([4, 2, 3])
        let (output, state) = network(x, lengths: [4, 2])
        let (expectedOutput, expectedState) = reference(x, lengths: [4, 2])
        #expect(output.scalars == expectedOutput.scalars, "\(label)")
        #expect(state.map(\.scalars) == expectedState.map(\.scalars), "\(label)")
    }

    @Test(arguments: LSTMCell.Variant.allCases)
    func variantsThroughTheFrontDoor(_ variant: LSTMCell.Variant) {
        let network = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true,
                           options: .init(variant: variant, learnsInitialState: true))
        let reference = RecurrentNetwork(inputSize: 3, numLayers: 2, bidirectional: true) { _, size in
            LSTMCell(inputSize: size, hiddenSize: 4, variant: variant, learnsInitialState: true)
        }
        #expect(network.options == LSTMCell.Options(variant: variant, learnsInitialState: true))
        expectSame(network, reference, "\(variant)")
    }

    @Test func optionsWithAProjection() throws {
        let options = LSTMCell.Options(peepholes: true, learnsInitialState: true, forgetBias: 1)
        let network = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, projSize: 2, options: options)
        let reference = RecurrentNetwork(inputSize: 3, numLayers: 2) { _, size in
            LSTMCell(inputSize: size, hiddenSize: 4, projectionSize: 2, peepholes: true, learnsInitialState: true, forgetBias: 1)
        }
        #expect(network.namedParameters().map(\.name).contains("peephole_f_l1"))
        #expect(network.namedParameters().map(\.name).contains("c0_l0"))
        #expect(network.cells[0].bias_ih!.value[4] == 1)  // the forget gate's first entry
        expectSame(network, reference, "peepholes, projection, learned state")
        let x = input([3, 2, 3])
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [3, 2])
            return concat([output.reshaped(to: [-1])] + state.map { $0.reshaped(to: [-1]) }, along: 0)
        }, at: [x], parameters: network.parameters())
    }

    @Test func layerNormLSTM() throws {
        let network = LayerNormLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, learnsInitialState: true)
        let reference = RecurrentNetwork(inputSize: 3, numLayers: 2, bidirectional: true) { _, size in
            LayerNormLSTMCell(inputSize: size, hiddenSize: 4, learnsInitialState: true)
        }
        expectSame(network, reference, "layer norm")
        let x = input([3, 2, 3])
        try checkGradients(of: { values in network(values[0], lengths: [3, 2]).output.sum() },
                           at: [x], parameters: network.parameters())
    }
}
