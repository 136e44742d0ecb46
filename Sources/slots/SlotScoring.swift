/// Slot spans from BIO tags and their per-slot precision, recall and F1 (CoNLL's span
/// matching: a predicted span counts only if its slot, start and end all match).
struct SlotScores {
    struct Counts { var truePositives = 0, predicted = 0, actual = 0 }
    private(set) var counts: [String: Counts] = [:]

    /// The (slot, start, end) spans of a tag sequence; an I- tag that does not continue a span
    /// of its slot starts one (conlleval's lenient reading).
    static func spans(_ tags: [Int]) -> Set<[Int]> {
        var spans = Set<[Int]>(), open: (slot: Int, start: Int)?
        for position in 0...tags.count {
            let tag = position < tags.count ? tags[position] : 0  // a final O closes the last span
            let slot: Int? = tag == 0 ? nil : (tag - 1) / 2
            let begins = tag != 0 && (tag - 1) % 2 == 0
            if let current = open, begins || slot != current.slot {
                spans.insert([current.slot, current.start, position])
                open = nil
            }
            if let slot, open == nil { open = (slot, position) }
        }
        return spans
    }

    /// Adds one sentence's predicted and true tags.
    mutating func add(predicted: [Int], actual: [Int], slots: [String]) {
        let (p, a) = (Self.spans(predicted), Self.spans(actual))
        for span in p { counts[slots[span[0]], default: Counts()].predicted += 1 }
        for span in a { counts[slots[span[0]], default: Counts()].actual += 1 }
        for span in p.intersection(a) { counts[slots[span[0]], default: Counts()].truePositives += 1 }
    }

    /// F1 of one slot, or of all spans together (micro-average) when `slot` is nil.
    func f1(_ slot: String? = nil) -> Double {
        let c = slot.map { counts[$0] ?? Counts() } ?? counts.values.reduce(into: Counts()) {
            $0.truePositives += $1.truePositives
            $0.predicted += $1.predicted
            $0.actual += $1.actual
        }
        return c.predicted + c.actual == 0 ? 1 : 2 * Double(c.truePositives) / Double(c.predicted + c.actual)
    }
}
