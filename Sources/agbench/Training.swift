import AutoGrad
import Foundation
import Layers
import Optim

/// An LSTM cell as a user writes one: only a step function of public ops (two `Linear`s,
/// `chunked`, `sigmoid`, `tanh`, `*`, `+`), nothing the engine knows about. Its speed beside
/// the built-in `LSTM` is what the engine's compiled path gives any cell.
final class UserLSTMCell: Module, RecurrentCell {
    let inputSize: Int, outputSize: Int
    let input: Linear, hidden: Linear

    init(inputSize: Int, hiddenSize: Int) {
        self.inputSize = inputSize
        outputSize = hiddenSize
        input = Linear(inputSize, 4 * hiddenSize)
        hidden = Linear(hiddenSize, 4 * hiddenSize)
    }

    func zeroState(batchSize: Int, dtype: DType) -> [Tensor] {
        [Tensor(zeros: [batchSize, outputSize], dtype: dtype), Tensor(zeros: [batchSize, outputSize], dtype: dtype)]
    }

    func step(_ x: Tensor, state: [Tensor]) -> (output: Tensor, state: [Tensor]) {
        let gates = (input(x) + hidden(state[0])).chunked(into: 4, along: 1)
        let c = gates[1].sigmoid() * state[1] + gates[0].sigmoid() * gates[2].tanh()
        let h = gates[3].sigmoid() * c.tanh()
        return (h, [h, c])
    }
}

/// One of the training configs of ../shared/perf/baseline.md, with the head and loss the
/// recurrent-speed issue fixes (Benchmarks/reference_training.py builds the same).
struct TrainingConfig {
    let name: String, batch: Int, steps: Int, inputs: Int, hidden: Int, layers: Int, bidirectional: Bool
    /// Repeats per measurement (C's steps take about a second).
    var repeats: Int { name == "C" ? 3 : 15 }
    /// The rounds of a training section of `rounds`: at most three for C.
    func rounds(of rounds: Int) -> Int { name == "C" ? min(rounds, 3) : rounds }

    static let all = [
        TrainingConfig(name: "A", batch: 1, steps: 25, inputs: 65, hidden: 128, layers: 1, bidirectional: false),
        TrainingConfig(name: "B", batch: 32, steps: 50, inputs: 64, hidden: 256, layers: 1, bidirectional: false),
        TrainingConfig(name: "C", batch: 64, steps: 100, inputs: 512, hidden: 1024, layers: 1, bidirectional: false),
        TrainingConfig(name: "D", batch: 16, steps: 50, inputs: 64, hidden: 128, layers: 2, bidirectional: true),
        // The main job's model at the size the recurrent-speed issue names: charlm's one-hot
        // input (161 characters), a 2-layer 256-unit LSTM, batch 32, windows of 64.
        TrainingConfig(name: "LM", batch: 32, steps: 64, inputs: 161, hidden: 256, layers: 2, bidirectional: false),
    ]
    /// Whether the config is a character-level language model (one-hot in, cross-entropy at every step).
    var isCharacterModel: Bool { name == "A" || name == "LM" }

    /// One training step of `network` with its head, optimizer and data made ready.
    func trainingStep(_ network: Module, _ run: @escaping (Tensor) -> Tensor) throws -> () -> Void {
        let head = Linear(hidden * (bidirectional ? 2 : 1), inputs)
        let optimizer = try Adam(network.parameters() + head.parameters(), options: .init())
        var generator = RandomGenerator(seed: 1)
        let loss: () -> Tensor
        if isCharacterModel {
            let ids = (0..<((steps + 1) * batch)).map { _ in Int(generator.next() % UInt64(inputs)) }
            let x = Tensor.oneHot(IndexTensor(Array(ids.prefix(steps * batch)), shape: [steps, batch]), classCount: inputs)
            let targets = IndexTensor(Array(ids.dropFirst(batch)))
            loss = { crossEntropy(logits: head(run(x)).reshaped(to: [-1, inputs]), targets: targets) }
        } else {
            let x = Tensor.randomNormal([steps, batch, inputs], using: &generator)
            let everyStep = name == "D"
            let target = Tensor.randomNormal(everyStep ? [steps, batch, inputs] : [batch, inputs], using: &generator)
            loss = {
                let output = run(x)
                return mseLoss(head(everyStep ? output : output.select(steps - 1, along: 0)), target)
            }
        }
        return {
            let value = loss()
            optimizer.zeroGrad()
            value.backward()
            optimizer.step()
        }
    }

