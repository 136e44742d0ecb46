/// Layers applied one after another, PyTorch's `nn.Sequential`; parameters are named by
/// position (`0.weight`, `2.bias`). It takes only tensor-to-tensor layers (``UnaryLayer``), so
/// `Sequential([Embedding(…), …])` does not compile.
open class Sequential: Module, UnaryLayer {
    /// The layers, in the order they are applied.
    public let layers: [any UnaryLayer]

    /// A sequence of `layers`.
    public init(_ layers: [any UnaryLayer]) {
        self.layers = layers
        super.init()
    }

    /// The children by position, so names read `0.weight` as in PyTorch.
    open override func namedChildren() -> [(name: String, module: Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    open override func namedParameters() -> [(name: String, parameter: Parameter)] {
        namedChildren().flatMap { name, module in module.namedParameters().map { (name + "." + $0.name, $0.parameter) } }
    }

    /// Each layer applied to the previous one's output.
    open func forward(_ input: Tensor) -> Tensor {
        layers.reduce(input) { $1($0) }
    }
}

/// An activation as a layer (tanh, σ, ReLU, identity), for `Sequential`.
open class ActivationLayer: Module, UnaryLayer {
    public let activation: Activation

    public init(_ activation: Activation) {
        self.activation = activation
        super.init()
    }

    /// The activation applied elementwise.
    open func forward(_ input: Tensor) -> Tensor { activation(input) }
}

/// tanh as a layer.
public final class Tanh: ActivationLayer { public init() { super.init(.tanh) } }
/// σ as a layer.
public final class Sigmoid: ActivationLayer { public init() { super.init(.sigmoid) } }
/// ReLU as a layer.
public final class ReLU: ActivationLayer { public init() { super.init(.relu) } }
/// The identity as a layer.
public final class Identity: ActivationLayer { public init() { super.init(.identity) } }

/// Leaky ReLU as a layer (PyTorch's default slope 0.01).
public final class LeakyReLU: Module, UnaryLayer {
    public let negativeSlope: Double
    public init(negativeSlope: Double = 0.01) {
        self.negativeSlope = negativeSlope
        super.init()
    }
    /// x where x > 0, else slope · x.
    public func forward(_ input: Tensor) -> Tensor { input.leakyRelu(negativeSlope: negativeSlope) }
}

/// Softplus as a layer.
public final class Softplus: Module, UnaryLayer {
    public override init() { super.init() }
    /// log(1 + eˣ).
    public func forward(_ input: Tensor) -> Tensor { input.softplus() }
}
