import Layers

/// An attention encoder-decoder (Bahdanau et al. 2015): a bidirectional GRU reads the source;
/// a GRU decoder attends over its outputs at every step (additive attention, masked at
/// padding) and starts from a projection of the encoder's final states.
final class Seq2SeqModel: Module {
    typealias DecoderCell = AttentionDecoderCell<GRUCell, AdditiveAttention>
    let sourceEmbedding: Embedding
    let encoder: GRU
    let bridge: Linear
    let targetEmbedding: Embedding
    let decoder: RecurrentNetwork<DecoderCell>
    let head: Linear

    init(sourceVocabulary: Int, targetVocabulary: Int, embedding: Int, hidden: Int) {
        sourceEmbedding = Embedding(sourceVocabulary, embedding)
        encoder = GRU(inputSize: embedding, hiddenSize: hidden, batchFirst: true, bidirectional: true)
        bridge = Linear(2 * hidden, hidden)
        targetEmbedding = Embedding(targetVocabulary, embedding)
        decoder = RecurrentNetwork(inputSize: embedding, batchFirst: true) { _, size in
            AttentionDecoderCell(cell: GRUCell(inputSize: size + 2 * hidden, hiddenSize: hidden),
                                 attention: AdditiveAttention(querySize: hidden, keySize: 2 * hidden, hiddenSize: hidden),
                                 contextSize: 2 * hidden)
        }
        head = Linear(hidden + 2 * hidden, targetVocabulary)
        super.init()
    }

    /// The encoder's outputs as the decoder's memory, and the decoder's initial state [batch, hidden].
    func encode(_ sources: IndexTensor, lengths: [Int]) -> (memory: AttentionMemory, start: Tensor) {
        let (outputs, state) = encoder(sourceEmbedding(sources), lengths: lengths)
        let finals = concat([state[0].select(0, along: 0), state[0].select(1, along: 0)], along: 1)
        let memory = decoder.cells[0].memory(encoderOutputs: outputs, mask: Mask(lengths: lengths, maxLength: sources.shape[1]))
        return (memory, bridge(finals).tanh())
    }

    /// Mean cross-entropy of the teacher-forced decoder over the valid target steps.
    func loss(_ batch: ReversalBatch) -> Tensor {
        let (memory, start) = encode(batch.sources, lengths: batch.sourceLengths)
        let (outputs, _) = decoder(targetEmbedding(batch.decoderInputs), context: memory,
                                   initialState: [start.unsqueezed(at: 0)], lengths: batch.targetLengths)
        return sequenceCrossEntropy(logits: head(outputs), targets: batch.decoderTargets,
                                    mask: Mask(lengths: batch.targetLengths, maxLength: batch.decoderTargets.shape[1]))
    }

    var generator: SequenceDecoder<DecoderCell> {
        SequenceDecoder(cell: decoder.cells[0], startToken: ReversalTask.start, endToken: ReversalTask.end,
                        embed: { [targetEmbedding] in targetEmbedding($0) }, logits: { [head] in head($0) })
    }

    /// Greedy outputs for a batch, without recording.
    func translate(_ sources: IndexTensor, lengths: [Int], maxLength: Int) -> [[Int]] {
        noGrad {
            let (memory, start) = encode(sources, lengths: lengths)
            return generator.greedy(context: memory, initialState: [start], maxLength: maxLength)
        }
    }

    /// Greedy decoding of one source, with the attention weights of each output step (the
    /// end token's included) over the source positions.
    func attentionMap(_ source: [Int], maxLength: Int) -> (output: [Int], weights: [[Double]]) {
        noGrad {
            let (memory, start) = encode(IndexTensor(source, shape: [1, source.count]), lengths: [source.count])
            let cell = decoder.cells[0]
            var state = [start], token = ReversalTask.start
            var output: [Int] = [], weights: [[Double]] = []
            for _ in 0..<maxLength {
                let step = cell.attendingStep(targetEmbedding(IndexTensor([token])), state: state, memory: memory)
                weights.append(step.weights.scalars)
                token = head(step.output).argmax(along: 1).values[0]
                state = step.state
                if token == ReversalTask.end { break }
                output.append(token)
            }
            return (output, weights)
        }
    }
}
