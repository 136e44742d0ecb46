import Testing
@testable import Layers

/// h' = √(h ⊙ w + x): finite forward for x ≥ −h ⊙ w, but at h ⊙ w + x = 0 the pullback of
/// `sqrt` divides by zero — a backward anomaly at a chosen step.
private final class SquareRootCell: Module, RecurrentCell {
    let inputSize = 1, outputSize = 1
    let weight = Parameter(Tensor([1], shape: [1], dtype: .float64))

    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(zeros: [batchSize, 1], dtype: dtype)] }

    func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let next = (state[0] * weight.value + input).sqrt()
        return (next, [next])
    }
}

/// Anomaly messages of recurrent runs name the layer, direction and time step.
@Suite struct RecurrentAnomalyLocationTests {
    /// A ReLU Elman network whose state grows ×1e100 per step: h = 1, 1e100, 1e200, ~1e300,
    /// and step 4's recurrent `matmul` overflows.
    private static func explodingRNN(layers: Int = 1, bidirectional: Bool = false) -> RNN {
        let rnn = RNN(inputSize: 1, hiddenSize: 2, numLayers: layers, nonlinearity: .relu, bidirectional: bidirectional)
        rnn.to(.float64)
        for cell in rnn.cells {
            cell.weight_ih.value = Tensor(zeros: cell.weight_ih.value.shape, dtype: .float64)
            cell.bias_ih!.value = Tensor([1, 1], shape: [2], dtype: .float64)
            cell.bias_hh!.value = Tensor(zeros: [2], dtype: .float64)
            cell.weight_hh.value = Tensor([1e100, 0, 0, 1e100], shape: [2, 2], dtype: .float64)
        }
        return rnn
    }

    @Test func forwardAnomalyNamesTheTimeStep() throws {
        let rnn = Self.explodingRNN()
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies { _ = rnn(Tensor(zeros: [6, 1, 1], dtype: .float64)) }
        }
        #expect(error.op == "matmul" && error.location == "recurrent layer 0, time step 4")
        #expect(error.description.hasPrefix("forward op 'matmul' (recurrent layer 0, time step 4) produced"))
    }

    /// Bidirectional: the forward direction of layer 0 overflows first (it runs first).
    @Test func forwardAnomalyTrapsNamingLayerAndDirection() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let rnn = Self.explodingRNN(layers: 2, bidirectional: true)
            detectAnomalies { _ = rnn(Tensor(zeros: [6, 1, 1], dtype: .float64)) }
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("anomaly: forward op 'matmul' (recurrent layer 0, forward direction, time step 4) produced"), "\(message)")
        }
    }

    /// In the reverse direction, the step is counted from the sequence's end.
    @Test func reverseDirectionAnomalyIsLocated() throws {
        let rnn = Self.explodingRNN(bidirectional: true)
        rnn.cells[0].weight_hh.value = Tensor(zeros: [2, 2], dtype: .float64)  // the forward direction stays finite
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies { _ = rnn(Tensor(zeros: [6, 1, 1], dtype: .float64)) }
        }
        #expect(error.location == "recurrent layer 0, reverse direction, step 4 counted from each sequence's end")
    }

    /// x = 4, 2, −2: h = 2, 2, 0, so the pullback of step 2's `sqrt` is the first to divide by
    /// zero; the backward report names the step its node was recorded in.
    @Test func backwardAnomalyTrapsNamingTheStep() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let network = RecurrentNetwork(inputSize: 1) { _, _ in SquareRootCell() }
            let x = Tensor([4, 2, -2], shape: [3, 1, 1], dtype: .float64)
            detectAnomalies { network(x).output.sum().backward() }
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("anomaly: backward: in the pullback of 'sqrt' (recurrent layer 0, time step 2), its op 'div'"), "\(message)")
        }
    }

    /// The input projection and the ops after the steps run outside any step's location.
    @Test func opsOutsideStepsHaveNoLocation() throws {
        let error = try #require(throws: AnomalyError.self) {
            try detectingAnomalies {
                let output = RNN(inputSize: 1, hiddenSize: 2)(Tensor(zeros: [2, 1, 1])).output
                _ = (output - 2).log()
            }
        }
        #expect(error.op == "log" && error.location == nil && !error.description.contains("recurrent"))
    }
}
