import Layers

/// Synthetic reviews for many-to-one classification: sentences of 4–16 words mixing neutral
/// filler, positive and negative words, and "not", which flips the next sentiment word. The
/// label is the sign of the sum (positive words +1, negative −1, each flipped after a "not";
/// ties are not generated), so word order matters: "not good" and "good not …" differ.
struct Reviews {
    static let positive = ["good", "great", "excellent", "fun", "lovely", "brilliant", "moving", "clever"]
    static let negative = ["bad", "awful", "boring", "dull", "poor", "terrible", "weak", "silly"]
    static let fillers = ["the", "a", "film", "plot", "was", "and", "acting", "story", "it", "very", "quite", "ending", "cast", "but"]
    static let negator = "not"
    /// Index 0 is padding; then every word above.
    static let vocabulary = ["<pad>", negator] + positive + negative + fillers
    static let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })

    /// The label of a sentence: 1 if its negation-aware score is positive, else 0.
    static func label(_ words: [String]) -> Int? {
        var score = 0, flip = false
        for word in words {
            if word == negator { flip = true; continue }
            let value = positive.contains(word) ? 1 : negative.contains(word) ? -1 : 0
            if value != 0 { score += flip ? -value : value; flip = false }
        }
        return score == 0 ? nil : (score > 0 ? 1 : 0)
    }

    /// One labeled sentence of `lengths` words (drawn again until it is not a tie).
    static func sentence(lengths: ClosedRange<Int>, using generator: inout RandomGenerator) -> (words: [String], label: Int) {
        while true {
            let length = lengths.lowerBound + Int(generator.next() % UInt64(lengths.count))
            let words = (0..<length).map { _ -> String in
                let u = generator.nextUniform()
                let list = u < 0.15 ? [negator] : u < 0.35 ? positive : u < 0.55 ? negative : fillers
                return list[Int(generator.next() % UInt64(list.count))]
            }
            if let label = label(words) { return (words, label) }
        }
    }

    /// Word ids [batch, maxLength] padded with 0, the lengths, and the labels.
    static func batch(_ sentences: [(words: [String], label: Int)]) -> (ids: IndexTensor, lengths: [Int], labels: IndexTensor) {
        let maxLength = sentences.map(\.words.count).max()!
        let ids = sentences.flatMap { $0.words.map { index[$0]! } + Array(repeating: 0, count: maxLength - $0.words.count) }
        return (IndexTensor(ids, shape: [sentences.count, maxLength]), sentences.map(\.words.count), IndexTensor(sentences.map(\.label)))
    }
}
