/// Why a saved optimizer state could not be loaded.
public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    /// A key is not of the form `<buffer>.<parameter name>`.
    case malformedKey(String)
    /// A key names a parameter the optimizer does not have.
    case unknownParameter(key: String)
    /// A key names a buffer the optimizer does not keep for that parameter's options.
    case unexpectedEntry(key: String)
    /// A parameter has saved state, but this entry of it is missing.
    case missingEntry(key: String)
    /// An entry's shape differs from its parameter's.
    case shapeMismatch(key: String, expected: [Int], found: [Int])
    /// A step count is not a non-negative whole number in a one-element tensor.
    case invalidStep(key: String)

    /// A message naming the entry.
    public var description: String {
        switch self {
        case .malformedKey(let key): "optimizer state key '\(key)' is not '<buffer>.<parameter>'"
        case .unknownParameter(let key): "optimizer state entry '\(key)' names no parameter of this optimizer"
        case .unexpectedEntry(let key): "optimizer state entry '\(key)' is not kept by this optimizer with these options"
        case .missingEntry(let key): "optimizer state entry '\(key)' is missing"
        case let .shapeMismatch(key, expected, found): "optimizer state entry '\(key)' has shape \(found), expected \(expected)"
        case .invalidStep(let key): "optimizer state entry '\(key)' is not a step count"
        }
    }
}

extension Optimizer {
    /// The state of every parameter updated so far, keyed `<buffer>.<parameter name>`
    /// (`exp_avg.encoder.weight`), with the update count as a float64 scalar under
    /// `step.<parameter name>`. Tensors are copies; save them with a tensor file writer.
    public func stateDictionary() -> [String: Tensor] {
        var dictionary: [String: Tensor] = [:]
        for group in groups {
            for (name, parameter) in zip(group.names, group.parameters) {
                guard let state = state(of: parameter) else { continue }
                dictionary["step." + name] = Tensor(Double(state.step), dtype: .float64)
                for buffer in state.bufferNames {
                    dictionary[buffer + "." + name] = state[buffer]
                }
            }
        }
        return dictionary
    }

    /// Replaces the optimizer's state with `state`, as written by ``stateDictionary()``,
    /// converting buffers to each parameter's dtype. Parameters without entries start afresh.
    /// Nothing changes if an entry is malformed, unknown, missing or of the wrong shape.
    public func load(state: [String: Tensor]) throws {
        var parameters: [String: (parameter: Parameter, bufferNames: [String])] = [:]
        for group in groups {
            let bufferNames = stateBufferNames(for: group.options)
            for (name, parameter) in zip(group.names, group.parameters) {
                parameters[name] = (parameter, bufferNames)
            }
        }
        var entries: [String: [String: Tensor]] = [:]
        for (key, tensor) in state.sorted(by: { $0.key < $1.key }) {
            guard let dot = key.firstIndex(of: "."), dot != key.startIndex else { throw OptimizerStateError.malformedKey(key) }
            let buffer = String(key[..<dot]), name = String(key[key.index(after: dot)...])
            guard let (parameter, bufferNames) = parameters[name] else { throw OptimizerStateError.unknownParameter(key: key) }
            if buffer == "step" {
                guard tensor.count == 1, let step = Int(exactly: tensor.item()), step >= 0 else {
                    throw OptimizerStateError.invalidStep(key: key)
                }
            } else {
                guard bufferNames.contains(buffer) else { throw OptimizerStateError.unexpectedEntry(key: key) }
                guard tensor.shape == parameter.value.shape else {
                    throw OptimizerStateError.shapeMismatch(key: key, expected: parameter.value.shape, found: tensor.shape)
                }
            }
            entries[name, default: [:]][buffer] = tensor
        }
        var loaded: [ObjectIdentifier: ParameterState] = [:]
        for (name, buffers) in entries.sorted(by: { $0.key < $1.key }) {
            let (parameter, bufferNames) = parameters[name]!
            for required in ["step"] + bufferNames where buffers[required] == nil {
                throw OptimizerStateError.missingEntry(key: required + "." + name)
            }
            let parameterState = ParameterState()
            parameterState.step = Int(buffers["step"]!.item())
            for bufferName in bufferNames {
                parameterState[bufferName] = buffers[bufferName]!.detached().to(parameter.value.dtype)
            }
            loaded[ObjectIdentifier(parameter)] = parameterState
        }
        states = loaded
    }
}
