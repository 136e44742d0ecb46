import Foundation
import Testing
@testable import Layers

/// A user cell that shows what its step reads: the output is the state it is given (after
/// any state dropout), the next state is all ones again, so with ones in, every output row
/// is the mask applied at that step.
final class ProbeCell: Module, RecurrentCell {
    let inputSize: Int, outputSize: Int
    init(size: Int) { (inputSize, outputSize) = (size, size) }
    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(ones: [batchSize, outputSize], dtype: dtype)] }
    func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        (input * state[0], [state[0].onesLike()])
    }
}

/// A user cell with its own parameter names: h' = tanh(x U + h ⊙ v + h R), state [h, count].
final class UserGatedCell: Module, RecurrentCell {
    let inputSize: Int, outputSize: Int
    let input_map: Parameter, recurrent: Parameter, diagonal: Parameter
    init(inputSize: Int, size: Int) {
        (self.inputSize, outputSize) = (inputSize, size)
        input_map = Parameter(Tensor(zeros: [inputSize, size]))
        recurrent = Parameter(Tensor(zeros: [size, size]))
        diagonal = Parameter(Tensor(zeros: [size]))
    }
    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, outputSize], dtype: dtype), Tensor(zeros: [batchSize, outputSize], dtype: dtype)]
    }
    func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let h = (matmul(input, input_map.value) + state[0] * diagonal.value + matmul(state[0], recurrent.value)).tanh()
        return (h, [h, state[1] + h])
    }
}

@Suite struct RecurrentRegularisationTests {
    private func ones(time: Int, batch: Int, features: Int) -> Tensor {
        Tensor(ones: [time, batch, features], dtype: .float64)
    }

    /// Rows of a [time, batch, features] tensor at time t.
    private func rows(_ x: Tensor, _ t: Int) -> [Double] { x.select(t, along: 0).scalars }

