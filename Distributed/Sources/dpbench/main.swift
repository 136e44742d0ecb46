import AutoGrad
import DataParallel
import Foundation
import Layers
import Optim

// dpbench: training throughput of the README's char-LM model (one-hot characters, LSTM,
// linear head, Adam) on synthetic text, data-parallel over the processes of the job. Compare
//   mpirun -np 2 dpbench --threads 1      (2 ranks × 1 thread)
//   mpirun -np 1 dpbench --threads 2      (1 rank × 2 threads)
// Prints samples (sequences) per second over the whole job, the allreduce sizes, the time one
// allreduce of that many bytes takes alone, and the share of the time rank 0 waited for sums.
//
// flags: --threads N (1)  --batch N global (32)  --hidden N (256)  --layers N (1)  --seq-len N (64)
//        --vocabulary N (100)  --steps N timed (20)  --no-overlap

let arguments = Array(CommandLine.arguments.dropFirst())
func value(_ flag: String, _ fallback: Int) -> Int { arguments.firstIndex(of: flag).flatMap { Int(arguments[$0 + 1]) } ?? fallback }
let (threads, batch, hidden, layers) = (value("--threads", 1), value("--batch", 32), value("--hidden", 256), value("--layers", 1))
let (window, vocabulary, steps) = (value("--seq-len", 64), value("--vocabulary", 100), value("--steps", 20))

do {
    let communicator = try Communicator()
    ComputeThreads.maximum = threads
    let group = DataParallelGroup(communicator: communicator, overlaps: !arguments.contains("--no-overlap"))
    let rows = (batch * group.rank / group.size)..<(batch * (group.rank + 1) / group.size)
    let weight = Double(rows.count) / Double(batch)
    RandomGenerator.seedThread(1)
    let lstm = LSTM(inputSize: vocabulary, hiddenSize: hidden, numLayers: layers, batchFirst: true)
    let head = Linear(hidden, vocabulary)
    try group.join([head.parameters(), lstm.parameters()])
    let optimizer = try Adam(lstm.namedParameters() + head.namedParameters(), options: .init(learningRate: 3e-3))
    var text = RandomGenerator(seed: UInt64(100 + group.rank))
    var state: [Tensor]?
    var started = Date()
    for step in 0..<(steps + 2) {
        if step == 2 {  // two warm-up steps, then all processes start the clock together
            _ = try group.sum([0])
            started = Date()
        }
        let ids = IndexTensor((0..<(rows.count * (window + 1))).map { _ in Int(text.next() % UInt64(vocabulary)) }, shape: [rows.count, window + 1])
        let (output, next) = lstm(Tensor.oneHot(ids.slice(0..<window, along: 1), classCount: vocabulary), initialState: state, lengths: nil)
        state = next.map { $0.detached() }
        let cut = output.detached().requiringGrad()
        let loss = crossEntropy(logits: head(cut).reshaped(to: [-1, vocabulary]), targets: IndexTensor(ids.slice(1..<(window + 1), along: 1).values))
        _ = try group.sum([loss.item() * weight])  // the reported loss, as the trainer reduces it
        optimizer.zeroGrad()
        try group.backward(loss, head: head.parameters(), cut: cut, features: output, body: lstm.parameters(), weight: weight)
        _ = clipGradientNorm(lstm.parameters() + head.parameters(), maxNorm: 1)
        optimizer.step()
    }
    _ = try group.sum([0])
    let seconds = Date().timeIntervalSince(started)
    // The transfer alone: as many bytes as a step's gradients, summed with nobody computing.
    var probe = [Double](repeating: 1, count: group.messageBytes.reduce(0, +) / 8)
    let probing = Date()
    for _ in 0..<20 { probe = try group.sum(probe) }
    let transfer = Date().timeIntervalSince(probing) / 20
    if group.rank == 0 {
        let bytes = group.messageBytes.map { String($0) }.joined(separator: " + ")
        print("dpbench: \(group.size) process(es) × \(threads) thread(s), LSTM \(layers)×\(hidden), vocabulary \(vocabulary), batch \(batch) × \(window), overlap \(group.overlaps ? "on" : "off")")
        print(String(format: "%.1f samples/s (%.0f chars/s), %.3f s/step; allreduce %@ bytes per step (%.2f ms alone); rank 0 waited %.1f%% of the time for sums",
                     Double(batch * steps) / seconds, Double(batch * steps * window) / seconds, seconds / Double(steps), bytes,
                     transfer * 1e3, 100 * group.waitingSeconds / seconds))
    }
    communicator.finalize()
} catch {
    FileHandle.standardError.write(Data("dpbench: error: \(error)\n".utf8))
    exit(1)
}
