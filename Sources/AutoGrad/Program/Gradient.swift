import CKernels

/// A program's vector-Jacobian product as a program: inputs are the original inputs followed
/// by one cotangent per float output (`%d<output>`); outputs are the original outputs
/// followed by the gradient with respect to each chosen input. ``residuals`` are the forward
/// values the backward equations read — what a training step keeps alive between its forward
/// and backward halves.
public struct GradientProgram: Sendable, CustomStringConvertible {
    /// The forward and backward equations together.
    public let program: Program
    /// How many of the program's equations are the forward pass (they come first).
    public let forwardCount: Int
    /// The forward values (inputs or forward results) that backward equations read.
    public let residuals: [Program.Value]
    /// How many of the program's outputs are the original program's (the gradients follow).
    public let outputCount: Int
    /// How many of the program's inputs are cotangents (they come last).
    public let cotangentCount: Int

    /// The program, then one line listing the residuals with their types.
    public var description: String {
        let names = program.valueNames()
        return program.description + "\n// residuals: "
            + residuals.map { "%\(names[$0]!): \(program.type(of: $0))" }.joined(separator: ", ")
    }
}

extension Program {
    /// The program computing this one's outputs and their vector-Jacobian product with
    /// respect to the inputs at `positions` (float inputs only). Built by running the
    /// equations and their pullbacks once on placeholder values while tracing, so the result
    /// is made of the same primitives — and is differentiable again (second order).
    public func gradient(withRespectTo positions: [Int]) -> GradientProgram {
        for position in positions where !(inputs.indices.contains(position) && inputs[position].type.element.floatType != nil) {
            opFailure("gradient", "input \(position) is not a float input of this program")
        }
        let previousTrace = ag_set_trace_mode(1), previousGrad = ag_set_grad_mode(1)
        defer {
            ag_set_trace_mode(previousTrace)
            ag_set_grad_mode(previousGrad)
        }
        let arguments = inputs.map { Program.placeholder(name: $0.name, type: $0.type) }
        let results = evaluate(on: arguments)
        let forwardNodes = topologicalOrder(from: results.compactMap(\.node)).filter { !$0.isLeaf }.count
        let differentiated = results.filter { $0.requiresGrad }
        let cotangents = differentiated.enumerated().map { index, output in
            Program.placeholder(name: "d\(index)", type: output.valueType)
        }
        let targets = positions.map { arguments[$0] }
        let gradients = differentiated.isEmpty
            ? targets.map { $0.zerosLike() }
            : AutoGrad.gradients(of: differentiated, withRespectTo: targets, seeds: cotangents, retainGraph: true, createGraph: true)
        let program = Program(recorded: results + gradients,
                              inputs: (arguments + cotangents).map { ($0.node!, $0.node!.name!) })
        return GradientProgram(program: program, forwardCount: forwardNodes,
                               residuals: program.residuals(forwardCount: forwardNodes, forwardInputs: inputs.count),
                               outputCount: results.count, cotangentCount: cotangents.count)
    }

    /// The outputs computed by applying each equation's primitive to `arguments` as an op:
    /// unlike ``run(_:)``, recorded on the tape like any computation (so the results are
    /// differentiable, and traceable).
    public func evaluate(on arguments: [Tensor]) -> [Tensor] {
        var results: [Tensor] = []
        results.reserveCapacity(equations.count)
        func value(_ operand: Value) -> Tensor {
            switch operand {
            case .input(let index): arguments[index]
            case .constant(let index): constants[index]
            case .result(let index): results[index]
            }
        }
        for equation in equations { results.append(apply(equation.primitive, equation.operands.map(value))) }
        return outputs.map(value)
    }

    /// A traced leaf of `type` holding ones (zeros for indices: always in range).
    static func placeholder(name: String, type: ValueType) -> Tensor {
        let value = Program.constant(Array(repeating: type.element == .int64 ? 0 : 1, count: type.count), type)
        return Tensor(storage: value.storage, shape: type.shape,
                      node: Node(leafShape: type.shape, dtype: value.dtype, name: name, elementType: type.element),
                      elementType: type.element)
    }

