import Foundation
import Testing
@testable import Layers

/// CTC loss against PyTorch (Fixtures/make_ctc_fixtures.py), by hand and by the gradient
/// checker; greedy and prefix-beam decoding against brute force.
@Suite struct CTCTests {
    static let reference = Fixture("ctc_references.safetensors")
    private func ref(_ name: String) -> Tensor { Self.reference[name] }
    private func integers(_ name: String) -> [Int] { ref(name).scalars.map { Int($0) } }

    /// Values and gradients with respect to the unnormalized logits (through logSoftmax), every
    /// reduction, within 1e-10.
    @Test(arguments: ["mixed", "long", "impossible.zero"])
    func matchesPyTorch(_ name: String) {
        let data = name.components(separatedBy: ".")[0], zeroInfinity = name.hasSuffix(".zero")
        let targets = IndexTensor(integers("\(data).targets"), shape: ref("\(data).targets").shape)
        for (reduction, key) in [(Reduction.none, "none"), (.sum, "sum"), (.mean, "mean")] {
            let logits = ref("\(data).logits").requiringGrad()
            let loss = ctcLoss(logProbabilities: logits.logSoftmax(along: 2), targets: targets,
                               inputLengths: integers("\(data).input_lengths"), targetLengths: integers("\(data).target_lengths"),
                               reduction: reduction, zeroInfinity: zeroInfinity)
            loss.sum().backward()
            expectClose(loss.scalars, ref("\(name).\(key)").scalars, tolerance: 1e-10)
            expectClose(logits.grad!.scalars, ref("\(name).\(key).grad").scalars, tolerance: 1e-10)
        }
    }

    /// An input too short for its target (1,1,1 needs five frames) costs +∞ and a NaN
    /// gradient, as in PyTorch; the other batch entry is unaffected.
    @Test func impossibleAlignmentIsInfinite() {
        let logits = ref("impossible.logits").requiringGrad()
        let loss = ctcLoss(logProbabilities: logits.logSoftmax(along: 2), targets: IndexTensor([[1, 1, 1], [2, 1, 0]]),
                           inputLengths: [4, 4], targetLengths: [3, 2], reduction: .none)
        #expect(loss[0] == .infinity)
        expectClose([loss[1]], [ref("impossible.none")[1]], tolerance: 1e-10)
        loss.sum().backward()
        let gradient = logits.grad!
        #expect((0..<4).allSatisfy { t in (0..<3).allSatisfy { gradient[t, 0, $0].isNaN } })
        #expect((0..<4).allSatisfy { t in (0..<3).allSatisfy { abs(gradient[t, 1, $0] - ref("impossible.none.grad")[t, 1, $0]) < 1e-10 } })
    }

    /// Two frames, target [1]: the alignments are (1,1), (blank,1) and (1,blank); an empty
    /// target has the single all-blank alignment.
    @Test func twoFramesByHand() {
        let p = [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]
        let logProbabilities = Tensor(p.map { [$0] }.map { $0.map { $0.map(Foundation.log) } }, dtype: .float64)  // [2, 1, 3]
        let loss = ctcLoss(logProbabilities: logProbabilities, targets: IndexTensor([[1]]), inputLengths: [2], targetLengths: [1], reduction: .sum)
        let likelihood = p[0][1] * p[1][1] + p[0][0] * p[1][1] + p[0][1] * p[1][0]
        #expect(abs(loss.item() + Foundation.log(likelihood)) < 1e-14)
        let empty = ctcLoss(logProbabilities: logProbabilities, targets: IndexTensor([[0]]), inputLengths: [2], targetLengths: [0])
        #expect(abs(empty.item() + Foundation.log(p[0][0] * p[1][0])) < 1e-14)
        let noFrames = ctcLoss(logProbabilities: logProbabilities.expanded(to: [2, 2, 3]), targets: IndexTensor([[1], [0]]), inputLengths: [0, 0],
                               targetLengths: [1, 0], reduction: .none)
        #expect(noFrames.scalars == [.infinity, 0])
    }

