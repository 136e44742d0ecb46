import AutoGrad
import Foundation
import Layers
import Optim

/// Config B's LSTM training step (batch 32, 50 steps, input 64, hidden 256; forward, loss,
/// backward, Adam) plain and with each recurrent regulariser, and the overhead of each
/// (issue 12's target: at most 10%). Every setting runs compiled: weight drop swaps the masked
/// weights in, the state-dropout masks are inputs of the compiled step, and the run draws
/// zoneout's masks step by step.
func regularisationSection() throws {
    // One thread, and CPU time rather than wall time: on a shared machine the wall time of a
    // step varies by more than the overhead measured.
    ComputeThreads.maximum = 1
    let settings: [(String, RecurrentRegularisation)] = [
        ("plain", RecurrentRegularisation()),
        ("variational dropout 0.25 (inputs, outputs)",
         RecurrentRegularisation(variationalDropout: VariationalDropout(inputs: 0.25, outputs: 0.25))),
        ("variational dropout 0.25 (inputs, state, outputs)",
         RecurrentRegularisation(variationalDropout: VariationalDropout(inputs: 0.25, state: 0.25, outputs: 0.25))),
        ("weight drop 0.5 (weight_hh)", RecurrentRegularisation(weightDrop: WeightDrop(0.5))),
        ("zoneout 0.05 h, 0.5 c", RecurrentRegularisation(zoneout: Zoneout(probabilities: [0.05, 0.5]))),
        ("all three", RecurrentRegularisation(variationalDropout: VariationalDropout(inputs: 0.25, state: 0.25, outputs: 0.25),
                                              weightDrop: WeightDrop(0.5), zoneout: Zoneout(probabilities: [0.05, 0.5]))),
    ]
    RandomGenerator.seedThread(1)
    let lstm = LSTM(inputSize: 64, hiddenSize: 256)
    let optimizer = try Adam(lstm.namedParameters(), options: .init())
    let x = Tensor.randomNormal([50, 32, 64])
    func step() {
        let output = lstm(x).output
        optimizer.zeroGrad()
        (output * output).mean().backward()
        optimizer.step()
    }
    print("Recurrent regularisation: LSTM training step of config B (batch 32, seq 50, input 64, hidden 256), 1 thread,")
    print("CPU ms per step; overhead: the median over 15 rounds of each setting's time over the plain step's measured")
    print("just before and after it (rounds of 4 steps, settings interleaved with the plain step, in a new order each round)")
    let widths = [52, 10, 10]
    print(row(["", "CPU ms", "overhead"], widths: widths))
    func cpuMilliseconds(_ regularisation: RecurrentRegularisation) -> Double {
        lstm.regularisation = regularisation
        let start = ownCPUSeconds()
        for _ in 0..<4 { step() }
        return 1e3 * (ownCPUSeconds() - start) / 4
    }
    for (_, regularisation) in settings { lstm.regularisation = regularisation; step() }  // warm-up: masks, optimizer state
    // Paired with the plain step measured around it, a setting's ratio survives the load
    // changes of a shared machine, which move both alike; the median drops the rounds a
    // burst hit one side of. The order changes every round, since what ran before a setting
    // leaves the caches and the heap in its state: in a fixed order, all three regularisers
    // measured 1–2 points above what they do shuffled (2026-12-03).
    var plainTimes: [Double] = [], ratios = Array(repeating: [Double](), count: settings.count)
    var times = Array(repeating: [Double](), count: settings.count)
    var order = SystemRandomNumberGenerator()
    for _ in 0..<15 {
        var before = cpuMilliseconds(settings[0].1)
        plainTimes.append(before)
        for index in settings.indices.dropFirst().shuffled(using: &order) {
            let time = cpuMilliseconds(settings[index].1), after = cpuMilliseconds(settings[0].1)
            times[index].append(time)
            ratios[index].append(2 * time / (before + after))
            plainTimes.append(after)
            before = after
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    for (index, (name, _)) in settings.enumerated() {
        let time = index == 0 ? median(plainTimes) : median(times[index])
        print(row([name, format(time), index == 0 ? "" : format(100 * (median(ratios[index]) - 1), 1) + "%"], widths: widths))
    }
    ComputeThreads.maximum = ProcessInfo.processInfo.activeProcessorCount
    print()
}
