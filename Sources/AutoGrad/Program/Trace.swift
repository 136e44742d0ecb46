import CKernels

/// A value a ``Program`` takes as an input: a float tensor, indices or a mask.
public protocol ProgramArgument: Sendable {
    /// The value as the program holds it (indices and masks in float storage, typed `i64`
    /// and `bool`).
    var programValue: Tensor { get }
}

extension Tensor: ProgramArgument {
    public var programValue: Tensor { detached() }
}

extension IndexTensor: ProgramArgument {
    public var programValue: Tensor { tensor }
}

extension Mask: ProgramArgument {
    public var programValue: Tensor { tensor(dtype: .float32) }
}

/// The traced arguments a ``Program/trace(_:parameters:names:_:)`` body receives, by
/// position and kind.
public struct TracedArguments {
    fileprivate let values: [Tensor]
    fileprivate let kinds: [ElementType]

    /// The float tensor at `position`.
    public func tensor(_ position: Int) -> Tensor {
        guard kinds[position].floatType != nil else { opFailure("trace", "argument \(position) is \(kinds[position]), not a float tensor") }
        return values[position]
    }

    /// The indices at `position`.
    public func indices(_ position: Int) -> IndexTensor {
        guard kinds[position] == .int64 else { opFailure("trace", "argument \(position) is \(kinds[position]), not indices") }
        var indices = IndexTensor(values[position].scalars.map { Int($0) }, shape: values[position].shape)
        indices.traced = values[position]
        return indices
    }

    /// The mask at `position`.
    public func mask(_ position: Int) -> Mask {
        guard kinds[position] == .bool else { opFailure("trace", "argument \(position) is \(kinds[position]), not a mask") }
        var mask = Mask(values[position].scalars.map { $0 != 0 }, shape: values[position].shape)
        mask.traced = values[position]
        return mask
    }
}

/// A traced program together with the parameters it reads: calling it reads each
/// parameter's current value, so an optimizer step changes what the next call computes.
public struct TracedFunction: Sendable {
    /// The program: the arguments' inputs first, then one input per parameter.
    public let program: Program
    /// The parameters behind the program's last inputs, in order.
    public let parameters: [Parameter]

    /// Runs the program on `arguments` (same kinds, types and order as traced) and the
    /// parameters' current values.
    public func callAsFunction(_ arguments: [any ProgramArgument]) -> [Tensor] {
        program.run(arguments.map(\.programValue) + parameters.map(\.value))
    }
}

extension Program {
    /// Runs `body` once on `arguments` and returns its program: every op applied to an
    /// argument, a parameter or a value computed from them becomes an equation — including
    /// ops on indices and masks and ops under ``noGrad(_:)`` (behind a `stop_gradient`).
    ///
    /// As in JAX, Swift control flow runs once, on the example values: loops unroll, and a
    /// branch on a value's contents is taken as it was for these arguments. Values computed
    /// outside the traced ops (a Swift array turned into indices, say) become constants.
    /// `parameters` become the program's last inputs, named by their labels; a tensor that
    /// requires gradients but is neither an argument nor a parameter is a constant.
    public static func trace(_ arguments: [any ProgramArgument], parameters: [Parameter] = [], names: [String]? = nil,
                             _ body: (TracedArguments) -> [Tensor]) -> TracedFunction {
        let previousTrace = ag_set_trace_mode(1), previousGrad = ag_set_grad_mode(1)
        defer {
            ag_set_trace_mode(previousTrace)
            ag_set_grad_mode(previousGrad)
        }
        let values = arguments.enumerated().map { position, argument in
            let value = argument.programValue
            let name = names.flatMap { $0.indices.contains(position) ? $0[position] : nil } ?? "arg\(position)"
            return Tensor(storage: value.storage, shape: value.shape,
                          node: Node(leafShape: value.shape, dtype: value.dtype, name: name, elementType: value.elementType),
                          elementType: value.elementType)
        }
        let outputs = body(TracedArguments(values: values, kinds: values.map(\.elementType)))
        let parameterInputs = parameters.enumerated().map { position, parameter in
            guard let node = parameter.value.node else {
                opFailure("trace", "parameter \(parameter.name ?? "\(position)") holds a value computed without recording; trace it recording")
            }
            return (node, parameter.name ?? "param\(position)")
        }
        let argumentInputs = values.map { ($0.node!, $0.node!.name!) }
        let program = Program(recorded: outputs, inputs: argumentInputs + parameterInputs)
        return TracedFunction(program: program, parameters: parameters)
    }

