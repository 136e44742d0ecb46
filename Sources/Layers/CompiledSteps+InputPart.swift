import AutoGrad

/// A traced step cut in two: the part that reads only the step's input and the parameters,
/// row by row, and the rest (see ``CompiledStep``).
struct SplitStep {
    /// (input, parameters at `inputParameters`…) → the values the rest reads; `nil` when
    /// nothing reads only the input.
    let inputPart: Program?
    /// Positions, among the traced step's parameters, of those the input part reads.
    let inputParameters: [Int]
    /// (sequence inputs…, state…, mask?, parameters at `stepParameters`…) → (output, state…).
    let step: Program
    /// Positions, among the traced step's parameters, of those the rest reads.
    let stepParameters: [Int]
    /// How many sequence inputs the rest reads (1 without an input part: the input itself).
    let inputCount: Int
}

extension Program {
    /// Splits a traced step, whose inputs are the input (position 0), the state (and mask)
    /// up to `leading`, then the parameters, into the part computed from the input and the
    /// parameters alone — kept only where every op treats rows independently (elementwise ops
    /// with broadcast parameters, products with a parameter matrix, slices across columns),
    /// so the part can be evaluated on all steps' rows stacked — and the rest.
    func splittingInputPart(leading: Int) -> SplitStep {
        enum Place { case parameters, rows, step }
        var places: [Place] = []
        func place(_ value: Value) -> Place {
            switch value {
            case .input(let index): index == 0 ? .rows : index >= leading ? .parameters : .step
            case .constant: .parameters
            case .result(let index): places[index]
            }
        }
        for equation in equations {
            let operands = equation.operands.map(place)
            if operands.allSatisfy({ $0 == .parameters }) {
                places.append(.parameters)
            } else if !operands.contains(.step) && treatsRowsIndependently(equation, operands.map { $0 == .rows }) {
                places.append(.rows)
            } else {
                places.append(.step)
            }
        }
        let parameterRange = leading..<inputs.count
        guard places.contains(.rows) else {
            let (step, kept) = droppingUnusedInputs(in: parameterRange)
            return SplitStep(inputPart: nil, inputParameters: [], step: step, stepParameters: kept, inputCount: 1)
        }
        // The rows the rest reads become the step's sequence inputs.
        var crossing: [Value] = []
        for value in zip(equations, places).filter({ $0.1 == .step }).flatMap(\.0.operands) + outputs
        where place(value) == .rows && !crossing.contains(value) {
            crossing.append(value)
        }
        let inputPart = rebuilt(inputs: [.input(0)] + parameterRange.map { .input($0) },
                                keeping: { places[$0] != .step }, outputs: crossing)
            .droppingUnusedInputs(in: 1..<(1 + parameterRange.count))
        let step = rebuilt(inputs: crossing + (1..<inputs.count).map { .input($0) }, keeping: { places[$0] != .rows },
                           outputs: outputs)
            .droppingUnusedInputs(in: (crossing.count + leading - 1)..<(crossing.count + inputs.count - 1))
        return SplitStep(inputPart: inputPart.program, inputParameters: inputPart.kept, step: step.program,
                         stepParameters: step.kept, inputCount: crossing.count)
    }

    /// Whether every output's rows depend only on the same rows of the inputs at `rowInputs`
    /// (and on whole other inputs): then the batch's rows can run apart, a share per thread.
    func treatsRowsIndependently(rowInputs: Set<Int>) -> Bool {
        var isRows: [Bool] = []
        func rows(_ value: Value) -> Bool {
            switch value {
            case .input(let index): rowInputs.contains(index)
            case .constant: false
            case .result(let index): isRows[index]
            }
        }
        for equation in equations {
            let operands = equation.operands.map(rows)
            guard operands.contains(true) else { isRows.append(false); continue }
            guard treatsRowsIndependently(equation, operands) else { return false }
            isRows.append(true)
        }
        return outputs.allSatisfy(rows)
    }

