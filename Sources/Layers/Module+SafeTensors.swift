import Foundation

/// Why parameters could not be loaded: every problem at once. Nothing was changed.
public struct ParameterLoadingError: Error, Equatable, CustomStringConvertible {
    /// Parameters and buffers of the module that the source lacks (strict loading only).
    public var missing: [String] = []
    /// Names in the source that the module does not have (strict loading only).
    public var unexpected: [String] = []
    /// Names whose shapes differ: "name: expected f32[4,3], found f64[3,4]".
    public var mismatched: [String] = []

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected: " + unexpected.joined(separator: ", ")) }
        if !mismatched.isEmpty { parts.append("mismatched: " + mismatched.joined(separator: "; ")) }
        return "cannot load parameters (" + parts.joined(separator: "; ") + "); nothing was changed"
    }
}

/// What a successful load did besides loading: PyTorch's `load_state_dict` result
/// (`missing_keys`, `unexpected_keys`), plus the dtype conversions it made.
public struct ParameterLoadingReport: Equatable, CustomStringConvertible {
    /// Parameters and buffers the source lacked, left as they were (non-strict loading).
    public var missing: [String] = []
    /// Names in the source the module does not have, ignored (non-strict loading).
    public var unexpected: [String] = []
    /// Values converted to the module's dtype: "name: f64 → f32".
    public var converted: [String] = []

    /// Whether every name matched: nothing missing, nothing unexpected.
    public var matchedAll: Bool { missing.isEmpty && unexpected.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { parts.append("unexpected: " + unexpected.joined(separator: ", ")) }
        if !converted.isEmpty { parts.append("converted: " + converted.joined(separator: "; ")) }
        return parts.isEmpty ? "all names matched" : parts.joined(separator: "; ")
    }
}

extension Module {
    /// Sets the parameters and buffers from `tensors` by dotted name, as PyTorch's
    /// `load_state_dict`. Values of another dtype are converted to the module's (reported in
    /// ``ParameterLoadingReport/converted``). A shape mismatch always throws; so do missing or
    /// unexpected names when `strict`; without `strict` they are returned in the report and
    /// whatever matches is loaded. When it throws, nothing is changed. Values are assigned in
    /// place, so gradient slots and optimizer state stay attached.
    @discardableResult
    public func loadParameters(_ tensors: [String: Tensor], strict: Bool = true) throws(ParameterLoadingError) -> ParameterLoadingReport {
        typealias Target = (name: String, value: Tensor, assign: (Tensor) -> Void)
        let targets = namedParameters().map { name, parameter -> Target in (name, parameter.value, { parameter.value.assign($0) }) }
            + namedBuffers().map { name, buffer -> Target in (name, buffer.value, { buffer.value.assign($0) }) }
        var error = ParameterLoadingError(), report = ParameterLoadingReport()
        for (name, value, _) in targets {
            guard let tensor = tensors[name] else {
                if strict { error.missing.append(name) } else { report.missing.append(name) }
                continue
            }
            if tensor.shape != value.shape {
                error.mismatched.append("\(name): expected \(value.dtype)\(value.shape), found \(tensor.dtype)\(tensor.shape)")
            } else if tensor.dtype != value.dtype {
                report.converted.append("\(name): \(tensor.dtype) → \(value.dtype)")
            }
        }
        let known = Set(targets.map(\.name))
        let unexpected = tensors.keys.filter { !known.contains($0) }.sorted()
        if strict { error.unexpected = unexpected } else { report.unexpected = unexpected }
        guard error.missing.isEmpty && error.unexpected.isEmpty && error.mismatched.isEmpty else { throw error }
        for (name, _, assign) in targets { if let tensor = tensors[name] { assign(tensor) } }
        return report
    }

    /// Loads parameters and buffers from a safetensors file (as written by
    /// `safetensors.torch.save_file(module.state_dict(), …)` for the PyTorch counterpart; F16
    /// and BF16 files are read as float32 and converted); see ``loadParameters(_:strict:)``.
    @discardableResult
    public func loadParameters(from url: URL, strict: Bool = true) throws -> ParameterLoadingReport {
        try loadParameters(SafeTensors.read(from: url).tensors, strict: strict)
    }

    /// The parameters by dotted name, as tensors.
    public func parameterTensors() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter.value.detached()) }, uniquingKeysWith: { first, _ in first })
    }

    /// The parameters and buffers by dotted name, as tensors: PyTorch's `state_dict`, what
    /// ``saveParameters(to:metadata:)`` writes.
    public func stateDictionary() -> [String: Tensor] {
        parameterTensors().merging(namedBuffers().map { ($0.name, $0.buffer.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// Saves the parameters and buffers by dotted name to a safetensors file, atomically.
    public func saveParameters(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(stateDictionary(), metadata: metadata, to: url)
    }
}
