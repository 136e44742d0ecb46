import Foundation
import Optim

/// The trajectories written by `Fixtures/make_optim_fixtures.py` (torch.optim, float64).
struct TorchFixture: Decodable {
    /// A torch keyword argument's value: a number, a flag, a list of numbers or a string.
    enum Value: Decodable {
        case number(Double), flag(Bool), numbers([Double]), text(String)

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) { self = .flag(flag) }
            else if let number = try? container.decode(Double.self) { self = .number(number) }
            else if let numbers = try? container.decode([Double].self) { self = .numbers(numbers) }
            else { self = .text(try container.decode(String.self)) }
        }
    }

    /// Torch keyword arguments, read with defaults.
    struct Keywords: Decodable {
        let values: [String: Value]
        init(from decoder: Decoder) throws { values = try [String: Value](from: decoder) }

        func number(_ key: String, or fallback: Double) -> Double {
            switch values[key] {
            case .number(let value): value
            case .text("inf"): .infinity
            default: fallback
            }
        }
        func flag(_ key: String, or fallback: Bool) -> Bool {
            if case .flag(let value) = values[key] { return value }
            return fallback
        }
        func pair(_ key: String) -> (Double, Double)? {
            if case .numbers(let values) = values[key], values.count == 2 { return (values[0], values[1]) }
            return nil
        }
    }

    /// A torch scheduler, with its class's arguments (`kind` names the class).
    struct Schedule: Decodable {
        let kind: String
        let stepSize: Int?, period: Int?, totalSteps: Int?
        let gamma: Double?, minimum: Double?, startFactor: Double?, endFactor: Double?
        let milestones: [Int]?
        let schedules: [Schedule]?
        // MultiStepLR … ReduceLROnPlateau.
        let factor: Double?, power: Double?, restartPeriod: Int?, periodMultiplier: Int?
        let maxRate: Double?, cycleSteps: Int?, warmUpFraction: Double?, annealing: String?
        let divisionFactor: Double?, finalDivisionFactor: Double?, threePhase: Bool?
        let mode: String?, patience: Int?, threshold: Double?, thresholdMode: String?, cooldown: Int?
        let minimumRate: Double?, epsilon: Double?

        enum CodingKeys: String, CodingKey {
            case kind, gamma, milestones, schedules, factor, power, mode, patience, threshold, cooldown
            case stepSize = "step_size", period = "T_max", totalSteps = "total_iters", minimum = "eta_min"
            case startFactor = "start_factor", endFactor = "end_factor"
            case restartPeriod = "T_0", periodMultiplier = "T_mult", maxRate = "max_lr", cycleSteps = "total_steps"
            case warmUpFraction = "pct_start", annealing = "anneal_strategy", divisionFactor = "div_factor"
            case finalDivisionFactor = "final_div_factor", threePhase = "three_phase", thresholdMode = "threshold_mode"
            case minimumRate = "min_lr", epsilon = "eps"
        }
    }

    /// What torch recorded at one step: the learning rates it used, the clip norm, and the
    /// parameters after it.
    struct Record: Decodable {
        let lr: [Double]
        let norm: Double?
        let W: [Double]
        let b: [Double]
    }

    /// One configuration and its 25-step trajectory.
    struct Case: Decodable {
        let name: String
        let optimizer: String
        let options: Keywords
        let groups: [Keywords]?
        let clip: Keywords?
        let schedule: Schedule?
        let steps: [Record]
        let finalState: [String: [Double]]

        enum CodingKeys: String, CodingKey {
            case name, optimizer, options, groups, clip, schedule, steps
            case finalState = "final_state"
        }
    }

    struct Inputs: Decodable {
        let W: [[Double]], X: [[Double]], Y: [[Double]]
        let b: [Double]
    }

    let inputs: Inputs
    let cases: [Case]

    static let shared: TorchFixture = {
        let url = Bundle.module.url(forResource: "optim_trajectories", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(TorchFixture.self, from: Data(contentsOf: url))
    }()

    static func `case`(named name: String) -> Case { shared.cases.first { $0.name == name }! }
}

/// The fixture's model: h = tanh(X W + b), loss = Σ(h − Y)² + 0.05·ΣW² (float64 by default).
struct FixtureModel {
    let weight: Parameter, bias: Parameter
    let inputs: Tensor, targets: Tensor

    init(_ fixture: TorchFixture = .shared, dtype: DType = .float64) {
        weight = Parameter(Tensor(fixture.inputs.W, dtype: dtype))
        bias = Parameter(Tensor(fixture.inputs.b, dtype: dtype))
        inputs = Tensor(fixture.inputs.X, dtype: dtype)
        targets = Tensor(fixture.inputs.Y, dtype: dtype)
    }

    var namedParameters: [(name: String, parameter: Parameter)] { [("W", weight), ("b", bias)] }

    /// Computes the loss, accumulates its gradients into the parameters and returns it.
    @discardableResult
    func backward() -> Double {
        let residual = (matmul(inputs, weight.value) + bias.value).tanh() - targets
        let loss = (residual * residual).sum() + 0.05 * (weight.value * weight.value).sum()
        loss.backward()
        return loss.item()
    }
}
