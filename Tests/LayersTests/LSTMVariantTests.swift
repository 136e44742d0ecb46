import Foundation
import Testing
@testable import Layers

/// Greff et al.'s eight LSTM variants as `LSTMCell` options.
@Suite struct LSTMVariantTests {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        return Tensor.randomNormal(shape, dtype: .float64, using: &generator)
    }

    /// Every new option at its neutral value, and the NP variant, compute PyTorch's LSTM step
    /// (written here with plain tensor ops in the same order) to the last bit.
    @Test func allOptionsOffIsThePlainLSTMBitwise() {
        let neutral = LSTMCell(inputSize: 3, hiddenSize: 4, peepholes: false, couplesInputAndForgetGates: false,
                               inputGate: true, forgetGate: true, outputGate: true, fullGateRecurrence: false,
                               learnsInitialState: false)
        let np = LSTMCell(inputSize: 3, hiddenSize: 4, variant: .noPeepholes)
        let x = random([2, 3], seed: 1), h = random([2, 4], seed: 2), c = random([2, 4], seed: 3)
        for cell in [neutral, np] {
            randomize(cell, seed: 9)
            #expect(cell.namedParameters().map(\.name) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"])
            let z = (matmul(x, cell.weight_ih.value, transposeB: true) + cell.bias_ih!.value)
                + (matmul(h, cell.weight_hh.value, transposeB: true) + cell.bias_hh!.value)
            let gates = z.chunked(into: 4, along: 1)
            let newCell = gates[1].sigmoid() * c + gates[0].sigmoid() * gates[2].tanh()
            let newHidden = gates[3].sigmoid() * newCell.tanh()
            let (output, state) = cell.step(x, state: [h, c])
            #expect(output.scalars == newHidden.scalars)
            #expect(state.count == 2 && state[0].scalars == newHidden.scalars && state[1].scalars == newCell.scalars)
        }
    }

    @Test(arguments: LSTMCell.Variant.allCases)
    func variantPassesTheGradientCheck(_ variant: LSTMCell.Variant) throws {
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, variant: variant))
    }

    /// Options combined beyond the paper: full gate recurrence with CIFG and a projection, and
    /// with only a forget gate.
    @Test func combinedOptionsPassTheGradientCheck() throws {
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, projectionSize: 2, peepholes: true,
                                        couplesInputAndForgetGates: true, fullGateRecurrence: true))
        try checkCellGradients(LSTMCell(inputSize: 3, hiddenSize: 4, inputGate: false, outputGate: false,
                                        fullGateRecurrence: true))
    }

    /// One step of each variant against the paper's equations computed with scalars.
    @Test(arguments: LSTMCell.Variant.allCases)
    func variantStepMatchesThePaperEquations(_ variant: LSTMCell.Variant) {
        let cell = LSTMCell(inputSize: 2, hiddenSize: 3, variant: variant)
        randomize(cell, seed: 31)
        let x = [0.7, -0.4], h = [0.2, -0.5, 0.3], c = [0.6, -0.1, -0.8]
        let previousGates = [0.1, 0.9, 0.4, 0.3, 0.7, 0.2, 0.8, 0.5, 0.6]  // a = [i, f, o]_{t−1} for FGR
        var state = [Tensor([h], dtype: .float64), Tensor([c], dtype: .float64)]
        if variant == .fullGateRecurrence { state.append(Tensor([previousGates], dtype: .float64)) }
        let (output, next) = cell.step(Tensor([x], dtype: .float64), state: state)
        let expected = greffStep(cell, variant, x: x, h: h, c: c, previousGates: previousGates)
        for j in 0..<3 {
            #expect(abs(output[0, j] - expected.h[j]) < 1e-14, "\(variant) h[\(j)]")
            #expect(abs(next[1][0, j] - expected.c[j]) < 1e-14, "\(variant) c[\(j)]")
        }
        if variant == .fullGateRecurrence {
            #expect(next[2].shape == [1, 9])
            for k in 0..<9 { #expect(abs(next[2][0, k] - expected.gates[k]) < 1e-14) }
        } else {
            #expect(next.count == 2)
        }
    }

    /// The parameter table of the doc comment, per variant.
    @Test func parameterNamesAndShapes() {
        func table(_ variant: LSTMCell.Variant) -> [String: [Int]] {
            Dictionary(uniqueKeysWithValues: LSTMCell(inputSize: 2, hiddenSize: 3, variant: variant)
                .namedParameters().map { ($0.name, $0.parameter.value.shape) })
        }
        let common = ["weight_ih": [12, 2], "weight_hh": [12, 3], "bias_ih": [12], "bias_hh": [12]]
        let peepholes = ["peephole_i": [3], "peephole_f": [3], "peephole_o": [3]]
        let threeGates = ["weight_ih": [9, 2], "weight_hh": [9, 3], "bias_ih": [9], "bias_hh": [9]]
        #expect(table(.vanilla) == common.merging(peepholes) { $1 })
        #expect(table(.noPeepholes) == common)
        #expect(table(.noInputGate) == threeGates.merging(["peephole_f": [3], "peephole_o": [3]]) { $1 })
        #expect(table(.coupledInputForgetGate) == table(.noInputGate))
        #expect(table(.noForgetGate) == threeGates.merging(["peephole_i": [3], "peephole_o": [3]]) { $1 })
        #expect(table(.noOutputGate) == threeGates.merging(["peephole_i": [3], "peephole_f": [3]]) { $1 })
        #expect(table(.fullGateRecurrence) == common.merging(peepholes) { $1 }.merging(["weight_gg": [9, 9]]) { $1 })
        #expect(table(.noInputActivation) == table(.vanilla) && table(.noOutputActivation) == table(.vanilla))
    }

    /// Full gate recurrence's third state component runs through the engine: stacked,
    /// bidirectional, with lengths.
    @Test func fullGateRecurrenceRunsInARecurrentNetwork() throws {
        let network = RecurrentNetwork(inputSize: 2, numLayers: 2, bidirectional: true, batchFirst: true) { _, size in
            LSTMCell(inputSize: size, hiddenSize: 2, variant: .fullGateRecurrence)
        }
        randomize(network, seed: 5)
        #expect(network.parameterDictionary()["weight_gg_l1_reverse"]?.value.shape == [6, 6])
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [3, 2])
            #expect(state.map(\.shape) == [[4, 2, 2], [4, 2, 2], [4, 2, 6]])
            return concat([output.flattened()] + state.map { $0.flattened() }, along: 0)
        }, at: [random([2, 3, 2], seed: 6)], parameters: network.parameters())
    }

    @Test func forgetBiasLandsOnTheForgetRowsOfEveryLayout() {
        let noInput = LSTMCell(inputSize: 2, hiddenSize: 3, inputGate: false, forgetBias: 2)
        #expect((0..<3).allSatisfy { noInput.bias_ih!.value[$0] == 2 && noInput.bias_hh!.value[$0] == 0 })
        #expect(!(3..<9).contains { noInput.bias_ih!.value[$0] == 2 })
    }
}