    /// The values defined by the first `forwardCount` equations or the first `forwardInputs`
    /// inputs that later equations read.
    func residuals(forwardCount: Int, forwardInputs: Int) -> [Value] {
        var seen = Set<Value>(), residuals: [Value] = []
        for equation in equations.dropFirst(forwardCount) {
            for operand in equation.operands where !seen.contains(operand) {
                let isForward: Bool
                switch operand {
                case .input(let index): isForward = index < forwardInputs
                case .constant: isForward = false
                case .result(let index): isForward = index < forwardCount
                }
                if isForward {
                    seen.insert(operand)
                    residuals.append(operand)
                }
            }
        }
        return residuals
    }
}

extension GradientProgram {
    /// The gradient program cut at its residuals into the two halves a training step runs
    /// apart (a recurrent engine runs them step by step): `forward` takes the original inputs
    /// and returns the original outputs followed by the residuals; `backward` takes the
    /// residuals followed by the cotangents and returns the gradients.
    ///
    /// With `recomputingCheapResiduals`, a residual that one elementwise op makes of another
    /// residual, an output or an input, and constants (an LSTM's tanh(c) of its new cell state
    /// c, a zoneout mask's comparison with 0), is not kept but recomputed by the backward half
    /// from that value, which becomes a residual if it was not one: a step's residuals are
    /// what backpropagation through time holds for every step, while its outputs are the next
    /// step's state and its inputs are held by the caller anyway.
    public func split(recomputingCheapResiduals: Bool = false) -> (forward: Program, backward: Program) {
        let original = program.inputs.count - cotangentCount
        var recomputed: [Program.Value: Program.Equation] = [:], kept: [Program.Value] = []
        let available = Set(residuals).union(program.outputs.prefix(outputCount)).union((0..<original).map(Program.Value.input))
        /// The one operand, not a constant, of an elementwise equation made of it and constants.
        func cheapOperand(_ equation: Program.Equation) -> Program.Value? {
            guard equation.primitive is UnaryElementwisePrimitive || equation.primitive is BinaryElementwisePrimitive else { return nil }
            let variables = equation.operands.filter { if case .constant = $0 { false } else { true } }
            return variables.count == 1 ? variables[0] : nil
        }
        for residual in residuals {
            if recomputingCheapResiduals, case .result(let index) = residual, let operand = cheapOperand(program.equations[index]),
               available.contains(operand), recomputed[operand] == nil {
                recomputed[residual] = program.equations[index]
                if !residuals.contains(operand) && !kept.contains(operand) { kept.append(operand) }
            } else {
                kept.append(residual)
            }
        }
        let forward = try! Program(inputs: Array(program.inputs.prefix(original)), constants: program.constants,
                                   equations: Array(program.equations.prefix(forwardCount)),
                                   outputs: Array(program.outputs.prefix(outputCount)) + kept).eliminatingDeadCode()
        var builder = ProgramBuilder(), map: [Program.Value: Program.Value] = [:]
        let names = program.valueNames()
        for residual in kept { map[residual] = builder.input("r." + names[residual]!, program.type(of: residual)) }
        for position in original..<program.inputs.count {
            map[.input(position)] = builder.input(program.inputs[position].name, program.inputs[position].type)
        }
        func mapped(_ value: Program.Value) -> Program.Value {
            if let new = map[value] { return new }
            guard case .constant(let index) = value else { fatalError("\(value) is neither a residual nor a backward value") }
            let new = builder.constant(program.constants[index])
            map[value] = new
            return new
        }
        // Residuals are in program order, so an operand is mapped before what is made of it.
        for residual in residuals {
            guard let equation = recomputed[residual] else { continue }
            map[residual] = try! builder.apply(equation.primitive, equation.operands.map(mapped))
        }
        for (position, equation) in program.equations.enumerated().dropFirst(forwardCount) {
            map[.result(position)] = try! builder.apply(equation.primitive, equation.operands.map(mapped))
        }
        // Mapped before `build` reads the builder: mapping may add constants to it.
        let outputs = program.outputs.dropFirst(outputCount).map(mapped)
        let backward = try! builder.build(outputs: outputs)
        return (forward, backward)
    }
}
