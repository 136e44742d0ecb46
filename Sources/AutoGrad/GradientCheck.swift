/// The outcome of comparing analytic gradients with central finite differences, as
/// `torch.autograd.gradcheck` does: element by element, |analytic − numeric| ≤ atol + rtol·|numeric|.
public struct GradientCheckReport: Sendable, CustomStringConvertible {
    /// One Jacobian entry that disagrees (or the worst one seen).
    public struct Entry: Sendable, CustomStringConvertible {
        /// Which input (position in the `inputs` array; parameters follow the inputs).
        public let input: Int
        /// The parameter's name when the entry belongs to a checked parameter.
        public var parameterName: String? = nil
        /// The element of that input, as a multi-index.
        public let inputElement: [Int]
        /// The element of the output (flat, row-major); `nil` in fast mode (a random projection).
        public let outputElement: Int?
        /// The gradient computed by backward.
        public let analytic: Double
        /// The central-difference estimate.
        public let numeric: Double
        /// |analytic − numeric|.
        public var error: Double { Swift.abs(analytic - numeric) }

        public var description: String {
            let output = outputElement.map { "output element \($0)" } ?? "random output projection"
            let source = parameterName.map { "parameter '\($0)'" } ?? "input \(input)"
            return "\(source) element \(describe(inputElement)), \(output): analytic \(analytic), numeric \(numeric) (error \(error))"
        }
    }

    /// Every entry outside the tolerance, worst first (by error relative to its tolerance).
    public let mismatches: [Entry]
    /// The entry with the largest error relative to its tolerance.
    public let worst: Entry?
    /// How many Jacobian entries were compared.
    public let comparedCount: Int
    /// Things that weaken the check (e.g. float32 outputs).
    public let warnings: [String]
    /// When the check failed: the IR line of the first recorded op whose own pullback
    /// disagrees with finite differences of its own forward, on the inputs it was recorded
    /// with — the op to fix. `nil` when the check passed or every op agrees locally.
    public var culprit: String? = nil
    /// In fast mode, what was compared instead of the whole Jacobian.
    public var projection: String? = nil

    /// Whether every entry is within tolerance.
    public var passed: Bool { mismatches.isEmpty }

