import Testing
@testable import Layers

/// One step written out from a cell's equations: output, state and gates by name.
private typealias Equations = (_ cell: Int, _ x: Tensor, _ state: [Tensor]) -> (output: Tensor, state: [Tensor], gates: [String: Tensor])

/// A network's gates computed by hand, one sequence at a time (so without padding), cell by
/// cell and step by step from `equations`: per sequence, per cell, the gates of each step in
/// the cell's run order.
private func manualGates<Cell>(_ network: RecurrentNetwork<Cell>, _ x: Tensor, lengths: [Int],
                               equations: Equations) -> [[[[String: Tensor]]]] {
    let directions = network.directions
    return lengths.enumerated().map { row, length in
        var layerInput = (0..<length).map { x.select($0, along: 0).select(row, along: 0).reshaped(to: [1, -1]) }
        var rowGates: [[[String: Tensor]]] = []
        for layer in 0..<network.numLayers {
            var directionOutputs: [[Tensor]] = []
            for direction in 0..<directions {
                let index = layer * directions + direction
                var state = network.cells[index].zeroState(batchSize: 1, dtype: .float64)
                var outputs: [Tensor] = [], gates: [[String: Tensor]] = []
                for input in direction == 0 ? layerInput : layerInput.reversed() {
                    let step = equations(index, input, state)
                    (state, outputs, gates) = (step.state, outputs + [step.output], gates + [step.gates])
                }
                rowGates.append(gates)
                directionOutputs.append(direction == 0 ? outputs : outputs.reversed())
            }
            layerInput = (0..<length).map { t in concat(directionOutputs.map { $0[t] }, along: 1) }
        }
        return rowGates
    }
}

/// x W_kᵀ + b_k + h U_kᵀ + c_k for gate block k of stacked weights (W_ih, W_hh, b_ih, b_hh).
private func preactivation(_ block: Int, of blocks: Int, _ x: Tensor, _ h: Tensor, weights: [Parameter?]) -> Tensor {
    let (wi, wh, bi, bh) = (weights[0]!.value.chunked(into: blocks, along: 0)[block], weights[1]!.value.chunked(into: blocks, along: 0)[block],
                            weights[2]!.value.chunked(into: blocks, along: 0)[block], weights[3]!.value.chunked(into: blocks, along: 0)[block])
    return matmul(x, wi, transposeB: true) + bi + matmul(h, wh, transposeB: true) + bh
}

/// ``RecurrentNetwork/stepGates``: for LSTM and GRU networks, stacked and bidirectional, with
/// lengths, every step's gates equal a hand run of the cell's equations.
@Suite struct RecurrentGatesTests {
    private let time = 5
    private let lengths = [5, 3, 0, 4]
    private let hidden = 4

    private func input() -> Tensor {
        var generator = RandomGenerator(seed: 31)
        return Tensor.randomNormal([time, lengths.count, 3], dtype: .float64, using: &generator)
    }

    /// The engine's gates against the hand run's, lane by lane in input time order: the
    /// reverse direction computed input step t's gates at its step length − 1 − t; past a
    /// sequence's length they are zero.
    private func expectGates(_ recorded: [String: Tensor], equal manual: [[[[String: Tensor]]]], names: [String]) {
        #expect(recorded.keys.sorted() == names.sorted())
        for name in names {
            #expect(recorded[name]?.shape == [4, time, lengths.count, hidden])
            guard let gate = recorded[name] else { continue }
            for (row, length) in lengths.enumerated() {
                for lane in 0..<4 {
                    for t in 0..<time {
                        let engine = gate.select(lane, along: 0).select(t, along: 0).select(row, along: 0)
                        let expected = t < length ? manual[row][lane][lane % 2 == 1 ? length - 1 - t : t][name]!.reshaped(to: [hidden])
                            : Tensor(zeros: [hidden], dtype: .float64)
                        #expect(maxDifference(engine, expected) < 1e-12, "\(name), sequence \(row), cell \(lane), t \(t)")
                    }
                }
            }
        }
    }

