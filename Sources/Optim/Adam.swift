import CKernels
import Foundation

/// Adam, as `torch.optim.Adam` (t is the parameter's step count):
///
///     g ← ∇θ (−∇θ if maximize);  g ← g + λθ  (or θ ← θ·(1 − lr·λ) if decoupled, as AdamW)
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²;   amsgrad: v_max ← max(v_max, v), and v_max replaces v below
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// ε is added after the square root of the bias-corrected v. State: `exp_avg`, `exp_avg_sq`,
/// and `max_exp_avg_sq` with AMSGrad.
open class Adam: Optimizer<Adam.Options> {
    /// Adam's hyper-parameters, with torch's defaults.
    public struct Options: OptimizerOptions {
        /// The step size (torch `lr`).
        public var learningRate: Double
        /// The decay rate β₁ of the gradient's running average (torch `betas[0]`).
        public var beta1: Double
        /// The decay rate β₂ of the squared gradient's running average (torch `betas[1]`).
        public var beta2: Double
        /// The term ε added to the denominator (torch `eps`).
        public var epsilon: Double
        /// The weight decay λ: an L2 penalty added to the gradient, or decoupled decay.
        public var weightDecay: Double
        /// Whether to use the maximum of the past squared-gradient averages (AMSGrad).
        public var amsgrad: Bool
        /// Whether to ascend the objective instead of descending it.
        public var maximize: Bool
        /// Whether the weight decay shrinks θ directly instead of adding λθ to the gradient
        /// (what makes AdamW).
        public var decoupledWeightDecay: Bool

        /// Options with torch's defaults (checked by ``validate()`` when they reach an optimizer).
        public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                    epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false,
                    maximize: Bool = false, decoupledWeightDecay: Bool = false) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.amsgrad = amsgrad
            self.maximize = maximize
            self.decoupledWeightDecay = decoupledWeightDecay
        }

        /// Throws unless the learning rate, ε and weight decay are finite and ≥ 0 and both
        /// betas are in [0, 1) (torch's checks).
        public func validate() throws(OptimizerOptionError) {
            try validateAdamOptions(self, owner: "Adam", beta1: beta1, beta2: beta2, epsilon: epsilon)
        }
    }

    /// Updates the parameter in place.
    open override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        adamUpdate(parameter, gradient: gradient, state: state, options: options)
    }

    /// `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with AMSGrad.
    open override func stateBufferNames(for options: Options) -> [String] {
        adamStateBufferNames(amsgrad: options.amsgrad)
    }
}

/// AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay, θ ← θ·(1 − lr·λ) before
/// the Adam step, and λ = 0.01 by default. State as ``Adam``.
open class AdamW: Optimizer<AdamW.Options> {
    /// AdamW's hyper-parameters, with torch's defaults (see ``Adam/Options``).
    public struct Options: OptimizerOptions {
        /// The step size (torch `lr`).
        public var learningRate: Double
        /// The decay rate β₁ of the gradient's running average.
        public var beta1: Double
        /// The decay rate β₂ of the squared gradient's running average.
        public var beta2: Double
        /// The term ε added to the denominator.
        public var epsilon: Double
        /// The decoupled weight decay λ.
        public var weightDecay: Double
        /// Whether to use AMSGrad.
        public var amsgrad: Bool
        /// Whether to ascend the objective instead of descending it.
        public var maximize: Bool

        /// Options with torch's defaults (checked by ``validate()`` when they reach an optimizer).
        public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                    epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.amsgrad = amsgrad
            self.maximize = maximize
        }

        /// Throws unless the learning rate, ε and weight decay are finite and ≥ 0 and both
        /// betas are in [0, 1) (torch's checks).
        public func validate() throws(OptimizerOptionError) {
            try validateAdamOptions(self, owner: "AdamW", beta1: beta1, beta2: beta2, epsilon: epsilon)
        }

        /// The same settings as Adam options with decoupled weight decay.
        var adam: Adam.Options {
            Adam.Options(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                         weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupledWeightDecay: true)
        }
    }

    /// Updates the parameter in place.
    open override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        adamUpdate(parameter, gradient: gradient, state: state, options: options.adam)
    }

    /// `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with AMSGrad.
    open override func stateBufferNames(for options: Options) -> [String] {
        adamStateBufferNames(amsgrad: options.amsgrad)
    }
}

private func validateAdamOptions(_ options: some OptimizerOptions, owner: String, beta1: Double, beta2: Double,
                                 epsilon: Double) throws(OptimizerOptionError) {
    try options.validateLearningRateAndWeightDecay(owner: owner)
    try requireUnitInterval(beta1, owner, "beta1")
    try requireUnitInterval(beta2, owner, "beta2")
    try requireNonNegative(epsilon, owner, "epsilon")
}