    /// The built-in network of `family`.
    func builtIn(_ family: String) -> (Module, (Tensor) -> Tensor) {
        switch family {
        case "LSTM":
            let lstm = LSTM(inputSize: inputs, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional)
            return (lstm, { lstm($0).output })
        case "GRU":
            let gru = GRU(inputSize: inputs, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional)
            return (gru, { gru($0).output })
        default:
            let rnn = RNN(inputSize: inputs, hiddenSize: hidden, numLayers: layers, bidirectional: bidirectional)
            return (rnn, { rnn($0).output })
        }
    }

    /// The user-written LSTM cell in the same engine.
    func userLSTM() -> (Module, (Tensor) -> Tensor) {
        let network = RecurrentNetwork(inputSize: inputs, numLayers: layers, bidirectional: bidirectional) { _, size in
            UserLSTMCell(inputSize: size, hiddenSize: hidden)
        }
        return (network, { network($0).output })
    }
}

/// The training section: each case timed here, then its reference (PyTorch fused and custom
/// cell, JAX jit when importable) right after; ratios are our time over theirs. `agbench
/// training B C` runs only the configs named.
func trainingSection() throws {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    ComputeThreads.maximum = cores
    var words = Array(CommandLine.arguments.drop { $0 != "training" }.dropFirst())
    // Rounds: every case measured in turn (ours, the user cell, the references kept running),
    // round after round, so each round's ratio compares runs moments apart and each case's
    // rounds spread over the whole run; the table gives medians. These machines' speed swings
    // by 1.5x between minutes: one round's ratio is not a result, nor are rounds taken in
    // one minute.
    var rounds = 3
    if let flag = words.firstIndex(of: "--rounds"), flag + 1 < words.count, let count = Int(words[flag + 1]), count > 0 {
        rounds = count
        words.removeSubrange(flag...(flag + 1))
    }
    let names = Set(words)
    print("Training step (forward, loss, backward, Adam), \(cores) threads, ms per step (configs A–D of")
    print("../shared/perf/baseline.md); 'user cell': an LSTM cell written as a step function of public ops.")
    print("Medians over \(rounds) rounds of all cases (C: at most three), each case's round ours then the references;")
    print("ratios: the median of the rounds' ratios, with their range")
    var cases: [TrainingCase] = []
    for config in TrainingConfig.all where names.isEmpty || names.contains(config.name) {
        let reference = ReferenceProcess("reference_training.py", threads: cores, arguments: [config.name])
        for family in ["LSTM", "GRU", "RNN"] {
            let (network, run) = config.builtIn(family)
            let user = family == "LSTM" ? try { let (network, run) = config.userLSTM(); return try config.trainingStep(network, run) }() : nil
            cases.append(TrainingCase(config: config, family: family, ours: try config.trainingStep(network, run), user: user,
                                      reference: reference))
        }
    }
    // Each config's script, started above, set up while ours were built.
    for index in cases.indices where cases[index].reference?.isReady == false { cases[index].reference = nil }
    for round in 0..<rounds {
        for index in cases.indices where round < cases[index].config.rounds(of: rounds) { cases[index].measure() }
    }
    let widths = [8, 9, 10, 10, 10, 10, 8, 12, 10, 8]
    print(row(["", "ours", "user cell", "PyTorch", "PT custom", "JAX jit", "ours/PT", "range", "user/ours", "user/PT"], widths: widths))
    for trainingCase in cases { print(row(trainingCase.cells, widths: widths)) }
    print()
}

/// One case of the training section: a config and cell family, our training step (and the
/// user cell's), its config's reference script, and the times of its rounds so far.
private struct TrainingCase {
    let config: TrainingConfig, family: String
    let ours: () -> Void, user: (() -> Void)?
    var reference: ReferenceProcess?
    /// Milliseconds per step by runner ("ours", "user", and the reference's "fused", …), a
    /// value per round.
    var times: [String: [Double]] = [:]

    /// One round: ours, the user cell, then the reference.
    mutating func measure() {
        times["ours", default: []].append(1e3 * medianSeconds(repeats: config.repeats, ours))
        if let user { times["user", default: []].append(1e3 * medianSeconds(repeats: config.repeats, user)) }
        let figures: [String: Double]? = reference?.measure(family)
        for (name, value) in figures ?? [:] { times[name, default: []].append(value) }
    }