    /// Whether `equation` computes each row of its result from the same row of its operands
    /// marked in `isRows` (each [rows, ·]) and whole unmarked operands.
    private func treatsRowsIndependently(_ equation: Equation, _ isRows: [Bool]) -> Bool {
        let shapes = equation.operands.map { type(of: $0).shape }, result = equation.type.shape
        guard result.count >= 2 else { return false }
        // A row operand has the result's rows (its other axes may broadcast); a whole one
        // broadcasts over the rows.
        func alignedAsRows() -> Bool {
            zip(shapes, isRows).allSatisfy { shape, rows in
                rows ? shape.count == result.count && shape[0] == result[0] : shape.count < result.count || shape.first == 1
            }
        }
        switch equation.primitive {
        case is UnaryElementwisePrimitive:
            return true
        case is BinaryElementwisePrimitive:
            return alignedAsRows()
        default:
            let attributes = Attributes(equation.primitive.attributes)
            let axis: Int? = if case .int(let value)? = attributes["axis"] { value } else { nil }
            switch equation.primitive.name {
            case "matmul":
                // Rows times a weight (plus a bias of its columns).
                return isRows.first == true && !isRows.dropFirst().contains(true) && attributes["transA"] == nil
                    && shapes[0].count == 2 && shapes[1].count == 2
            case "where", "stop_gradient", "broadcast":
                return alignedAsRows()
            case "slice", "pad":
                return (axis ?? 0) >= 1
            case "concatenate":
                return (axis ?? 0) >= 1 && !isRows.contains(false)
            case "reshape":
                return shapes[0].first == result.first
            case "transpose":
                return attributes["perm"].map { if case .ints(let perm) = $0 { perm.first == 0 } else { false } } ?? false
            case "reduce_sum", "reduce_max", "reduce_min":
                guard case .ints(let axes)? = attributes["axes"] else { return false }
                return !axes.contains(0) && attributes["keepDims"] == .bool(true)
            default:
                return false
            }
        }
    }

    /// A program of the equations at the positions `keeping` accepts, whose inputs are
    /// `newInputs` (values of this program, becoming inputs of their types).
    private func rebuilt(inputs newInputs: [Value], keeping: (Int) -> Bool, outputs newOutputs: [Value]) -> Program {
        var builder = ProgramBuilder(), map: [Value: Value] = [:]
        for (position, value) in newInputs.enumerated() {
            let name = if case .input(let index) = value { inputs[index].name } else { "rows\(position)" }
            map[value] = builder.input(name, type(of: value))
        }
        func mapped(_ value: Value) -> Value {
            if let new = map[value] { return new }
            guard case .constant(let index) = value else { fatalError("\(value) is not defined in the part") }
            map[value] = builder.constant(constants[index])
            return map[value]!
        }
        for (position, equation) in equations.enumerated() where keeping(position) && map[.result(position)] == nil {
            map[.result(position)] = try! builder.apply(equation.primitive, equation.operands.map(mapped))
        }
        let results = newOutputs.map(mapped)
        return try! builder.build(outputs: results).eliminatingDeadCode()
    }

    /// The program without the inputs in `range` that nothing reads, and the positions (from
    /// the range's start) of those kept.
    func droppingUnusedInputs(in range: Range<Int>) -> (program: Program, kept: [Int]) {
        let read = Set(equations.flatMap(\.operands) + outputs)
        let kept = range.filter { read.contains(.input($0)) }
        var builder = ProgramBuilder(), map: [Value: Value] = [:]
        for (position, input) in inputs.enumerated() where !range.contains(position) || kept.contains(position) {
            map[.input(position)] = builder.input(input.name, input.type)
        }
        for (index, constant) in constants.enumerated() { map[.constant(index)] = builder.constant(constant) }
        for (position, equation) in equations.enumerated() {
            map[.result(position)] = try! builder.apply(equation.primitive, equation.operands.map { map[$0]! })
        }
        let results = outputs.map { map[$0]! }
        return (try! builder.build(outputs: results), kept.map { $0 - range.lowerBound })
    }
}
