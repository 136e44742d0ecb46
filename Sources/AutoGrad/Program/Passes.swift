// Optimization passes: each a function from program to program, keeping the inputs and the
// outputs' values, written as a small rewrite over the equations in order.

extension Program {
    /// Rebuilds the program equation by equation: `rewrite` sees each equation with its
    /// operands already rewritten and returns the value that replaces its result, or `nil`
    /// to keep the equation as it is.
    public func rewritten(
        _ rewrite: (_ builder: inout ProgramBuilder, _ equation: Equation, _ operands: [Value]) throws -> Value?
    ) throws -> Program {
        var builder = ProgramBuilder()
        var map: [Value: Value] = [:]
        for (index, input) in inputs.enumerated() { map[.input(index)] = builder.input(input.name, input.type) }
        func mapped(_ value: Value) -> Value {
            if let new = map[value] { return new }
            guard case .constant(let index) = value else { fatalError("value \(value) used before its definition") }
            let new = builder.constant(constants[index])
            map[value] = new
            return new
        }
        for (position, equation) in equations.enumerated() {
            let operands = equation.operands.map(mapped)
            map[.result(position)] = try rewrite(&builder, equation, operands)
                ?? builder.apply(equation.primitive, operands)
        }
        // Mapped before `build` reads the builder: mapping may add constants to it.
        let results = outputs.map(mapped)
        return try builder.build(outputs: results)
    }

    /// Dead-code elimination: drops equations no output depends on (and unused constants).
    public func eliminatingDeadCode() -> Program {
        var live = Set(outputs)
        for (position, equation) in equations.enumerated().reversed() where live.contains(.result(position)) {
            live.formUnion(equation.operands)
        }
        var builder = ProgramBuilder(), map: [Value: Value] = [:]
        for (index, input) in inputs.enumerated() { map[.input(index)] = builder.input(input.name, input.type) }
        for (index, constant) in constants.enumerated() where live.contains(.constant(index)) {
            map[.constant(index)] = builder.constant(constant)
        }
        for (position, equation) in equations.enumerated() where live.contains(.result(position)) {
            map[.result(position)] = try! builder.apply(equation.primitive, equation.operands.map { map[$0]! })
        }
        return try! builder.build(outputs: outputs.map { map[$0]! })
    }

    /// Common-subexpression elimination: an equation applying the same op with the same
    /// attributes to the same operands as an earlier one reuses its result.
    public func eliminatingCommonSubexpressions() -> Program {
        var seen: [String: Value] = [:]
        return try! rewritten { builder, equation, operands in
            let key = Program.label(equation.primitive) + " " + operands.map { "\($0)" }.joined(separator: ",")
            if let earlier = seen[key] { return earlier }
            let result = try builder.apply(equation.primitive, operands)
            seen[key] = result
            return result
        }
    }

    /// Constant folding: an equation whose operands are all constants is computed once and
    /// becomes a constant, unless its result would be larger than its largest operand.
    public func foldingConstants() -> Program {
        try! rewritten { builder, equation, operands in
            let values = operands.compactMap { operand -> Tensor? in
                guard case .constant(let index) = operand else { return nil }
                return builder.constantValue(index)
            }
            guard !operands.isEmpty, values.count == operands.count,
                  equation.type.count <= values.map(\.count).max()! else { return nil }
            var folded = equation.primitive.forward(values, shape: equation.type.shape)
            folded.elementType = equation.type.element
            return builder.constant(folded)
        }
    }

