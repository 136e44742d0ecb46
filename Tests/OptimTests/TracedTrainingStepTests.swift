import Testing
import Layers
import Optim

/// A two-layer classifier, for training the same model eagerly and through a traced program.
private final class Classifier: Module, UnaryLayer {
    let hidden = Linear(4, 8), output = Linear(8, 3)
    func forward(_ x: Tensor) -> Tensor { output(hidden(x).tanh()) }
}

@Suite struct TracedTrainingStepTests {
    /// The batches: inputs and class labels, different at every step.
    private static func batch(_ step: Int) -> (Tensor, IndexTensor) {
        var generator = RandomGenerator(seed: UInt64(100 + step))
        let x = Tensor.randomNormal([5, 4], dtype: .float64, using: &generator)
        return (x, IndexTensor((0..<5).map { ($0 + step) % 3 }))
    }

    private static func twinModels() -> (Classifier, Classifier) {
        let eager = Classifier(), traced = Classifier()
        eager.to(.float64)
        traced.to(.float64)
        for (source, target) in zip(eager.parameters(), traced.parameters()) { target.value.assign(source.value) }
        return (eager, traced)
    }

    /// Traced once on the first batch, the compiled step runs every later batch (new data, and
    /// parameters the optimizer changed) exactly as eager training does.
    @Test func compiledStepEqualsEagerTrainingOnNewBatches() throws {
        let (eager, traced) = Self.twinModels()
        traced.labelParameters()
        let (x0, y0) = Self.batch(0)
        let loss = Program.trace([x0, y0], parameters: traced.parameters(), names: ["x", "labels"]) { a in
            [crossEntropy(logits: traced(a.tensor(0)), targets: a.indices(1))]
        }
        #expect(loss.program.description.hasPrefix("graph(%x: f64[5,4], %labels: i64[5], %hidden.weight: f64[8,4]"))
        let step = loss.compiledGradient()
        let eagerOptimizer = try Adam(eager.namedParameters(), options: .init(learningRate: 0.05))
        let tracedOptimizer = try Adam(traced.namedParameters(), options: .init(learningRate: 0.05))
        for index in 0..<4 {
            let (x, y) = Self.batch(index)
            eagerOptimizer.zeroGrad()
            let eagerLoss = crossEntropy(logits: eager(x), targets: y)
            eagerLoss.backward()
            eagerOptimizer.step()
            tracedOptimizer.zeroGrad()
            let tracedLoss = step([x, y])
            tracedOptimizer.step()
            #expect(abs(tracedLoss.item() - eagerLoss.item()) <= 1e-12)
            for (a, b) in zip(eager.parameters(), traced.parameters()) {
                #expect(zip(a.value.scalars, b.value.scalars).allSatisfy { abs($0 - $1) <= 1e-12 })
            }
        }
    }

    /// Ignored targets are data too: the mean divides by the kept count of each batch.
    @Test func ignoredTargetsFollowTheBatch() throws {
        let (model, _) = Self.twinModels()
        let (x, _) = Self.batch(0)
        let first = IndexTensor([0, -100, 2, 1, -100]), second = IndexTensor([-100, 1, 1, -100, -100])
        let loss = Program.trace([x, first], parameters: model.parameters()) { a in
            [crossEntropy(logits: model(a.tensor(0)), targets: a.indices(1), ignoreIndex: -100)]
        }
        let expected = crossEntropy(logits: model(x), targets: second, ignoreIndex: -100)
        #expect(abs(loss([x, second])[0].item() - expected.item()) <= 1e-14)
    }
}
