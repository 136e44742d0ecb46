import Foundation
import Testing
@testable import Layers

/// A step that reads the time: h' = tanh(x + h W_hᵀ) + t. Its traces differ from step to step,
/// so the engine must run it op by op.
final class TimeShiftedCell: Module, ContextualRecurrentCell {
    let inputSize: Int, outputSize: Int
    let weight: Parameter
    init(size: Int) {
        (inputSize, outputSize) = (size, size)
        weight = Parameter(Tensor.randomUniform([size, size], low: -0.5, high: 0.5, dtype: .float64))
    }
    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(zeros: [batchSize, outputSize], dtype: dtype)] }
    func step(prepared input: Tensor, state: [Tensor], time: Int, context: Void) -> (output: Tensor, state: [Tensor]) {
        let next = (input + matmul(state[0], weight.value, transposeB: true)).tanh() + Double(time)
        return (next, [next])
    }
}

/// The engine's compiled path (each cell's step traced, differentiated and compiled) against
/// its op-by-op path, in float64: outputs, final states and every gradient, for the built-in
/// cells and a user cell, with every engine feature.
@Suite struct CompiledStepsTests {
    /// A network's outputs, states and gradients (inputs, initial state, parameters) for a
    /// loss that reads every output and every state component.
    /// (The input requires gradients if `inputGradient`.)
    private func run<Cell: RecurrentCell>(_ network: RecurrentNetwork<Cell>, compiled: Bool, lengths: [Int]?,
                                          initialState: [Tensor]?, inputGradient: Bool = true) -> [Tensor] {
        network.usesCompiledSteps = compiled
        var generator = RandomGenerator(seed: 7)
        let batch = lengths?.count ?? initialState?[0].shape[1] ?? 3
        let x = Tensor.randomNormal([5, batch, network.cells[0].inputSize], dtype: .float64, using: &generator)
            .requiringGrad(inputGradient)
        let initial = initialState?.map { $0.requiringGrad() }
        let (output, state) = network(x, initialState: initial, lengths: lengths)
        let weights = Tensor.randomNormal(output.shape, dtype: .float64, using: &generator)
        let loss = (output * weights).sum() + state.map { ($0 * $0).sum() }.reduce(Tensor(0, dtype: .float64), +)
        let parameters = network.parameters().map(\.value)
        let gradients = AutoGrad.gradients(of: loss, withRespectTo: [x] + (initial ?? []) + parameters)
        return [output] + state + gradients
    }

    private func expectCompiledEqualsEager<Cell: RecurrentCell>(_ network: RecurrentNetwork<Cell>, lengths: [Int]? = nil,
                                                               initialState: [Tensor]? = nil, inputGradient: Bool = true,
                                                               sourceLocation: SourceLocation = #_sourceLocation) {
        let eager = run(network, compiled: false, lengths: lengths, initialState: initialState, inputGradient: inputGradient)
        let compiled = run(network, compiled: true, lengths: lengths, initialState: initialState, inputGradient: inputGradient)
        for (position, (a, b)) in zip(eager, compiled).enumerated() {
            #expect(maxDifference(a, b) <= 1e-12, "result \(position)", sourceLocation: sourceLocation)
        }
    }

    /// The module converted to float64.
    private func float64<M: Module>(_ module: M) -> M {
        module.to(.float64)
        return module
    }

    @Test func builtInCellsMatchTheirOpByOpRun() {
        RandomGenerator.seedThread(1)
        let lstm = float64(LSTM(inputSize: 4, hiddenSize: 6))
        let gru = float64(GRU(inputSize: 4, hiddenSize: 5))
        let rnn = float64(RNN(inputSize: 4, hiddenSize: 5))
        let projected = float64(LSTM(inputSize: 4, hiddenSize: 6, projSize: 3))
        expectCompiledEqualsEager(lstm)
        expectCompiledEqualsEager(gru)
        expectCompiledEqualsEager(rnn)
        expectCompiledEqualsEager(projected)
    }

