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

    /// Whether `equation` computes each row of its result from the same row of its operands
    /// marked in `isRows` (all of shape [rows, ·]) and whole unmarked operands.
    private func treatsRowsIndependently(_ equation: Equation, _ isRows: [Bool]) -> Bool {
        let shapes = equation.operands.map { type(of: $0).shape }, result = equation.type.shape
        guard result.count >= 2 else { return false }
        switch equation.primitive {
        case is UnaryElementwisePrimitive:
            return true
        case is BinaryElementwisePrimitive:
            // A row operand has the result's shape; another broadcasts over the rows.
            return zip(shapes, isRows).allSatisfy { $1 ? $0 == result : $0.count < result.count || $0.first == 1 }
        default:
            let attributes = Attributes(equation.primitive.attributes)
            switch equation.primitive.name {
            case "matmul":
                return isRows == [true, false] && attributes["transA"] == nil && shapes.allSatisfy { $0.count == 2 }
            case "slice":
                guard case .int(let axis)? = attributes["axis"] else { return false }
                return axis >= 1
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
