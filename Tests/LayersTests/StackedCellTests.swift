import Foundation
import Testing
@testable import Layers

private func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }

/// v Wᵀ for a row vector v and a matrix tensor W, with scalars.
private func product(_ v: [Double], _ weight: Tensor, rows: Range<Int>, columns: Range<Int>? = nil) -> [Double] {
    let columns = columns ?? 0..<v.count
    return rows.map { row in zip(columns, v).reduce(0) { $0 + $1.1 * weight[row, $1.0] } }
}

/// Every parameter of `target` set to `source`'s value (same order and shapes).
private func copyParameters(_ source: Module, to target: Module) {
    for (target, source) in zip(target.parameters(), source.parameters()) { target.value = source.value }
}

/// The gated-feedback RNN and the depth-gated LSTM: each step by hand or against the stacked
/// network they generalise, a property from each paper, and the gradient checks.
@Suite struct StackedCellTests {
    /// One GF-RNN step (2 layers of 2 tanh, GRU or LSTM units) computed with scalars from the paper's equations.
    @Test(arguments: GatedFeedbackCell.Unit.allCases)
    func gatedFeedbackStepByHand(_ unit: GatedFeedbackCell.Unit) {
        let cell = GatedFeedbackCell(inputSize: 3, hiddenSize: 2, layerCount: 2, unit: unit)
        randomize(cell, seed: 7)
        let x = [0.4, -0.3, 0.8], previous = [[0.2, -0.6], [0.7, 0.1]], memory = [[0.5, -0.3], [-0.8, 0.4]]
        let layerStates = unit == .lstm ? zip(previous, memory).map { [$0, $1] } : previous.map { [$0] }
        let components = layerStates[0].count
        let (output, next) = cell.step(Tensor([x], dtype: .float64),
                                       state: layerStates.joined().map { Tensor([$0], dtype: .float64) })
        let all = previous[0] + previous[1]
        var below = x
        for (j, layer) in cell.layers.enumerated() {
            let gates = (0..<2).map { i in
                sigmoid(product(below, layer.gate_input.value, rows: i..<(i + 1))[0]
                        + product(all, layer.gate_hidden.value, rows: i..<(i + 1))[0])
            }
            // s^j = Σ_i g^{i→j} · h^i U^{i→j}ᵀ, U^{i→j} the column block i of weight_feedback.
            let feedback = (0..<2).map { unitIndex in
                (0..<2).reduce(0.0) { sum, i in
                    sum + gates[i] * product(previous[i], layer.weight_feedback.value, rows: unitIndex..<(unitIndex + 1),
                                             columns: (2 * i)..<(2 * i + 2))[0]
                }
            }
            let projected = zip(product(below, layer.weight_ih.value, rows: 0..<(2 * unit.inputBlocks)),
                                layer.bias!.value.scalars).map(+)
            let h: [Double]
            switch unit {
            case .tanh:
                h = (0..<2).map { Foundation.tanh(projected[$0] + feedback[$0]) }
            case .gru:
                let own = product(previous[j], layer.weight_hh!.value, rows: 0..<4)
                h = (0..<2).map { k in
                    let r = sigmoid(projected[k] + own[k]), z = sigmoid(projected[2 + k] + own[2 + k])
                    let candidate = Foundation.tanh(projected[4 + k] + r * feedback[k])
                    return (1 - z) * previous[j][k] + z * candidate
                }
            case .lstm:
                // Rows of weight_ih: i, f, g, o; of weight_hh: i, f, o; the feedback enters c̃ alone.
                let own = product(previous[j], layer.weight_hh!.value, rows: 0..<6)
                h = (0..<2).map { k in
                    let i = sigmoid(projected[k] + own[k]), f = sigmoid(projected[2 + k] + own[2 + k])
                    let o = sigmoid(projected[6 + k] + own[4 + k])
                    let c = f * memory[j][k] + i * Foundation.tanh(projected[4 + k] + feedback[k])
                    #expect(abs(next[2 * j + 1][0, k] - c) < 1e-14, "memory of layer \(j) unit \(k)")
                    return o * Foundation.tanh(c)
                }
            }
            for k in 0..<2 { #expect(abs(next[components * j][0, k] - h[k]) < 1e-14, "\(unit) layer \(j) unit \(k)") }
            below = h
        }
        #expect(next.count == 2 * components && output.scalars == next[components].scalars)
    }

    /// With the cross-layer feedback U^{i→j} (i ≠ j) zero and the gate weights zero, every gate
    /// is σ(0) = ½ and the GF-RNN is a conventional stacked tanh RNN with W_hh = U^{j→j}/2.
    @Test func withoutCrossLayerFeedbackItIsAStackedRNN() {
        let cell = GatedFeedbackCell(inputSize: 3, hiddenSize: 4, layerCount: 2)
        randomize(cell, seed: 8)
        let stacked = RNN(inputSize: 3, hiddenSize: 4, numLayers: 2)
        stacked.to(.float64)
        for (own, (layer, rnn)) in zip(keepingOnlyOwnFeedback(cell), zip(cell.layers, stacked.cells)) {
            rnn.weight_ih.value = layer.weight_ih.value
            rnn.bias_ih!.value = layer.bias!.value
            rnn.bias_hh!.value = layer.bias!.value.zerosLike()
            rnn.weight_hh.value = own * 0.5
        }
        let network = RecurrentNetwork(inputSize: 3) { _, _ in cell }
        let x = randomInput([6, 2, 3], seed: 9)
        let (output, state) = network(x)
        let (expectedOutput, expectedState) = stacked(x)
        #expect(zip(output.scalars, expectedOutput.scalars).allSatisfy { abs($0 - $1) < 1e-14 })
        #expect(zip(concat(state, along: 0).scalars, expectedState[0].scalars).allSatisfy { abs($0 - $1) < 1e-14 })
    }

    /// Likewise with LSTM units: the gates read the layer's own h, and the candidate's
    /// recurrent weights are U_c^{j→j}/2 — PyTorch's stacked LSTM with W_hh = [U_i; U_f; U_c^{j→j}/2; U_o].
    @Test func withoutCrossLayerFeedbackItIsAStackedLSTM() {
        let cell = GatedFeedbackCell(inputSize: 3, hiddenSize: 4, layerCount: 2, unit: .lstm)
        randomize(cell, seed: 17)
        let stacked = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2)
        stacked.to(.float64)
        for (own, (layer, lstm)) in zip(keepingOnlyOwnFeedback(cell), zip(cell.layers, stacked.cells)) {
            let gates = layer.weight_hh!.value.chunked(into: 3, along: 0)
            lstm.weight_ih.value = layer.weight_ih.value
            lstm.weight_hh.value = concat([gates[0], gates[1], own * 0.5, gates[2]], along: 0)
            lstm.bias_ih!.value = layer.bias!.value
            lstm.bias_hh!.value = layer.bias!.value.zerosLike()
        }
        expectSameRun(of: cell, as: stacked, seed: 18)
    }

