import Testing
@testable import Layers

/// Anomaly mode inside the recurrent engine.
@Suite struct RecurrentAnomalyTests {
    /// Biases of 1e308 overflow when the input and recurrent pre-activations are added at the
    /// first step: that `add` is reported, with both [batch, 4·hidden] operands.
    @Test func overflowInAnLSTMStepNamesTheOp() throws {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3)
        lstm.to(.float64)
        lstm.cells[0].bias_ih!.value = Tensor(Array(repeating: 1e308, count: 12), shape: [12], dtype: .float64)
        lstm.cells[0].bias_hh!.value = lstm.cells[0].bias_ih!.value.detached()
        let x = Tensor(zeros: [4, 2, 2], dtype: .float64)
        let error = try #require(throws: AnomalyError.self) { try detectingAnomalies { _ = lstm(x) } }
        #expect(error.pass == .forward && error.op == "add" && error.operands.map(\.shape) == [[2, 12], [2, 12]])
        #expect(error.operands.allSatisfy { $0.isFinite } && error.result.positiveInfinityCount == 24)
        #expect(!error.description.contains("came in with the operands"))
    }

    /// Data that is already NaN is reported at the first op it passes through, saying so.
    @Test func nonFiniteDataIsReportedAsComingIn() throws {
        let x = Tensor([.nan, 1], shape: [1, 1, 2], dtype: .float64)
        let lstm = LSTM(inputSize: 2, hiddenSize: 3)
        lstm.to(.float64)
        let error = try #require(throws: AnomalyError.self) { try detectingAnomalies { _ = lstm(x) } }
        #expect(error.operands[0].nanCount == 1 && error.description.contains("came in with the operands"))
    }
}
