import AutoGrad
import Foundation
import Layers
import Optim

/// Config B's LSTM training step (batch 32, 50 steps, input 64, hidden 256; forward, loss,
/// backward, Adam) plain and with each recurrent regulariser, and the overhead of each
/// (issue 12's target: at most 10%). Every setting runs compiled: weight drop swaps the masked
/// weights in, and the state-dropout and zoneout masks are inputs of the compiled step.
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
    print("CPU ms per step (5 interleaved rounds of 8 steps per setting, the fastest round kept)")
    let widths = [52, 10, 10]
    print(row(["", "CPU ms", "overhead"], widths: widths))
    var fastest = Array(repeating: Double.infinity, count: settings.count)
    for round in 0..<5 {
        for (index, setting) in settings.enumerated() {
            lstm.regularisation = setting.1
            if round == 0 { step() }  // warm-up: first masks, optimizer state
            let start = ownCPUSeconds()
            for _ in 0..<8 { step() }
            fastest[index] = min(fastest[index], 1e3 * (ownCPUSeconds() - start) / 8)
        }
    }
    for (index, (name, _)) in settings.enumerated() {
        print(row([name, format(fastest[index]), index == 0 ? "" : format(100 * (fastest[index] / fastest[0] - 1), 1) + "%"],
                  widths: widths))
    }
    ComputeThreads.maximum = ProcessInfo.processInfo.activeProcessorCount
    print()
}
