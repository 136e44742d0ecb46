import Layers

/// The transduction task: a string of letters → the same letters reversed. Source tokens are
/// the letters 0..<letterCount; target tokens are ``start``, ``end`` and the letters shifted by 2.
struct ReversalTask {
    static let start = 0, end = 1
    let letterCount: Int
    let lengths: ClosedRange<Int>

    var targetVocabulary: Int { letterCount + 2 }

    /// One example: random letters and their reversal.
    func example(using generator: inout RandomGenerator) -> (source: [Int], target: [Int]) {
        let length = lengths.lowerBound + Int(generator.next() % UInt64(lengths.count))
        let source = (0..<length).map { _ in Int(generator.next() % UInt64(letterCount)) }
        return (source, source.reversed().map { $0 + 2 })
    }

    func letter(_ token: Int) -> String { String(UnicodeScalar(UInt8(97 + token))) }
}

/// A padded batch: sources [batch, maxSource] with lengths; the decoder's teacher-forced
/// inputs (start, y_1 … y_n) and targets (y_1 … y_n, end), [batch, maxTarget] with lengths n + 1.
struct ReversalBatch {
    let sources: IndexTensor
    let sourceLengths: [Int]
    let decoderInputs: IndexTensor
    let decoderTargets: IndexTensor
    let targetLengths: [Int]
    /// The unpadded targets without the end token, to score decoded outputs.
    let references: [[Int]]

    init(_ examples: [(source: [Int], target: [Int])]) {
        let maxSource = examples.map(\.source.count).max()!, maxTarget = examples.map(\.target.count).max()! + 1
        func padded(_ rows: [[Int]], to width: Int) -> IndexTensor {
            IndexTensor(rows.flatMap { $0 + Array(repeating: 0, count: width - $0.count) }, shape: [rows.count, width])
        }
        sources = padded(examples.map(\.source), to: maxSource)
        sourceLengths = examples.map(\.source.count)
        decoderInputs = padded(examples.map { [ReversalTask.start] + $0.target }, to: maxTarget)
        decoderTargets = padded(examples.map { $0.target + [ReversalTask.end] }, to: maxTarget)
        targetLengths = examples.map { $0.target.count + 1 }
        references = examples.map(\.target)
    }
}
