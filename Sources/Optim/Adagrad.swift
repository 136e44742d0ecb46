/// Adagrad, as `torch.optim.Adagrad` (t is the parameter's step count):
///
///     g ← ∇θ (−∇θ if maximize) + λθ
///     clr = lr / (1 + (t − 1)·lr_decay)
///     s ← s + g²          (s starts at initial_accumulator_value)
///     θ ← θ − clr · g / (√s + ε)
///
/// State: `sum`.
open class Adagrad: Optimizer<Adagrad.Options> {
    /// Adagrad's hyper-parameters, with torch's defaults.
    public struct Options: OptimizerOptions {
        /// The step size (torch `lr`).
        public var learningRate: Double
        /// The decay of the step size with the step count (torch `lr_decay`).
        public var learningRateDecay: Double
        /// The L2 penalty λ, added to the gradient.
        public var weightDecay: Double
        /// The value the sum of squared gradients starts at.
        public var initialAccumulatorValue: Double
        /// The term ε added to the denominator (torch `eps`).
        public var epsilon: Double
        /// Whether to ascend the objective instead of descending it.
        public var maximize: Bool

        /// Options with torch's defaults (checked by ``validate()`` when they reach an optimizer).
        public init(learningRate: Double = 1e-2, learningRateDecay: Double = 0, weightDecay: Double = 0,
                    initialAccumulatorValue: Double = 0, epsilon: Double = 1e-10, maximize: Bool = false) {
            self.learningRate = learningRate
            self.learningRateDecay = learningRateDecay
            self.weightDecay = weightDecay
            self.initialAccumulatorValue = initialAccumulatorValue
            self.epsilon = epsilon
            self.maximize = maximize
        }

        /// Throws unless every number is finite and ≥ 0 (torch's checks).
        public func validate() throws(OptimizerOptionError) {
            try validateLearningRateAndWeightDecay(owner: "Adagrad")
            try requireNonNegative(learningRateDecay, "Adagrad", "learningRateDecay")
            try requireNonNegative(initialAccumulatorValue, "Adagrad", "initialAccumulatorValue")
            try requireNonNegative(epsilon, "Adagrad", "epsilon")
        }
    }

    /// Updates the parameter in place.
    open override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        switch parameter.value.dtype {
        case .float32: update(Float.self, parameter, gradient, state, options)
        case .float64: update(Double.self, parameter, gradient, state, options)
        }
    }

    /// `sum`.
    open override func stateBufferNames(for options: Options) -> [String] { ["sum"] }

    private func update<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor,
                                         _ state: ParameterState, _ options: Options) {
        let stepSize = T(options.learningRate / (1 + Double(state.step - 1) * options.learningRateDecay))
        let epsilon = T(options.epsilon), weightDecay = T(options.weightDecay), maximize = options.maximize
        let sum = state.buffer("sum", like: parameter, filledWith: options.initialAccumulatorValue).elements(as: T.self)
        parameter.withValues(as: T.self, gradient: gradient) { values, gradient in
            for i in values.indices {
                let g = adjustedGradient(gradient[i], values[i], weightDecay: weightDecay, maximize: maximize)
                sum[i] = sum[i] + 1 * g * g
                values[i] = values[i] + (-stepSize) * g / (sum[i].squareRoot() + epsilon)
            }
        }
    }
}