    /// The table row: medians of the times, and of each round's ratios (with their range).
    var cells: [String] {
        func median(_ values: [Double]?) -> Double? {
            guard let values, !values.isEmpty else { return nil }
            return values.sorted()[values.count / 2]
        }
        /// Each round's ratio a / b (rounds where both were measured).
        func ratios(_ a: String, _ b: String) -> [Double] {
            guard let a = times[a], let b = times[b], a.count == b.count else { return [] }
            return zip(a, b).map { $0 / $1 }
        }
        func cell(_ value: Double?) -> String { value.map { format($0) } ?? "—" }
        let mainRatios = ratios("ours", "fused")
        let range = mainRatios.isEmpty ? "—" : "\(format(mainRatios.min()!))–\(format(mainRatios.max()!))"
        return ["\(config.name) \(family)", cell(median(times["ours"])), cell(median(times["user"])), cell(median(times["fused"])),
                cell(median(times["custom"])), cell(median(times["jax"])), cell(median(mainRatios)), range,
                cell(median(ratios("user", "ours"))), cell(median(ratios("user", "fused")))]
    }
}

/// The peak section: extra resident memory of LSTM training steps on configs B and C (the
/// peak during two steps, above the process once model, optimizer and data exist), each in a
/// fresh process, ours and PyTorch's (reference_training.py … peak).
func peakMemorySection() {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    print("Peak extra resident memory of an LSTM training step, MiB (fresh process each)")
    let widths = [8, 10, 10, 10, 8]
    print(row(["", "ours", "user cell", "PyTorch", "ours/PT"], widths: widths))
    for name in ["B", "C"] {
        func child(_ kind: String) -> Double? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = ["peak-child", name, kind]
            let output = Pipe()
            process.standardOutput = output
            guard (try? process.run()) != nil else { return nil }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return Double(text.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 / 1_048_576 }
        }
        let ours = child("builtin"), user = child("user")
        let torch: [String: Double]? = runReference("reference_training.py", threads: cores, arguments: [name, "LSTM", "peak"])
        let reference = torch?["peak"].map { $0 / 1_048_576 }
        print(row(["\(name) LSTM", ours.map { format($0, 1) } ?? "n/a", user.map { format($0, 1) } ?? "n/a",
                   reference.map { format($0, 1) } ?? "n/a", ours.flatMap { o in reference.map { format(o / $0) } } ?? "—"],
                  widths: widths))
    }
    print()
}

/// In a child process: prints the peak extra resident bytes of two training steps of config
/// `name`'s LSTM (`builtin` or `user` cell).
func peakMemoryChild(_ name: String, _ kind: String) throws {
    let config = TrainingConfig.all.first { $0.name == name }!
    let (network, run) = kind == "user" ? config.userLSTM() : config.builtIn("LSTM")
    let step = try config.trainingStep(network, run)
    let idle = residentBytes() ?? 0
    step()
    step()
    print(max(0, peakResidentBytes() - idle))
}

/// The peak resident set size of this process in bytes (Linux: VmHWM in /proc/self/status).
func peakResidentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Int(line.split(separator: " ")[1]) else { return 0 }
    return kilobytes * 1024
}

/// The steps section, for development: our training step alone (no references), on one thread
/// and on every core, wall time, CPU time and page faults per step (the count is not moved by
/// the machine's load). `agbench steps B LSTM` runs config B's built-in LSTM; `user` in place
/// of the family runs the user-written cell; a third argument picks one thread count, and a
/// fourth runs that many more steps untimed, for a profiler (`agbench steps A LSTM 1 2000`).
func stepsSection() throws {
    let arguments = Array(CommandLine.arguments.drop { $0 != "steps" }.dropFirst())
    let name = arguments.first ?? "B", family = arguments.count > 1 ? arguments[1] : "LSTM"
    guard let config = TrainingConfig.all.first(where: { $0.name == name }) else {
        print("no config \(name); configs: \(TrainingConfig.all.map(\.name).joined(separator: " "))")
        return
    }
    let (network, run) = family == "user" ? config.userLSTM() : config.builtIn(family)
    let step = try config.trainingStep(network, run)
    let counts = arguments.count > 2 ? [Int(arguments[2]) ?? 1] : Array(Set([1, ProcessInfo.processInfo.activeProcessorCount])).sorted()
    for threads in counts {
        ComputeThreads.maximum = threads
        let median = medianSeconds(repeats: config.repeats, step)
        let (cpuBefore, faultsBefore) = (ownCPUSeconds(), ownPageFaults())
        for _ in 0..<config.repeats { step() }
        let cpu = (ownCPUSeconds() - cpuBefore) / Double(config.repeats) * 1e3
        let faults = (ownPageFaults() - faultsBefore) / config.repeats
        print("\(name) \(family), \(threads) thread\(threads > 1 ? "s" : ""): median \(format(median * 1e3)) ms, "
              + "CPU \(format(cpu)) ms, \(faults) page faults per step")
        for _ in 0..<(arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0) { step() }
    }
}
