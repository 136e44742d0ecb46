import Foundation
import Testing
@testable import Layers

/// A minimal gated unit (Zhou et al. 2016) written as a user would: only the step.
///     f = σ(x W_fxᵀ + h W_fhᵀ + b_f),  h̃ = tanh(x W_xᵀ + (f ⊙ h) W_hᵀ + b),  h' = (1 − f) ⊙ h + f ⊙ h̃
final class MinimalGatedUnit: Module, RecurrentCell {
    let inputSize: Int, outputSize: Int
    let gateInput: Parameter, gateHidden: Parameter, gateBias: Parameter
    let candidateInput: Parameter, candidateHidden: Parameter, candidateBias: Parameter

    init(inputSize: Int, hiddenSize: Int) {
        self.inputSize = inputSize
        outputSize = hiddenSize
        func make(_ shape: [Int]) -> Parameter { Parameter(Tensor.randomUniform(shape, low: -0.5, high: 0.5)) }
        (gateInput, gateHidden, gateBias) = (make([hiddenSize, inputSize]), make([hiddenSize, hiddenSize]), make([hiddenSize]))
        (candidateInput, candidateHidden, candidateBias) = (make([hiddenSize, inputSize]), make([hiddenSize, hiddenSize]), make([hiddenSize]))
    }

    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(zeros: [batchSize, outputSize], dtype: dtype)] }

    func step(_ x: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let h = state[0]
        let f = (matmul(x, gateInput.value, transposeB: true) + matmul(h, gateHidden.value, transposeB: true) + gateBias.value).sigmoid()
        let candidate = (matmul(x, candidateInput.value, transposeB: true)
            + matmul(f * h, candidateHidden.value, transposeB: true) + candidateBias.value).tanh()
        let next = (1 - f) * h + f * candidate
        return (next, [next])
    }
}

