import Foundation
import Testing
@testable import Layers

/// Recurrent networks against PyTorch: the fixtures (Fixtures/make_rnn_fixtures.py, run by
/// hand) are safetensors files written by PyTorch holding an nn.RNN / nn.LSTM / nn.GRU
/// state_dict, inputs, initial states, outputs, final states and the gradients of a fixed
/// loss. Loading the state_dict strictly by PyTorch's names, we match everything to 1e-10.
@Suite struct TorchParityTests {
    static let fixtures: [String] = {
        let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasPrefix("rnn_") && $0.hasSuffix(".safetensors") }.sorted()
    }()

    @Test func thereAreFixturesForEveryFamily() {
        #expect(Self.fixtures.count == 12)
    }

    @Test(arguments: fixtures)
    func matchesPyTorch(_ fixture: String) throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(fixture)
        let (tensors, metadata) = try SafeTensors.read(from: url)
        let layers = Int(metadata["layers"]!)!, bidirectional = metadata["bidirectional"] == "true"
        let (input, hidden) = (Int(metadata["input_size"]!)!, Int(metadata["hidden_size"]!)!)
        let kind = metadata["kind"]!
        let network: Module
        switch kind {
        case "rnn": network = RNN(inputSize: input, hiddenSize: hidden, numLayers: layers,
                                  nonlinearity: metadata["nonlinearity"] == "relu" ? .relu : .tanh, batchFirst: true, bidirectional: bidirectional)
        case "lstm": network = LSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, batchFirst: true,
                                    bidirectional: bidirectional, projSize: Int(metadata["proj_size"]!)!)
        default: network = GRU(inputSize: input, hiddenSize: hidden, numLayers: layers, batchFirst: true, bidirectional: bidirectional)
        }
        network.to(.float64)
        // The state_dict entries are the names without a dot other than the fixture's own.
        let ownNames: Set = ["input", "h0", "c0", "output", "h_n", "c_n", "out_weight", "hn_weight", "cn_weight", "lengths"]
        try network.loadParameters(tensors.filter { !$0.key.contains(".") && !ownNames.contains($0.key) }, strict: true)

        let x = tensors["input"]!.requiringGrad(), h0 = tensors["h0"]!.requiringGrad()
        let c0 = tensors["c0"]?.requiringGrad()
        let lengths = tensors["lengths"].map { $0.scalars.map { Int($0) } }
        let initial = [h0] + (c0.map { [$0] } ?? [])
        let (output, state): (Tensor, [Tensor])
        switch network {
        case let rnn as RNN: (output, state) = rnn(x, initialState: initial, lengths: lengths)
        case let lstm as LSTM: (output, state) = lstm(x, initialState: initial, lengths: lengths)
        case let gru as GRU: (output, state) = gru(x, initialState: initial, lengths: lengths)
        default: fatalError("unexpected network")
        }
        var loss = (output * tensors["out_weight"]!).sum() + (state[0] * tensors["hn_weight"]!).sum()
        if let weight = tensors["cn_weight"] { loss = loss + (state[1] * weight).sum() }
        loss.backward()

        var compared: [(String, Tensor, Tensor)] = [("output", output, tensors["output"]!), ("h_n", state[0], tensors["h_n"]!),
                                                     ("grad.input", x.grad!, tensors["grad.input"]!), ("grad.h0", h0.grad!, tensors["grad.h0"]!)]
        if let c0 {
            compared += [("c_n", state[1], tensors["c_n"]!), ("grad.c0", c0.grad!, tensors["grad.c0"]!)]
        }
        for (name, parameter) in network.namedParameters() {
            compared.append(("grad." + name, parameter.grad!, tensors["grad." + name]!))
        }
        for (name, ours, theirs) in compared {
            #expect(ours.shape == theirs.shape, "\(fixture) \(name)")
            #expect(maxDifference(ours, theirs) < 1e-10, "\(fixture) \(name): \(maxDifference(ours, theirs))")
        }
    }
}
