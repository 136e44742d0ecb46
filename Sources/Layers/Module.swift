@_exported import AutoGrad

/// The base class of every layer. Subclass it and declare parameters and child modules as
/// stored properties (also in arrays or optionals); parameters are then found by reflection
/// and named by their dotted property path (`encoder.weight`, `layers.0.bias`), as in
/// PyTorch's `state_dict`. A layer that maps one tensor to one tensor also adopts
/// ``UnaryLayer`` and writes `forward(_:)`; that is what makes it callable on a tensor and
/// accepted by ``Sequential``:
///
///     final class TwoLayer: Module, UnaryLayer {
///         let hidden = Linear(4, 8), output = Linear(8, 2)
///         func forward(_ x: Tensor) -> Tensor { output(hidden(x).relu()) }
///     }
///
/// Layers with another signature add their own call methods: ``Embedding`` takes indices,
/// recurrent networks take and return states (``SequenceLayer``), cells take one step.
/// Module itself has no `forward`, so calling a layer on what it does not take is a compile
/// error, not a trap.
open class Module {
    /// Whether the module is in training mode (dropout active); see ``train(_:)`` and ``eval()``.
    public private(set) var isTraining = true

    public init() {}

    /// The direct child modules with their property names, found by reflection.
    open func namedChildren() -> [(name: String, module: Module)] {
        reflectedMembers().compactMap { name, value in (value as? Module).map { (name, $0) } }
    }

    /// The direct child modules, in declaration order.
    public func children() -> [Module] { namedChildren().map(\.module) }

    /// Every parameter of this module and its descendants, with dotted names, in declaration
    /// order. Override to name parameters differently (the recurrent networks use PyTorch's
    /// flat `weight_ih_l0` names); overrides compose, since parents call this on children.
    open func namedParameters() -> [(name: String, parameter: Parameter)] {
        reflectedMembers().flatMap { name, value -> [(name: String, parameter: Parameter)] in
            if let parameter = value as? Parameter { return [(name, parameter)] }
            if let module = value as? Module {
                return module.namedParameters().map { (name + "." + $0.name, $0.parameter) }
            }
            return []
        }
    }

    /// Every buffer (a non-learned tensor, see ``Buffer``) of this module and its descendants,
    /// with dotted names: this module's own first, then each child's under the child's name.
    open func namedBuffers() -> [(name: String, buffer: Buffer)] {
        let own = reflectedMembers().compactMap { name, value in (value as? Buffer).map { (name, $0) } }
        return own + namedChildren().flatMap { child in
            child.module.namedBuffers().map { (child.name + "." + $0.name, $0.buffer) }
        }
    }

    /// Every parameter, in the order of ``namedParameters()``.
    public func parameters() -> [Parameter] { namedParameters().map(\.parameter) }

    /// The parameters by dotted name.
    public func parameterDictionary() -> [String: Parameter] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter) }, uniquingKeysWith: { first, _ in first })
    }

    /// Labels every parameter with its dotted name, so graphs print `%encoder.weight`.
    public func labelParameters() {
        for (name, parameter) in namedParameters() { parameter.name = name }
    }

    /// Forgets the gradients of every parameter.
    public func zeroGrad() {
        for parameter in parameters() { parameter.zeroGrad() }
    }

    /// Sets training mode here and in every descendant.
    public func train(_ mode: Bool = true) {
        isTraining = mode
        for (_, child) in namedChildren() { child.train(mode) }
    }

    /// Sets evaluation mode (dropout off) here and in every descendant.
    public func eval() { train(false) }

    /// Converts every parameter and buffer to `dtype` (e.g. `.float64` to check gradients).
    /// Gradients are dropped, since they belong to the old values.
    public func to(_ dtype: DType) {
        for parameter in parameters() where parameter.value.dtype != dtype {
            parameter.value = parameter.value.detached().to(dtype)
            parameter.zeroGrad()
        }
        for (_, buffer) in namedBuffers() where buffer.value.dtype != dtype { buffer.value = buffer.value.to(dtype) }
    }

    /// Stored properties of this object and its superclasses holding parameters, buffers or modules,
    /// flattening arrays (`name.0`, `name.1`, …) and optionals.
    private func reflectedMembers() -> [(String, Any)] {
        var members: [(String, Any)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let current = mirror {
            levels.append(current)
            mirror = current.superclassMirror
        }
        // Superclass properties first: the order they were declared in.
        for level in levels.reversed() {
            for child in level.children {
                guard let label = child.label else { continue }
                members += flatten(child.value, name: label.hasPrefix("_") ? String(label.dropFirst()) : label)
            }
        }
        return members
    }

    private func flatten(_ value: Any, name: String) -> [(String, Any)] {
        switch value {
        case is Parameter, is Module, is Buffer:
            return [(name, value)]
        case let array as [Any]:
            return array.enumerated().flatMap { flatten($0.element, name: "\(name).\($0.offset)") }
        default:
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional, let wrapped = mirror.children.first?.value {
                return flatten(wrapped, name: name)
            }
            return []
        }
    }
}
