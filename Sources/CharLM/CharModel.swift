import Layers

/// A character-level language model: characters, one-hot or through a learned embedding
/// (`--embedding N`) → recurrent layers → logits over the vocabulary for the next character.
final class CharModel: Module {
    let vocabularySize: Int
    let embedding: Embedding?
    let encoder: any SequenceLayer
    let head: Linear

    /// The model `configuration` describes (cell, sizes, embedding) for a vocabulary.
    init(_ configuration: TrainingConfiguration, vocabularySize: Int) {
        let (hidden, layers) = (configuration.hidden, configuration.layers)
        self.vocabularySize = vocabularySize
        embedding = configuration.embedding > 0 ? Embedding(vocabularySize, configuration.embedding) : nil
        let inputSize = configuration.embedding > 0 ? configuration.embedding : vocabularySize
        switch configuration.cell {
        case .lstm: encoder = LSTM(inputSize: inputSize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .gru: encoder = GRU(inputSize: inputSize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .rnn: encoder = RNN(inputSize: inputSize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .jordan:
            encoder = JordanRNN(inputSize: inputSize, hiddenSize: hidden, outputSize: hidden, numLayers: layers, batchFirst: true)
        }
        head = Linear(hidden, vocabularySize)
    }

    /// Logits [batch, time, vocabulary] for character ids [batch, time], and the new state.
    func callAsFunction(_ ids: IndexTensor, state: [Tensor]?) -> (logits: Tensor, state: [Tensor]) {
        let (features, next) = features(ids, state: state)
        return (head(features), next)
    }

    /// The encoder's output [batch, time, hidden] (what the head reads) and the new state.
    func features(_ ids: IndexTensor, state: [Tensor]?) -> (features: Tensor, state: [Tensor]) {
        let input = embedding.map { $0(ids) } ?? Tensor.oneHot(ids, classCount: vocabularySize)
        let (output, next) = encoder(input, initialState: state, lengths: nil)
        return (output, next)
    }

    /// The parameters in the order backward finishes their gradients: the head's, then the
    /// rest (the recurrent weights are shared by every step, so they are final only at the end).
    var parametersInBackwardOrder: [[Parameter]] {
        let head = self.head.parameters()
        let rest = parameters().filter { parameter in !head.contains { $0 === parameter } }
        return [head, rest]
    }
}
