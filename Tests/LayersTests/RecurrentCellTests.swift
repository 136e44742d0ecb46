import Foundation
import Testing
@testable import Layers

/// Sets every parameter of `module` to float64 values drawn from `generator`.
func randomize(_ module: Module, seed: UInt64) {
    var generator = RandomGenerator(seed: seed)
    for parameter in module.parameters() {
        parameter.value = Tensor.randomUniform(parameter.value.shape, low: -0.6, high: 0.6, dtype: .float64, using: &generator)
    }
}

/// A gradient check of one cell step with respect to the input, the state and every parameter.
func checkCellGradients(_ cell: some RecurrentCell, batch: Int = 2, seed: UInt64 = 1) throws {
    randomize(cell, seed: seed)
    var generator = RandomGenerator(seed: seed + 100)
    let input = Tensor.randomNormal([batch, cell.inputSize], dtype: .float64, using: &generator)
    let state = cell.zeroState(batchSize: batch, dtype: .float64).map {
        Tensor.randomNormal($0.shape, dtype: .float64, using: &generator)
    }
    try checkGradients(of: { values in
        let (output, next) = cell.step(values[0], state: Array(values.dropFirst()))
        return concat([output] + next, along: 1)
    }, at: [input] + state, parameters: cell.parameters())
}

