import Testing
@testable import AutoGrad
import CKernels
import Foundation

/// Every primitive's declared pullback reads, checked by tracing its pullback: the traced
/// gradient program may use only the declared operands and output (the tape keeps nothing
/// else, so an undeclared read would see an empty placeholder).
@Suite struct PullbackReadsTests {
    /// Each distinct op recorded by the gradient tables' functions, with its operands and output.
    private static func recordedNodes() -> [Node] {
        var nodes: [String: Node] = [:]
        for row in ProgramTests.cases {
            let output = row.function(row.inputs().map { $0.requiringGrad() })
            for node in Graph(output).operations where nodes[Program.label(node.primitive!)] == nil {
                nodes[Program.label(node.primitive!)] = node
            }
        }
        return nodes.keys.sorted().map { nodes[$0]! }
    }

    @Test func pullbacksReadOnlyWhatTheyDeclare() {
        let nodes = Self.recordedNodes()
        #expect(nodes.count >= 30)
        for node in nodes {
            let primitive = node.primitive!
            // Traced leaves for every operand, the output and the output's gradient.
            var builder = [Tensor]()
            for operand in node.operands { builder.append(Program.placeholder(name: "in", type: operand.type)) }
            let output = Program.placeholder(name: "out", type: node.type)
            let gradient = Program.placeholder(name: "grad", type: node.type)
            let previousTrace = ag_set_trace_mode(1), previousGrad = ag_set_grad_mode(1)
            let gradients = primitive.pullback(gradient, inputs: builder, output: output).compactMap { $0 }
            ag_set_trace_mode(previousTrace)
            ag_set_grad_mode(previousGrad)
            let program = Program(recorded: gradients, inputs: (builder + [output, gradient]).map { ($0.node!, "v") })
                .eliminatingDeadCode()
            var used = Set<Program.Value>(program.outputs)
            for equation in program.equations { used.formUnion(equation.operands) }
            let reads = primitive.pullbackReads
            for position in node.operands.indices where used.contains(.input(position)) {
                #expect(reads.reads(operand: position), "\(primitive.name)'s pullback reads operand \(position) but does not declare it")
            }
            #expect(!used.contains(.input(node.operands.count)) || reads.output,
                    "\(primitive.name)'s pullback reads its output but does not declare it")
        }
    }

    /// The tape keeps what tanh's pullback reads (its output), not its input.
    @Test func theTapeKeepsOnlyDeclaredValues() {
        let x = Tensor([0.5, -1], dtype: .float64).requiringGrad()
        let y = (x * 2).tanh()
        let node = y.graphNode!
        #expect(node.savedInputs![0].count == 0)
        #expect(node.savedOutput!.count == 2)
        y.sum().backward()
        let expected = [0.5, -1.0].map { (value: Double) -> Double in
            let t = Foundation.tanh(2 * value)
            return 2 * (1 - t * t)
        }
        expectClose(x.grad!.scalars, expected)
    }
}
