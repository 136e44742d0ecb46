/// Stochastic gradient descent with momentum, as `torch.optim.SGD`:
///
///     g ← ∇θ (−∇θ if maximize) + λθ
///     if μ ≠ 0:  b ← g on the first step, else b ← μ·b + (1 − τ)·g
///                g ← g + μ·b if nesterov, else b
///     θ ← θ − lr·g
///
/// State: `momentum_buffer` (when μ ≠ 0).
open class SGD: Optimizer<SGD.Options> {
    /// SGD's hyper-parameters, with torch's defaults.
    public struct Options: OptimizerOptions {
        /// The step size (torch `lr`).
        public var learningRate: Double
        /// The momentum factor μ.
        public var momentum: Double
        /// The dampening τ of the momentum's gradient term.
        public var dampening: Double
        /// The L2 penalty λ, added to the gradient.
        public var weightDecay: Double
        /// Whether to use Nesterov momentum (needs μ > 0 and τ = 0).
        public var nesterov: Bool
        /// Whether to ascend the objective instead of descending it.
        public var maximize: Bool

        /// Options with torch's defaults (checked by ``validate()`` when they reach an optimizer).
        public init(learningRate: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                    weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
            self.learningRate = learningRate
            self.momentum = momentum
            self.dampening = dampening
            self.weightDecay = weightDecay
            self.nesterov = nesterov
            self.maximize = maximize
        }

        /// Throws unless the learning rate, momentum, dampening and weight decay are finite
        /// and ≥ 0, and Nesterov momentum has a momentum and zero dampening (torch's checks).
        public func validate() throws(OptimizerOptionError) {
            try validateLearningRateAndWeightDecay(owner: "SGD")
            try requireNonNegative(momentum, "SGD", "momentum")
            try requireNonNegative(dampening, "SGD", "dampening")
            try require(!nesterov || (momentum > 0 && dampening == 0), "SGD", "nesterov", nesterov,
                        "false unless momentum > 0 and dampening = 0")
        }
    }

    /// Updates the parameter in place.
    open override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        switch parameter.value.dtype {
        case .float32: update(Float.self, parameter, gradient, state, options)
        case .float64: update(Double.self, parameter, gradient, state, options)
        }
    }

    /// `momentum_buffer` when the momentum is not zero.
    open override func stateBufferNames(for options: Options) -> [String] {
        options.momentum != 0 ? ["momentum_buffer"] : []
    }

    private func update<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor,
                                         _ state: ParameterState, _ options: Options) {
        let lr = T(options.learningRate), momentum = T(options.momentum)
        let dampening = T(options.dampening), weightDecay = T(options.weightDecay)
        let nesterov = options.nesterov, maximize = options.maximize
        // torch starts the buffer as a copy of the first gradient, not as zeros.
        let isFirst = momentum != 0 && !state.contains("momentum_buffer")
        let buffer = momentum != 0 ? state.buffer("momentum_buffer", like: parameter).elements(as: T.self) : nil
        parameter.withValues(as: T.self, gradient: gradient) { values, gradient in
            for i in values.indices {
                var g = adjustedGradient(gradient[i], values[i], weightDecay: weightDecay, maximize: maximize)
                if let buffer {
                    buffer[i] = isFirst ? g : buffer[i] * momentum + (1 - dampening) * g
                    g = nesterov ? g + momentum * buffer[i] : buffer[i]
                }
                values[i] = values[i] + (-lr) * g
            }
        }
    }
}
