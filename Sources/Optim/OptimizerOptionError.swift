/// A hyper-parameter out of its valid range, thrown wherever a value reaches an optimizer,
/// a schedule or a ``PlateauReducer``: the optimizers' initializers,
/// `addParameterGroup(_:adjusting:)`, ``Optimizer/setOptions(_:ofGroup:)``,
/// ``Optimizer/setLearningRates(_:)``, ``Optimizer/apply(_:atStep:)`` (a schedule's rate), the
/// schedules' constructors and the reducer's initializer. torch raises `ValueError` in the
/// same places (and a few more, since its options are mutable afterwards; here a group's
/// options change only through those methods).
public struct OptimizerOptionError: Error, Equatable, CustomStringConvertible {
    /// Who rejected it: `Adam`, `LearningRateSchedule.step`, `PlateauReducer`, …
    public let owner: String
    /// The option's name as the API spells it (`learningRate`, `beta1`, …).
    public let option: String
    /// The rejected value, printed.
    public let value: String
    /// What the value must be.
    public let requirement: String

    /// The error for `option` of `owner` set to `value`, which must meet `requirement`.
    public init(owner: String, option: String, value: String, requirement: String) {
        (self.owner, self.option, self.value, self.requirement) = (owner, option, value, requirement)
    }

    /// `"Adam: beta1 is 1.0, must be in [0, 1)"`.
    public var description: String { "\(owner): \(option) is \(value), must be \(requirement)" }
}

/// Throws unless `condition` holds for `option` of `owner`.
func require(_ condition: Bool, _ owner: String, _ option: String, _ value: Any, _ requirement: String) throws(OptimizerOptionError) {
    if !condition { throw OptimizerOptionError(owner: owner, option: option, value: "\(value)", requirement: requirement) }
}

/// Throws unless `value` is finite and ≥ 0 (learning rates, decays, ε, momenta).
func requireNonNegative(_ value: Double, _ owner: String, _ option: String) throws(OptimizerOptionError) {
    try require(value.isFinite && value >= 0, owner, option, value, "a finite number ≥ 0")
}

/// Throws unless `value` is in [0, 1) (Adam's betas).
func requireUnitInterval(_ value: Double, _ owner: String, _ option: String) throws(OptimizerOptionError) {
    try require((0..<1).contains(value), owner, option, value, "in [0, 1)")
}