    /// A batch of 16 runs as two lanes of 8 rows, one per thread (each lane's rows through all
    /// the steps, forward and backward): the same values as op by op, for a stacked
    /// bidirectional LSTM with lengths and initial state, a GRU with truncation and a user cell.
    @Test func lanesMatchTheOpByOpRun() {
        RandomGenerator.seedThread(11)
        let lengths = [5, 2, 4, 5, 1, 3, 5, 5, 4, 0, 2, 5, 3, 5, 1, 4]
        let stacked = float64(LSTM(inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true))
        let gru = float64(GRU(inputSize: 4, hiddenSize: 5))
        gru.truncation = 2
        let user = float64(RecurrentNetwork(inputSize: 4, numLayers: 1) { _, size in MinimalGatedUnit(inputSize: size, hiddenSize: 5) })
        // Four threads for the bidirectional network: its two directions side by side, two lanes each.
        (stacked.laneLimit, gru.laneLimit, user.laneLimit) = (4, 2, 2)
        let initial = [Tensor.randomNormal([4, 16, 5], dtype: .float64), Tensor.randomNormal([4, 16, 5], dtype: .float64)]
        expectCompiledEqualsEager(stacked, lengths: lengths, initialState: initial)
        expectCompiledEqualsEager(gru, lengths: lengths)
        expectCompiledEqualsEager(user, lengths: lengths)
        // The runs were split in two lanes.
        stacked.usesCompiledSteps = true
        let x = Tensor.randomNormal([5, 16, 4], dtype: .float64).requiringGrad()
        #expect(Graph(stacked(x).output).description.contains("concurrent_recurrent_runs[lanes=[2,2] reversed=[1] joined=true]"))
        #expect(Graph(gru(x).output).description.contains("compiled_recurrent_run[stateCount=1 lanes=2"))
    }

    /// A bidirectional layer's directions run side by side, one thread each, when there are
    /// two threads (one op for both); with one thread, one after the other (an op each).
    @Test func directionsRunSideBySide() {
        RandomGenerator.seedThread(12)
        let gru = float64(GRU(inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true))
        for threads in [1, 2] {
            gru.laneLimit = threads
            expectCompiledEqualsEager(gru, lengths: [5, 2, 4])
            let graph = Graph(gru(Tensor.randomNormal([5, 3, 4], dtype: .float64).requiringGrad()).output)
            let names = graph.operations.compactMap { $0.primitive?.name }
            #expect(names.filter { $0 == "concurrent_recurrent_runs" }.count == (threads == 2 ? 2 : 0))
            #expect(names.filter { $0 == "compiled_recurrent_run" }.count == (threads == 2 ? 0 : 4))
        }
    }

