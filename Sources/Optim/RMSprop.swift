/// RMSprop, as `torch.optim.RMSprop`:
///
///     g ← ∇θ (−∇θ if maximize) + λθ
///     s ← α·s + (1 − α)·g²
///     centered: ḡ ← α·ḡ + (1 − α)·g,  d = √(s − ḡ²) + ε;   else d = √s + ε
///     μ > 0: b ← μ·b + g/d,  θ ← θ − lr·b;                else θ ← θ − lr·g/d
///
/// ε is added after the square root. State: `square_avg`, `momentum_buffer` (μ > 0),
/// `grad_avg` (centered).
open class RMSprop: Optimizer<RMSprop.Options> {
    /// RMSprop's hyper-parameters, with torch's defaults.
    public struct Options: OptimizerOptions {
        /// The step size (torch `lr`).
        public var learningRate: Double
        /// The smoothing constant α of the running averages.
        public var alpha: Double
        /// The term ε added to the denominator (torch `eps`).
        public var epsilon: Double
        /// The L2 penalty λ, added to the gradient.
        public var weightDecay: Double
        /// The momentum factor μ.
        public var momentum: Double
        /// Whether to normalize by the estimated variance of the gradient instead of its
        /// second moment.
        public var centered: Bool
        /// Whether to ascend the objective instead of descending it.
        public var maximize: Bool

        /// Options with torch's defaults (checked by ``validate()`` when they reach an optimizer).
        public init(learningRate: Double = 1e-2, alpha: Double = 0.99, epsilon: Double = 1e-8,
                    weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false, maximize: Bool = false) {
            self.learningRate = learningRate
            self.alpha = alpha
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.momentum = momentum
            self.centered = centered
            self.maximize = maximize
        }

        /// Throws unless every number is finite and ≥ 0 (torch's checks) and α ≤ 1, so the
        /// running averages stay averages.
        public func validate() throws(OptimizerOptionError) {
            try validateLearningRateAndWeightDecay(owner: "RMSprop")
            try require((0...1).contains(alpha), "RMSprop", "alpha", alpha, "in [0, 1]")
            try requireNonNegative(epsilon, "RMSprop", "epsilon")
            try requireNonNegative(momentum, "RMSprop", "momentum")
        }
    }

    /// Updates the parameter in place.
    open override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        switch parameter.value.dtype {
        case .float32: update(Float.self, parameter, gradient, state, options)
        case .float64: update(Double.self, parameter, gradient, state, options)
        }
    }

    /// `square_avg`, plus `momentum_buffer` with momentum and `grad_avg` when centered.
    open override func stateBufferNames(for options: Options) -> [String] {
        ["square_avg"] + (options.momentum > 0 ? ["momentum_buffer"] : []) + (options.centered ? ["grad_avg"] : [])
    }

    private func update<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor,
                                         _ state: ParameterState, _ options: Options) {
        let lr = T(options.learningRate), alpha = T(options.alpha), squareWeight = T(1 - options.alpha)
        let epsilon = T(options.epsilon), momentum = T(options.momentum)
        let weightDecay = T(options.weightDecay), maximize = options.maximize
        let squareAverage = state.buffer("square_avg", like: parameter).elements(as: T.self)
        let buffer = options.momentum > 0 ? state.buffer("momentum_buffer", like: parameter).elements(as: T.self) : nil
        let average = options.centered ? state.buffer("grad_avg", like: parameter).elements(as: T.self) : nil
        parameter.withValues(as: T.self, gradient: gradient) { values, gradient in
            for i in values.indices {
                let g = adjustedGradient(gradient[i], values[i], weightDecay: weightDecay, maximize: maximize)
                squareAverage[i] = squareAverage[i] * alpha + squareWeight * g * g
                var variance = squareAverage[i]
                if let average {
                    average[i] = lerp(average[i], g, weight: squareWeight)
                    variance = variance + (-1 * average[i]) * average[i]
                }
                let denominator = variance.squareRoot() + epsilon
                if let buffer {
                    buffer[i] = buffer[i] * momentum + g / denominator
                    values[i] = values[i] + (-lr) * buffer[i]
                } else {
                    values[i] = values[i] + (-lr) * g / denominator
                }
            }
        }
    }
}
