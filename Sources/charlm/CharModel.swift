import Layers

/// A character-level language model: one-hot characters → recurrent layers → logits over the
/// vocabulary for the next character.
final class CharModel: Module {
    let vocabularySize: Int
    let encoder: any SequenceLayer
    let head: Linear

    init(cell: CellKind, vocabularySize: Int, hidden: Int, layers: Int) {
        self.vocabularySize = vocabularySize
        switch cell {
        case .lstm: encoder = LSTM(inputSize: vocabularySize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .gru: encoder = GRU(inputSize: vocabularySize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .rnn: encoder = RNN(inputSize: vocabularySize, hiddenSize: hidden, numLayers: layers, batchFirst: true)
        case .jordan:
            encoder = JordanRNN(inputSize: vocabularySize, hiddenSize: hidden, outputSize: hidden, numLayers: layers, batchFirst: true)
        }
        head = Linear(hidden, vocabularySize)
    }

    /// Logits [batch, time, vocabulary] for character ids [batch, time], and the new state.
    func callAsFunction(_ ids: IndexTensor, state: [Tensor]?) -> (logits: Tensor, state: [Tensor]) {
        let (output, next) = encoder(Tensor.oneHot(ids, classCount: vocabularySize), initialState: state, lengths: nil)
        return (head(output), next)
    }
}
