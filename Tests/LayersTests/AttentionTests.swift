import Foundation
import Testing
@testable import Layers

/// Attention modules: multi-head against PyTorch (Fixtures/make_attention_fixtures.py),
/// additive and multiplicative against the test's own loops, masks, and gradient checks.
@Suite struct AttentionTests {
    static let reference = Fixture("attention_references.safetensors")
    private func ref(_ name: String) -> Tensor { Self.reference[name] }

    @Test(arguments: ["same", "sizes"]) func multiHeadMatchesPyTorch(_ name: String) {
        let (keySize, valueSize) = name == "same" ? (8, 8) : (6, 7)
        let attention = MultiHeadAttention(embedSize: 8, headCount: 2, keySize: keySize, valueSize: valueSize)
        attention.to(.float64)
        for (parameterName, parameter) in attention.namedParameters() { parameter.value = ref("\(name).\(parameterName)") }
        let (query, key, value) = (ref("\(name).query").requiringGrad(), ref("\(name).key").requiringGrad(), ref("\(name).value").requiringGrad())
        let mask = Mask(lengths: ref("\(name).lengths").scalars.map { Int($0) }, maxLength: 5)
        let (output, weights) = attention(query: query, keys: key, values: value, keyMask: mask)
        (output * ref("\(name).w")).sum().backward()
        #expect(maxDifference(output, ref("\(name).output")) < 1e-12)
        #expect(maxDifference(weights, ref("\(name).weights")) < 1e-12)
        for (input, label) in [(query, "query"), (key, "key"), (value, "value")] {
            #expect(maxDifference(input.grad!, ref("\(name).grad.\(label)")) < 1e-12, "\(label)")
        }
        for (parameterName, parameter) in attention.namedParameters() {
            #expect(maxDifference(parameter.grad!, ref("\(name).grad.\(parameterName)")) < 1e-12, "\(parameterName)")
        }
        #expect(Set(attention.namedParameters().map(\.name)) == Set(Self.reference.tensors.keys.filter {
            $0.hasPrefix("\(name).grad.") && !["query", "key", "value"].contains($0.components(separatedBy: ".")[2])
        }.map { String($0.dropFirst("\(name).grad.".count)) }))
    }

    /// vᵀ tanh(W_q q + W_k k_j + b) and the weighted sum, by loops over plain arrays.
    @Test func additiveMatchesLoops() {
        var generator = RandomGenerator(seed: 21)
        let attention = AdditiveAttention(querySize: 3, keySize: 4, hiddenSize: 5)
        attention.to(.float64)
        let query = Tensor.randomNormal([2, 3], dtype: .float64, using: &generator)
        let keys = Tensor.randomNormal([2, 4, 4], dtype: .float64, using: &generator)
        let values = Tensor.randomNormal([2, 4, 2], dtype: .float64, using: &generator)
        let lengths = [4, 2]
        let (context, weights) = attention(query: query, keys: keys, values: values, keyMask: Mask(lengths: lengths, maxLength: 4))
        #expect(context.shape == [2, 2] && weights.shape == [2, 4])
        let (wq, wk, b, v) = (attention.queryProjection.weight.value, attention.keyProjection.weight.value,
                              attention.keyProjection.bias!.value, attention.energy.weight.value)
        for batch in 0..<2 {
            let q: [Double] = (0..<3).map { query[batch, $0] }
            var scores: [Double] = []
            for j in 0..<lengths[batch] {
                let k: [Double] = (0..<4).map { keys[batch, j, $0] }
                var score = 0.0
                for h in 0..<5 {
                    let projected: Double = dot((0..<3).map { wq[h, $0] }, q) + dot((0..<4).map { wk[h, $0] }, k) + b[h]
                    score += v[0, h] * Foundation.tanh(projected)
                }
                scores.append(score)
            }
            let expected = softmax(scores) + Array(repeating: 0, count: 4 - lengths[batch])
            for j in 0..<4 { #expect(abs(weights[batch, j] - expected[j]) < 1e-14) }
            for j in lengths[batch]..<4 { #expect(weights[batch, j] == 0) }  // exactly 0
            for f in 0..<2 {
                #expect(abs(context[batch, f] - dot(expected, (0..<4).map { values[batch, $0, f] })) < 1e-14)
            }
        }
    }

    @Test(arguments: [MultiplicativeAttention.Score.dot, .general, .scaledDot])
    func multiplicativeMatchesLoops(_ score: MultiplicativeAttention.Score) {
        var generator = RandomGenerator(seed: 22)
        let keySize = score == .general ? 5 : 3
        let attention = MultiplicativeAttention(querySize: 3, keySize: keySize, score: score)
        attention.to(.float64)
        let query = Tensor.randomNormal([2, 2, 3], dtype: .float64, using: &generator)
        let keys = Tensor.randomNormal([2, 4, keySize], dtype: .float64, using: &generator)
        let values = Tensor.randomNormal([2, 4, 2], dtype: .float64, using: &generator)
        let (context, weights) = attention(query: query, keys: keys, values: values, keyMask: Mask(lengths: [3, 4], maxLength: 4))
        #expect(context.shape == [2, 2, 2] && weights.shape == [2, 2, 4])
        for batch in 0..<2 {
            for i in 0..<2 {
                let valid = batch == 0 ? 3 : 4
                let q: [Double] = (0..<3).map { query[batch, i, $0] }
                var scores: [Double] = []
                for j in 0..<valid {
                    let k: [Double] = (0..<keySize).map { keys[batch, j, $0] }
                    let keyVector: [Double] = score == .general ? (0..<3).map { r in dot((0..<5).map { attention.weight!.value[r, $0] }, k) } : k
                    scores.append(score == .scaledDot ? dot(q, keyVector) / Foundation.sqrt(3) : dot(q, keyVector))
                }
                let expected = softmax(scores)
                for j in 0..<4 { #expect(abs(weights[batch, i, j] - (j < valid ? expected[j] : 0)) < 1e-14) }
                if valid < 4 { #expect(weights[batch, i, 3] == 0) }
            }
        }
        expectClose(context, matmul(weights, values))
    }

    /// The public checker through each module with a key mask, parameters included.
    @Test func gradientChecks() throws {
        var generator = RandomGenerator(seed: 23)
        let mask = Mask(lengths: [3, 1], maxLength: 3)
        let keys = Tensor.randomNormal([2, 3, 4], dtype: .float64, using: &generator)
        let values = Tensor.randomNormal([2, 3, 4], dtype: .float64, using: &generator)
        let modules: [(any Attention, Tensor)] = [
            (AdditiveAttention(querySize: 2, keySize: 4, hiddenSize: 3), Tensor.randomNormal([2, 2], dtype: .float64, using: &generator)),
            (MultiplicativeAttention(querySize: 4, keySize: 4, score: .scaledDot), Tensor.randomNormal([2, 2, 4], dtype: .float64, using: &generator)),
            (MultiplicativeAttention(querySize: 2, keySize: 4, score: .general), Tensor.randomNormal([2, 2], dtype: .float64, using: &generator)),
            (MultiHeadAttention(embedSize: 4, headCount: 2), Tensor.randomNormal([2, 2, 4], dtype: .float64, using: &generator)),
        ]
        for (attention, query) in modules {
            attention.to(.float64)
            try checkGradients(of: { inputs in
                let (context, weights) = attention(query: inputs[0], keys: inputs[1], values: inputs[2], keyMask: mask)
                return context.sum() + (weights * weights).sum()
            }, at: [query, keys, values], parameters: attention.parameters())
        }
    }

    @Test func fullyMaskedRowIsReported() async {
        await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let attention = MultiplicativeAttention(querySize: 2, keySize: 2)
            _ = attention(query: Tensor(zeros: [2, 2]), keys: Tensor(zeros: [2, 3, 2]), values: Tensor(zeros: [2, 3, 2]),
                          keyMask: Mask(lengths: [3, 0], maxLength: 3))
        }.map { result in
            let message = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(message.contains("attention: key mask row 1 has no valid step"), "\(message)")
        }
    }
}

private func expectClose(_ a: Tensor, _ b: Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(maxDifference(a, b) < 1e-14, sourceLocation: sourceLocation)
}

private func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { $0 * $1 }.reduce(0, +) }

private func softmax(_ x: [Double]) -> [Double] {
    let exps = x.map { Foundation.exp($0 - x.max()!) }
    return exps.map { $0 / exps.reduce(0, +) }
}