    /// The public checker on raw (unnormalized) log-probabilities: the pullback is the true
    /// derivative, not only the one that is right after a log-softmax. A non-default blank too.
    @Test(arguments: [Reduction.none, .sum, .mean])
    func gradientCheck(_ reduction: Reduction) throws {
        var generator = RandomGenerator(seed: 11)
        let logProbabilities = Tensor.randomNormal([6, 3, 4], dtype: .float64, using: &generator)
        let targets = IndexTensor([[1, 1, 3], [2, 0, 0], [0, 0, 0]])
        try checkGradients(of: { ctcLoss(logProbabilities: $0[0], targets: targets, inputLengths: [6, 5, 3],
                                         targetLengths: [3, 1, 0], reduction: reduction) }, at: [logProbabilities])
        try checkGradients(of: { ctcLoss(logProbabilities: $0[0].logSoftmax(along: 2), targets: IndexTensor([[0, 1], [2, 2], [1, 0]]),
                                         inputLengths: [6, 6, 4], targetLengths: [2, 2, 2], blank: 3, reduction: reduction) },
                           at: [logProbabilities])
    }

    /// Stable in float32 on the long fixture (400 frames, 60 labels): finite and close to float64.
    @Test func longInputInFloat32() {
        let targets = IndexTensor(integers("long.targets"), shape: [2, 60])
        let loss = ctcLoss(logProbabilities: ref("long.logits").to(.float32).logSoftmax(along: 2), targets: targets,
                           inputLengths: [400, 321], targetLengths: [60, 47], reduction: .none)
        expectClose(loss.scalars, ref("long.none").scalars, tolerance: 1e-4)
    }

    @Test func greedyDecodingMergesRepeatsAndDropsBlanks() {
        // Frame argmaxes 1 1 0 1 2 2 0 3 (then padding frames that decode to 2 beyond length 8).
        let path = [1, 1, 0, 1, 2, 2, 0, 3, 2, 2]
        let logProbabilities = Tensor(path.map { best in [(0..<4).map { $0 == best ? -0.1 : -3.0 }] }, dtype: .float64)
        #expect(ctcGreedyDecode(logProbabilities: logProbabilities, inputLengths: [8]) == [[1, 1, 2, 3]])
        #expect(ctcGreedyDecode(logProbabilities: logProbabilities) == [[1, 1, 2, 3, 2]])
    }

    /// With a wide beam the prefix search finds the labeling of highest total probability,
    /// found here by summing every alignment's probability (3⁵ alignments).
    @Test func beamSearchFindsTheMostProbableLabeling() {
        var generator = RandomGenerator(seed: 4)
        for trial in 0..<5 {
            let logProbabilities = (Tensor.randomNormal([5, 1, 3], dtype: .float64, using: &generator) * 1.5).logSoftmax(along: 2)
            var totals: [[Int]: Double] = [:]
            for alignment in multiIndices(Array(repeating: 3, count: 5)) {
                var labels: [Int] = [], previous = 0
                for c in alignment { if c != 0 && c != previous { labels.append(c) }; previous = c }
                totals[labels, default: 0] += Foundation.exp((0..<5).map { logProbabilities[$0, 0, alignment[$0]] }.reduce(0, +))
            }
            let best = totals.max { $0.value < $1.value }!
            let decoded = ctcBeamSearchDecode(logProbabilities: logProbabilities, beamWidth: 64)[0]
            #expect(decoded.labels == best.key, "trial \(trial)")
            #expect(abs(decoded.logProbability - Foundation.log(best.value)) < 1e-12, "trial \(trial)")
        }
    }

    /// A blank inside a target stops with a message naming the op and the entry.
    @Test func blankInTargetIsReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ctcLoss(logProbabilities: Tensor(zeros: [3, 2, 4]), targets: IndexTensor([[1, 2], [3, 0]]),
                        inputLengths: [3, 3], targetLengths: [2, 2])
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("ctcLoss: target 0 of batch entry 1 is the blank (0)"), "\(message)")
        }
    }
}

/// Every multi-index of `shape`, in row-major order.
private func multiIndices(_ shape: [Int]) -> [[Int]] {
    shape.reduce([[]]) { prefixes, size in prefixes.flatMap { prefix in (0..<size).map { prefix + [$0] } } }
}

/// Expects equal counts and elements within `tolerance`, relative above magnitude 1; infinities must match.
private func expectClose(_ actual: [Double], _ expected: [Double], tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (index, (a, e)) in zip(actual, expected).enumerated() where !(a == e) {
        #expect(abs(a - e) / Swift.max(1, abs(e)) <= tolerance, "element \(index): \(a) vs \(e)", sourceLocation: sourceLocation)
    }
}
