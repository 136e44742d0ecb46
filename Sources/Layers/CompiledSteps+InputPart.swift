import AutoGrad
import Synchronization

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

/// A step's input part as a compiled run evaluates it: on all the run's steps' rows at once,
/// before its first step, and differentiated after its last backward step — on the run's own
/// thread, so a bidirectional layer's directions each make their own input projections (whole
/// products, on data that thread wrote or reads next) instead of splitting each in turn.
final class InputPart: Sendable {
    /// (input rows, parameters…) → the step's sequence inputs, row by row.
    let program: Program
    /// The parameters it reads, in the order of its parameter inputs.
    let parameters: [Parameter]
    /// The gradient's halves by the number of rows they were traced for: a part's gradient
    /// may be shaped by its rows (a layer norm's broadcasts its statistics back over them).
    private let traced = Mutex<[Int: Halves]>([:])

    /// A gradient's halves: the forward, (input rows, parameters…) → (sequence inputs…,
    /// residuals…); the backward, with and without the input rows' gradient (a first layer's
    /// input needs none).
    private struct Halves: Sendable {
        let forward: Program
        let backward: Backward, parameterBackward: Backward
    }

    /// (residuals…, d sequence inputs…) → (d input rows?, pieces…), and how each parameter's
    /// gradient is formed from those outputs: as a compiled step's are over its steps, so that
    /// a weight's gradient and its bias's take one pass over the sequence inputs' gradients.
    private struct Backward: Sendable {
        let program: Program, parameterSums: [DeferredSum]
        /// Whether the program's first output is the input rows' gradient.
        let rowsGradient: Bool

        /// `backward`'s program keeping its first output only if `rowsGradient`.
        init(_ backward: Program, rowsGradient: Bool) {
            self.rowsGradient = rowsGradient
            let kept = rowsGradient ? backward : try! Program(inputs: backward.inputs, constants: backward.constants,
                                                              equations: backward.equations, outputs: Array(backward.outputs.dropFirst()))
            (program, parameterSums) = kept.deferringSums(of: Array((rowsGradient ? 1 : 0)..<kept.outputs.count))
        }

        /// The input rows' gradient (if computed) and the parameters'.
        func evaluate(on arguments: [Tensor]) -> (rows: Tensor?, parameters: [Tensor]) {
            let results = program.evaluate(on: arguments)
            return (rowsGradient ? results[0] : nil, DeferredSum.sums(parameterSums, over: [results]))
        }
    }

    init(program: Program, parameters: [Parameter]) {
        self.program = program
        self.parameters = parameters
    }

    /// The halves for `rows` rows, traced the first time.
    private func halves(rows: Int) -> Halves {
        cachedEntry(rows, in: traced) {
            let input = program.inputs[0].type
            let example = Tensor(zeros: [rows] + input.shape.dropFirst(), dtype: input.element.floatType!)
            let retraced = Program.trace([example], parameters: parameters) { arguments in
                program.evaluate(on: [arguments.tensor(0)] + parameters.map(\.value))
            }.program
            let (forward, backward) = retraced.gradient(withRespectTo: Array(retraced.inputs.indices)).split()
            return Halves(forward: forward, backward: Backward(backward, rowsGradient: true),
                          parameterBackward: Backward(backward, rowsGradient: false))
        }
    }

    /// The sequence inputs [steps, batch, ·] made of `rows` [steps, batch, ·] and the
    /// parameters' values, evaluated as ops (recorded if the caller records), and the residuals
    /// their gradients read if `keepingResiduals`.
    func evaluate(rows: Tensor, parameters: [Tensor], keepingResiduals: Bool) -> (sequences: [Tensor], residuals: [Tensor]) {
        let (steps, batch) = (rows.shape[0], rows.shape[1])
        let arguments = [rows.reshaped(to: [steps * batch] + rows.shape.dropFirst(2))] + parameters
        let results = (keepingResiduals ? halves(rows: steps * batch).forward : program).evaluate(on: arguments)
        let sequences = results.prefix(program.outputs.count).map { $0.reshaped(to: [steps, batch] + $0.shape.dropFirst()) }
        return (sequences, Array(results.dropFirst(program.outputs.count)))
    }

    /// The gradients of the input rows (if `rowsShape`, their shape [steps, batch, ·], is
    /// given) and of the parameters, from the residuals ``evaluate(rows:parameters:keepingResiduals:)``
    /// kept and the sequence inputs' gradients [steps, batch, ·].
    func gradients(residuals: [Tensor], sequenceGradients: [Tensor], rowsShape: [Int]?) -> (rows: Tensor?, parameters: [Tensor]) {
        let rows = sequenceGradients[0].shape[0] * sequenceGradients[0].shape[1]
        let cotangents = sequenceGradients.map { $0.reshaped(to: [rows] + $0.shape.dropFirst(2)) }
        let halves = halves(rows: rows)
        let (gradient, parameters) = (rowsShape == nil ? halves.parameterBackward : halves.backward).evaluate(on: residuals + cotangents)
        return (rowsShape.map { gradient!.reshaped(to: $0) }, parameters)
    }
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