    /// Zeroes every gate's weights (so each g^{i→j} = σ(0) = ½) and the cross-layer blocks
    /// U^{i→j}, i ≠ j; returns each layer's own block U^{j→j}.
    private func keepingOnlyOwnFeedback(_ cell: GatedFeedbackCell) -> [Tensor] {
        cell.layers.enumerated().map { j, layer in
            layer.gate_input.value = layer.gate_input.value.zerosLike()
            layer.gate_hidden.value = layer.gate_hidden.value.zerosLike()
            let blocks = layer.weight_feedback.value.chunked(into: cell.layers.count, along: 1)
            layer.weight_feedback.value = concat(blocks.indices.map { $0 == j ? blocks[$0] : blocks[$0].zerosLike() }, along: 1)
            return blocks[j]
        }
    }

    /// A two-layer cell whose state is [h¹, c¹, h², c²] gives `stacked`'s outputs and states
    /// (to 1e-14) over 6 steps.
    private func expectSameRun<Cell: RecurrentCell>(of cell: Cell, as stacked: LSTM, seed: UInt64) {
        let x = randomInput([6, 2, 3], seed: seed)
        let (output, state) = RecurrentNetwork(inputSize: 3) { _, _ in cell }(x)
        let (expectedOutput, expectedState) = stacked(x)
        #expect(zip(output.scalars, expectedOutput.scalars).allSatisfy { abs($0 - $1) < 1e-14 })
        let hidden = concat([state[0], state[2]], along: 0), cells = concat([state[1], state[3]], along: 0)
        #expect(zip(hidden.scalars, expectedState[0].scalars).allSatisfy { abs($0 - $1) < 1e-14 })
        #expect(zip(cells.scalars, expectedState[1].scalars).allSatisfy { abs($0 - $1) < 1e-14 })
    }

