import Foundation
import Layers
import Optim

/// The resident set size of this process in bytes (Linux: /proc/self/statm), or `nil`.
func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Whether memory stays flat over a long run: 20,000 small training steps (LSTM, linear head,
/// cross-entropy, backward, clipping, Adam), resident memory after a 1,000-step warm-up
/// against the end. A leak of even a few hundred bytes per step shows as growth.
func memoryBenchmark(steps: Int = 20_000, warmUp: Int = 1_000) throws {
    var generator = RandomGenerator(seed: 3)
    let (vocabulary, hidden, batch, window) = (32, 64, 4, 16)
    let (lstm, head) = RandomGenerator.drawing(from: &generator) {
        (LSTM(inputSize: vocabulary, hiddenSize: hidden, batchFirst: true), Linear(hidden, vocabulary))
    }
    let optimizer = try Adam(lstm.namedParameters() + head.namedParameters().map { ("head." + $0.name, $0.parameter) }, options: .init())
    let ids = IndexTensor((0..<(batch * (window + 1))).map { _ in Int(generator.next() % UInt64(vocabulary)) }, shape: [batch, window + 1])
    let inputs = Tensor.oneHot(IndexTensor(ids.values.enumerated().filter { $0.offset % (window + 1) != window }.map(\.element),
                                           shape: [batch, window]), classCount: vocabulary)
    let targets = IndexTensor(ids.values.enumerated().filter { $0.offset % (window + 1) != 0 }.map(\.element))
    var state: [Tensor]?, afterWarmUp = 0
    let start = Date()
    for step in 1...steps {
        let (output, next) = lstm(inputs, initialState: state, lengths: nil)
        state = next.map { $0.detached() }
        let loss = crossEntropy(logits: head(output).reshaped(to: [-1, vocabulary]), targets: targets)
        optimizer.zeroGrad()
        loss.backward()
        _ = clipGradientNorm(lstm.parameters() + head.parameters(), maxNorm: 1)
        optimizer.step()
        if step == warmUp { afterWarmUp = residentBytes() ?? 0 }
    }
    let end = residentBytes() ?? 0
    let growth = afterWarmUp > 0 ? 100 * Double(end - afterWarmUp) / Double(afterWarmUp) : .nan
    print("Memory over \(steps) small training steps (\(format(Date().timeIntervalSince(start), 1)) s)")
    print("resident after \(warmUp) steps \(afterWarmUp / 1_048_576) MiB, at the end \(end / 1_048_576) MiB: "
          + "growth \(format(growth, 2))% (\(growth < 5 ? "flat, under" : "NOT flat, over") the 5% bound)")
    print()
}
