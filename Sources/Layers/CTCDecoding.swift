import AutoGrad

/// Best-path CTC decoding: the most likely class at each frame, repeats merged, blanks
/// dropped. `logProbabilities` is [time, batch, classes] (as for ``ctcLoss(logProbabilities:targets:inputLengths:targetLengths:blank:reduction:zeroInfinity:)``);
/// `inputLengths` (default: every frame) limits each batch entry's frames. Returns one label
/// sequence per batch entry.
public func ctcGreedyDecode(logProbabilities: Tensor, inputLengths: [Int]? = nil, blank: Int = 0) -> [[Int]] {
    let lengths = checkDecodingInput(logProbabilities, inputLengths, blank: blank, op: "ctcGreedyDecode")
    let best = logProbabilities.argmax(along: 2)  // [time, batch]
    return lengths.enumerated().map { b, length in
        var labels: [Int] = [], previous = blank
        for t in 0..<length {
            let label = best[t, b]
            if label != blank && label != previous { labels.append(label) }
            previous = label
        }
        return labels
    }
}

/// Prefix beam search (Hannun et al. 2014): keeps the `beamWidth` label prefixes with the
/// highest probability summed over all their alignments so far, each split into the
/// probability of alignments ending in a blank and in its last label (so a repeated label is
/// only extended across a blank). Returns each batch entry's best label sequence and its log
/// probability. With a beam at least as wide as the number of prefixes it is exact; width 1
/// is close to, but not the same as, greedy decoding.
public func ctcBeamSearchDecode(logProbabilities: Tensor, inputLengths: [Int]? = nil, beamWidth: Int = 10,
                                blank: Int = 0) -> [(labels: [Int], logProbability: Double)] {
    let lengths = checkDecodingInput(logProbabilities, inputLengths, blank: blank, op: "ctcBeamSearchDecode")
    guard beamWidth >= 1 else { opFailure("ctcBeamSearchDecode", "beamWidth must be at least 1, got \(beamWidth)") }
    let (batch, classes) = (logProbabilities.shape[1], logProbabilities.shape[2])
    let values = logProbabilities.scalars
    return lengths.enumerated().map { b, length in
        // (prefix, log p(ends in blank), log p(ends in its last label)), best first.
        var beams: [(prefix: [Int], blank: Double, label: Double)] = [([], 0, -.infinity)]
        for t in 0..<length {
            let y = values[((t * batch + b) * classes)..<((t * batch + b + 1) * classes)].map { $0 }
            var next: [[Int]: (blank: Double, label: Double)] = [:]
            var order: [[Int]] = []  // first-seen order, so equal scores sort the same way every run
            func add(_ prefix: [Int], blank: Double = -.infinity, label: Double = -.infinity) {
                if let old = next[prefix] {
                    next[prefix] = (logAddExp(old.blank, blank), logAddExp(old.label, label))
                } else {
                    next[prefix] = (blank, label)
                    order.append(prefix)
                }
            }
            for beam in beams {
                let total = logAddExp(beam.blank, beam.label)
                for c in 0..<classes {
                    if c == blank {
                        add(beam.prefix, blank: total + y[c])
                    } else if c == beam.prefix.last {
                        add(beam.prefix, label: beam.label + y[c])          // the same label continues
                        add(beam.prefix + [c], label: beam.blank + y[c])    // a new copy after a blank
                    } else {
                        add(beam.prefix + [c], label: total + y[c])
                    }
                }
            }
            let scored = order.enumerated().map { ($0.offset, $0.element, next[$0.element]!) }
            beams = scored.sorted { a, b in
                let (x, y) = (logAddExp(a.2.blank, a.2.label), logAddExp(b.2.blank, b.2.label))
                return x == y ? a.0 < b.0 : x > y
            }.prefix(beamWidth).map { ($0.1, $0.2.blank, $0.2.label) }
        }
        let best = beams[0]
        return (best.prefix, logAddExp(best.blank, best.label))
    }
}

private func checkDecodingInput(_ logProbabilities: Tensor, _ inputLengths: [Int]?, blank: Int, op: String) -> [Int] {
    guard logProbabilities.rank == 3 else {
        opFailure(op, "log-probabilities of shape \(logProbabilities.shape) are not [time, batch, classes]")
    }
    let (time, batch, classes) = (logProbabilities.shape[0], logProbabilities.shape[1], logProbabilities.shape[2])
    guard (0..<classes).contains(blank) else { opFailure(op, "blank \(blank) is not one of \(classes) classes") }
    let lengths = inputLengths ?? Array(repeating: time, count: batch)
    guard lengths.count == batch, lengths.allSatisfy({ (0...time).contains($0) }) else {
        opFailure(op, "input lengths \(lengths) do not fit a batch of \(batch) with \(time) frames")
    }
    return lengths
}
