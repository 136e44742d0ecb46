import AutoGrad
import DataParallel
import Foundation
import Layers
import Optim

// dpcheck: trains a small float64 LSTM tagger data-parallel for the equivalence test. Every
// process draws the same global batch of `--batch` sequences per step, trains on its share of
// the rows (carrying their recurrent state across steps), averages gradients through a
// DataParallelGroup (two-stage backward: head, then the LSTM), clips and steps Adam; rank 0
// writes the parameters and the gathered state of all rows. One process with batch 2B and two
// with B each must end with the same numbers.
//
// usage: dpcheck --batch N --steps N --out FILE [--no-overlap] [--bucket BYTES]

let arguments = Array(CommandLine.arguments.dropFirst())
func value(_ flag: String) -> String? { arguments.firstIndex(of: flag).map { arguments[$0 + 1] } }
guard let batch = value("--batch").flatMap(Int.init), let steps = value("--steps").flatMap(Int.init), let out = value("--out") else {
    FileHandle.standardError.write(Data("usage: dpcheck --batch N --steps N --out FILE [--no-overlap] [--bucket BYTES]\n".utf8))
    exit(2)
}
let (features, hidden, classes, time) = (5, 6, 3, 7)

do {
    let communicator = try Communicator()
    let group = DataParallelGroup(communicator: communicator, bucketCapacity: value("--bucket").flatMap(Int.init) ?? 25 << 20,
                                  overlaps: !arguments.contains("--no-overlap"))
    let rows = (batch * group.rank / group.size)..<(batch * (group.rank + 1) / group.size)
    let weight = Double(rows.count) / Double(batch)
    RandomGenerator.seedThread(UInt64(3 + group.rank))  // different initial values: join must overwrite them
    let lstm = LSTM(inputSize: features, hiddenSize: hidden, numLayers: 2, batchFirst: true)
    let head = Linear(hidden, classes)
    lstm.to(.float64)
    head.to(.float64)
    try group.join([head.parameters(), lstm.parameters()])
    let optimizer = try Adam(lstm.namedParameters() + head.namedParameters(), options: .init(learningRate: 0.01))
    var data = RandomGenerator(seed: 17)
    var state: [Tensor]?
    for _ in 0..<steps {
        let inputs = Tensor.randomNormal([batch, time, features], dtype: .float64, using: &data).slice(rows, along: 0)
        let labels = (0..<(batch * time)).map { _ in Int(data.next() % UInt64(classes)) }
        let targets = IndexTensor(Array(labels[(rows.lowerBound * time)..<(rows.upperBound * time)]))
        let (output, next) = lstm(inputs, initialState: state, lengths: nil)
        state = next.map { $0.detached() }
        let cut = output.detached().requiringGrad()
        let loss = crossEntropy(logits: head(cut).reshaped(to: [-1, classes]), targets: targets)
        optimizer.zeroGrad()
        try group.backward(loss, head: head.parameters(), cut: cut, features: output, body: lstm.parameters(), weight: weight)
        _ = clipGradientNorm(lstm.parameters() + head.parameters(), maxNorm: 0.5)
        optimizer.step()
    }
    var tensors: [String: Tensor] = [:]
    for (name, tensor) in lstm.stateDictionary() { tensors["lstm." + name] = tensor }
    for (name, tensor) in head.stateDictionary() { tensors["head." + name] = tensor }
    for (index, tensor) in (state ?? []).enumerated() { tensors["state.\(index)"] = try group.allGather(tensor, along: 1) }
    if group.rank == 0 { try SafeTensors.write(tensors, to: URL(fileURLWithPath: out)) }
    communicator.finalize()
} catch {
    FileHandle.standardError.write(Data("dpcheck: error: \(error)\n".utf8))
    exit(1)
}
