import Foundation
import Testing
@testable import Layers

/// A cell that reads the time and a per-call context: out_t = x_t + t + offset, the state a
/// running sum of outputs.
final class ClockCell: Module, ContextualRecurrentCell {
    let inputSize = 1, outputSize = 1
    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { [Tensor(zeros: [batchSize, 1], dtype: dtype)] }
    func step(prepared input: Tensor, state: [Tensor], time: Int, context offset: Tensor) -> (output: Tensor, state: [Tensor]) {
        let output = input + Double(time) + offset
        return (output, [state[0] + output])
    }
}

/// The engine with contextual cells: time and context reach every step (both directions, with
/// lengths), and an attention decoder in `RecurrentNetwork` equals its hand-written loop.
@Suite struct ContextualCellTests {
    @Test func timeAndContextReachEveryStep() {
        let network = RecurrentNetwork(inputSize: 1, bidirectional: true, batchFirst: true) { _, _ in ClockCell() }
        let x = Tensor([[10, 20, 30, 40], [50, 60, 70, 80]], dtype: .float64).reshaped(to: [2, 4, 1])
        let offsets = Tensor([[0.5], [0.25]], dtype: .float64)
        let lengths = [4, 3]
        let (output, state) = network(x, context: offsets, lengths: lengths)
        for b in 0..<2 {
            var forwardSum = 0.0, reverseSum = 0.0
            for t in 0..<4 {
                let valid = t < lengths[b]
                let forward = valid ? x[b, t, 0] + Double(t) + offsets[b, 0] : 0
                let reverse = valid ? x[b, t, 0] + Double(lengths[b] - 1 - t) + offsets[b, 0] : 0  // read from the end
                #expect(output[b, t, 0] == forward && output[b, t, 1] == reverse)
                forwardSum += forward
                reverseSum += reverse
            }
            #expect(state[0][0, b, 0] == forwardSum && state[0][1, b, 0] == reverseSum)
        }
    }

    /// `forward(_:)` cannot supply a context: it stops naming the type. (`network(x)` and
    /// `Sequential([network])` do not even compile for a contextual cell: such a network is
    /// not a `UnaryLayer`.)
    @Test func forwardWithoutContextIsReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let network = RecurrentNetwork(inputSize: 1) { _, _ in ClockCell() }
            _ = network.forward(Tensor(zeros: [2, 1, 1]))
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("RecurrentNetwork: ClockCell needs a context of type Tensor"), "\(message)")
        }
    }

    private static func makeDecoder() -> RecurrentNetwork<AttentionDecoderCell<GRUCell, AdditiveAttention>> {
        RecurrentNetwork(inputSize: 3, batchFirst: true) { _, size in
            AttentionDecoderCell(cell: GRUCell(inputSize: size + 4, hiddenSize: 5),
                                 attention: AdditiveAttention(querySize: 5, keySize: 4, hiddenSize: 6), contextSize: 4)
        }
    }

    /// Teacher forcing through the engine (lengths, a source mask) gives the outputs and final
    /// state of a loop over `attendingStep`, and masked source steps get no attention.
    @Test func attentionDecoderInTheEngineEqualsTheLoop() {
        var generator = RandomGenerator(seed: 41)
        let decoder = Self.makeDecoder()
        decoder.to(.float64)
        let encoded = Tensor.randomNormal([2, 5, 4], dtype: .float64, using: &generator)
        let targets = Tensor.randomNormal([2, 3, 3], dtype: .float64, using: &generator)
        let sourceMask = Mask(lengths: [5, 2], maxLength: 5)
        let start = Tensor.randomNormal([1, 2, 5], dtype: .float64, using: &generator)
        let cell = decoder.cells[0]
        let memory = cell.memory(encoderOutputs: encoded, mask: sourceMask)
        let (output, state) = decoder(targets, context: memory, initialState: [start], lengths: [3, 2])
        #expect(output.shape == [2, 3, 9])
        var h = [start.select(0, along: 0)]
        for t in 0..<3 {
            let (stepOutput, next, weights) = cell.attendingStep(targets.select(t, along: 1), state: h, memory: memory)
            #expect(weights[1, 2] == 0 && weights[1, 3] == 0 && weights[1, 4] == 0)
            for b in 0..<2 where t < [3, 2][b] {
                #expect((0..<9).allSatisfy { abs(output[b, t, $0] - stepOutput[b, $0]) < 1e-14 })
            }
            if t < 2 { h = next } else { h = [Tensor.where(Mask([true, false], shape: [2, 1]), next[0], h[0])] }
        }
        #expect((0..<5).allSatisfy { abs(output[1, 2, $0]) == 0 })
        #expect(maxDifference(state[0].select(0, along: 0), h[0]) < 1e-14)
    }

    /// The public checker through the whole decoder path: encoder outputs, initial state, the
    /// teacher-forced inputs and every parameter, with lengths and a source mask.
    @Test func attentionDecoderGradientCheck() throws {
        var generator = RandomGenerator(seed: 42)
        let decoder = Self.makeDecoder()
        decoder.to(.float64)
        let encoded = Tensor.randomNormal([2, 4, 4], dtype: .float64, using: &generator)
        let targets = Tensor.randomNormal([2, 3, 3], dtype: .float64, using: &generator)
        let start = Tensor.randomNormal([1, 2, 5], dtype: .float64, using: &generator) * 0.5
        let mask = Mask(lengths: [4, 2], maxLength: 4)
        try checkGradients(of: { inputs in
            let memory = decoder.cells[0].memory(encoderOutputs: inputs[0], mask: mask)
            let (output, state) = decoder(inputs[1], context: memory, initialState: [inputs[2]], lengths: [3, 1])
            return output.tanh().sum() + state[0].sum()
        }, at: [encoded, targets, start], parameters: decoder.parameters())
    }
}