    /// Algebraic simplification: x·1, 1·x, x/1, x+0, 0+x, x−0 become x (where no broadcast
    /// changes the type), a reshape to the same shape disappears, reshape chains become one
    /// reshape, transpose∘transpose composes (vanishing when it is the identity), a repeated
    /// stop_gradient is one, and a binary elementwise op reads an explicitly broadcast operand
    /// unexpanded (it broadcasts by itself, and the expansion can then be dropped).
    public func simplifyingAlgebra() -> Program {
        try! rewritten { builder, equation, operands in
            let primitive = equation.primitive
            func isScalar(_ operand: Value, _ value: Double) -> Bool {
                guard case .constant(let index) = operand else { return false }
                let constant = builder.constantValue(index)
                return constant.count == 1 && constant.storage[double: 0] == value
            }
            func keeping(_ operand: Value) -> Value? { builder.type(of: operand) == equation.type ? operand : nil }
            func producer(_ operand: Value) -> Equation? {
                guard case .result(let index) = operand else { return nil }
                return builder.equation(index)
            }
            switch primitive {
            case is Multiply:
                if isScalar(operands[1], 1) { return keeping(operands[0]) }
                if isScalar(operands[0], 1) { return keeping(operands[1]) }
            case is Divide:
                if isScalar(operands[1], 1) { return keeping(operands[0]) }
            case is Add:
                if isScalar(operands[1], 0) { return keeping(operands[0]) }
                if isScalar(operands[0], 0) { return keeping(operands[1]) }
            case is Subtract:
                if isScalar(operands[1], 0) { return keeping(operands[0]) }
            case let reshape as Reshape:
                if builder.type(of: operands[0]).shape == reshape.shape { return operands[0] }
                if let inner = producer(operands[0]), inner.primitive is Reshape {
                    return try builder.apply(reshape, inner.operands)
                }
            case let outer as Permute:
                if let inner = producer(operands[0]), let first = inner.primitive as? Permute {
                    let composed = outer.permutation.map { first.permutation[$0] }
                    if composed == Array(composed.indices) { return inner.operands[0] }
                    return try builder.apply(Permute(permutation: composed), inner.operands)
                }
            case is StopGradient:
                if let inner = producer(operands[0]), inner.primitive is StopGradient { return operands[0] }
            default:
                break
            }
            // A binary op broadcasts by itself: it reads an explicitly broadcast operand unexpanded.
            if let binary = primitive as? BinaryElementwisePrimitive {
                let unexpanded = operands.map { operand in
                    producer(operand).flatMap { $0.primitive is Expand ? $0.operands[0] : nil } ?? operand
                }
                let types = unexpanded.map { builder.type(of: $0) }
                if unexpanded != operands, (try? binary.outputType(types)) == equation.type {
                    return try builder.apply(binary, unexpanded)
                }
            }
            return nil
        }
    }

    /// Joins padded parts: a sum of `pad`s (step 1) that tile one axis without overlap — the
    /// gradient of a tensor cut into chunks, e.g. an LSTM's four gates — becomes one
    /// `concatenate` of the parts, instead of a zero-filled full-size tensor per part and an
    /// addition per part. Partial sums stay (dead code once the tiling is complete).
    public func joiningPaddedParts() -> Program {
        /// The parts known to make up a value: each (start along `axis`, the part's value).
        struct Tiling { let axis: Int, size: Int, parts: [(start: Int, value: Value)] }
        var tilings: [Value: Tiling] = [:]
        return try! rewritten { builder, equation, operands in
            if let pad = equation.primitive as? Pad, pad.step == 1 {
                let result = try builder.apply(pad, operands)
                tilings[result] = Tiling(axis: pad.axis, size: pad.size, parts: [(pad.start, operands[0])])
                return result
            }
            guard equation.primitive is Add, let a = tilings[operands[0]], let b = tilings[operands[1]],
                  a.axis == b.axis, a.size == b.size, operands.allSatisfy({ builder.type(of: $0) == equation.type })
            else { return nil }
            let parts = (a.parts + b.parts).sorted { $0.start < $1.start }
            var end = 0
            for part in parts {
                guard part.start >= end else { return nil }  // overlapping parts add up: not a tiling
                end = part.start + builder.type(of: part.value).shape[a.axis]
            }
            let contiguous = zip(parts, parts.dropFirst()).allSatisfy { $0.start + builder.type(of: $0.value).shape[a.axis] == $1.start }
            if contiguous, parts[0].start == 0, end == a.size {
                return try builder.apply(Concat(axis: a.axis), parts.map(\.value))
            }
            let result = try builder.apply(Add(), operands)
            tilings[result] = Tiling(axis: a.axis, size: a.size, parts: parts)
            return result
        }
    }

