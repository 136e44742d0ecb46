extension Program {
    /// Elementwise fusion: each tree of unary and binary elementwise equations and `where`s of
    /// one type, whose inner results are used only inside the tree, is evaluated by one
    /// `fused` kernel, block by block (see the `fused` op); a comparison making a `where`'s
    /// condition is recomputed inside every kernel that reads it (as cheap as reading it), and
    /// a slice read only by the tree is read through a window instead of copied out (a cell's
    /// gates, chunked from one product). Trees of one type that read one another's results or
    /// the same operands then share a kernel with several outputs, when no other equation
    /// lies between them (one reads what the other makes, through it): an LSTM step's gates,
    /// new memory and new output are one kernel, which reads the pre-activations once and
    /// writes each result once. Run it after ``gradient(withRespectTo:)``: fused kernels do
    /// not differentiate twice.
    public func fusingElementwise() -> Program {
        let users = users(), returned = Set(outputs)
        let kernels = fusionKernels(users: users, returned: returned)
        var nodes: [FusionNode] = [], producer: [Int: Int] = [:]
        for kernel in kernels { nodes += fusionNodes(of: kernel, users: users, returned: returned) }
        let inKernel = Set(kernels.flatMap { $0.flatMap { $0 } })
        for position in equations.indices where !inKernel.contains(position) { nodes.append(.equation(position)) }
        for (index, node) in nodes.enumerated() {
            for position in node.results { producer[position] = index }
        }
        var builder = ProgramBuilder(), map: [Value: Value] = [:]
        for (index, input) in inputs.enumerated() { map[.input(index)] = builder.input(input.name, input.type) }
        for (index, constant) in constants.enumerated() { map[.constant(index)] = builder.constant(constant) }
        for index in dependencyOrder(nodes, producer: producer) {
            switch nodes[index] {
            case .equation(let position):
                map[.result(position)] = try! builder.apply(equations[position].primitive, equations[position].operands.map { map[$0]! })
            case let .kernel(fused, operands, outputs):
                let result = try! builder.apply(fused, operands.map { map[$0]! })
                guard outputs.count > 1 else { map[.result(outputs[0])] = result; continue }
                // Each output is a view of its rows of the stacked result.
                for (k, position) in outputs.enumerated() {
                    let rows = try! builder.apply(Slice(axis: 0, start: k, end: k + 1, step: 1), [result])
                    map[.result(position)] = try! builder.apply(Reshape(shape: equations[position].type.shape), [rows])
                }
            }
        }
        // A comparison every reader of which recomputes it is left unused.
        return try! builder.build(outputs: outputs.map { map[$0]! }).eliminatingDeadCode()
    }

    /// What fusion makes of a program's equations: an equation kept as it is, or a kernel
    /// computing the results at `outputs` from `operands`.
    private enum FusionNode {
        case equation(Int)
        case kernel(FusedElementwise, operands: [Value], outputs: [Int])

        /// The equation positions whose results the node makes.
        var results: [Int] {
            switch self {
            case .equation(let position): [position]
            case .kernel(_, _, let outputs): outputs
            }
        }
        /// The values the node reads.
        func operands(in program: Program) -> [Value] {
            switch self {
            case .equation(let position): program.equations[position].operands
            case .kernel(_, let operands, _): operands
            }
        }
    }

    /// Whether an equation joins fused kernels: a float elementwise op or `where`.
    private func isFusible(_ equation: Equation) -> Bool {
        equation.type.element.floatType != nil && (equation.primitive is UnaryElementwisePrimitive
            || (equation.primitive is BinaryElementwisePrimitive && !(equation.primitive is Comparison))
            || equation.primitive is Where)
    }

    /// The fusion's kernels: each a list of trees (equation positions, root last), the trees
    /// in program order.
    private func fusionKernels(users: [Value: [Int]], returned: Set<Value>) -> [[[Int]]] {
        // A slice joins the tree that reads it as a leaf: its operand stays outside.
        func isLeafSlice(_ equation: Equation) -> Bool {
            equation.primitive is Slice && equation.type.element.floatType != nil
        }
        var absorbedBy = [Int?](repeating: nil, count: equations.count)
        for (index, equation) in equations.enumerated() where isFusible(equation) {
            for case .result(let producer) in equation.operands
            where (isFusible(equations[producer]) || isLeafSlice(equations[producer])) && equations[producer].type == equation.type
                && users[.result(producer)] == [index] && !returned.contains(.result(producer)) {
                absorbedBy[producer] = index
            }
        }
        var trees = [[Int]](repeating: [], count: equations.count)
        for index in equations.indices {
            var root = index
            while let next = absorbedBy[root] { root = next }
            trees[root].append(index)
        }
        let roots = equations.indices.filter { absorbedBy[$0] == nil && isFusible(equations[$0]) }
        // Beyond this size checking each merge for a cycle costs more than the kernels save.
        guard equations.count <= 2048 else { return roots.map { [trees[$0]] } }
        // Trees join the first kernel of their type that they are related to — they read its
        // results or an operand it reads — when no cycle results: a kernel reading, through
        // other equations, what it makes itself could not run.
        var kernels: [[[Int]]] = [], kernelOf = [Int?](repeating: nil, count: equations.count)
        var readers: [Value: [Int]] = [:]
        for root in roots {
            let tree = trees[root], type = equations[root].type
            var related: [Int] = []
            for member in tree {
                for operand in equations[member].operands {
                    if case .result(let producer) = operand, let kernel = kernelOf[producer] {
                        related.append(kernel)
                    } else if case .constant = operand {
                        continue
                    } else if self.type(of: operand).count > 1 {
                        related += readers[operand] ?? []
                    }
                }
            }
            // The tree joins the first related kernel it can, and that kernel then takes in
            // the other related kernels it can (so the order trees come in matters less).
            var seen = Set<Int>(), joined: Int?
            for kernel in related where seen.insert(kernel).inserted && equations[kernels[kernel][0].last!].type == type {
                // The tree moves into the first kernel; a later one moves into the tree's.
                var merged = kernelOf
                for member in joined == nil ? tree : kernels[kernel].flatMap({ $0 }) { merged[member] = joined ?? kernel }
                guard isAcyclic(kernelOf: merged, kernelCount: kernels.count) else { continue }
                kernelOf = merged
                if let joined {
                    kernels[joined] += kernels[kernel]
                    kernels[kernel] = []
                    for (operand, kernels) in readers { readers[operand] = kernels.map { $0 == kernel ? joined : $0 } }
                } else {
                    joined = kernel
                }
            }
            let index = joined ?? kernels.count
            if joined == nil { kernels.append([]) }
            kernels[index].append(tree)
            for member in tree {
                kernelOf[member] = index
                for operand in equations[member].operands { readers[operand, default: []].append(index) }
            }
        }
        return kernels.filter { !$0.isEmpty }
    }

    /// The nodes of one kernel: one fused op for all its trees when they fuse; else each tree
    /// fused on its own, and a lone op (or a tree that cannot fuse) as its equations.
    private func fusionNodes(of kernel: [[Int]], users: [Value: [Int]], returned: Set<Value>) -> [FusionNode] {
        let members = kernel.flatMap { $0 }.sorted(), memberSet = Set(members)
        // The results read outside the kernel, and the last one's in any case.
        var outputs = members.filter { position in
            returned.contains(.result(position)) || users[.result(position), default: []].contains { !memberSet.contains($0) }
        }
        if outputs.last != members.last { outputs.append(members.last!) }
        if kernel.count > 1, let (fused, operands) = fuse(members, outputs: outputs) {
            return [.kernel(fused, operands: operands, outputs: outputs)]
        }
        return kernel.flatMap { tree -> [FusionNode] in
            if tree.count > 1 || tree.contains(where: { inlinedCondition(of: $0) != nil }),
               let (fused, operands) = fuse(tree, outputs: [tree.last!]) {
                return [.kernel(fused, operands: operands, outputs: [tree.last!])]
            }
            return tree.map { .equation($0) }
        }
    }

    /// The positions of `nodes` in an order where each comes after the nodes making what it
    /// reads (`producer`: the node making each equation's result), otherwise as close to the
    /// program's order as that allows (a kernel stands where its last equation stood).
    private func dependencyOrder(_ nodes: [FusionNode], producer: [Int: Int]) -> [Int] {
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (index, node) in nodes.enumerated() {
            for case .result(let position) in node.operands(in: self) {
                if let source = producer[position], source != index { dependents[source].append(index) }
            }
        }
        let order = Self.topologicalOrder(dependents: dependents, keys: nodes.map { $0.results.max()! })
        precondition(order.count == nodes.count, "fusion made a cycle")
        return order
    }

    /// Whether the program stays free of cycles with the equations of each kernel (`kernelOf`)
    /// taken as one node.
    private func isAcyclic(kernelOf: [Int?], kernelCount: Int) -> Bool {
        func node(_ position: Int) -> Int { kernelOf[position].map { equations.count + $0 } ?? position }
        var dependents = [[Int]](repeating: [], count: equations.count + kernelCount)
        for (position, equation) in equations.enumerated() {
            for case .result(let producer) in equation.operands where node(producer) != node(position) {
                dependents[node(producer)].append(node(position))
            }
        }
        return Self.topologicalOrder(dependents: dependents).count == dependents.count
    }

    /// Kahn's order of a graph's nodes (`dependents[n]`: the nodes reading node n, an edge
    /// each time), the ready node of the smallest key first when `keys` are given; nodes on a
    /// cycle are left out.
    private static func topologicalOrder(dependents: [[Int]], keys: [Int]? = nil) -> [Int] {
        var waiting = [Int](repeating: 0, count: dependents.count)
        for targets in dependents { for target in targets { waiting[target] += 1 } }
        // Ready nodes by key, the smallest last (taken first).
        var ready = dependents.indices.filter { waiting[$0] == 0 }
        if let keys { ready.sort { keys[$0] > keys[$1] } }
        var order: [Int] = []
        while let next = ready.popLast() {
            order.append(next)
            for dependent in dependents[next] {
                waiting[dependent] -= 1
                guard waiting[dependent] == 0 else { continue }
                let slot = keys.map { keys in ready.firstIndex { keys[$0] < keys[dependent] } ?? ready.count } ?? ready.count
                ready.insert(dependent, at: slot)
            }
        }
        return order
    }

    /// The comparison making the condition of the `where` at `position`, when its kernel can
    /// recompute it: a comparison of operands of the `where`'s float type, of its shape.
    private func inlinedCondition(of position: Int) -> Int? {
        let equation = equations[position]
        guard equation.primitive is Where, case .result(let producer) = equation.operands[0],
              equations[producer].primitive is Comparison, equations[producer].type.shape == equation.type.shape,
              equations[producer].operands.allSatisfy({ type(of: $0).element == equation.type.element }) else { return nil }
        return producer
    }

    /// The fused op of `members` (equation positions, in program order) returning the results
    /// at `outputs`, with the comparisons of their conditions recomputed inside, and its outer
    /// operands.
    private func fuse(_ members: [Int], outputs: [Int]) -> (FusedElementwise, [Value])? {
        var body = ProgramBuilder(), inner: [Value: Value] = [:], outer: [Value] = []
        func add(_ member: Int) -> Bool {
            let operands = equations[member].operands.map { operand -> Value in
                if let value = inner[operand] { return value }
                let value = body.input("in\(outer.count)", type(of: operand))
                outer.append(operand)
                inner[operand] = value
                return value
            }
            guard let result = try? body.apply(equations[member].primitive, operands) else { return false }
            inner[.result(member)] = result
            return true
        }
        for member in members {
            if let comparison = inlinedCondition(of: member), inner[.result(comparison)] == nil {
                guard add(comparison) else { return nil }
            }
            guard add(member) else { return nil }
        }
        guard let program = try? body.build(outputs: outputs.map { inner[.result($0)]! }),
              let fused = FusedElementwise(body: program) else { return nil }
        return (fused, outer)
    }
}
