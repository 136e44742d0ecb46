import Foundation
import Testing
@testable import Layers

/// The other direction (checked by hand, 2026-11-25, since CI never runs Python): a 2-layer
/// bidirectional `LSTM(projSize: 2)` saved with `saveParameters(to:)` loads into
/// `torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)` with
/// `load_state_dict(load_file(path), strict=True)` ("All keys matched successfully"), values equal.
@Suite struct ModuleSafeTensorsTests {
    @Test func saveThenLoadIntoAFreshModule() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("module-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let source = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        try source.saveParameters(to: url)
        let copy = LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        try copy.loadParameters(from: url)
        for ((name, a), (_, b)) in zip(source.namedParameters(), copy.namedParameters()) {
            #expect(a.value.scalars == b.value.scalars, "\(name)")
        }
    }

    /// One error lists every missing, unexpected and mismatched key, and nothing changes.
    @Test func strictLoadingListsEveryProblemAndChangesNothing() {
        let network = GRU(inputSize: 2, hiddenSize: 3)
        let before = network.parameters().map(\.value.scalars)
        var tensors = network.parameterTensors()
        tensors["weight_hh_l0"] = nil
        tensors["bias_ih_l0"] = Tensor(zeros: [4])
        tensors["bias_hh_l0"] = tensors["bias_hh_l0"]!.to(.float64)
        tensors["weight_ih_l1"] = Tensor(zeros: [9, 3])
        #expect(throws: ParameterLoadingError(missing: ["weight_hh_l0"], unexpected: ["weight_ih_l1"],
                                              mismatched: ["bias_ih_l0: expected f32[9], found f32[4]",
                                                           "bias_hh_l0: expected f32[9], found f64[9]"])) {
            try network.loadParameters(tensors)
        }
        #expect(network.parameters().map(\.value.scalars) == before)
        tensors["weight_hh_l0"] = network.parameterTensors()["weight_hh_l0"]
        tensors["bias_ih_l0"] = network.parameterTensors()["bias_ih_l0"]
        tensors["bias_hh_l0"] = network.parameterTensors()["bias_hh_l0"]
        #expect(throws: Never.self) { try network.loadParameters(tensors, strict: false) }
    }
}
