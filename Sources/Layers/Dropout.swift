/// Inverted dropout, PyTorch's `nn.Dropout`: in training each element is zeroed with
/// probability p and the rest are scaled by 1/(1 − p), so evaluation (identity) needs no
/// rescaling. The mask comes from the calling thread's generator (see
/// `RandomGenerator.seedThread(_:)`).
open class Dropout: Module, UnaryLayer {
    public let probability: Double

    public init(probability: Double = 0.5) {
        guard (0..<1).contains(probability) else { opFailure("Dropout", "probability must be in [0, 1), got \(probability)") }
        self.probability = probability
        super.init()
    }

    /// The input with dropped elements zeroed and the rest scaled (training), or unchanged.
    open func forward(_ input: Tensor) -> Tensor {
        guard isTraining && probability > 0 else { return input }
        return input * invertedDropoutMask(input.shape, dtype: input.dtype, probability: probability)
    }
}