@Suite struct RecurrentCellTests {
    @Test func everyCellVariantPassesTheGradientCheck() throws {
        try checkCellGradients(ElmanCell(inputSize: 3, hiddenSize: 4))
        try checkCellGradients(ElmanCell(inputSize: 3, hiddenSize: 4, outputSize: 2, outputActivation: .sigmoid))
        try checkCellGradients(JordanCell(inputSize: 3, hiddenSize: 4, outputSize: 2))
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4))
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, peepholes: true))
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, couplesInputAndForgetGates: true))
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, projectionSize: 2, peepholes: true))
        try checkCellGradients(GRUCell(inputSize: 3, hiddenSize: 4))
        try checkCellGradients(GRUCell(inputSize: 3, hiddenSize: 4, resetAfter: false))
    }

    /// Jordan: h = tanh(x W_ihᵀ + y W_yhᵀ + b_h), y' = tanh(h W_hyᵀ + b_y), by scalar loops.
    @Test func jordanStepMatchesHandComputation() {
        let cell = JordanCell(inputSize: 2, hiddenSize: 3, outputSize: 2)
        randomize(cell, seed: 7)
        let x = [0.3, -0.8], y = [0.5, -0.1]
        let (output, state) = cell.step(Tensor([x], dtype: .float64), state: [Tensor([y], dtype: .float64)])
        let hidden = (0..<3).map { j in
            Foundation.tanh((0..<2).map { cell.weight_ih.value[j, $0] * x[$0] }.reduce(0, +)
                + (0..<2).map { cell.weight_yh.value[j, $0] * y[$0] }.reduce(0, +) + cell.bias_h!.value[j])
        }
        let expected = (0..<2).map { k in
            Foundation.tanh((0..<3).map { cell.weight_hy.value[k, $0] * hidden[$0] }.reduce(0, +) + cell.bias_y!.value[k])
        }
        for k in 0..<2 {
            #expect(abs(output[0, k] - expected[k]) < 1e-14)
            #expect(state[0][0, k] == output[0, k])  // the context is the output
        }
    }

    /// Peephole and CIFG LSTM and the original GRU, one step by scalar loops.
    @Test func variantStepsMatchHandComputation() {
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        let x = [0.4, -0.2], h = [0.1, -0.3], c = [0.5, 0.2]
        // row j of W·v
        func row(_ w: Parameter, _ j: Int, _ v: [Double]) -> Double { v.indices.map { w.value[j, $0] * v[$0] }.reduce(0, +) }
        func pre(_ cell: LSTMCell, _ j: Int) -> Double {
            row(cell.weight_ih, j, x) + row(cell.weight_hh, j, h) + cell.bias_ih!.value[j] + cell.bias_hh!.value[j]
        }
        let peephole = LSTMCell(inputSize: 2, hiddenSize: 2, peepholes: true)
        randomize(peephole, seed: 11)
        let cifg = LSTMCell(inputSize: 2, hiddenSize: 2, couplesInputAndForgetGates: true)
        randomize(cifg, seed: 12)
        let state = [Tensor([h], dtype: .float64), Tensor([c], dtype: .float64)]
        let (peepholeOut, peepholeState) = peephole.step(Tensor([x], dtype: .float64), state: state)
        let (cifgOut, _) = cifg.step(Tensor([x], dtype: .float64), state: state)
        for j in 0..<2 {
            let i = sigmoid(pre(peephole, j) + peephole.peephole_i!.value[j] * c[j])
            let f = sigmoid(pre(peephole, 2 + j) + peephole.peephole_f!.value[j] * c[j])
            let newCell = f * c[j] + i * Foundation.tanh(pre(peephole, 4 + j))
            let o = sigmoid(pre(peephole, 6 + j) + peephole.peephole_o!.value[j] * newCell)
            #expect(abs(peepholeState[1][0, j] - newCell) < 1e-14)
            #expect(abs(peepholeOut[0, j] - o * Foundation.tanh(newCell)) < 1e-14)

            let coupledForget = sigmoid(pre(cifg, j))
            let coupledCell = coupledForget * c[j] + (1 - coupledForget) * Foundation.tanh(pre(cifg, 2 + j))
            #expect(abs(cifgOut[0, j] - sigmoid(pre(cifg, 4 + j)) * Foundation.tanh(coupledCell)) < 1e-14)
        }
        #expect(cifg.weight_ih.value.shape == [6, 2] && cifg.peephole_i == nil)

        let gru = GRUCell(inputSize: 2, hiddenSize: 2, resetAfter: false)
        randomize(gru, seed: 13)
        let (gruOut, _) = gru.step(Tensor([x], dtype: .float64), state: [Tensor([h], dtype: .float64)])
        func gruPre(_ j: Int, _ v: [Double]) -> Double { row(gru.weight_hh, j, v) + gru.bias_hh!.value[j] }
        let r = (0..<2).map { sigmoid(row(gru.weight_ih, $0, x) + gru.bias_ih!.value[$0] + gruPre($0, h)) }
        let z = (0..<2).map { sigmoid(row(gru.weight_ih, 2 + $0, x) + gru.bias_ih!.value[2 + $0] + gruPre(2 + $0, h)) }
        let resetHidden = (0..<2).map { r[$0] * h[$0] }
        for j in 0..<2 {
            let n = Foundation.tanh(row(gru.weight_ih, 4 + j, x) + gru.bias_ih!.value[4 + j] + gruPre(4 + j, resetHidden))
            #expect(abs(gruOut[0, j] - ((1 - z[j]) * n + z[j] * h[j])) < 1e-14)
        }
    }

    /// semantics.md's memory cell: x2 = 1 writes x1, x2 = −1 resets, x3 = 1 reads.
    @Test func workedLSTMExampleRemembersAndForgets() {
        let cell = LSTMCell(inputSize: 3, hiddenSize: 1, cellActivation: .identity, outputActivation: .identity)
        let inputRows: [[Double]] = [[0, 100, 0], [0, 100, 0], [1, 0, 0], [0, 0, 100]]  // i, f, g, o
        cell.weight_ih.value = Tensor(inputRows, dtype: .float64)
        cell.weight_hh.value = Tensor(zeros: [4, 1], dtype: .float64)
        cell.bias_ih!.value = Tensor([-10, 10, 0, -10], dtype: .float64)
        cell.bias_hh!.value = Tensor(zeros: [4], dtype: .float64)
        let sequence: [[Double]] = [[1, 0, 0], [3, 1, 0], [2, 0, 0], [4, 1, 0], [2, 0, 0], [1, 0, 1], [3, -1, 0], [6, 1, 0], [1, 0, 1]]
        var state = cell.zeroState(batchSize: 1, dtype: .float64)
        var outputs: [Double] = []
        for x in sequence {
            let (output, next) = cell.step(Tensor([x], dtype: .float64), state: state)
            outputs.append(output.item())
            state = next
        }
        let expected: [Double] = [0, 0, 0, 0, 0, 7, 0, 0, 6]
        for (output, target) in zip(outputs, expected) { #expect(abs(output - target) < 0.01) }
    }

    /// A subclass changes one piece (the gate nonlinearity) without copying the cell.
    @Test func subclassOverridesTheGateActivation() {
        final class HardGateLSTMCell: LSTMCell {
            override func gate(_ x: Tensor) -> Tensor { (x * 0.2 + 0.5).clamped(min: 0, max: 1) }
        }
        let plain = LSTMCell(inputSize: 2, hiddenSize: 3), hard = HardGateLSTMCell(inputSize: 2, hiddenSize: 3)
        randomize(plain, seed: 21)
        randomize(hard, seed: 21)
        let x = Tensor([[2.0, -1.5]], dtype: .float64)
        let state = plain.zeroState(batchSize: 1, dtype: .float64)
        let hardState = hard.step(x, state: state).state[1]
        // c' = i ⊙ g with zero c: recompute with the hard gate by hand.
        let preactivations = matmul(x, hard.weight_ih.value, transposeB: true) + hard.bias_ih!.value + hard.bias_hh!.value
        for j in 0..<3 {
            let i = min(1, max(0, preactivations[0, j] * 0.2 + 0.5))
            #expect(abs(hardState[0, j] - i * Foundation.tanh(preactivations[0, 6 + j])) < 1e-14)
        }
        #expect(plain.step(x, state: state).state[1].scalars != hardState.scalars)
    }

    @Test func forgetBiasInitialization() {
        let cell = LSTMCell(inputSize: 2, hiddenSize: 3, forgetBias: 1)
        #expect((3..<6).allSatisfy { cell.bias_ih!.value[$0] == 1 && cell.bias_hh!.value[$0] == 0 })
        let bound = 1 / 3.0.squareRoot()
        #expect(cell.weight_hh.value.scalars.allSatisfy { abs($0) <= bound })
    }
}