@Suite struct RecurrentNetworkTests {
    private func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, dtype: .float64, using: &generator)
    }

    @Test func pyTorchParameterNames() {
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, projSize: 2)
        let expected = (0..<2).flatMap { layer in ["", "_reverse"].flatMap { direction in
            ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"].map { "\($0)_l\(layer)\(direction)" }
        } }
        #expect(lstm.namedParameters().map(\.name) == expected)
        #expect(lstm.parameterDictionary()["weight_ih_l1"]?.value.shape == [16, 4])  // layer 1 reads 2·P features
        #expect(GRU(inputSize: 3, hiddenSize: 5).namedParameters().map(\.name) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
    }

    @Test func stackedBidirectionalNetworksWithLengthsPassTheGradientCheck() throws {
        for network in [LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true) as Module,
                        GRU(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true),
                        RNN(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true),
                        RecurrentNetwork(inputSize: 2, numLayers: 2, bidirectional: true, batchFirst: true) { _, size in
                            JordanCell(inputSize: size, hiddenSize: 3, outputSize: 2) }] {
            randomize(network, seed: 3)
            let run = { (x: Tensor) -> Tensor in
                let lengths = [3, 1]
                switch network {
                case let lstm as LSTM: let (output, state) = lstm(x, lengths: lengths); return concat([output.flattened(), state[0].flattened(), state[1].flattened()], along: 0)
                case let gru as GRU: let (output, state) = gru(x, lengths: lengths); return concat([output.flattened(), state[0].flattened()], along: 0)
                case let rnn as RNN: let (output, state) = rnn(x, lengths: lengths); return concat([output.flattened(), state[0].flattened()], along: 0)
                case let jordan as RecurrentNetwork<JordanCell>: let (output, state) = jordan(x, lengths: lengths); return concat([output.flattened(), state[0].flattened()], along: 0)
                default: fatalError("unexpected network")
                }
            }
            try checkGradients(of: { run($0[0]) }, at: [input([2, 3, 2], seed: 4)], parameters: network.parameters())
        }
    }

    /// A padded batch gives each sequence exactly what running it alone gives: outputs at its
    /// valid steps, its final state, and the parameters' gradients; padding outputs are zero.
    @Test func paddingChangesNeitherResultsNorGradients() {
        let network = LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true)
        randomize(network, seed: 5)
        let padded = input([2, 4, 2], seed: 6), lengths = [4, 2]
        let (output, state) = network(padded, lengths: lengths)
        (output.sum() + state[0].sum() + state[1].sum()).backward()
        let batchedGradients = network.parameters().map { $0.grad! }
        network.zeroGrad()
        var summed: [Tensor]?
        for (row, length) in lengths.enumerated() {
            let alone = padded.slice(row..<(row + 1), along: 0).slice(0..<length, along: 1)
            let (aloneOutput, aloneState) = network(alone)
            #expect(maxDifference(aloneOutput, output.slice(row..<(row + 1), along: 0).slice(0..<length, along: 1)) < 1e-14)
            for (component, whole) in zip(aloneState, state) {
                #expect(maxDifference(component, whole.slice(row..<(row + 1), along: 1)) < 1e-14)
            }
            (aloneOutput.sum() + aloneState[0].sum() + aloneState[1].sum()).backward()
            summed = network.parameters().map { $0.grad! }
        }
        for (batched, separate) in zip(batchedGradients, summed!) { #expect(maxDifference(batched, separate) < 1e-13) }
        #expect(output.slice(1..<2, along: 0).slice(2..<4, along: 1).scalars.allSatisfy { $0 == 0 })
    }

    /// `network(x)` without destructuring is the output sequence, also inside a Sequential.
    @Test func plainCallReturnsTheOutputSequence() {
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true)
        let x = Tensor.randomNormal([2, 4, 2])
        let output: Tensor = lstm(x)
        #expect(output.scalars == lstm(x, initialState: nil, lengths: nil).output.scalars)
        let model = Sequential([lstm, Linear(3, 1)])
        #expect(model(x).shape == [2, 4, 1])
        #expect(model.namedParameters().map(\.name).first == "0.weight_ih_l0")
    }

    @Test func maskMatchesLengths() {
        let network = GRU(inputSize: 2, hiddenSize: 3, batchFirst: true, bidirectional: true)
        network.to(.float64)
        let x = input([2, 3, 2], seed: 8)
        let byLengths = network(x, lengths: [3, 1])
        let byMask = network(x, mask: Mask([true, true, true, true, false, false], shape: [2, 3]))
        #expect(byLengths.output.scalars == byMask.output.scalars && byLengths.state[0].scalars == byMask.state[0].scalars)
    }

    @Test func statefulRunsOverConsecutiveChunksEqualOneLongRun() {
        let network = RNN(inputSize: 2, hiddenSize: 3, numLayers: 2)
        randomize(network, seed: 9)
        let sequence = input([6, 2, 2], seed: 10)  // time-first
        let (whole, wholeState) = network(sequence)
        network.isStateful = true
        let first = network(sequence.slice(0..<4, along: 0)).output
        let (second, secondState) = network(sequence.slice(4..<6, along: 0))
        #expect(maxDifference(concat([first, second], along: 0), whole) < 1e-14)
        #expect(maxDifference(secondState[0], wholeState[0]) < 1e-14)
        network.resetState()
        #expect(network.carriedState == nil)
    }

    /// With truncation k, the loss at the last step gets no gradient from inputs more than k
    /// steps back; without it, it does.
    @Test func truncatedBackpropagationCutsTheGradient() {
        let network = LSTM(inputSize: 2, hiddenSize: 3)
        randomize(network, seed: 11)
        for truncation in [nil, 2] as [Int?] {
            network.truncation = truncation
            let x = input([5, 1, 2], seed: 12).requiringGrad()
            network(x).output.select(4, along: 0).sum().backward()
            let early = x.grad!.slice(0..<4, along: 0).scalars.map(abs).max()!
            let recent = x.grad!.select(4, along: 0).scalars.map(abs).max()!
            #expect(recent > 0)
            #expect(truncation == nil ? early > 0 : early == 0)
        }
    }

    @Test func dropoutActsBetweenLayersOnlyInTraining() {
        RandomGenerator.seedThread(13)
        let network = GRU(inputSize: 2, hiddenSize: 4, numLayers: 2, dropout: 0.5)
        network.to(.float64)
        let x = input([3, 2, 2], seed: 14)
        let training = network(x).output.scalars
        network.eval()
        let evaluation = network(x).output.scalars
        #expect(training != evaluation)
        #expect(network(x).output.scalars == evaluation)
    }

    /// The user-defined cell gets the whole engine and learns: recall the first of five ±1
    /// inputs (a small memory task), with plain SGD.
    @Test func userDefinedCellTrainsEndToEnd() {
        RandomGenerator.seedThread(15)
        let network = RecurrentNetwork(inputSize: 1, batchFirst: true) { _, size in MinimalGatedUnit(inputSize: size, hiddenSize: 8) }
        let readout = Parameter(Tensor.randomUniform([1, 8], low: -0.3, high: 0.3))
        var generator = RandomGenerator(seed: 16)
        func loss() -> Tensor {
            let bits = (0..<32 * 5).map { _ in generator.nextUniform() < 0.5 ? -1.0 : 1.0 }
            let x = Tensor(bits, shape: [32, 5, 1])
            let final = network(x).state[0]
            let target = x.select(0, along: 1)
            let error = matmul(final, readout.value, transposeB: true) - target
            return (error * error).mean()
        }
        let initial = noGrad { (0..<4).map { _ in loss().item() }.reduce(0, +) / 4 }
        for _ in 0..<300 {
            let value = loss()
            value.backward()
            for parameter in network.parameters() + [readout] {
                parameter.value = noGrad { parameter.value - 0.5 * parameter.grad! }
                parameter.zeroGrad()
            }
        }
        let final = noGrad { (0..<4).map { _ in loss().item() }.reduce(0, +) / 4 }
        #expect(final < 0.2 * initial, "loss \(initial) → \(final)")
    }

    /// A wrong initial state stops with a message naming the expected layout.
    @Test func wrongInitialStateShapeIsReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let lstm = LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2)
            _ = lstm(Tensor(zeros: [4, 1, 2]), initialState: [Tensor(zeros: [1, 1, 3]), Tensor(zeros: [1, 1, 3])])
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("initial state of shapes [[1, 1, 3], [1, 1, 3]]") && message.contains("[[2, 1, 3], [2, 1, 3]]"))
        }
    }
}

func maxDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}
