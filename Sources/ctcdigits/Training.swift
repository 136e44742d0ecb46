import Foundation
import Layers
import Optim

/// The run's settings; ``standard`` is what the executable trains, ``tiny`` what the test runs.
struct CTCDigitsConfiguration {
    var data = DigitFrames()
    var hidden = 64, layers = 2, batch = 32, steps = 800, learningRate = 3e-3
    var testSize = 500, reportEvery = 100, seed: UInt64 = 1
    /// Training stops early once the greedy label error rate on the validation batch is at most this.
    var stopAtValidationError = 0.01

    static let standard = CTCDigitsConfiguration()
    static let tiny = CTCDigitsConfiguration(data: DigitFrames(featureSize: 8, partsPerDigit: 2, digitRange: 1...3, noise: 0.3),
                                             hidden: 24, layers: 1, batch: 16, steps: 400, learningRate: 1e-2,
                                             testSize: 100, reportEvery: 50, stopAtValidationError: 0.02)
}

/// A bidirectional GRU over the frames and a linear layer to log-probabilities over the
/// blank and the ten digits at every frame.
final class FrameClassifier: Module {
    let encoder: GRU
    let head: Linear

    init(featureSize: Int, hidden: Int, layers: Int) {
        encoder = GRU(inputSize: featureSize, hiddenSize: hidden, numLayers: layers, bidirectional: true)
        head = Linear(2 * hidden, DigitFrames.classCount)
        super.init()
    }

    /// [time, batch, features] → log-probabilities [time, batch, classes].
    func logProbabilities(_ features: Tensor, frameCounts: [Int]) -> Tensor {
        head(encoder(features, lengths: frameCounts).output).logSoftmax(along: 2)
    }
}

/// Label error rate: total edit distance between decoded and true labels over the number of
/// true labels. `beamWidth` nil decodes greedily, else with prefix beam search.
func labelErrorRate(_ model: FrameClassifier, _ data: DigitFrames, _ utterances: [(frames: [[Double]], labels: [Int])],
                    beamWidth: Int? = nil) -> Double {
    noGrad {
        let batch = data.batch(utterances)
        let logProbabilities = model.logProbabilities(batch.features, frameCounts: batch.frameCounts)
        let decoded = beamWidth.map { width in
            ctcBeamSearchDecode(logProbabilities: logProbabilities, inputLengths: batch.frameCounts, beamWidth: width).map(\.labels)
        } ?? ctcGreedyDecode(logProbabilities: logProbabilities, inputLengths: batch.frameCounts)
        let errors = zip(decoded, utterances).map { editDistance($0, $1.labels) }.reduce(0, +)
        return Double(errors) / Double(utterances.map(\.labels.count).reduce(0, +))
    }
}

/// Trains with Adam on fresh utterances, printing the CTC loss and the validation label error
/// rate every `reportEvery` steps; returns the model and a held-out test set.
func train(_ configuration: CTCDigitsConfiguration, log: (String) -> Void)
    throws -> (model: FrameClassifier, test: [(frames: [[Double]], labels: [Int])], steps: Int) {
    RandomGenerator.seedThread(configuration.seed)
    let data = configuration.data
    var heldOutGenerator = RandomGenerator(seed: configuration.seed &+ 1000), generator = RandomGenerator(seed: configuration.seed)
    let test = (0..<configuration.testSize).map { _ in data.utterance(using: &heldOutGenerator) }
    let validation = (0..<200).map { _ in data.utterance(using: &heldOutGenerator) }
    let model = FrameClassifier(featureSize: data.featureSize, hidden: configuration.hidden, layers: configuration.layers)
    let optimizer = try Adam(model.parameters(), options: .init(learningRate: configuration.learningRate))
    var recentLoss = 0.0
    for step in 1...configuration.steps {
        let batch = data.batch((0..<configuration.batch).map { _ in data.utterance(using: &generator) })
        optimizer.zeroGrad()
        let loss = ctcLoss(logProbabilities: model.logProbabilities(batch.features, frameCounts: batch.frameCounts),
                           targets: batch.targets, inputLengths: batch.frameCounts, targetLengths: batch.labelCounts)
        loss.backward()
        _ = clipGradientNorm(model.parameters(), maxNorm: 5)
        optimizer.step()
        recentLoss += loss.item()
        if step % configuration.reportEvery == 0 {
            let error = labelErrorRate(model, data, validation)
            log(String(format: "step %5d  CTC loss %.4f  validation label error rate %.4f", step, recentLoss / Double(configuration.reportEvery), error))
            recentLoss = 0
            if error <= configuration.stopAtValidationError { return (model, test, step) }
        }
    }
    return (model, test, configuration.steps)
}
