import Testing
@testable import Layers

/// h0 and c0 as parameters broadcast over the batch.
@Suite struct LearnedInitialStateTests {
    @Test func startsAtZeroAndBroadcastsOverTheBatch() {
        let cell = LSTMCell(inputSize: 2, hiddenSize: 3, projectionSize: 2, learnsInitialState: true)
        #expect(cell.h0!.value.shape == [2] && cell.c0!.value.shape == [3])
        #expect(cell.zeroState(batchSize: 4, dtype: .float32).allSatisfy { $0.scalars.allSatisfy { $0 == 0 } })
        cell.to(.float64)
        cell.h0!.value = Tensor([0.5, -1], dtype: .float64)
        let state = cell.zeroState(batchSize: 3, dtype: .float64)
        #expect(state[0].shape == [3, 2] && state[0].scalars == [0.5, -1, 0.5, -1, 0.5, -1])
        #expect(state[1].shape == [3, 3])
    }

    /// The gradient reaches h0 and c0 of every layer and direction through a network run
    /// (summed over the batch by the broadcast), checked against finite differences.
    @Test func gradientFlowsToTheInitialState() throws {
        let network = RecurrentNetwork(inputSize: 2, numLayers: 2, bidirectional: true, batchFirst: true) { _, size in
            LSTMCell(inputSize: size, hiddenSize: 2, variant: .fullGateRecurrence, learnsInitialState: true)
        }
        randomize(network, seed: 8)
        let names = network.namedParameters().map(\.name)
        #expect(names.contains("h0_l0") && names.contains("c0_l1_reverse"))
        var generator = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([3, 2, 2], dtype: .float64, using: &generator)
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [2, 1, 2])
            return concat([output.flattened(), state[1].flattened()], along: 0)
        }, at: [x], parameters: network.parameters())
        network(x).sum().backward()
        let c0 = network.parameterDictionary()["c0_l0"]!
        #expect(c0.grad!.scalars.contains { $0 != 0 })
    }
}