    @Test func lstmGatesEqualTheEquations() throws {
        RandomGenerator.seedThread(22)
        let lstm = LSTM(inputSize: 3, hiddenSize: hidden, numLayers: 2, bidirectional: true)
        lstm.to(.float64)
        let x = input()
        let plain = lstm(x, lengths: lengths)
        lstm.collectsStepGates = true
        #expect(lstm.stepsNeedRecording)
        let (output, state) = lstm(x, lengths: lengths)
        #expect(maxDifference(output, plain.output) < 1e-14 && maxDifference(state[1], plain.state[1]) < 1e-14)
        let manual = manualGates(lstm, x, lengths: lengths) { index, x, state in
            let cell = lstm.cells[index], (h, c) = (state[0], state[1])
            let weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
            let i = preactivation(0, of: 4, x, h, weights: weights).sigmoid(), f = preactivation(1, of: 4, x, h, weights: weights).sigmoid()
            let g = preactivation(2, of: 4, x, h, weights: weights).tanh(), o = preactivation(3, of: 4, x, h, weights: weights).sigmoid()
            let newCell = f * c + i * g
            let newHidden = o * newCell.tanh()
            return (newHidden, [newHidden, newCell], ["i": i, "f": f, "g": g, "o": o])
        }
        expectGates(try #require(lstm.stepGates), equal: manual, names: ["i", "f", "g", "o"])
    }

    @Test(arguments: [true, false])
    func gruGatesEqualTheEquations(resetAfter: Bool) throws {
        RandomGenerator.seedThread(23)
        let gru = RecurrentNetwork(inputSize: 3, numLayers: 2, bidirectional: true) { _, size in
            GRUCell(inputSize: size, hiddenSize: hidden, resetAfter: resetAfter)
        }
        gru.to(.float64)
        gru.collectsStepGates = true
        let x = input()
        _ = gru(x, lengths: lengths)
        let manual = manualGates(gru, x, lengths: lengths) { index, x, state in
            let cell = gru.cells[index], h = state[0]
            let weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
            let r = preactivation(0, of: 3, x, h, weights: weights).sigmoid(), z = preactivation(1, of: 3, x, h, weights: weights).sigmoid()
            let (wi, wh) = (cell.weight_ih.value.chunked(into: 3, along: 0)[2], cell.weight_hh.value.chunked(into: 3, along: 0)[2])
            let (bi, bh) = (cell.bias_ih!.value.chunked(into: 3, along: 0)[2], cell.bias_hh!.value.chunked(into: 3, along: 0)[2])
            // PyTorch's n resets the recurrent product; Cho et al.'s resets h before it.
            let recurrent = resetAfter ? r * (matmul(h, wh, transposeB: true) + bh) : matmul(r * h, wh, transposeB: true) + bh
            let n = (matmul(x, wi, transposeB: true) + bi + recurrent).tanh()
            let next = (1 - z) * n + z * h
            return (next, [next], ["r": r, "z": z, "n": n])
        }
        expectGates(try #require(gru.stepGates), equal: manual, names: ["r", "z", "n"])
    }

    /// A cell that reports no gates gives an empty record; off again, a call records nothing.
    @Test func cellsWithoutGatesAndTurningOff() throws {
        let rnn = RNN(inputSize: 3, hiddenSize: hidden)
        rnn.collectsStepGates = true
        _ = rnn(Tensor(zeros: [2, 1, 3]))
        #expect(try #require(rnn.stepGates).isEmpty)
        rnn.collectsStepGates = false
        #expect(!rnn.stepsNeedRecording)
        _ = rnn(Tensor(zeros: [2, 1, 3]))
        #expect(rnn.stepGates == nil)
    }

    /// The gates are the run's own tensors: a loss on them reaches the weights, and gradients
    /// through them pass the checker.
    @Test func gatesAreDifferentiable() throws {
        RandomGenerator.seedThread(24)
        let lstm = LSTM(inputSize: 3, hiddenSize: 2)
        lstm.to(.float64)
        lstm.collectsStepGates = true
        let x = input().slice(0..<3, along: 0).slice(0..<2, along: 1)
        try checkGradients(of: { inputs in
            _ = lstm(inputs[0], lengths: [3, 2])
            return lstm.stepGates!["f"]!.sum() + (lstm.stepGates!["g"]! * lstm.stepGates!["o"]!).sum()
        }, at: [x.requiringGrad()], parameters: lstm.parameters())
    }
}
