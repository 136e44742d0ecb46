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
    /// positions: those are computed once by the prologue and passed to the body. A matrix
    /// product whose right operand is invariant (a weight) reads it packed: the prologue packs
    /// it once (`pack_rhs`) and the body multiplies by the packed form (`matmul_packed`),
    /// since the product would otherwise repack the whole weight at every run — a third of
    /// the time of a recurrent step's few-row product. Products of one or two rows read it
    /// packed too: the one-row micro-kernel outruns the unpacked GEMV loops (3.7 against 5.8 µs
    /// for a batch-1 step's 128 × 512 weight).
    public func hoistingInvariants(_ invariant: Set<Int>) -> HoistedProgram {
        var prologue = ProgramBuilder(), body = ProgramBuilder()
        var inPrologue: [Value: Value] = [:], inBody: [Value: Value] = [:], packedInBody: [Bool: [Value: Value]] = [:]
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
            } else if let product = equation.primitive as? MatMul, let weight = inPrologue[operands[1]],
                      readsPacked(product, type(of: operands[0]).shape, type(of: operands[1]).shape) {
                let shape = type(of: operands[1]).shape
                let packing = PackRightOperand(transposed: product.transposeB)
                let packed = packedInBody[product.transposeB, default: [:]][operands[1]] ?? {
                    let value = handedOver(try! prologue.apply(packing, [weight]),
                                           try! packing.outputType([type(of: operands[1])]))
                    packedInBody[product.transposeB, default: [:]][operands[1]] = value
                    return value
                }()
                inBody[.result(position)] = try! body.apply(PackedMatMul(transposeA: product.transposeA,
                                                                         columns: product.transposeB ? shape[0] : shape[1]),
                                                            [bodyValue(operands[0]), packed] + operands.dropFirst(2).map(bodyValue))
            } else {
                inBody[.result(position)] = try! body.apply(equation.primitive, operands.map(bodyValue))
            }
        }
        // Mapped before `build` reads the builder: mapping may add inputs and constants to it.
        let results = outputs.map(bodyValue)
        return HoistedProgram(prologue: try! prologue.build(outputs: prologueOutputs), body: try! body.build(outputs: results))
    }
}

/// Whether `product` of operands shaped `a` and `b` can read b packed: b a matrix, and A
/// either untransposed (its rows, over any leading axes) or a matrix.
private func readsPacked(_ product: MatMul, _ a: [Int], _ b: [Int]) -> Bool {
    b.count == 2 && a.count >= 2 && (!product.transposeA || a.count == 2)
}
