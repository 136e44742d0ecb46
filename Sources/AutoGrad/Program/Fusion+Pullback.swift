import CKernels

// The fused kernel's gradient: its body recomputed from the operands and differentiated (it
// never reads the kernel's result).
extension FusedElementwise {
    /// Gradients through the body, recomputed from the inputs. Recorded (tracing a gradient
    /// program, or `createGraph`), the body's own pullbacks run on the recomputed values, so
    /// the gradient is made of ops linked to the inputs and differentiates again.
    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        if isRecording { return recordedPullback(gradient, inputs: inputs) }
        let leaves = inputs.map { $0.detached().requiringGrad() }
        let previous = ag_set_grad_mode(1)
        let results = body.evaluate(on: leaves)
        ag_set_grad_mode(previous)
        let gradients = AutoGrad.gradients(of: results, withRespectTo: leaves, seeds: outputGradients(gradient))
        return zip(inputs, gradients).map { $0.requiresGrad ? $1 : nil }
    }

    /// Each output's part of the result's gradient.
    private func outputGradients(_ gradient: Tensor) -> [Tensor] {
        body.outputs.count == 1 ? [gradient] : body.outputs.indices.map { gradient.select($0, along: 0) }
    }

    /// Reverse mode over the body alone: each step's pullback, in reverse, on values recomputed
    /// with recorded ops (the outer backward walk is not re-entered).
    private func recordedPullback(_ gradient: Tensor, inputs: [Tensor]) -> [Tensor?] {
        let equations = body.equations
        var values: [Tensor] = []
        func value(_ operand: Program.Value) -> Tensor {
            switch operand {
            case .input(let index): inputs[index]
            case .result(let index): values[index]
            case .constant(let index): body.constants[index]
            }
        }
        for equation in equations { values.append(apply(equation.primitive, equation.operands.map(value))) }
        var resultGradients = [Tensor?](repeating: nil, count: equations.count)
        var inputGradients = [Tensor?](repeating: nil, count: inputs.count)
        for case (.result(let index), let outputGradient) in zip(body.outputs, outputGradients(gradient)) {
            resultGradients[index] = outputGradient
        }
        for (position, equation) in equations.enumerated().reversed() {
            guard let outputGradient = resultGradients[position] else { continue }
            let operands = equation.operands.map(value)
            let pulled = equation.primitive.pullback(outputGradient, inputs: operands, output: values[position])
            for (operand, (operandValue, contribution)) in zip(equation.operands, zip(operands, pulled)) {
                guard let contribution else { continue }
                let reduced = contribution.sum(toShape: operandValue.shape)
                switch operand {
                case .input(let index): inputGradients[index] = inputGradients[index].map { $0 + reduced } ?? reduced
                case .result(let index): resultGradients[index] = resultGradients[index].map { $0 + reduced } ?? reduced
                case .constant: break
                }
            }
        }
        return zip(inputs, inputGradients).map { $0.requiresGrad ? $1 : nil }
    }
}