    public var description: String {
        var lines = [passed ? "Gradient check passed: \(comparedCount) entries" : "Gradient check FAILED: \(mismatches.count) of \(comparedCount) entries outside tolerance"]
        if let projection { lines.append("  fast mode: \(projection)") }
        if let culprit { lines.append("  first op with a wrong local gradient: \(culprit)") }
        lines += mismatches.prefix(5).map { "  mismatch: \($0)" }
        if mismatches.count > 5 { lines.append("  … and \(mismatches.count - 5) more") }
        if let worst { lines.append("  worst: \(worst)") }
        lines += warnings.map { "  warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// The error `checkGradients` throws; its description is the full report.
public struct GradientCheckError: Error, CustomStringConvertible {
    /// The report with the mismatches.
    public let report: GradientCheckReport
    public var description: String { report.description }
}

/// Tolerances and step of a gradient check; the defaults are PyTorch's gradcheck defaults.
public struct GradientCheckTolerance: Sendable {
    /// Finite-difference step.
    public var epsilon: Double
    /// Absolute tolerance.
    public var absolute: Double
    /// Relative tolerance (relative to the numeric value).
    public var relative: Double

    /// eps 1e-6, atol 1e-5, rtol 1e-3 unless given.
    public init(epsilon: Double = 1e-6, absolute: Double = 1e-5, relative: Double = 1e-3) {
        self.epsilon = epsilon
        self.absolute = absolute
        self.relative = relative
    }
}

/// Compares the gradients of `function` at `inputs` — and with respect to `parameters`, e.g.
/// a module's — with central finite differences in float64.
///
/// Inputs are converted to float64 leaves; parameters are set to float64 for the check and
/// restored afterwards (build the module in float64 for a meaningful check). The full
/// Jacobian is compared (one backward pass per output element, two evaluations per input
/// element), or, with `fastMode`, one random projection of it (one backward pass, two
/// evaluations): use fast mode for large inputs.
public func gradientCheck(of function: ([Tensor]) -> Tensor, at inputs: [Tensor], parameters: [Parameter] = [],
                          tolerance: GradientCheckTolerance = .init(), fastMode: Bool = false,
                          seed: UInt64 = 0) -> GradientCheckReport {
    let originals = parameters.map(\.value)
    defer { for (parameter, original) in zip(parameters, originals) { parameter.value = original } }
    var warnings: [String] = []
    if (inputs + originals).contains(where: { $0.dtype == .float32 }) {
        warnings.append("float32 inputs or parameters were converted to float64; the check is only as exact as the function's own dtype")
    }
    let points = (inputs + originals).map { $0.detached().to(.float64) }
    /// The tensors to differentiate for `values`: fresh leaves for the inputs, and the
    /// parameters (set to their values, keeping their own gradient slots).
    func bind(_ values: [Tensor]) -> [Tensor] {
        for (parameter, value) in zip(parameters, values.dropFirst(inputs.count)) { parameter.value = value }
        return values.prefix(inputs.count).map { $0.requiringGrad() } + parameters.map(\.value)
    }
    func evaluate(_ values: [Tensor]) -> Tensor {
        function(Array(bind(values).prefix(inputs.count))).detached()
    }
    let probe = evaluate(points)
    if probe.dtype == .float32 {
        warnings.append("the function returns float32: finite differences at eps \(tolerance.epsilon) are dominated by round-off; build the model in float64")
    }
    var generator = RandomGenerator(seed: seed)
    let outputWeights = fastMode ? Tensor.randomNormal(probe.shape, dtype: .float64, using: &generator) : nil
    let directions = fastMode ? points.map { Tensor.randomNormal($0.shape, dtype: .float64, using: &generator) } : nil

    // Analytic: rows of the Jacobian by backward passes (or one projected row).
    let seeds = outputWeights.map { [$0] } ?? (0..<probe.count).map { oneHot(at: $0, shape: probe.shape) }
    let analyticRows: [[Tensor]] = seeds.map { seed in
        let leaves = bind(points)
        let output = function(Array(leaves.prefix(inputs.count))).to(.float64)
        guard output.requiresGrad else { return leaves.map { $0.zerosLike() } }
        return gradients(of: [output], withRespectTo: leaves, seeds: [seed])
    }

    // Numeric: central differences, compared entry by entry.
    var mismatches: [(entry: GradientCheckReport.Entry, excess: Double)] = [], worst: (entry: GradientCheckReport.Entry, excess: Double)?
    var compared = 0
    func compare(_ entry: GradientCheckReport.Entry) {
        compared += 1
        let allowed = tolerance.absolute + tolerance.relative * Swift.abs(entry.numeric)
        let excess = entry.error.isNaN ? .infinity : entry.error / allowed
        if excess > 1 { mismatches.append((entry, excess)) }
        if worst == nil || excess > worst!.excess { worst = (entry, excess) }
    }
    func difference(_ plus: [Tensor], _ minus: [Tensor]) -> [Double] {
        let high = evaluate(plus).to(.float64).scalars, low = evaluate(minus).to(.float64).scalars
        return zip(high, low).map { ($0 - $1) / (2 * tolerance.epsilon) }
    }
    if let outputWeights, let directions {
        let plus = zip(points, directions).map { $0 + tolerance.epsilon * $1 }
        let minus = zip(points, directions).map { $0 - tolerance.epsilon * $1 }
        let numeric = zip(difference(plus, minus), outputWeights.scalars).map(*).reduce(0, +)
        let analytic = zip(analyticRows[0], directions).map { ($0 * $1).sum().item() }.reduce(0, +)
        compare(.init(input: 0, inputElement: [], outputElement: nil, analytic: analytic, numeric: numeric))
    } else {
        for (inputIndex, point) in points.enumerated() {
            for element in 0..<point.count {
                var plus = points, minus = points
                plus[inputIndex][flat: element] += tolerance.epsilon
                minus[inputIndex][flat: element] -= tolerance.epsilon
                for (outputElement, numeric) in difference(plus, minus).enumerated() {
                    let analytic = analyticRows[outputElement][inputIndex].storage[double: element]
                    let name = inputIndex < inputs.count ? nil : parameters[inputIndex - inputs.count].name ?? "\(inputIndex - inputs.count)"
                    compare(.init(input: inputIndex, parameterName: name, inputElement: point.multiIndex(element),
                                  outputElement: outputElement, analytic: analytic, numeric: numeric))
                }
            }
        }
    }
    var report = GradientCheckReport(mismatches: mismatches.sorted { $0.excess > $1.excess }.map(\.entry), worst: worst?.entry,
                                     comparedCount: compared, warnings: warnings)
    if fastMode {
        report.projection = "one projection uᵀ·J·v, u ~ N(0, I) over the output \(describe(probe.shape)) and v ~ N(0, I) over every input and parameter (seed \(seed)), instead of the \(probe.count)·\(points.map(\.count).reduce(0, +)) Jacobian entries"
    }
    if !report.passed {
        let leaves = bind(points)
        report.culprit = GradientCheckReport.culprit(of: function(Array(leaves.prefix(inputs.count))).to(.float64),
                                                     leaves: leaves, tolerance: tolerance, seed: seed)
    }
    return report
}

/// Like ``gradientCheck(of:at:parameters:tolerance:fastMode:seed:)``, but throws a
/// ``GradientCheckError`` describing the mismatches, so a test is one line:
/// `try checkGradients(of: { x in model(x[0]) }, at: [x], parameters: model.parameters())`
/// (Swift Testing or XCTest).
public func checkGradients(of function: ([Tensor]) -> Tensor, at inputs: [Tensor], parameters: [Parameter] = [],
                           tolerance: GradientCheckTolerance = .init(), fastMode: Bool = false,
                           seed: UInt64 = 0) throws(GradientCheckError) {
    let report = gradientCheck(of: function, at: inputs, parameters: parameters, tolerance: tolerance,
                               fastMode: fastMode, seed: seed)
    guard report.passed else { throw GradientCheckError(report: report) }
}

/// Checks second derivatives (PyTorch's gradgradcheck): the gradient of `function` along a
/// fixed random output direction, computed with `createGraph`, is itself gradient-checked.
public func checkSecondOrderGradients(of function: @escaping ([Tensor]) -> Tensor, at inputs: [Tensor],
                                      tolerance: GradientCheckTolerance = .init(), fastMode: Bool = false,
                                      seed: UInt64 = 0) throws(GradientCheckError) {
    var generator = RandomGenerator(seed: seed &+ 1)
    let probe = evaluate(function, at: inputs.map { $0.detached().to(.float64) })
    let direction = Tensor.randomNormal(probe.shape, dtype: .float64, using: &generator)
    let firstOrder: ([Tensor]) -> Tensor = { points in
        let output = function(points).to(.float64)
        guard output.requiresGrad else { return Tensor(zeros: [points.map(\.count).reduce(0, +)], dtype: .float64) }
        let grads = gradients(of: [output], withRespectTo: points, seeds: [direction], createGraph: true)
        return concat(grads.map { $0.flattened() }, along: 0)
    }
    try checkGradients(of: firstOrder, at: inputs, tolerance: tolerance, fastMode: fastMode, seed: seed)
}

/// `function` at `points` (fresh leaves, so functions that take gradients inside still work),
/// in the function's own dtype so a float32 result can be reported.
private func evaluate(_ function: ([Tensor]) -> Tensor, at points: [Tensor]) -> Tensor {
    function(points.map { $0.requiringGrad() }).detached()
}

private func oneHot(at index: Int, shape: [Int]) -> Tensor {
    var seed = Tensor(zeros: shape, dtype: .float64)
    seed[flat: index] = 1
    return seed
}

extension Tensor {
    /// The element at a flat (row-major) position, for checkers and tests; not recorded.
    subscript(flat index: Int) -> Double {
        get { storage[double: index] }
        set {
            makeStorageUnique()
            storage[double: index] = newValue
        }
    }

    /// The multi-index of a flat position.
    func multiIndex(_ flat: Int) -> [Int] {
        var rest = flat
        return shape.indices.reversed().map { axis -> Int in
            defer { rest /= shape[axis] }
            return rest % shape[axis]
        }.reversed()
    }
}