    /// The program behind outputs recorded on the tape, with `inputs` (leaf nodes and names)
    /// as its inputs; other operands become constants with their recorded values.
    init(recorded outputs: [Tensor], inputs: [(node: Node, name: String)]) {
        self.init(recordedNodes: outputs.map { $0.node }, constantOutputs: outputs, inputs: inputs)
    }

    /// The program behind recorded output nodes (every output recorded).
    init(recordedNodes outputs: [Node], inputs: [(node: Node, name: String)]) {
        self.init(recordedNodes: outputs, constantOutputs: [], inputs: inputs)
    }

    /// The shared builder: an output whose node is `nil` is the constant in `constantOutputs`
    /// at its position.
    private init(recordedNodes outputs: [Node?], constantOutputs: [Tensor], inputs: [(node: Node, name: String)]) {
        var builder = ProgramBuilder()
        var values: [ObjectIdentifier: Program.Value] = [:]
        for (node, name) in inputs {
            values[ObjectIdentifier(node)] = builder.input(name, node.type)
        }
        for node in topologicalOrder(from: outputs.compactMap { $0 }) {
            guard let primitive = node.primitive, values[ObjectIdentifier(node)] == nil else { continue }
            let operands = zip(node.operands, node.savedInputs).map { operand, storage in
                if let source = operand.node, let value = values[ObjectIdentifier(source)] { return value }
                // A leaf that is not an input is a constant: its value, unless a backward pass released it.
                guard storage.count == elementCount(operand.shape) else {
                    opFailure("Program", "a value '\(primitive.name)' reads was released by a backward pass; build the program before it, or pass retainGraph: true")
                }
                return builder.constant(Tensor(storage: storage, shape: operand.shape, elementType: operand.elementType))
            }
            do {
                values[ObjectIdentifier(node)] = try builder.apply(primitive, operands)
            } catch {
                opFailure("Program", "recorded '\(primitive.name)' does not type-check: \(error)")
            }
        }
        let results = outputs.enumerated().map { position, output in
            output.flatMap { values[ObjectIdentifier($0)] } ?? builder.constant(constantOutputs[position])
        }
        do {
            self = try builder.build(outputs: results)
        } catch {
            opFailure("Program", "\(error)")
        }
    }
}

extension TracedFunction {
    /// The traced function's first output (a scalar loss) and its gradient with respect to
    /// every parameter, differentiated once and compiled: calling the result on a batch
    /// returns the loss and adds each parameter's gradient into its `grad`, as `backward()`
    /// does — a training step's forward and backward without a tape.
    public func compiledGradient() -> CompiledGradient {
        let argumentCount = program.inputs.count - parameters.count
        let gradient = program.gradient(withRespectTo: Array(argumentCount..<program.inputs.count))
        // The cotangents: 1 for the loss, 0 for any further output; the same at every call.
        let cotangents = gradient.program.inputs.suffix(gradient.cotangentCount).enumerated().map { position, input in
            Tensor(repeating: position == 0 ? 1 : 0, shape: input.type.shape, dtype: input.type.element.floatType ?? .float32)
        }
        return CompiledGradient(executable: Executable(gradient.program), parameters: parameters,
                                outputCount: program.outputs.count, cotangents: cotangents)
    }
}

/// A compiled loss-and-gradient step (see ``TracedFunction/compiledGradient()``).
public struct CompiledGradient: Sendable {
    /// The compiled gradient program.
    public let executable: Executable
    /// The parameters whose gradients it computes.
    public let parameters: [Parameter]
    fileprivate let outputCount: Int
    fileprivate let cotangents: [Tensor]

    /// Runs forward and backward on `arguments` (the traced function's arguments), adds
    /// the gradients into the parameters' `grad` and returns the loss.
    public func callAsFunction(_ arguments: [any ProgramArgument]) -> Tensor {
        let results = executable(arguments.map(\.programValue) + parameters.map(\.value) + cotangents)
        for (parameter, gradient) in zip(parameters, results.dropFirst(outputCount)) {
            parameter.grad = parameter.grad.map { $0 + gradient } ?? gradient
        }
        return results[0]
    }
}
