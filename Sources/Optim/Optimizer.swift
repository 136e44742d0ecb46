/// The hyper-parameters of one parameter group. Every optimizer has a learning rate (what
/// schedules change) and a weight decay; each optimizer adds its own (momentum, betas, …).
///
/// An options value is a plain value until it reaches an optimizer; the optimizer calls
/// ``validate()`` wherever options or rates reach it (its initializer,
/// `addParameterGroup(_:adjusting:)`, ``Optimizer/setOptions(_:ofGroup:)``,
/// ``Optimizer/setLearningRates(_:)``, ``Optimizer/apply(_:atStep:)``) and throws an
/// ``OptimizerOptionError`` there, so its groups' options are always valid.
public protocol OptimizerOptions: Sendable {
    /// The step size.
    var learningRate: Double { get set }
    /// The weight-decay coefficient λ (L2 penalty, or decoupled decay for AdamW).
    var weightDecay: Double { get set }
    /// Throws for the first value out of its range.
    func validate() throws(OptimizerOptionError)
}

extension OptimizerOptions {
    /// The checks every optimizer needs: learning rate and weight decay finite and ≥ 0.
    /// Options of a new optimizer get these by default; override to check more.
    public func validate() throws(OptimizerOptionError) {
        try validateLearningRateAndWeightDecay(owner: String(describing: Self.self))
    }

    /// Throws unless the learning rate and the weight decay are finite and ≥ 0.
    func validateLearningRateAndWeightDecay(owner: String) throws(OptimizerOptionError) {
        try requireNonNegative(learningRate, owner, "learningRate")
        try requireNonNegative(weightDecay, owner, "weightDecay")
    }
}

/// What a training loop needs from an optimizer, whatever its options type, so it can hold
/// `any OptimizerProtocol` chosen at run time. Every ``Optimizer`` conforms.
public protocol OptimizerProtocol: AnyObject {
    /// Updates every parameter that has a gradient.
    func step()
    /// Forgets the gradients of every parameter.
    func zeroGrad()
    /// The current learning rate of each group.
    var learningRates: [Double] { get }
    /// Sets each group's learning rate, one rate per group; throws, changing nothing, if one
    /// is out of range.
    func setLearningRates(_ rates: [Double]) throws(OptimizerOptionError)
    /// Sets every group's learning rate to `schedule`'s value at `step`; throws, changing
    /// nothing, if a rate is out of range.
    func apply(_ schedule: LearningRateSchedule, atStep step: Int) throws(OptimizerOptionError)
    /// The per-parameter state, keyed `<buffer>.<parameter name>`.
    func stateDictionary() -> [String: Tensor]
    /// Replaces the per-parameter state with a saved one.
    func load(state: [String: Tensor]) throws
}

/// Parameters that share hyper-parameters, like an entry of torch's `param_groups`.
public struct ParameterGroup<Options: OptimizerOptions>: Sendable {
    /// The parameters, in the order they were given.
    public let parameters: [Parameter]
    /// The parameters' names, which key the saved optimizer state (module paths such as
    /// `encoder.weight`, or positions `0`, `1`, … for parameters given without names).
    public let names: [String]
    /// The group's hyper-parameters, always valid; change them between steps with
    /// ``Optimizer/setOptions(_:ofGroup:)`` or ``Optimizer/setLearningRates(_:)``.
    public internal(set) var options: Options
    /// The learning rate the group started with, from which schedules compute the current
    /// one (torch's `initial_lr`).
    public let initialLearningRate: Double
}

/// The base class of optimizers: parameter groups, per-parameter state, `step()` and
/// `zeroGrad()`. A new optimizer subclasses it with its own options type and overrides
/// ``update(_:gradient:state:options:)``, which `step()` calls once per parameter that has a
/// gradient, without recording (so plain tensor ops work there):
///
///     final class HeavyBall: Optimizer<HeavyBall.Options> {
///         struct Options: OptimizerOptions { var learningRate = 0.01, weightDecay = 0.0, momentum = 0.9 }
///         override func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
///             let velocity = state["velocity"].map { options.momentum * $0 + gradient } ?? gradient
///             state["velocity"] = velocity
///             parameter.value.assign(parameter.value - options.learningRate * velocity)
///         }
///         override func stateBufferNames(for options: Options) -> [String] { ["velocity"] }
///     }
///
/// (``stateBufferNames(for:)`` tells ``load(state:)`` which saved entries to expect.)
/// The built-in optimizers instead update raw buffers in place (`ParameterState.buffer(_:like:filledWith:)`,
/// `Parameter.withValues(as:gradient:_:)`), so a step allocates nothing after the first.
open class Optimizer<Options: OptimizerOptions>: OptimizerProtocol {
    /// The parameter groups; `addParameterGroup(_:adjusting:)` adds one.
    public internal(set) var groups: [ParameterGroup<Options>] = []
    /// The options new groups start from: those the optimizer was created with.
    public let defaults: Options
    /// Per-parameter state, created on a parameter's first update.
    var states: [ObjectIdentifier: ParameterState] = [:]

    /// An optimizer of named parameters (e.g. a module's `namedParameters()`), in one group;
    /// the names key the saved state. Throws if an option is out of range.
    public init(_ parameters: [(name: String, parameter: Parameter)], options: Options) throws(OptimizerOptionError) {
        defaults = options
        try addParameterGroup(parameters)
    }