    /// A compiled run drops each step's residuals once its backward step has read them, unless
    /// the graph is retained: then a second backward pass gives the same gradients.
    /// Bidirectional too: its directions' runs, side by side, get the caller's choice.
    @Test(arguments: [false, true])
    func retainedGraphKeepsTheResiduals(bidirectional: Bool) {
        RandomGenerator.seedThread(9)
        let lstm = float64(LSTM(inputSize: 4, hiddenSize: 6, bidirectional: bidirectional))
        lstm.laneLimit = 2
        let x = Tensor.randomNormal([5, 3, 4], dtype: .float64).requiringGrad()
        let output = lstm(x).output
        let loss = (output * output).sum()
        let wrt = [x] + lstm.parameters().map(\.value)
        let first = AutoGrad.gradients(of: loss, withRespectTo: wrt, retainGraph: true)
        let second = AutoGrad.gradients(of: loss, withRespectTo: wrt)
        for (a, b) in zip(first, second) { #expect(a.scalars == b.scalars) }
    }

    /// A reverse direction whose sequences all have the run's length steps from the last time
    /// to the first through its sequences in place (no gathers), and the directions write their
    /// outputs side by side into the layer's output (no concatenation); with shorter sequences
    /// it runs on them reversed within their lengths, its outputs put back in time order and
    /// concatenated. Both match the op-by-op run: with lanes, side by side, truncated, from an
    /// initial state.
    @Test func reverseDirectionStepsBackwardInPlace() {
        RandomGenerator.seedThread(13)
        let stacked = float64(LSTM(inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true))
        stacked.truncation = 2
        stacked.laneLimit = 4
        let initial = [Tensor.randomNormal([4, 16, 5], dtype: .float64), Tensor.randomNormal([4, 16, 5], dtype: .float64)]
        expectCompiledEqualsEager(stacked, lengths: nil, initialState: initial)
        expectCompiledEqualsEager(stacked, lengths: Array(repeating: 5, count: 16), initialState: initial)
        let single = float64(GRU(inputSize: 4, hiddenSize: 5, bidirectional: true))
        single.laneLimit = 1  // the directions one after the other, an op each
        expectCompiledEqualsEager(single)
        stacked.usesCompiledSteps = true
        let x = Tensor.randomNormal([5, 16, 4], dtype: .float64).requiringGrad()
        for lengths in [nil, Array(repeating: 5, count: 16), [5, 2, 4, 5, 1, 3, 5, 5, 4, 0, 2, 5, 3, 5, 1, 4]] {
            let graph = Graph(stacked(x, lengths: lengths).output)
            let inPlace = lengths?.allSatisfy { $0 == 5 } ?? true
            #expect(graph.description.contains("concurrent_recurrent_runs[lanes=[2,2]"))
            #expect(graph.description.contains("reversed=[1] joined=true]") == inPlace)
            #expect(graph.operations.contains { $0.primitive?.name == "gather" } == !inPlace)
            #expect(graph.operations.contains { $0.primitive?.name == "concatenate" } == !inPlace)
        }
        let graph = Graph(single(x).output)
        #expect(graph.operations.filter { $0.primitive?.name == "compiled_recurrent_run" }.count == 2)
        #expect(graph.description.contains("reversed=true") && !graph.operations.contains { $0.primitive?.name == "gather" })
    }

    @Test func everyEngineFeatureMatchesTheOpByOpRun() {
        RandomGenerator.seedThread(2)
        let stacked = float64(LSTM(inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true))
        expectCompiledEqualsEager(stacked)
        expectCompiledEqualsEager(stacked, lengths: [5, 2, 4])
        expectCompiledEqualsEager(stacked, lengths: [0, 5, 3])
        let initial = [Tensor.randomNormal([4, 3, 5], dtype: .float64), Tensor.randomNormal([4, 3, 5], dtype: .float64)]
        expectCompiledEqualsEager(stacked, lengths: [3, 5, 1], initialState: initial)
        let truncated = float64(GRU(inputSize: 4, hiddenSize: 5, bidirectional: true))
        truncated.truncation = 2
        expectCompiledEqualsEager(truncated, lengths: [5, 4, 2])
    }

    /// Regularisation runs compiled too (its masks are step inputs, drawn in the op-by-op
    /// order): the same seed gives the same masks, results and gradients both ways.
    /// Regularised runs, with a batch of 3 (one lane) and of 16 (two lanes per direction: each
    /// reads its rows of the state-dropout masks drawn for the whole batch, and draws its own
    /// rows of each step's zoneout masks).
    /// Full lengths: the reverse directions step backward in place, drawing their zoneout
    /// masks in their own step order.
    @Test(arguments: [[5, 2, 4], [5, 2, 4, 5, 1, 3, 5, 5, 4, 0, 2, 5, 3, 5, 1, 4], Array(repeating: 5, count: 16)])
    func regularisedRunsMatchTheirOpByOpRun(lengths: [Int]) {
        let network = float64(LSTM(inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true))
        network.laneLimit = 4
        network.regularisation = RecurrentRegularisation(
            variationalDropout: VariationalDropout(inputs: 0.2, state: 0.3, outputs: 0.1, stateComponents: [0, 1]),
            weightDrop: WeightDrop(0.4), zoneout: Zoneout(probabilities: [0.1, 0.3]))
        func seeded(compiled: Bool) -> [Tensor] {
            RandomGenerator.seedThread(21)
            return run(network, compiled: compiled, lengths: lengths, initialState: nil)
        }
        let (eager, compiled) = (seeded(compiled: false), seeded(compiled: true))
        for (position, (a, b)) in zip(eager, compiled).enumerated() {
            #expect(maxDifference(a, b) <= 1e-12, "result \(position)")
        }
        network.usesCompiledSteps = true
        RandomGenerator.seedThread(21)
        let x = Tensor.randomNormal([5, lengths.count, 4], dtype: .float64)
        let graph = Graph(network(x).output)
        #expect(graph.operations.filter { $0.primitive!.name == "concurrent_recurrent_runs" }.count == 2)  // a layer's directions side by side
        #expect(graph.description.contains("lanes=[2,2]") == (lengths.count == 16))
        // The layers' output masks (the second layer's input mask, the network's output mask)
        // are multiplied inside the steps: no product over a whole layer output sequence.
        #expect(!graph.operations.contains { $0.primitive!.name == "mul" && $0.shape == [5, lengths.count, 10] })
        network.eval()
        expectCompiledEqualsEager(network, lengths: lengths)  // zoneout's expectation, no masks
    }

    @Test func userCellMatchesItsOpByOpRun() {
        RandomGenerator.seedThread(3)
        let network = float64(RecurrentNetwork(inputSize: 4, numLayers: 2, bidirectional: true) { _, size in
            MinimalGatedUnit(inputSize: size, hiddenSize: 5)
        })
        expectCompiledEqualsEager(network)
        expectCompiledEqualsEager(network, lengths: [2, 5, 4])
    }

    /// The compiled run is one op on the tape; a step that reads the time is not compiled
    /// (and still computes what its op-by-op definition says).
    @Test func compiledOnlyWhereEveryStepIsTheSameProgram() {
        RandomGenerator.seedThread(4)
        let lstm = float64(LSTM(inputSize: 2, hiddenSize: 3))
        let x = Tensor.randomNormal([4, 2, 2], dtype: .float64)
        let names = Graph(lstm(x).output).operations.map { $0.primitive!.name }
        #expect(names.contains("compiled_recurrent_run") && !names.contains("tanh"))

        let timed = RecurrentNetwork(inputSize: 2) { _, _ in TimeShiftedCell(size: 2) }
        let (output, _) = timed(x)
        #expect(!Graph(output).operations.contains { $0.primitive!.name == "compiled_recurrent_run" })
        var h = Tensor(zeros: [2, 2], dtype: .float64)
        for t in 0..<4 {
            h = (x.select(t, along: 0) + matmul(h, timed.cells[0].weight.value, transposeB: true)).tanh() + Double(t)
            #expect(maxDifference(output.select(t, along: 0), h) <= 1e-15)
        }
    }

    /// A user cell's input projections (rows of x times a weight) are split off and run for
    /// all steps at once, and so is a built-in cell's `prepareInputs`, which the engine traces
    /// before its step.
    @Test func inputPartIsSplitOff() {
        RandomGenerator.seedThread(10)
        let user = MinimalGatedUnit(inputSize: 3, hiddenSize: 4), builtIn = LSTMCell(inputSize: 3, hiddenSize: 4)
        let x = Tensor.randomNormal([2, 3]), state = [Tensor.randomNormal([2, 4])]
        let userStep = CompiledStep.make(step: { x, state, _, _ in user.step(x, state: state) }, input: x, state: state, masked: false,
                                         parameters: user.parameters())
        #expect(userStep?.inputCount == 2 && userStep?.inputPart?.parameters.count == 2)
        #expect(userStep?.parameters.count == 4)  // the hidden weights and both biases
        let builtInStep = CompiledStep.make(step: { x, state, _, _ in builtIn.step(prepared: x, state: state) }, input: Tensor.randomNormal([2, 16]),
                                            state: state + state, masked: false, parameters: builtIn.parameters())
        #expect(builtInStep?.inputPart == nil && builtInStep?.parameters.count == 2)  // weight_hh, bias_hh
        let engineStep = CompiledStep.make(step: { x, state, _, _ in builtIn.step(prepared: builtIn.prepareInputs(x), state: state) },
                                           input: x, state: state + state, masked: false, parameters: builtIn.parameters())
        #expect(engineStep?.inputCount == 1 && engineStep?.inputPart?.parameters.count == 2)  // weight_ih, bias_ih
        #expect(engineStep?.parameters.count == 2)
    }

    /// A compiled run makes its step's input part itself, for all steps at once: no product of
    /// it is recorded beside the run. Its gradient matches the op-by-op run's with and without
    /// the input's (a first layer's input needs none), also for a part whose gradient is
    /// shaped by its rows (a layer norm's, traced again for the run's rows).
    @Test func runsEvaluateTheirInputPart() {
        RandomGenerator.seedThread(12)
        let lstm = float64(LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true))
        let layerNorm = float64(LayerNormLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true))
        let x = Tensor.randomNormal([5, 3, 3], dtype: .float64)
        for compiled in [true, false] {
            lstm.usesCompiledSteps = compiled
            #expect(Graph(lstm(x).output).operations.contains { $0.primitive!.name == "matmul" } == !compiled)
        }
        for inputGradient in [false, true] {
            expectCompiledEqualsEager(lstm, lengths: [5, 2, 4], inputGradient: inputGradient)
            expectCompiledEqualsEager(layerNorm, lengths: [5, 2, 4], inputGradient: inputGradient)
        }
    }

    /// Gradients of gradients: the compiled run's pullback, recorded, runs the same programs
    /// as ops, so a second derivative equals the op-by-op one.
    /// Second order, with a batch of 2 (one lane) and of 16 (two lanes, recorded lane after lane),
    /// for an LSTM and a bidirectional one (its directions side by side, recorded one after the other).
    /// Full lengths: a reverse direction stepping backward in place, recorded.
    @Test(arguments: [[5, 3], [5, 3, 4, 5, 1, 2, 5, 5, 3, 4, 5, 2, 1, 5, 4, 3], Array(repeating: 5, count: 16)])
    func secondOrderGradientsMatch(lengths: [Int]) {
        for bidirectional in [false, true] {
            expectSecondOrderGradientsMatch(lengths: lengths, bidirectional: bidirectional)
        }
    }

    /// The second-order check of one network (bidirectional: its directions side by side).
    private func expectSecondOrderGradientsMatch(lengths: [Int], bidirectional: Bool) {
        RandomGenerator.seedThread(5)
        let lstm = float64(LSTM(inputSize: 3, hiddenSize: 4, bidirectional: bidirectional))
        lstm.truncation = 2
        lstm.laneLimit = bidirectional ? 4 : 2
        func gradientPenalty(compiled: Bool) -> [Tensor] {
            lstm.usesCompiledSteps = compiled
            var generator = RandomGenerator(seed: 9)
            let x = Tensor.randomNormal([5, lengths.count, 3], dtype: .float64, using: &generator).requiringGrad()
            let loss = lstm(x, lengths: lengths).output.tanh().sum()
            let inputGradient = AutoGrad.gradients(of: loss, withRespectTo: [x], createGraph: true)[0]
            return AutoGrad.gradients(of: (inputGradient * inputGradient).sum(), withRespectTo: lstm.parameters().map(\.value))
        }
        for (eager, compiled) in zip(gradientPenalty(compiled: false), gradientPenalty(compiled: true)) {
            #expect(maxDifference(eager, compiled) <= 1e-12)
        }
    }

    /// The public gradient checker through the compiled path (finite differences in float64).
    @Test func compiledRunPassesTheGradientCheck() throws {
        RandomGenerator.seedThread(6)
        let gru = float64(GRU(inputSize: 2, hiddenSize: 3, bidirectional: true))
        let x = Tensor.randomNormal([4, 2, 2], dtype: .float64)
        try checkGradients(of: { inputs in gru(inputs[0], lengths: [4, 2]).output.sum() }, at: [x], parameters: gru.parameters())
        // Without lengths the reverse direction steps backward in place; each output weighed.
        let weights = Tensor.randomNormal([4, 2, 6], dtype: .float64)
        try checkGradients(of: { inputs in (gru(inputs[0]).output * weights).sum() }, at: [x], parameters: gru.parameters())
    }

    /// Inference (no recording) runs the compiled step without residuals and gives the same values.
    @Test func inferenceMatchesTraining() {
        RandomGenerator.seedThread(8)
        let lstm = float64(LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2))
        let x = Tensor.randomNormal([6, 2, 3], dtype: .float64)
        let recorded = lstm(x, lengths: [6, 4]).output
        let inferred = noGrad { lstm(x, lengths: [6, 4]).output }
        #expect(maxDifference(recorded, inferred) == 0)
    }
}
