import AutoGrad
import Foundation
import Layers
import Optim

/// Config B's LSTM training step (batch 32, 50 steps, input 64, hidden 256; forward, loss,
/// backward, Adam) plain and with each recurrent regulariser, and the overhead of each
/// (issue 12's target: at most 10%).
func regularisationSection() throws {
    ComputeThreads.maximum = ProcessInfo.processInfo.activeProcessorCount
    let settings: [(String, RecurrentRegularisation)] = [
        ("plain", RecurrentRegularisation()),
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
    print("Recurrent regularisation: LSTM training step of config B (batch 32, seq 50, input 64, hidden 256), ms per step")
    let widths = [52, 10, 10]
    print(row(["", "ms", "overhead"], widths: widths))
    var plain = 0.0
    for (name, regularisation) in settings {
        lstm.regularisation = regularisation
        let ms = 1e3 * medianSeconds(repeats: 15) {
            let output = lstm(x).output
            optimizer.zeroGrad()
            (output * output).mean().backward()
            optimizer.step()
        }
        if name == "plain" { plain = ms }
        print(row([name, format(ms), name == "plain" ? "" : format(100 * (ms / plain - 1), 1) + "%"], widths: widths))
    }
    print()
}