/// Greff et al.'s equations for one step of `variant`, by scalar loops over the cell's
/// parameters (rows in i, f, z, o order with the variant's absent gates left out).
private func greffStep(_ cell: LSTMCell, _ variant: LSTMCell.Variant, x: [Double], h: [Double], c: [Double],
                       previousGates: [Double]) -> (h: [Double], c: [Double], gates: [Double]) {
    func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
    func dot(_ w: Parameter, _ row: Int, _ v: [Double]) -> Double { v.indices.map { w.value[row, $0] * v[$0] }.reduce(0, +) }
    let size = h.count
    let blocks = ["i", "f", "z", "o"].filter {
        !($0 == "i" && [.noInputGate, .coupledInputForgetGate].contains(variant))
            && !($0 == "f" && variant == .noForgetGate) && !($0 == "o" && variant == .noOutputGate)
    }
    let gateNames = blocks.filter { $0 != "z" }
    func pre(_ block: String, _ j: Int) -> Double {
        let row = blocks.firstIndex(of: block)! * size + j
        var sum = dot(cell.weight_ih, row, x) + dot(cell.weight_hh, row, h) + cell.bias_ih!.value[row] + cell.bias_hh!.value[row]
        if variant == .fullGateRecurrence, let gate = gateNames.firstIndex(of: block) {
            sum += dot(cell.weight_gg!, gate * size + j, previousGates)
        }
        return sum
    }
    func peephole(_ p: Parameter?, _ j: Int, _ value: Double) -> Double {
        variant == .noPeepholes ? 0 : p!.value[j] * value
    }
    var newH: [Double] = [], newC: [Double] = [], gates: [String: [Double]] = ["i": [], "f": [], "o": []]
    for j in 0..<size {
        let f = variant == .noForgetGate ? 1 : sigmoid(pre("f", j) + peephole(cell.peephole_f, j, c[j]))
        let i = switch variant {
        case .noInputGate: 1.0
        case .coupledInputForgetGate: 1 - f
        default: sigmoid(pre("i", j) + peephole(cell.peephole_i, j, c[j]))
        }
        let z = variant == .noInputActivation ? pre("z", j) : Foundation.tanh(pre("z", j))
        let cj = z * i + c[j] * f
        let o = variant == .noOutputGate ? 1 : sigmoid(pre("o", j) + peephole(cell.peephole_o, j, cj))
        newC.append(cj)
        newH.append((variant == .noOutputActivation ? cj : Foundation.tanh(cj)) * o)
        gates["i"]!.append(i)
        gates["f"]!.append(f)
        gates["o"]!.append(o)
    }
    return (newH, newC, gateNames.flatMap { gates[$0]! })
}
