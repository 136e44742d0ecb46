import Foundation

/// Why parameters could not be loaded: every missing, unexpected and mismatched name at once.
public struct ParameterLoadingError: Error, Equatable, CustomStringConvertible {
    /// Parameters of the module that the source lacks.
    public var missing: [String] = []
    /// Names in the source that the module does not have.
    public var unexpected: [String] = []
    /// Names whose shape or dtype differ: "name: expected f32[4,3], found f64[3,4]".
    public var mismatched: [String] = []

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected: " + unexpected.joined(separator: ", ")) }
        if !mismatched.isEmpty { parts.append("mismatched: " + mismatched.joined(separator: "; ")) }
        return "cannot load parameters (" + parts.joined(separator: "; ") + "); nothing was changed"
    }
}

extension Module {
    /// Sets the parameters from `tensors`, strictly by dotted name, shape and dtype: if any
    /// parameter is missing or mismatched (or, when `strict`, any name is unexpected), throws
    /// a ``ParameterLoadingError`` listing all of them and changes nothing. Values are
    /// assigned in place, so gradient slots and optimizer state stay attached.
    public func loadParameters(_ tensors: [String: Tensor], strict: Bool = true) throws(ParameterLoadingError) {
        let named = namedParameters()
        var error = ParameterLoadingError()
        for (name, parameter) in named {
            guard let tensor = tensors[name] else {
                error.missing.append(name)
                continue
            }
            let value = parameter.value
            if tensor.shape != value.shape || tensor.dtype != value.dtype {
                error.mismatched.append("\(name): expected \(value.dtype)\(value.shape), found \(tensor.dtype)\(tensor.shape)")
            }
        }
        if strict {
            let known = Set(named.map(\.name))
            error.unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
        }
        guard error.missing.isEmpty && error.unexpected.isEmpty && error.mismatched.isEmpty else { throw error }
        for (name, parameter) in named { parameter.value.assign(tensors[name]!) }
    }

    /// Loads parameters from a safetensors file (as written by `safetensors.torch.save_file(
    /// module.state_dict(), …)` for the PyTorch counterpart); see ``loadParameters(_:strict:)``.
    public func loadParameters(from url: URL, strict: Bool = true) throws {
        try loadParameters(SafeTensors.read(from: url).tensors, strict: strict)
    }

    /// The parameters by dotted name, as tensors (a `state_dict`).
    public func parameterTensors() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter.value.detached()) }, uniquingKeysWith: { first, _ in first })
    }

    /// Saves the parameters by dotted name to a safetensors file, atomically.
    public func saveParameters(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(parameterTensors(), metadata: metadata, to: url)
    }
}
