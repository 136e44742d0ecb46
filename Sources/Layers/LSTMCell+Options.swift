extension LSTMCell {
    /// Every option of an ``LSTMCell`` but its sizes and biases, as one value, so a whole
    /// network can be given them (``LSTM/init(inputSize:hiddenSize:numLayers:bias:batchFirst:dropout:bidirectional:projSize:options:)``).
    /// The defaults give PyTorch's cell; ``init(variant:learnsInitialState:forgetBias:)`` gives
    /// one of Greff et al.'s variants. Each property means what the cell's initializer argument
    /// of the same name means.
    public struct Options: Sendable, Equatable {
        /// Peephole connections p ⊙ c into the gates.
        public var peepholes: Bool
        /// CIFG: i = 1 − f.
        public var couplesInputAndForgetGates: Bool
        /// Whether there is an input gate (else i = 1).
        public var inputGate: Bool
        /// Whether there is a forget gate (else f = 1).
        public var forgetGate: Bool
        /// Whether there is an output gate (else o = 1).
        public var outputGate: Bool
        /// FGR: each gate also sees the previous step's gates.
        public var fullGateRecurrence: Bool
        /// h₀ and c₀ as parameters broadcast over the batch.
        public var learnsInitialState: Bool
        /// The gates' nonlinearity.
        public var gateActivation: Activation
        /// The candidate's nonlinearity (identity: NIAF).
        public var cellActivation: Activation
        /// The squashing of the cell before the output gate (identity: NOAF).
        public var outputActivation: Activation
        /// The forget gate's starting `bias_ih` entries, or `nil` for the usual initialization.
        public var forgetBias: Double?

        /// Options; all defaults give PyTorch's cell.
        public init(peepholes: Bool = false, couplesInputAndForgetGates: Bool = false, inputGate: Bool = true,
                    forgetGate: Bool = true, outputGate: Bool = true, fullGateRecurrence: Bool = false,
                    learnsInitialState: Bool = false, gateActivation: Activation = .sigmoid,
                    cellActivation: Activation = .tanh, outputActivation: Activation = .tanh, forgetBias: Double? = nil) {
            self.peepholes = peepholes
            self.couplesInputAndForgetGates = couplesInputAndForgetGates
            self.inputGate = inputGate
            self.forgetGate = forgetGate
            self.outputGate = outputGate
            self.fullGateRecurrence = fullGateRecurrence
            self.learnsInitialState = learnsInitialState
            self.gateActivation = gateActivation
            self.cellActivation = cellActivation
            self.outputActivation = outputActivation
            self.forgetBias = forgetBias
        }

        /// The options of one of Greff et al.'s variants (see ``LSTMCell/Variant``), with the
        /// paper's σ and tanh activations; every variant but ``LSTMCell/Variant/noPeepholes``
        /// has peepholes.
        public init(variant: Variant, learnsInitialState: Bool = false, forgetBias: Double? = nil) {
            self.init(peepholes: variant != .noPeepholes, couplesInputAndForgetGates: variant == .coupledInputForgetGate,
                      inputGate: variant != .noInputGate, forgetGate: variant != .noForgetGate,
                      outputGate: variant != .noOutputGate, fullGateRecurrence: variant == .fullGateRecurrence,
                      learnsInitialState: learnsInitialState,
                      cellActivation: variant == .noInputActivation ? .identity : .tanh,
                      outputActivation: variant == .noOutputActivation ? .identity : .tanh, forgetBias: forgetBias)
        }
    }

    /// A cell with `options` (see ``Options``).
    public convenience init(inputSize: Int, hiddenSize: Int, bias: Bool = true, projectionSize: Int = 0, options: Options) {
        self.init(inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, projectionSize: projectionSize,
                  peepholes: options.peepholes, couplesInputAndForgetGates: options.couplesInputAndForgetGates,
                  inputGate: options.inputGate, forgetGate: options.forgetGate, outputGate: options.outputGate,
                  fullGateRecurrence: options.fullGateRecurrence, learnsInitialState: options.learnsInitialState,
                  gateActivation: options.gateActivation, cellActivation: options.cellActivation,
                  outputActivation: options.outputActivation, forgetBias: options.forgetBias)
    }

    /// The cell of one of Greff et al.'s variants (see ``Variant``), with the paper's
    /// σ and tanh activations; every variant but ``Variant/noPeepholes`` has peepholes.
    public convenience init(inputSize: Int, hiddenSize: Int, variant: Variant, bias: Bool = true,
                            learnsInitialState: Bool = false, forgetBias: Double? = nil) {
        self.init(inputSize: inputSize, hiddenSize: hiddenSize, bias: bias,
                  options: Options(variant: variant, learnsInitialState: learnsInitialState, forgetBias: forgetBias))
    }
}
