import Layers

/// Synthetic "spoken digits": each digit is a fixed template of a few feature frames; an
/// utterance says 3–6 digits, holding each template frame for 1–3 frames (so durations vary
/// and nothing marks where a digit starts), with 0–2 frames of silence between digits and
/// Gaussian noise on every frame. The labels are the digits alone — unsegmented, as CTC needs.
struct DigitFrames {
    let featureSize: Int
    let digitRange: ClosedRange<Int>
    let noise: Double
    /// templates[digit][part] is a feature vector.
    let templates: [[[Double]]]

    init(featureSize: Int = 12, partsPerDigit: Int = 3, digitRange: ClosedRange<Int> = 3...6, noise: Double = 1.0, seed: UInt64 = 99) {
        var generator = RandomGenerator(seed: seed)
        self.featureSize = featureSize
        self.digitRange = digitRange
        self.noise = noise
        templates = (0..<10).map { _ in (0..<partsPerDigit).map { _ in (0..<featureSize).map { _ in generator.nextNormal() } } }
    }

    /// Class 0 is CTC's blank; digit d is class d + 1.
    static let classCount = 11

    /// One utterance: frames [time][feature] and its digit labels (classes 1…10).
    func utterance(using generator: inout RandomGenerator) -> (frames: [[Double]], labels: [Int]) {
        let count = digitRange.lowerBound + Int(generator.next() % UInt64(digitRange.count))
        var frames: [[Double]] = [], labels: [Int] = []
        func emit(_ mean: [Double]) { frames.append(mean.map { $0 + noise * generator.nextNormal() }) }
        for index in 0..<count {
            let digit = Int(generator.next() % 10)
            labels.append(digit + 1)
            if index > 0 { for _ in 0..<Int(generator.next() % 3) { emit(Array(repeating: 0, count: featureSize)) } }
            for part in templates[digit] { for _ in 0...Int(generator.next() % 3) { emit(part) } }
        }
        return (frames, labels)
    }

    /// A padded batch: features [time, batch, featureSize] (time-major, as CTC's
    /// log-probabilities), targets [batch, maxLabels], and the lengths of each.
    func batch(_ utterances: [(frames: [[Double]], labels: [Int])], dtype: DType = .float32)
        -> (features: Tensor, frameCounts: [Int], targets: IndexTensor, labelCounts: [Int]) {
        let time = utterances.map(\.frames.count).max()!, maxLabels = utterances.map(\.labels.count).max()!
        var values = [Double](repeating: 0, count: time * utterances.count * featureSize)
        for (b, utterance) in utterances.enumerated() {
            for (t, frame) in utterance.frames.enumerated() {
                let start = (t * utterances.count + b) * featureSize
                values.replaceSubrange(start..<(start + featureSize), with: frame)
            }
        }
        let targets = utterances.flatMap { $0.labels + Array(repeating: 0, count: maxLabels - $0.labels.count) }
        return (Tensor(values, shape: [time, utterances.count, featureSize], dtype: dtype), utterances.map(\.frames.count),
                IndexTensor(targets, shape: [utterances.count, maxLabels]), utterances.map(\.labels.count))
    }
}

/// The Levenshtein distance between two label sequences (insertions, deletions, substitutions).
func editDistance(_ a: [Int], _ b: [Int]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1]
        for (j, y) in b.enumerated() {
            current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}