    /// Slices sink below elementwise ops: a slice of a unary or binary elementwise result that
    /// only slices read (or ops whose results only slices read, and so on) becomes the ops on
    /// slices of their operands (a broadcast operand sliced only along the axes it has), so
    /// the whole result is never made — an LSTM's pre-activations, input part plus recurrent
    /// product, are added gate by gate, inside the fused kernels that read each gate's columns.
    public func sinkingSlices() -> Program {
        let users = users(), returned = Set(outputs)
        var sinkable = [Bool](repeating: false, count: equations.count)
        for position in equations.indices.reversed() {
            let primitive = equations[position].primitive
            guard primitive is UnaryElementwisePrimitive || primitive is BinaryElementwisePrimitive,
                  !returned.contains(.result(position)), let readers = users[.result(position)] else { continue }
            sinkable[position] = readers.allSatisfy { equations[$0].primitive is Slice || sinkable[$0] }
        }
        var sinkableResults: Set<Value> = []  // the rewritten results of sinkable equations
        /// `slice` of `value`: the value's op on slices of its operands where it is sinkable.
        func sliced(_ value: Value, _ slice: Slice, _ builder: inout ProgramBuilder) throws -> Value {
            guard sinkableResults.contains(value), case .result(let index) = value else { return try builder.apply(slice, [value]) }
            let producer = builder.equation(index), rank = builder.type(of: value).shape.count
            var operands: [Value] = []
            for operand in producer.operands {
                let shape = builder.type(of: operand).shape, axis = slice.axis - (rank - shape.count)
                // Broadcast along the sliced axis (or a scalar): read whole.
                operands.append(axis < 0 || shape[axis] == 1 ? operand
                                : try sliced(operand, Slice(axis: axis, start: slice.start, end: slice.end, step: slice.step), &builder))
            }
            return try builder.apply(producer.primitive, operands)
        }
        var position = -1  // of the equation being rewritten (they come in order)
        return try! rewritten { builder, equation, operands in
            position += 1
            if let slice = equation.primitive as? Slice, sinkableResults.contains(operands[0]) {
                return try sliced(operands[0], slice, &builder)
            }
            guard sinkable[position] else { return nil }
            // Kept as it is (dead once every slice of it has sunk), and known as sinkable.
            let result = try builder.apply(equation.primitive, operands)
            sinkableResults.insert(result)
            return result
        }
    }

    /// Sums into packed products: the `add` of a `matmul_packed` result that nothing else reads
    /// and another value of the sum's type becomes the product with that value as its addend,
    /// which the GEMM accumulates onto. A recurrent step's pre-activations, its input part plus
    /// its recurrent product, are then made by the product alone, and the fused kernels after
    /// it read one window per gate instead of adding two.
    public func accumulatingIntoProducts() -> Program {
        let users = users(), returned = Set(outputs)
        return try! rewritten { builder, equation, operands in
            guard equation.primitive is Add, operands[0] != operands[1] else { return nil }
            for (product, addend) in [(0, 1), (1, 0)] {
                let original = equation.operands[product]
                guard users[original]?.count == 1, !returned.contains(original), case .result(let rewritten) = operands[product],
                      let packed = builder.equation(rewritten).primitive as? PackedMatMul, !packed.addsAddend,
                      builder.type(of: operands[product]) == equation.type, builder.type(of: operands[addend]) == equation.type
                else { continue }
                var accumulating = packed
                accumulating.addsAddend = true
                return try builder.apply(accumulating, builder.equation(rewritten).operands + [operands[addend]])
            }
            return nil
        }
    }

    /// The standard pipeline: simplify, sum into packed products, join padded parts, sink
    /// slices below elementwise ops, fold constants, eliminate common subexpressions, then
    /// dead code.
    public func optimized() -> Program {
        simplifyingAlgebra().accumulatingIntoProducts().joiningPaddedParts().sinkingSlices().foldingConstants()
            .eliminatingCommonSubexpressions().eliminatingDeadCode()
    }
}

extension ProgramBuilder {
    /// The value of a constant added so far.
    func constantValue(_ index: Int) -> Tensor { constants[index] }

    /// An equation added so far.
    func equation(_ index: Int) -> Program.Equation { equations[index] }
}
