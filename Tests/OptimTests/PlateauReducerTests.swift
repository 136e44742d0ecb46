import Testing
import Optim

/// ReduceLROnPlateau's counters by hand, and that its saved state resumes exactly (its torch
/// trajectories are in TorchParityTests).
@Suite struct PlateauReducerTests {
    /// Patience 1: the second step in a row without a 10% improvement halves the rate; the
    /// cooldown step after it does not count.
    @Test func reducesAfterPatienceAndCoolsDown() throws {
        let optimizer = try SGD([Parameter(Tensor(ones: [1]))], options: .init(learningRate: 1))
        let reducer = try PlateauReducer(factor: 0.5, patience: 1, threshold: 0.1, cooldown: 1, minimumRate: 0.3)
        var rates: [Double] = []
        for metric in [10.0, 9.5, 9.4, 9.3, 9.2, 9.1, 9.0, 8.9] {
            try reducer.step(metric: metric, optimizer: optimizer)
            rates.append(optimizer.learningRates[0])
        }
        // 10 is best; 9.5 and 9.4 are not 10% better: reduce at the 3rd step (to 0.5); the 4th is
        // cooldown; 9.2, 9.1 bad: reduce at the 6th (to 0.3, the floor); cooldown; 8.9 < 9 is
        // the first improvement.
        #expect(rates == [1, 1, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3])
        #expect(reducer.best == 8.9 && reducer.badSteps == 0 && reducer.stepCount == 8)
    }

    /// A reducer restored from another's state mid-run continues exactly as the original.
    @Test func savedStateResumesExactly() throws {
        let metrics = [5.0, 4.0, 4.1, 4.2, 3.9, 3.95, 4.0, 4.1, 4.2, 3.0, 3.1, 3.2]
        func run(_ reducer: PlateauReducer, _ optimizer: SGD, _ range: Range<Int>) throws -> [Double] {
            try range.map { try reducer.step(metric: metrics[$0], optimizer: optimizer); return optimizer.learningRates[0] }
        }
        let options = SGD.Options(learningRate: 1)
        let straight = try PlateauReducer(factor: 0.5, patience: 1, cooldown: 1), straightOptimizer = try SGD([Parameter(Tensor(ones: [1]))], options: options)
        let expected = try run(straight, straightOptimizer, 0..<12)
        let first = try PlateauReducer(factor: 0.5, patience: 1, cooldown: 1), optimizer = try SGD([Parameter(Tensor(ones: [1]))], options: options)
        _ = try run(first, optimizer, 0..<6)
        let resumed = try PlateauReducer(factor: 0.5, patience: 1, cooldown: 1)
        try resumed.load(state: first.stateDictionary())
        let rest = try run(resumed, optimizer, 6..<12)
        #expect(rest == Array(expected[6...]))
        #expect(Set(expected).count > 2)  // it did reduce, more than once
        var broken = first.stateDictionary()
        broken["num_bad_epochs"] = Tensor(0.5, dtype: .float64)
        #expect(throws: OptimizerStateError.invalidStep(key: "num_bad_epochs")) { try resumed.load(state: broken) }
        broken["num_bad_epochs"] = Tensor(1, dtype: .float64)
        broken["best"] = nil
        #expect(throws: OptimizerStateError.missingEntry(key: "best")) { try resumed.load(state: broken) }
    }
}
