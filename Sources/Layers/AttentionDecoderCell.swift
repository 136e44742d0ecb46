import AutoGrad

/// A decoder step that attends over an encoder's outputs (Bahdanau, Cho & Bengio 2015), with
/// the context also fed to the cell (Luong et al.'s input feeding):
///
///     (c_t, a_t) = attention(query: h_{t−1}, memory)      h_{t−1}: the cell's first state component
///     (h_t, state_t) = cell([x_t; c_t], state_{t−1})
///     output_t = [h_t; c_t]
///
/// Its context is the ``AttentionMemory`` of one batch (see ``memory(encoderOutputs:mask:)``),
/// so ``RecurrentNetwork`` runs it with teacher forcing over padded targets:
///
///     let decoder = RecurrentNetwork(inputSize: embedding, batchFirst: true) { _, size in
///         AttentionDecoderCell(cell: GRUCell(inputSize: size + 2 * hidden, hiddenSize: hidden),
///                              attention: AdditiveAttention(querySize: hidden, keySize: 2 * hidden, hiddenSize: hidden),
///                              contextSize: 2 * hidden)
///     }
///     let memory = decoder.cells[0].memory(encoderOutputs: encoded, mask: sourceMask)
///     let (outputs, _) = decoder(embedded, context: memory, initialState: start, lengths: targetLengths)
///
/// Parameters are the cell's under `cell.` and the attention's under `attention.`.
open class AttentionDecoderCell<Cell: RecurrentCell, Scorer: Attention>: Module, ContextualRecurrentCell {
    public typealias Context = AttentionMemory
    public let cell: Cell
    public let attention: Scorer
    /// The size of the attention's context vector (the size of the values).
    public let contextSize: Int

    /// `cell` takes the step's input followed by the context, so its input size is the
    /// decoder's input size plus `contextSize`.
    public init(cell: Cell, attention: Scorer, contextSize: Int) {
        guard cell.inputSize > contextSize else {
            opFailure("AttentionDecoderCell", "the cell takes \(cell.inputSize) inputs, which leaves none beside a context of \(contextSize)")
        }
        self.cell = cell
        self.attention = attention
        self.contextSize = contextSize
        super.init()
    }

    /// The step's input size: the cell's minus the context's.
    public var inputSize: Int { cell.inputSize - contextSize }
    /// The cell's output followed by the context.
    public var outputSize: Int { cell.outputSize + contextSize }

    open func zeroState(batchSize: Int, dtype: DType) -> [Tensor] { cell.zeroState(batchSize: batchSize, dtype: dtype) }

    /// The memory of one batch: encoder outputs [batch, time, contextSize] as keys and
    /// values, `mask` [batch, time] marking valid steps.
    public func memory(encoderOutputs: Tensor, mask: Mask? = nil) -> AttentionMemory {
        guard encoderOutputs.rank == 3, encoderOutputs.shape[2] == contextSize else {
            opFailure("AttentionDecoderCell", "encoder outputs of shape \(encoderOutputs.shape) are not [batch, time, \(contextSize)]")
        }
        return attention.memory(keys: encoderOutputs, values: encoderOutputs, keyMask: mask)
    }

    /// One step that also returns the attention weights [batch, time] (to inspect or plot them).
    public func attendingStep(_ input: Tensor, state: [Tensor], memory: AttentionMemory)
        -> (output: Tensor, state: [Tensor], weights: Tensor) {
        let (context, weights) = attention.attend(state[0], to: memory)
        let (output, next) = cell.step(concat([input, context], along: 1), state: state)
        return (concat([output, context], along: 1), next, weights)
    }

    open func step(prepared input: Tensor, state: [Tensor], time: Int, context: AttentionMemory)
        -> (output: Tensor, state: [Tensor]) {
        let (output, next, _) = attendingStep(input, state: state, memory: context)
        return (output, next)
    }
}
