import Testing
import AutoGrad

/// The example graph of the IR documentation: named leaves x [2,3] and w [4,3].
private func exampleLoss(dtype: DType = .float32) -> (x: Tensor, w: Tensor, loss: Tensor) {
    let x = Tensor.arange(0, 6, dtype: dtype).reshaped(to: [2, 3]).requiringGrad(name: "x")
    let w = (Tensor.arange(0, 12, dtype: dtype).reshaped(to: [4, 3]) / 12).requiringGrad(name: "w")
    return (x, w, (matmul(x, w, transposeB: true).tanh() * 2).sum())
}

@Suite struct GraphTests {
    /// The text form is a specification (Docs/AutoGrad.docc/GraphIR.md), so it is pinned.
    @Test func printsTheDocumentedText() {
        #expect(Graph(exampleLoss().loss).description == """
            graph(%x: f32[2,3], %w: f32[4,3]) {
              %0 = matmul[transB=true] %x, %w : f32[2,4]
              %1 = tanh %0 : f32[2,4]
              %2 = mul %1, 2 : f32[2,4]
              %3 = reduce_sum[axes=[0,1]] %2 : f32[]
              return %3
            }
            """)
    }

    @Test func printsConstantsRepeatedLabelsAndSeveralOutputs() {
        let a = Tensor(ones: [2, 2], dtype: .float64).requiringGrad(name: "p")
        let b = Tensor(ones: [2], dtype: .float64).requiringGrad(name: "p")
        let c = Tensor(ones: [2], dtype: .float64).requiringGrad()
        let scaled = (a * Tensor(ones: [2, 2], dtype: .float64) + b).sum(along: [1], keepDims: true) * 0.5
        let text = Graph([scaled, c.exp()]).description
        for fragment in ["graph(%p: f64[2,2], %p#2: f64[2], %", " = mul %p, const(f64[2,2]) : f64[2,2]\n",
                         " = reduce_sum[axes=[1] keepDims=true] %", ", 0.5 : f64[2,1]\n", " = exp %"] {
            #expect(text.contains(fragment), "missing \(fragment) in\n\(text)")
        }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 8 && lines.last == "}")
        #expect(lines[6].hasPrefix("  return %") && lines[6].contains(", %"))
    }

    /// Attribute names and spellings of the primitives, as the IR prints them.
    @Test func printsAttributes() {
        let x = Tensor(ones: [2, 3], dtype: .float64).requiringGrad(name: "x")
        let outputs = [
            x.transposed(), x.slice(0..<3, along: 1, step: 2), x.gathering(IndexTensor([1, 1, 0])),
            x.leakyRelu(negativeSlope: 0.2), x.clamped(min: -1, max: 1), x.to(.float32).to(.float64),
            x.sum(along: [0]).expanded(to: [2, 3]), x.reversed(along: 0), concat([x, x], along: 0),
            Tensor.where(Mask([true, false, true]), x, x * 3), matmul(x, x, transposeA: true),
        ]
        let text = Graph(outputs).description
        for fragment in ["transpose[perm=[1,0]]", "slice[axis=1 start=0 end=3 step=2]", "gather[axis=0] %x, const(i64[3])",
                         "leaky_relu[slope=0.2]", "clamp[min=-1.0 max=1.0]", "convert[dtype=f32]", "convert[dtype=f64]",
                         "broadcast[shape=[2,3]]", "rev[axis=0]", "concatenate[axis=0]", "where const(bool[3]), %x",
                         "matmul[transA=true]"] {
            #expect(text.contains(fragment), "missing \(fragment) in\n\(text)")
        }
    }

    @Test func dotHasTheNodesAndEdges() {
        let dot = Graph(exampleLoss().loss).dot()
        #expect(dot.hasPrefix("digraph \"autograd\" {") && dot.hasSuffix("}"))
        for line in ["\"x\" [shape=ellipse, label=\"%x: f32[2,3]\"];",
                     "\"0\" [shape=box, label=\"%0 = matmul[transB=true] : f32[2,4]\"];",
                     "\"x\" -> \"0\";", "\"w\" -> \"0\";", "\"0\" -> \"1\";", "\"1\" -> \"2\";", "\"2\" -> \"3\";",
                     "\"2.c1\" [shape=plaintext, fontcolor=gray40, label=\"2\"];", "\"2.c1\" -> \"2\" [color=gray60];",
                     "\"3\" [peripheries=2];"] {
            #expect(dot.contains(line), "missing \(line) in\n\(dot)")
        }
        #expect(dot.components(separatedBy: " -> ").count - 1 == 6)  // five operand edges and one constant
    }

    @Test func walkingTheNodes() throws {
        let (x, w, loss) = exampleLoss()
        let graph = Graph(loss)
        #expect(graph.nodes.count == 6)
        #expect(graph.inputs.map(\.name) == ["x", "w"])
        #expect(graph.inputs.first === x.graphNode && graph.outputs.first === loss.graphNode)
        #expect(graph.operations.map { $0.primitive?.name } == ["matmul", "tanh", "mul", "reduce_sum"])
        let xNode = try #require(x.graphNode), wNode = try #require(w.graphNode)
        let matmulNode = try #require(graph.users(of: wNode).first)
        #expect(graph.users(of: xNode).map { $0 === matmulNode } == [true])
        #expect(matmulNode.operands.map(\.shape) == [[2, 3], [4, 3]])
        #expect(matmulNode.primitive?.attributes.map(\.name) == ["transB"])
        let scale = graph.operations[2]
        #expect(scale.operands[1].node == nil && scale.operands[1].shape == [] && scale.operands[1].dtype == .float32)
        let lossNode = try #require(loss.graphNode)
        #expect(graph.users(of: lossNode).isEmpty)

        // Fan-out: one node used by two ops lists each user once.
        let y = Tensor([1, 2]).requiringGrad()
        let fanOut = Graph(y * y + y.tanh()), yNode = try #require(y.graphNode)
        #expect(fanOut.users(of: yNode).map { $0.primitive?.name } == ["mul", "tanh"])
    }

    @Test func replayRecomputesWithNewInputsAndIsDifferentiable() throws {
        let (_, _, loss) = exampleLoss(dtype: .float64)
        let graph = Graph(loss)
        var generator = RandomGenerator(seed: 61)
        let newX = randomTensor([2, 3], using: &generator), newW = randomTensor([4, 3], using: &generator)
        func fresh(_ x: Tensor, _ w: Tensor) -> Tensor { (matmul(x, w, transposeB: true).tanh() * 2).sum() }

        let replayed = graph.replay([newX, newW])[0]
        #expect(replayed.scalars == fresh(newX, newW).scalars)

        let leaves = [newX.requiringGrad(), newW.requiringGrad()]
        let replayGradients = gradients(of: graph.replay(leaves)[0], withRespectTo: leaves)
        let freshGradients = gradients(of: fresh(leaves[0], leaves[1]), withRespectTo: leaves)
        #expect(replayGradients.map(\.scalars) == freshGradients.map(\.scalars))
        try checkGradients(of: { graph.replay($0)[0] }, at: [newX, newW])
    }

    /// Constants keep the values they were recorded with.
    @Test func replayKeepsConstants() {
        let x = Tensor([1, 2], dtype: .float64).requiringGrad()
        let constant = Tensor([10, 20], dtype: .float64)
        let graph = Graph(x * constant + 1)
        #expect(graph.replay([Tensor([3, 4], dtype: .float64)])[0].scalars == [31, 81])
    }
}
