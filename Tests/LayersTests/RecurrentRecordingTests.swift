import Testing
@testable import Layers

/// A network run by hand, one sequence at a time (so without padding), cell by cell and step
/// by step: the independent reference for the engine's recorded gradient flow and step states.
private struct ManualRun {
    /// Per sequence, per cell, the state after each step in the cell's run order.
    var states: [[[[Tensor]]]] = []
    /// Per sequence, the last layer's output [length, features].
    var outputs: [Tensor?] = []

    init(_ network: LSTM, _ x: Tensor, lengths: [Int]) {
        let directions = network.directions
        for (row, length) in lengths.enumerated() {
            var layerInput = (0..<length).map { x.select($0, along: 0).select(row, along: 0).reshaped(to: [1, -1]) }
            var rowStates: [[[Tensor]]] = []
            for layer in 0..<network.numLayers {
                var directionOutputs: [[Tensor]] = []
                for direction in 0..<directions {
                    let cell = network.cells[layer * directions + direction]
                    var state = cell.zeroState(batchSize: 1, dtype: .float64), kept: [[Tensor]] = [], outputs: [Tensor] = []
                    for input in direction == 0 ? layerInput : layerInput.reversed() {
                        let (output, next) = cell.step(input, state: state)
                        (state, outputs) = (next, outputs + [output])
                        kept.append(next)
                    }
                    rowStates.append(kept)
                    directionOutputs.append(direction == 0 ? outputs : outputs.reversed())
                }
                layerInput = (0..<length).map { t in concat(directionOutputs.map { $0[t] }, along: 1) }
            }
            states.append(rowStates)
            outputs.append(length > 0 ? concat(layerInput, along: 0) : nil)
        }
    }
}

@Suite struct RecurrentRecordingTests {
    private let time = 5
    private let lengths = [5, 3, 0, 4]

    private func network() -> LSTM {
        RandomGenerator.seedThread(21)
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        lstm.to(.float64)
        return lstm
    }

    private func data() -> (x: Tensor, weights: Tensor) {
        var generator = RandomGenerator(seed: 5)
        return (Tensor.randomNormal([time, lengths.count, 3], dtype: .float64, using: &generator),
                Tensor.randomNormal([time, lengths.count, 8], dtype: .float64, using: &generator))
    }

    /// ‖∂L/∂h_t‖ as recorded equals the norm, over the batch, of the gradients of the same loss
    /// with respect to the hand-run states: through every layer, both directions and lengths.
    @Test func recordedNormsEqualGradientsOfAHandRun() throws {
        let lstm = network(), (x, weights) = data()
        lstm.recordsGradientFlow = true
        #expect(lstm.stepsNeedRecording)
        let (output, _) = lstm(x, lengths: lengths)
        #expect(lstm.gradientFlow == nil)
        (output * weights).sum().backward()
        let flow = try #require(lstm.gradientFlow)
        #expect(flow.series.map(\.layer) == [0, 0, 1, 1] && flow.series.map(\.isReverse) == [false, true, false, true])

        let manual = ManualRun(lstm, x, lengths: lengths)
        var loss = Tensor(0, dtype: .float64), hidden: [Tensor] = []
        for (row, length) in lengths.enumerated() where length > 0 {
            loss = loss + (manual.outputs[row]! * weights.slice(0..<length, along: 0).select(row, along: 1)).sum()
            hidden += manual.states[row].flatMap { $0.map { $0[0] } }
        }
        var squares = Array(repeating: Array(repeating: 0.0, count: time), count: 4)
        var found = gradients(of: loss, withRespectTo: hidden).makeIterator()
        for length in lengths where length > 0 {
            for lane in 0..<4 {
                for step in 0..<length { squares[lane][step] += found.next()!.scalars.map { $0 * $0 }.reduce(0, +) }
            }
        }
        for lane in 0..<4 {
            for step in 0..<time {
                let recorded = flow.series[lane].norms[step], expected = squares[lane][step].squareRoot()
                #expect(abs(recorded - expected) <= 1e-12 * max(1, expected), "cell \(lane), step \(step)")
            }
        }
        #expect(flow.norms(layer: 1, reverse: true) == flow.series[3].norms)
    }

    /// Every step's h and c, in input time order, equal the hand run's; past a sequence's
    /// length each direction holds its final state, which the call returns.
    @Test func stepStatesEqualAHandRun() throws {
        let lstm = network(), (x, _) = data()
        lstm.collectsStepStates = true
        let (_, final) = lstm(x, lengths: lengths)
        let states = try #require(lstm.stepStates)
        #expect(states.map(\.shape) == [[4, time, 4, 4], [4, time, 4, 4]])
        let manual = ManualRun(lstm, x, lengths: lengths)
        for (row, length) in lengths.enumerated() {
            for lane in 0..<4 {
                let reverse = lane % 2 == 1
                for t in 0..<time {
                    for component in 0..<2 {
                        let engine = states[component].select(lane, along: 0).select(t, along: 0).select(row, along: 0)
                        let expected: Tensor
                        if length == 0 {
                            expected = Tensor(zeros: [4], dtype: .float64)
                        } else {
                            let step = t >= length ? length - 1 : reverse ? length - 1 - t : t
                            expected = manual.states[row][lane][step][component].reshaped(to: [4])
                        }
                        #expect(maxDifference(engine, expected) < 1e-14, "sequence \(row), cell \(lane), t \(t), component \(component)")
                    }
                }
                // The final state: forward at t = length − 1, reverse at t = 0 (both held past it).
                let finalStep = reverse ? 0 : max(length - 1, 0)
                for component in 0..<2 {
                    #expect(maxDifference(states[component].select(lane, along: 0).select(finalStep, along: 0).select(row, along: 0),
                                          final[component].select(lane, along: 0).select(row, along: 0)) == 0)
                }
            }
        }
    }

    /// Recording leaves results and gradients alone, and the network stays differentiable.
    @Test func recordingNetworkIsGradientChecked() throws {
        let lstm = network(), (x, weights) = data()
        let plain = lstm(x, lengths: lengths).output
        lstm.recordsGradientFlow = true
        lstm.collectsStepStates = true
        #expect(maxDifference(lstm(x, lengths: lengths).output, plain) == 0)
        try checkGradients(of: { inputs in
            let (output, state) = lstm(inputs[0], lengths: [2, 1])
            return (output * weights.slice(0..<2, along: 0).slice(0..<2, along: 1)).sum() + state[1].sum()
        }, at: [x.slice(0..<2, along: 0).slice(0..<2, along: 1).requiringGrad()], parameters: lstm.parameters(), fastMode: true)
    }

    /// Off again, a call records nothing and clears the previous records.
    @Test func turningOffClearsRecords() {
        let lstm = network(), (x, _) = data()
        lstm.recordsGradientFlow = true
        lstm.collectsStepStates = true
        lstm(x).output.sum().backward()
        #expect(lstm.gradientFlow != nil && lstm.stepStates != nil)
        lstm.recordsGradientFlow = false
        lstm.collectsStepStates = false
        #expect(!lstm.stepsNeedRecording)
        lstm(x).output.sum().backward()
        #expect(lstm.gradientFlow == nil && lstm.stepStates == nil)
    }
}
