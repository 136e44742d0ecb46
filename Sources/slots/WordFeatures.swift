import Layers

/// Each word as the network sees it: its 1-of-N code over the training vocabulary plus an
/// "other" entry for words never seen in training, followed by a bag of its letter trigrams
/// hashed into `trigramBuckets` (Huang et al. 2013's word hashing on "#word#"), so an unseen
/// word still has features.
struct WordFeatures {
    let vocabulary: [String: Int]
    let trigramBuckets: Int

    init(trainingWords: some Sequence<String>, trigramBuckets: Int) {
        vocabulary = Dictionary(uniqueKeysWithValues: Set(trainingWords).sorted().enumerated().map { ($1, $0) })
        self.trigramBuckets = trigramBuckets
    }

    /// The index of the "other" entry.
    var otherIndex: Int { vocabulary.count }
    var size: Int { vocabulary.count + 1 + trigramBuckets }

    /// Trigram bucket indices of "#word#", by FNV-1a (Swift's `Hasher` is seeded per process);
    /// none without buckets.
    func trigrams(_ word: String) -> [Int] {
        guard trigramBuckets > 0 else { return [] }
        let letters = Array("#\(word)#".utf8)
        return (0..<Swift.max(letters.count - 2, 0)).map { start in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in letters[start..<(start + 3)] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            return Int(hash % UInt64(trigramBuckets))
        }
    }

    /// Features [batch, maxLength, size] of padded sentences (padding rows are zero). Words in
    /// `hidden` positions (b, t) are coded as "other", as in word dropout.
    func encode(_ sentences: [[String]], hidden: Set<[Int]> = []) -> Tensor {
        let maxLength = sentences.map(\.count).max()!
        var values = [Double](repeating: 0, count: sentences.count * maxLength * size)
        for (b, words) in sentences.enumerated() {
            for (t, word) in words.enumerated() {
                let row = (b * maxLength + t) * size
                let known = hidden.contains([b, t]) ? nil : vocabulary[word]
                values[row + (known ?? otherIndex)] = 1
                let grams = trigrams(word)
                for bucket in grams { values[row + vocabulary.count + 1 + bucket] += 1 / Double(grams.count) }
            }
        }
        return Tensor(values, shape: [sentences.count, maxLength, size])
    }
}
