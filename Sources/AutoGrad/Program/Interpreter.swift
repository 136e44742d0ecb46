import CKernels

extension Program {
    /// Runs the program on values for its inputs (same order and types; indices and masks as
    /// ``ProgramArgument/programValue``) and returns its outputs. Nothing is recorded: the
    /// results require no gradients (differentiate with ``gradient(withRespectTo:)``).
    /// Each intermediate value is released after its last use.
    public func run(_ arguments: [Tensor]) -> [Tensor] {
        ag_prepare_thread()
        guard arguments.count == inputs.count else {
            opFailure("run", "\(arguments.count) arguments for a program with \(inputs.count) inputs")
        }
        for (input, argument) in zip(inputs, arguments) where argument.valueType != input.type {
            opFailure("run", "input %\(input.name) expects \(input.type), got \(argument.valueType)")
        }
        let lastUse = lastUses()
        var results = [Tensor?](repeating: nil, count: equations.count)
        func value(_ operand: Value) -> Tensor {
            switch operand {
            case .input(let index): arguments[index]
            case .constant(let index): constants[index]
            case .result(let index): results[index]!
            }
        }
        for (position, equation) in equations.enumerated() {
            var output = equation.primitive.forward(equation.operands.map(value), shape: equation.type.shape)
            output.elementType = equation.type.element
            results[position] = output
            for case .result(let index) in equation.operands where lastUse[index] == position {
                results[index] = nil
            }
        }
        return outputs.map(value)
    }

    /// For each equation's result, the position of the last equation that reads it
    /// (`equations.count` for outputs, which live to the end).
    func lastUses() -> [Int] {
        var last = Array(0..<equations.count)
        for (position, equation) in equations.enumerated() {
            for case .result(let index) in equation.operands { last[index] = position }
        }
        for case .result(let index) in outputs { last[index] = equations.count }
        return last
    }
}