    @Test func variationalMasksAreOnePerSequenceAndSharedByEveryStep() {
        for probe in ["inputs", "state", "outputs"] {
            RandomGenerator.seedThread(3)
            let network = RecurrentNetwork(inputSize: 6) { _, _ in ProbeCell(size: 6) }
            network.regularisation.variationalDropout = VariationalDropout(
                inputs: probe == "inputs" ? 0.5 : 0, state: probe == "state" ? 0.5 : 0, outputs: probe == "outputs" ? 0.5 : 0)
            let output = network(ones(time: 5, batch: 4, features: 6)).output
            let first = rows(output, 0)
            #expect(Set(first) == [0, 2], "\(probe): entries are 0 or 1/(1 − p)")
            for t in 1..<5 { #expect(rows(output, t) == first, "\(probe): step \(t) reuses the mask") }
            let perRow = (0..<4).map { Array(first[($0 * 6)..<($0 * 6 + 6)]) }
            #expect(Set(perRow.map(\.description)).count > 1, "\(probe): each sequence has its own mask")
        }
    }

    /// Zoneout's masks are fresh per step: a counter cell (s' = s + 1) either advances or
    /// holds at each step, both happen, and in eval it advances by exactly 1 − p per step.
    @Test func zoneoutKeepsUnitsPerStepAndUsesTheExpectationInEval() {
        final class Counter: Module, RecurrentCell {
            let inputSize = 1, outputSize = 8
            func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(zeros: [batchSize, 8], dtype: dtype)] }
            func step(_ input: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
                (state[0] + 1, [state[0] + 1])
            }
        }
        RandomGenerator.seedThread(5)
        let network = RecurrentNetwork(inputSize: 1) { _, _ in Counter() }
        network.regularisation.zoneout = Zoneout(0.25)
        let steps = 40
        let (output, state) = network(ones(time: steps, batch: 3, features: 1))
        var previous = Array(repeating: 0.0, count: 24), advanced = 0, held = 0
        for t in 0..<steps {
            // The output is the cell's own (previous state + 1), the state advances or holds.
            #expect(rows(output, t) == previous.map { $0 + 1 })
            let current = t + 1 < steps ? rows(output, t + 1).map { $0 - 1 } : state[0].scalars
            for (old, new) in zip(previous, current) {
                #expect(new == old || new == old + 1)
                if new == old { held += 1 } else { advanced += 1 }
            }
            previous = current
        }
        let heldFraction = Double(held) / Double(held + advanced)
        #expect(abs(heldFraction - 0.25) < 0.05, "held \(heldFraction) of unit-steps")
        network.eval()
        let evaluated = network(ones(time: 4, batch: 2, features: 1)).state[0]
        #expect(evaluated.scalars.allSatisfy { abs($0 - 4 * 0.75) < 1e-12 })
    }

    /// Weight drop draws one mask per call: the whole sequence equals a plain network whose
    /// `weight_hh` is W ⊙ M, with M drawn here from the same seed; the weight is restored.
    @Test func weightDropIsOneMaskPerCallOnTheNamedWeight() {
        RandomGenerator.seedThread(1)
        let network = RNN(inputSize: 3, hiddenSize: 5)
        network.to(.float64)
        network.regularisation.weightDrop = WeightDrop(0.5)
        var generator = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([7, 2, 3], dtype: .float64, using: &generator)
        let weight = network.cells[0].weight_hh.value
        RandomGenerator.seedThread(9)
        let dropped = network(x).output
        #expect(network.cells[0].weight_hh.value.scalars == weight.scalars)
        let mask = definedMask(weight.count, seed: 9, probability: 0.5, hit: 0, miss: 2)
        let plain = RNN(inputSize: 3, hiddenSize: 5)
        plain.to(.float64)
        for (target, source) in zip(plain.parameters(), network.parameters()) { target.value = source.value }
        plain.cells[0].weight_hh.value = Tensor(zip(weight.scalars, mask).map(*), dtype: .float64).reshaped(to: weight.shape)
        let expected = plain(x).output
        #expect(zip(dropped.scalars, expected.scalars).allSatisfy { abs($0 - $1) < 1e-14 })
    }

    /// In eval, dropout and weight drop change nothing, to the bit.
    @Test func evalEqualsThePlainNetworkExactly() {
        RandomGenerator.seedThread(4)
        let network = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        var generator = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([5, 2, 3], dtype: .float32, using: &generator)
        let plain = noGrad { network(x, initialState: nil, lengths: nil) }
        network.regularisation = RecurrentRegularisation(
            variationalDropout: VariationalDropout(inputs: 0.3, state: 0.4, outputs: 0.2), weightDrop: WeightDrop(0.5))
        let training = noGrad { network(x, initialState: nil, lengths: nil) }
        #expect(training.output.scalars != plain.output.scalars)
        network.eval()
        #expect(!network.stepsNeedRegularisation)
        let evaluated = noGrad { network(x, initialState: nil, lengths: nil) }
        #expect(evaluated.output.scalars == plain.output.scalars)
        #expect(zip(evaluated.state, plain.state).allSatisfy { $0.scalars == $1.scalars })
    }

    @Test func stepsNeedRegularisationWhileAStepRegulariserIsOn() {
        let network = GRU(inputSize: 2, hiddenSize: 3)
        #expect(!network.stepsNeedRegularisation)
        network.regularisation.variationalDropout = VariationalDropout(inputs: 0.5, outputs: 0.5)
        #expect(!network.stepsNeedRegularisation)  // outside the steps
        network.regularisation.variationalDropout = VariationalDropout(state: 0.5)
        #expect(network.stepsNeedRegularisation)
        network.regularisation = RecurrentRegularisation(weightDrop: WeightDrop(0.2))
        #expect(network.stepsNeedRegularisation)
        network.eval()
        #expect(!network.stepsNeedRegularisation)
        network.regularisation.zoneout = Zoneout(0.1)
        #expect(network.stepsNeedRegularisation)  // its expectation runs in eval too
    }

    private static let settings: [(String, RecurrentRegularisation)] = [
        ("variational dropout", RecurrentRegularisation(variationalDropout: VariationalDropout(inputs: 0.3, state: 0.3, outputs: 0.3))),
        ("weight drop", RecurrentRegularisation(weightDrop: WeightDrop(0.4))),
        ("zoneout", RecurrentRegularisation(zoneout: Zoneout(0.3))),
    ]

    /// Gradient checks in float64 with fixed masks (the thread generator reseeded at every
    /// evaluation), for a built-in LSTM (2 layers, bidirectional, with lengths) and a user cell.
    @Test(arguments: 0..<3)
    func regularisedNetworksPassTheGradientCheck(_ setting: Int) throws {
        var (name, regularisation) = Self.settings[setting]
        RandomGenerator.seedThread(11)
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true)
        lstm.regularisation = regularisation
        try checkRegularisedGradients(lstm, name)
        let user = RecurrentNetwork(inputSize: 2) { _, size in UserGatedCell(inputSize: size, size: 3) }
        randomize(user, seed: 12)
        if regularisation.weightDrop != nil { regularisation.weightDrop = WeightDrop(0.4, parameters: ["recurrent", "diagonal"]) }
        user.regularisation = regularisation
        try checkRegularisedGradients(user, name)
    }

    private func checkRegularisedGradients<Cell: RecurrentCell>(_ network: RecurrentNetwork<Cell>, _ name: String) throws {
        network.to(.float64)
        var generator = RandomGenerator(seed: 13)
        let x = Tensor.randomNormal([4, 2, 2], dtype: .float64, using: &generator)
        let run = { (x: Tensor) -> Tensor in
            RandomGenerator.seedThread(21)
            let (output, state) = network(x, lengths: [4, 3])
            return concat([output.reshaped(to: [-1])] + state.map { $0.reshaped(to: [-1]) }, along: 0)
        }
        network.eval()
        let evaluated = run(x).scalars
        network.train()
        #expect(run(x).scalars != evaluated, "\(name) is active in training")
        try checkGradients(of: { run($0[0]) }, at: [x], parameters: network.parameters())
    }

    /// A user cell's state components: dropping component 1 only, and zoneout per component.
    @Test func userCellsChooseStateComponents() {
        RandomGenerator.seedThread(6)
        let network = RecurrentNetwork(inputSize: 2) { _, size in UserGatedCell(inputSize: size, size: 3) }
        randomize(network, seed: 2)
        network.regularisation.zoneout = Zoneout(probabilities: [0, 0.5])
        var generator = RandomGenerator(seed: 1)
        let x = Tensor.randomNormal([3, 2, 2], dtype: .float64, using: &generator)
        let reference = RecurrentNetwork(inputSize: 2) { _, size in UserGatedCell(inputSize: size, size: 3) }
        for (target, source) in zip(reference.parameters(), network.parameters()) { target.value = source.value }
        let (output, state) = network(x)
        let (plainOutput, plainState) = reference(x)
        // Component 0 is never zoned out, and the cell never reads component 1: h is unchanged.
        #expect(output.scalars == plainOutput.scalars && state[0].scalars == plainState[0].scalars)
        #expect(state[1].scalars != plainState[1].scalars)
    }

    @Test func misuseIsReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let network = RecurrentNetwork(inputSize: 2) { _, size in UserGatedCell(inputSize: size, size: 3) }
            network.regularisation.weightDrop = WeightDrop(0.5)
            _ = network(Tensor(zeros: [3, 2, 2]))
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("WeightDrop: UserGatedCell has no parameter 'weight_hh'"), "\(message)")
        }
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let network = GRU(inputSize: 2, hiddenSize: 3)
            network.regularisation.variationalDropout = VariationalDropout(state: 0.5, stateComponents: [1])
            _ = network(Tensor(zeros: [3, 2, 2]))
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("VariationalDropout: state component 1 of a GRUCell state of 1 components"), "\(message)")
        }
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Zoneout(1.0)
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("Zoneout: probability must be in [0, 1), got 1.0"), "\(message)")
        }
    }
}
