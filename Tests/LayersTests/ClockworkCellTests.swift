import Foundation
import Testing
@testable import Layers

/// Random float64 values of `shape`.
func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, dtype: .float64, using: &generator)
}

/// The Clockwork RNN: modules update only when their period divides the step, slow modules
/// never read fast ones, one step by hand, and the gradient check.
@Suite struct ClockworkCellTests {
    private func network(periods: [Int] = [1, 2, 4, 8], bidirectional: Bool = false) -> RecurrentNetwork<ClockworkCell> {
        let network = RecurrentNetwork(inputSize: 3, bidirectional: bidirectional) { _, size in
            ClockworkCell(inputSize: size, moduleSize: 2, periods: periods)
        }
        network.to(.float64)
        return network
    }

    /// The units of module `module` at step `t` of batch row `b` of a [time, batch, hidden] output.
    private func units(_ output: Tensor, _ t: Int, _ b: Int, module: Int) -> [Double] {
        (0..<2).map { output[t, b, module * 2 + $0] }
    }

    @Test func aModuleChangesOnlyAtMultiplesOfItsPeriod() {
        let network = network()
        let output = network(randomInput([17, 2, 3], seed: 1)).output
        for (module, period) in [1, 2, 4, 8].enumerated() {
            for t in 1..<17 {
                for b in 0..<2 {
                    let changed = units(output, t, b, module: module) != units(output, t - 1, b, module: module)
                    #expect(changed == (t % period == 0), "module of period \(period) at t = \(t)")
                }
            }
        }
    }

    /// The slowest module's whole trajectory ignores the faster modules' initial state, and
    /// the connections that would carry it get no gradient.
    @Test func slowModulesDoNotReadFastOnes() {
        let network = network()
        let x = randomInput([9, 1, 3], seed: 2)
        let start = Tensor(zeros: [1, 1, 8], dtype: .float64)
        var fastStart = Array(repeating: 0.0, count: 8)
        for unit in 0..<6 { fastStart[unit] = Double(unit) - 2.5 }  // all but the slowest module
        let a = network(x, initialState: [start]).output
        let b = network(x, initialState: [Tensor(fastStart, dtype: .float64).reshaped(to: [1, 1, 8])]).output
        for t in 0..<9 { #expect(units(a, t, 0, module: 3) == units(b, t, 0, module: 3)) }
        #expect(units(a, 1, 0, module: 0) != units(b, 1, 0, module: 0))  // the fast module does see it

        a.sum().backward()
        let cell = network.cells[0]
        let grad = cell.weight_hh.grad!, mask = cell.connectivity.value
        for row in 0..<8 {
            for column in 0..<8 where mask[row, column] == 0 { #expect(grad[row, column] == 0) }
        }
        #expect(grad[0, 7] != 0)  // the fastest module reads the slowest
    }

    /// Step t = 2 with periods 1, 2, 4 by hand: modules 0 and 1 run, module 2 holds.
    @Test func oneStepByHand() {
        let cell = ClockworkCell(inputSize: 2, moduleSize: 1, periods: [1, 2, 4])
        cell.to(.float64)
        randomize(cell, seed: 3)
        let x = [0.3, -0.7], h = [0.5, -0.2, 0.9]
        let prepared = cell.prepareInputs(Tensor([x], dtype: .float64))
        let next = cell.step(prepared: prepared, state: [Tensor([h], dtype: .float64)], time: 2, context: ()).state[0]
        let w = cell.weight_ih.value, u = cell.weight_hh.value, b = cell.bias!.value
        for unit in 0..<3 {
            var sum = b[unit]
            for k in 0..<2 { sum += x[k] * w[unit, k] }
            for k in unit..<3 { sum += h[k] * u[unit, k] }  // block upper triangular: modules ≥ own
            let expected = unit < 2 ? Foundation.tanh(sum) : h[unit]
            #expect(abs(next[0, unit] - expected) < 1e-15, "unit \(unit)")
        }
    }

    @Test func passesTheGradientCheck() throws {
        let network = network(periods: [1, 2, 3], bidirectional: true)
        randomize(network, seed: 4)
        let x = randomInput([7, 2, 3], seed: 5)
        try checkGradients(of: { values in
            let (output, state) = network(values[0], lengths: [7, 5])
            return concat([output.reshaped(to: [-1]), state[0].reshaped(to: [-1])], along: 0)
        }, at: [x], parameters: network.parameters())
    }

    @Test func badPeriodsAreReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ClockworkCell(inputSize: 2, moduleSize: 2, periods: [1, 4, 2])
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("ClockworkCell: periods [1, 4, 2] must be positive and increasing"), "\(message)")
        }
    }
}