private func adamStateBufferNames(amsgrad: Bool) -> [String] {
    ["exp_avg", "exp_avg_sq"] + (amsgrad ? ["max_exp_avg_sq"] : [])
}

/// Parameters of this many elements or more are updated by several threads.
let adamSplitCount = 1 << 15

private func adamUpdate(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Adam.Options) {
    switch parameter.value.dtype {
    case .float32: adamUpdate(Float.self, parameter, gradient, state, options)
    case .float64: adamUpdate(Double.self, parameter, gradient, state, options)
    }
}

private func adamUpdate<T: FloatElement>(_: T.Type, _ parameter: Parameter, _ gradient: Tensor,
                                         _ state: ParameterState, _ options: Adam.Options) {
    // Scalars computed in Double as torch computes them in Python, then used per element.
    let step = Double(state.step)
    let stepSize = T(options.learningRate / (1 - pow(options.beta1, step)))
    let correction2Root = T((1 - pow(options.beta2, step)).squareRoot())
    let decay = T(1 - options.learningRate * options.weightDecay)
    let weightDecay = options.decoupledWeightDecay ? 0 : T(options.weightDecay)
    let decouples = options.decoupledWeightDecay && options.weightDecay != 0
    let beta2 = T(options.beta2), averageWeight = T(1 - options.beta1), squareWeight = T(1 - options.beta2)
    let epsilon = T(options.epsilon), maximize = options.maximize
    let average = state.buffer("exp_avg", like: parameter).elements(as: T.self)
    let squareAverage = state.buffer("exp_avg_sq", like: parameter).elements(as: T.self)
    let maxSquareAverage = options.amsgrad ? state.buffer("max_exp_avg_sq", like: parameter).elements(as: T.self) : nil
    parameter.withValues(as: T.self, gradient: gradient) { values, gradient in
        if !decouples && weightDecay == 0 && !maximize && maxSquareAverage == nil && abs(averageWeight) < 0.5 {
            // The default options: the vectorized C loop (lerp from the nearer end is
            // start + weight·(end − start) for these weights, as below).
            func pointer<U>(_ buffer: UnsafeMutableBufferPointer<T>, _: U.Type) -> UnsafeMutablePointer<U> {
                UnsafeMutableRawPointer(buffer.baseAddress!).assumingMemoryBound(to: U.self)
            }
            let gradientPointer = UnsafeMutableRawPointer(mutating: gradient.baseAddress!)
            // A large parameter's elements split across threads, each streaming its part (the
            // update reads and writes 28 bytes per float32 element: bound by memory, not by compute).
            let threads = values.count >= adamSplitCount ? ComputeThreads.available : 1
            let part = (values.count + threads - 1) / threads
            func update(_ index: Int) {
                let (start, count) = (index * part, Int64(Swift.min(part, values.count - index * part)))
                guard count > 0 else { return }
                if T.self == Float.self {
                    ag_adam_f32(pointer(values, Float.self) + start, gradientPointer.assumingMemoryBound(to: Float.self) + start,
                                pointer(average, Float.self) + start, pointer(squareAverage, Float.self) + start, count,
                                Float(averageWeight), Float(beta2), Float(squareWeight), Float(stepSize), Float(correction2Root),
                                Float(epsilon))
                } else {
                    ag_adam_f64(pointer(values, Double.self) + start, gradientPointer.assumingMemoryBound(to: Double.self) + start,
                                pointer(average, Double.self) + start, pointer(squareAverage, Double.self) + start, count,
                                Double(averageWeight), Double(beta2), Double(squareWeight), Double(stepSize),
                                Double(correction2Root), Double(epsilon))
                }
            }
            if threads > 1 { ComputeThreads.concurrentPerform(threads, update) } else { update(0) }
            return
        }
        for i in values.indices {
            if decouples { values[i] = values[i] * decay }
            let g = adjustedGradient(gradient[i], values[i], weightDecay: weightDecay, maximize: maximize)
            average[i] = lerp(average[i], g, weight: averageWeight)
            squareAverage[i] = squareAverage[i] * beta2 + squareWeight * g * g
            var second = squareAverage[i]
            if let maxSquareAverage {
                maxSquareAverage[i] = max(maxSquareAverage[i], second)
                second = maxSquareAverage[i]
            }
            let denominator = second.squareRoot() / correction2Root + epsilon
            values[i] = values[i] + (-stepSize) * average[i] / denominator
        }
    }
}

