import Foundation
import Layers

/// Generates text: the prime is read through the model, then each next character is drawn
/// from softmax(logits / temperature) and fed back.
func sample(_ model: CharModel, vocabulary: Vocabulary, prime: [Int], length: Int, temperature: Double,
            generator: inout RandomGenerator) -> String {
    noGrad {
        model.eval()
        defer { model.train() }
        var (logits, state) = model(IndexTensor(prime, shape: [1, prime.count]), state: nil)
        var produced: [Int] = []
        for _ in 0..<length {
            let last = logits.select(-1, along: 1).reshaped(to: [vocabulary.count])
            let probabilities = (last / temperature).softmax(along: 0).scalars
            var threshold = generator.nextUniform(), next = probabilities.count - 1
            for (id, probability) in probabilities.enumerated() {
                threshold -= probability
                if threshold < 0 { next = id; break }
            }
            produced.append(next)
            (logits, state) = model(IndexTensor([next], shape: [1, 1]), state: state)
        }
        return vocabulary.decode(produced)
    }
}