    @Test(arguments: GatedFeedbackCell.Unit.allCases)
    func gatedFeedbackPassesTheGradientCheck(_ unit: GatedFeedbackCell.Unit) throws {
        let network = RecurrentNetwork(inputSize: 2, bidirectional: true) { _, size in
            GatedFeedbackCell(inputSize: size, hiddenSize: 2, layerCount: 3, unit: unit)
        }
        randomize(network, seed: 10)
        try checkStackedGradients(network)
    }

    /// Layers with equal weights, the depth gate closed (b_d = −1000, so d = 0 exactly): the
    /// depth-gated LSTM is PyTorch's stacked LSTM.
    @Test func closedDepthGateIsAStackedLSTM() {
        let cell = DepthGatedLSTMCell(inputSize: 3, hiddenSize: 4, layerCount: 2)
        randomize(cell, seed: 11)
        let upper = cell.layers[1]
        upper.depth_bias!.value = upper.depth_bias!.value.zerosLike() - 1000
        let stacked = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2)
        stacked.to(.float64)
        for (layer, lstm) in zip(cell.layers, stacked.cells) {
            (lstm.weight_ih.value, lstm.weight_hh.value) = (layer.weight_ih.value, layer.weight_hh.value)
            (lstm.bias_ih!.value, lstm.bias_hh!.value) = (layer.bias_ih.value, layer.bias_hh.value)
        }
        expectSameRun(of: cell, as: stacked, seed: 12)
    }

    /// The paper's linear path across depth: the depth gate open (d = 1) and the upper
    /// layer's input and forget gates shut (i = f = 0) make its memory the lower layer's, exactly.
    @Test func openDepthGateCarriesTheLowerMemoryUp() {
        let cell = DepthGatedLSTMCell(inputSize: 3, hiddenSize: 4, layerCount: 2)
        randomize(cell, seed: 13)
        let upper = cell.layers[1]
        upper.depth_bias!.value = upper.depth_bias!.value.zerosLike() + 1000
        var bias = upper.bias_ih.value
        for row in 0..<8 { bias[row] = -1000 }  // the i and f blocks
        upper.bias_ih.value = bias
        let network = RecurrentNetwork(inputSize: 3) { _, _ in cell }
        let x = randomInput([5, 2, 3], seed: 14)
        for steps in 1...5 {
            let state = network(x.slice(0..<steps, along: 0)).state
            #expect(state[3].scalars == state[1].scalars, "after \(steps) steps")
        }
    }

    @Test(arguments: [false, true])
    func depthGatedLSTMPassesTheGradientCheck(peepholes: Bool) throws {
        let network = RecurrentNetwork(inputSize: 2, bidirectional: true) { _, size in
            DepthGatedLSTMCell(inputSize: size, hiddenSize: 2, layerCount: 3, peepholes: peepholes)
        }
        randomize(network, seed: 15)
        try checkStackedGradients(network)
    }

    /// Peepholes of all-zero weights leave today's cell (without them) exactly as it was.
    @Test func zeroPeepholesAreTheCellWithout() {
        let plain = DepthGatedLSTMCell(inputSize: 3, hiddenSize: 4, layerCount: 3)
        let peeping = DepthGatedLSTMCell(inputSize: 3, hiddenSize: 4, layerCount: 3, peepholes: true)
        randomize(plain, seed: 19)
        randomize(peeping, seed: 20)
        let plainParameters = Dictionary(uniqueKeysWithValues: plain.namedParameters().map { ($0.name, $0.parameter) })
        for (name, parameter) in peeping.namedParameters() {
            parameter.value = plainParameters[name]?.value ?? parameter.value.zerosLike()
        }
        #expect(peeping.namedParameters().count == plainParameters.count + 9)
        let x = randomInput([6, 3, 3], seed: 21)
        let (output, state) = RecurrentNetwork(inputSize: 3) { _, _ in peeping }(x, lengths: [6, 4, 1])
        let (expectedOutput, expectedState) = RecurrentNetwork(inputSize: 3) { _, _ in plain }(x, lengths: [6, 4, 1])
        #expect(output.scalars == expectedOutput.scalars)
        #expect(zip(state, expectedState).allSatisfy { $0.scalars == $1.scalars })
    }

    /// One step of a 2-layer cell of 2 units with peepholes, from the paper's equations in scalars:
    /// i and f peep at the layer's previous memory, o at its new memory (depth term included).
    @Test func peepholeStepByHand() {
        let cell = DepthGatedLSTMCell(inputSize: 3, hiddenSize: 2, layerCount: 2, peepholes: true)
        randomize(cell, seed: 22)
        let x = [0.4, -0.3, 0.8], previous = [[0.2, -0.6], [0.7, 0.1]], memory = [[0.5, -0.3], [-0.8, 0.4]]
        let state = zip(previous, memory).flatMap { [Tensor([$0], dtype: .float64), Tensor([$1], dtype: .float64)] }
        let (output, next) = cell.step(Tensor([x], dtype: .float64), state: state)
        var below = x, lowerMemory: [Double]?
        for (l, layer) in cell.layers.enumerated() {
            let bias = zip(layer.bias_ih.value.scalars, layer.bias_hh.value.scalars).map(+)
            let a = zip(zip(product(below, layer.weight_ih.value, rows: 0..<8), product(previous[l], layer.weight_hh.value, rows: 0..<8)).map(+),
                        bias).map(+)
            let (pi, pf, po) = (layer.peephole_i!.value, layer.peephole_f!.value, layer.peephole_o!.value)
            let newMemory = (0..<2).map { k -> Double in
                let c = memory[l][k]
                let i = sigmoid(a[k] + pi[k] * c), f = sigmoid(a[2 + k] + pf[k] * c)
                var new = f * c + i * Foundation.tanh(a[4 + k])
                if let lowerMemory {
                    let d = sigmoid(product(below, layer.depth_weight!.value, rows: k..<(k + 1))[0] + layer.depth_bias!.value[k]
                                    + layer.depth_cell!.value[k] * c + layer.depth_lower!.value[k] * lowerMemory[k])
                    new += d * lowerMemory[k]
                }
                return new
            }
            let h = (0..<2).map { k in sigmoid(a[6 + k] + po[k] * newMemory[k]) * Foundation.tanh(newMemory[k]) }
            for k in 0..<2 {
                #expect(abs(next[2 * l][0, k] - h[k]) < 1e-14 && abs(next[2 * l + 1][0, k] - newMemory[k]) < 1e-14, "layer \(l) unit \(k)")
            }
            (below, lowerMemory) = (h, newMemory)
        }
        #expect(output.scalars == next[2].scalars)
    }

    private func checkStackedGradients<Cell: RecurrentCell>(_ network: RecurrentNetwork<Cell>) throws {
        let x = randomInput([4, 2, 2], seed: 16)
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [4, 3])
            return concat([output.reshaped(to: [-1])] + state.map { $0.reshaped(to: [-1]) }, along: 0)
        }, at: [x], parameters: network.parameters())
    }
}
