import Layers

/// `charlm --diagnose`: the encoder records ‖∂L/∂h_t‖ at every training step; each save writes
/// their mean over the steps since the previous save (with the mean global gradient norm
/// before clipping) as `<checkpoint>-gradients.svg`, beside the loss curve.
final class GradientDiagnosis {
    private let encoder: any GradientFlowRecording
    private var sums: [GradientFlow.Series] = []
    private var globalNormSum = 0.0
    private var steps: ClosedRange<Int>?

    init(_ encoder: any SequenceLayer) {
        guard let recording = encoder as? any GradientFlowRecording else {
            preconditionFailure("charlm's encoders are recurrent networks")
        }
        self.encoder = recording
        recording.recordsGradientFlow = true
    }

    /// Adds the flow of the step whose backward pass just ran, and its global gradient norm.
    func note(step: Int, globalNorm: Double) {
        guard let flow = encoder.gradientFlow else { return }
        sums = sums.isEmpty ? flow.series : zip(sums, flow.series).map { sum, next in
            GradientFlow.Series(layer: sum.layer, isReverse: sum.isReverse, norms: zip(sum.norms, next.norms).map(+))
        }
        globalNormSum += globalNorm
        steps = (steps?.lowerBound ?? step)...step
    }

    /// Writes the mean flow since the last write (atomically), then starts a new window.
    func write(to path: String) throws {
        guard let steps else { return }
        let count = Double(steps.count)
        let mean = GradientFlow(series: sums.map { GradientFlow.Series(layer: $0.layer, isReverse: $0.isReverse, norms: $0.norms.map { $0 / count }) },
                                globalNormBeforeClipping: globalNormSum / count)
        try mean.writeSVG(toPath: path, title: "charlm: ‖∂L/∂h_t‖ per time step, mean over steps \(steps.lowerBound)–\(steps.upperBound)")
        (sums, globalNormSum, self.steps) = ([], 0, nil)
    }
}

extension TrainingConfiguration {
    /// The gradient-flow plot `--diagnose` writes: the checkpoint's name with `-gradients.svg`.
    var gradientPlotPath: String {
        checkpointStem + "-gradients.svg"
    }
}

/// The first anomaly `forward` runs into, found in anomaly mode; `nil` if every op is finite.
func firstAnomaly(_ forward: () -> Tensor) -> AnomalyError? {
    do {
        _ = try detectingAnomalies(forward)
        return nil
    } catch {
        return error as? AnomalyError
    }
}
