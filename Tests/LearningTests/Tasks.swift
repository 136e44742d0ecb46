import AutoGrad

/// Small synthetic tasks from the classic RNN literature, generated from a seed so every test
/// run sees the same data.
enum Tasks {
    /// Delayed recall (a memory task): one of `symbols` one-hot symbols at step 0, blank steps,
    /// and a recall cue (an extra input channel) at step `lag`, where the target is the symbol.
    /// Input features: symbols + 1.
    static func delayedRecall(batch: Int, lag: Int, symbols: Int, using generator: inout RandomGenerator)
        -> (inputs: Tensor, targets: IndexTensor) {
        let width = symbols + 1
        var features = [Double](repeating: 0, count: batch * (lag + 1) * width)
        var targets: [Int] = []
        for b in 0..<batch {
            let symbol = Int(generator.next() % UInt64(symbols))
            targets.append(symbol)
            features[b * (lag + 1) * width + symbol] = 1
            features[(b * (lag + 1) + lag) * width + symbols] = 1
        }
        return (Tensor(features, shape: [batch, lag + 1, width]), IndexTensor(targets))
    }

    /// Running parity (many-to-many, the previous output matters): bits x_t ∈ {0, 1}; the
    /// target y_t = x_t XOR y_{t−1} (y_0 = x_0). Inputs [batch, steps, 1], targets [batch, steps].
    static func runningParity(batch: Int, steps: Int, using generator: inout RandomGenerator) -> (inputs: Tensor, targets: [[Int]]) {
        var bits: [Double] = [], targets: [[Int]] = []
        for _ in 0..<batch {
            var parity = 0, row: [Int] = []
            for _ in 0..<steps {
                let bit = Int(generator.next() % 2)
                parity ^= bit
                bits.append(Double(bit))
                row.append(parity)
            }
            targets.append(row)
        }
        return (Tensor(bits, shape: [batch, steps, 1]), targets)
    }

    /// Synthetic sentiment (many-to-one): sentences of word ids with lengths in `lengths`; words
    /// 1...4 are positive, 5...8 negative, the rest neutral; the label is 1 when positive words
    /// outnumber negative ones (ties are avoided). Id 0 is padding.
    static func sentiment(batch: Int, lengths: ClosedRange<Int>, vocabulary: Int,
                          using generator: inout RandomGenerator) -> (words: IndexTensor, lengths: [Int], labels: IndexTensor) {
        var rows: [[Int]] = [], sentenceLengths: [Int] = [], labels: [Int] = []
        while rows.count < batch {
            let length = lengths.lowerBound + Int(generator.next() % UInt64(lengths.count))
            let words = (0..<length).map { _ in 1 + Int(generator.next() % UInt64(vocabulary - 1)) }
            let positive = words.filter { (1...4).contains($0) }.count, negative = words.filter { (5...8).contains($0) }.count
            guard positive != negative else { continue }
            rows.append(words + Array(repeating: 0, count: lengths.upperBound - length))
            sentenceLengths.append(length)
            labels.append(positive > negative ? 1 : 0)
        }
        return (IndexTensor(rows), sentenceLengths, IndexTensor(labels))
    }

    /// Synthetic slot filling (many-to-many): sentences of filler words (ids 4...) with
    /// "from CITY" and "to CITY" phrases (from = 1, to = 2, cities = 3 + city code offset);
    /// tags: 0 = other, 1 = departure city, 2 = arrival city, padding tagged -1 (ignored).
    /// A city's tag depends on the word before it, so tagging needs context.
    static func slotFilling(batch: Int, maxLength: Int, cities: Int, fillers: Int,
                            using generator: inout RandomGenerator) -> (words: IndexTensor, lengths: [Int], tags: IndexTensor) {
        let cityBase = 3, fillerBase = 3 + cities
        var rows: [[Int]] = [], tagRows: [[Int]] = [], lengths: [Int] = []
        for _ in 0..<batch {
            var words: [Int] = [], tags: [Int] = []
            let phrases = [1, 2].shuffled(using: &generator)
            for marker in phrases {
                for _ in 0..<Int(generator.next() % 3) {
                    words.append(fillerBase + Int(generator.next() % UInt64(fillers)))
                    tags.append(0)
                }
                words += [marker, cityBase + Int(generator.next() % UInt64(cities))]
                tags += [0, marker]
            }
            words = Array(words.prefix(maxLength))
            tags = Array(tags.prefix(maxLength))
            lengths.append(words.count)
            rows.append(words + Array(repeating: 0, count: maxLength - words.count))
            tagRows.append(tags + Array(repeating: -1, count: maxLength - tags.count))
        }
        return (IndexTensor(rows), lengths, IndexTensor(tagRows))
    }
}