    /// An optimizer of `parameters`, in one group; saved state names them by position.
    /// Throws if an option is out of range.
    public convenience init(_ parameters: [Parameter], options: Options) throws(OptimizerOptionError) {
        try self.init(Self.positionalNames(parameters, after: 0), options: options)
    }

    /// The current learning rate of each group.
    public var learningRates: [Double] { groups.map(\.options.learningRate) }

    /// Sets each group's learning rate, one rate per group; throws, changing nothing, if the
    /// options with one of them are invalid.
    public func setLearningRates(_ rates: [Double]) throws(OptimizerOptionError) {
        requireOption(rates.count == groups.count, "setLearningRates", "\(rates.count) rates for \(groups.count) groups")
        var updated = groups
        for index in updated.indices {
            updated[index].options.learningRate = rates[index]
            try updated[index].options.validate()
        }
        groups = updated
    }

    /// Replaces the options of group `index` (counted from 0 in ``groups``); throws, changing
    /// nothing, if they are invalid. The group's ``ParameterGroup/initialLearningRate`` stays.
    public func setOptions(_ options: Options, ofGroup index: Int) throws(OptimizerOptionError) {
        requireOption(groups.indices.contains(index), "setOptions", "no group \(index) among \(groups.count)")
        try options.validate()
        groups[index].options = options
    }

    /// Adds a group of named parameters whose options are the ``defaults`` changed by
    /// `adjust` (torch's `add_param_group`); throws if they are invalid. A parameter or a
    /// name may be in one group only.
    public func addParameterGroup(_ parameters: [(name: String, parameter: Parameter)],
                                  adjusting adjust: (inout Options) -> Void = { _ in }) throws(OptimizerOptionError) {
        var known = Set(groups.flatMap(\.names))
        var seen = Set(groups.flatMap { $0.parameters.map(ObjectIdentifier.init) })
        for (name, parameter) in parameters {
            guard known.insert(name).inserted else {
                optimizerFailure("addParameterGroup", "two parameters are named '\(name)'")
            }
            guard seen.insert(ObjectIdentifier(parameter)).inserted else {
                optimizerFailure("addParameterGroup", "parameter '\(name)' is already in a group")
            }
        }
        var options = defaults
        adjust(&options)
        try options.validate()
        groups.append(ParameterGroup(parameters: parameters.map(\.parameter), names: parameters.map(\.name),
                                     options: options, initialLearningRate: options.learningRate))
    }

    /// Adds a group of parameters named by their position among all the optimizer's
    /// parameters, with the ``defaults`` changed by `adjust`; throws if they are invalid.
    public func addParameterGroup(_ parameters: [Parameter], adjusting adjust: (inout Options) -> Void = { _ in }) throws(OptimizerOptionError) {
        let count = groups.reduce(0) { $0 + $1.parameters.count }
        try addParameterGroup(Self.positionalNames(parameters, after: count), adjusting: adjust)
    }

    /// Updates every parameter that has a gradient, once, with its group's options. Not
    /// recorded on the tape.
    open func step() {
        noGrad {
            for group in groups {
                for parameter in group.parameters {
                    guard let gradient = parameter.grad else { continue }
                    let state = makeState(for: parameter)
                    state.step += 1
                    update(parameter, gradient: gradient, state: state, options: group.options)
                }
            }
        }
    }

    /// Forgets the gradients of every parameter (torch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for group in groups {
            for parameter in group.parameters { parameter.zeroGrad() }
        }
    }

    /// Updates one parameter in place from its gradient. `state.step` already counts this
    /// update (1 on the first). Subclasses override it; it runs without recording.
    open func update(_ parameter: Parameter, gradient: Tensor, state: ParameterState, options: Options) {
        optimizerFailure("\(type(of: self))", "subclasses of Optimizer must override update(_:gradient:state:options:)")
    }

    /// The names of the buffers ``update(_:gradient:state:options:)`` keeps for a parameter
    /// of a group with `options`, each shaped like the parameter (names without dots, since
    /// saved keys are `<buffer>.<parameter name>`). Loading a saved state requires exactly
    /// these (and the step count) for every parameter it has state for.
    open func stateBufferNames(for options: Options) -> [String] { [] }

    /// The state of `parameter`, or `nil` before its first update.
    public func state(of parameter: Parameter) -> ParameterState? {
        states[ObjectIdentifier(parameter)]
    }

    private func makeState(for parameter: Parameter) -> ParameterState {
        if let state = states[ObjectIdentifier(parameter)] { return state }
        let state = ParameterState()
        states[ObjectIdentifier(parameter)] = state
        return state
    }

    private static func positionalNames(_ parameters: [Parameter], after start: Int) -> [(name: String, parameter: Parameter)] {
        parameters.enumerated().map { (String(start + $0.offset), $0.element) }
    }
}

/// Stops with `"<op>: <message>"`, for programmer errors (as AutoGrad's ops do).
func optimizerFailure(_ op: String, _ message: String) -> Never {
    fatalError("\(op): \(message)")
}

/// Stops with a message unless `condition` holds: for misuse by the programmer (a count or
/// an index that does not fit), not for hyper-parameter values, which throw.
func requireOption(_ condition: Bool, _ optimizer: String, _ message: @autoclosure () -> String) {
    if !condition { optimizerFailure(optimizer, message()) }
}
