// Loop-invariant code motion for programs run many times with some inputs unchanged (a
// recurrent step over a sequence reads the same weights at every step).

/// A program cut into the part that depends only on inputs that stay the same across many
/// runs (``prologue``, run once) and the rest (``body``, run each time).
public struct HoistedProgram: Sendable {
    /// Takes the invariant inputs (in the original order) and returns the invariant values
    /// the body reads.
    public let prologue: Program
    /// Takes the varying inputs (in the original order), then the prologue's outputs, and
    /// returns the original outputs.
    public let body: Program
}

extension Program {
    /// The program cut at the values that depend only on the inputs at `invariant`
    /// positions: those are computed once by the prologue and passed to the body. A weight
    /// an invariant matrix product reads transposed is transposed once in the prologue, since
    /// the product packs a transposed operand at every run otherwise (half the speed for the
    /// few-row products of a recurrent step).
    public func hoistingInvariants(_ invariant: Set<Int>) -> HoistedProgram {
        var prologue = ProgramBuilder(), body = ProgramBuilder()
        var inPrologue: [Value: Value] = [:], inBody: [Value: Value] = [:], transposedInBody: [Value: Value] = [:]
        var prologueOutputs: [Value] = []
        for (position, input) in inputs.enumerated() {
            if invariant.contains(position) {
                inPrologue[.input(position)] = prologue.input(input.name, input.type)
            } else {
                inBody[.input(position)] = body.input(input.name, input.type)
            }
        }
        /// Passes a prologue value to the body as a new input.
        func handedOver(_ value: Value, _ type: ValueType) -> Value {
            prologueOutputs.append(value)
            return body.input("hoisted\(prologueOutputs.count - 1)", type)
        }
        func bodyValue(_ value: Value) -> Value {
            if let mapped = inBody[value] { return mapped }
            if case .constant(let index) = value {
                inBody[value] = body.constant(constants[index])
            } else {
                inBody[value] = handedOver(inPrologue[value]!, type(of: value))
            }
            return inBody[value]!
        }
        func prologueValue(_ value: Value) -> Value? {
            if let mapped = inPrologue[value] { return mapped }
            guard case .constant(let index) = value else { return nil }
            inPrologue[value] = prologue.constant(constants[index])
            return inPrologue[value]
        }
        for (position, equation) in equations.enumerated() {
            let operands = equation.operands
            if !operands.isEmpty, operands.allSatisfy({ prologueValue($0) != nil }) {
                inPrologue[.result(position)] = try! prologue.apply(equation.primitive, operands.map { prologueValue($0)! })
            } else if let product = equation.primitive as? MatMul, product.transposeB, let weight = inPrologue[operands[1]],
                      type(of: operands[1]).shape.count == 2 {
                // x·Wᵀ with W invariant: x·(Wᵀ), Wᵀ made once.
                let transposed = transposedInBody[operands[1]] ?? {
                    let shape = type(of: operands[1]).shape
                    let value = handedOver(try! prologue.apply(Permute(permutation: [1, 0]), [weight]),
                                           ValueType(type(of: operands[1]).element, [shape[1], shape[0]]))
                    transposedInBody[operands[1]] = value
                    return value
                }()
                inBody[.result(position)] = try! body.apply(MatMul(transposeA: product.transposeA, transposeB: false),
                                                            [bodyValue(operands[0]), transposed])
            } else {
                inBody[.result(position)] = try! body.apply(equation.primitive, operands.map(bodyValue))
            }
        }
        // Mapped before `build` reads the builder: mapping may add inputs and constants to it.
        let results = outputs.map(bodyValue)
        return HoistedProgram(prologue: try! prologue.build(outputs: prologueOutputs), body: try! body.build(outputs: results))
    }
}
