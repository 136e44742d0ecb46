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
        tensors["bias_hh_l0"] = Tensor(zeros: [9, 1], dtype: .float64)
        tensors["weight_ih_l1"] = Tensor(zeros: [9, 3])
        #expect(throws: ParameterLoadingError(missing: ["weight_hh_l0"], unexpected: ["weight_ih_l1"],
                                              mismatched: ["bias_ih_l0: expected f32[9], found f32[4]",
                                                           "bias_hh_l0: expected f32[9], found f64[9, 1]"])) {
            try network.loadParameters(tensors)
        }
        // Without strict, names still never load a wrong shape.
        #expect(throws: ParameterLoadingError.self) { try network.loadParameters(tensors, strict: false) }
        #expect(network.parameters().map(\.value.scalars) == before)
    }

    /// Non-strict loading loads what matches and reports the rest, as `load_state_dict(strict=False)`.
    @Test func nonStrictLoadingLoadsWhatMatchesAndReportsTheRest() throws {
        let layer = Linear(3, 2)
        let bias = layer.bias!.value.scalars
        let weight = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let report = try layer.loadParameters(["weight": weight, "head.weight": Tensor(ones: [1])], strict: false)
        #expect(report == ParameterLoadingReport(missing: ["bias"], unexpected: ["head.weight"], converted: []))
        #expect(!report.matchedAll)
        #expect(layer.weight.value.scalars == [1, 2, 3, 4, 5, 6] && layer.bias!.value.scalars == bias)
    }

    /// Values of the other dtype are converted to the module's and reported; the parameter
    /// keeps its dtype and its gradient slot.
    @Test func loadingConvertsDTypesAndReportsIt() throws {
        let layer = Linear(2, 1)
        let node = layer.weight.value.graphNode
        let third = 1.0 / 3
        let report = try layer.loadParameters(["weight": Tensor([third, -2], shape: [1, 2], dtype: .float64),
                                               "bias": Tensor([0.5], dtype: .float32)])
        #expect(report.converted == ["weight: f64 → f32"] && report.matchedAll)
        #expect(layer.weight.value.dtype == .float32 && layer.weight.value.scalars == [Double(Float(third)), -2])
        #expect(layer.weight.value.graphNode === node)
    }

    /// Buffers follow `to(_:)`, are saved with the parameters and loaded by name, also inside
    /// containers (named by position in a Sequential).
    @Test func buffersAreConvertedSavedAndLoaded() throws {
        final class Normalizer: Module, UnaryLayer {
            let mean = Buffer(Tensor([1, 2, 3]))
            let scale = Linear(3, 3)
            func forward(_ x: Tensor) -> Tensor { scale(x - mean.value) }
        }
        let model = Sequential([Normalizer(), Tanh()])
        #expect(model.namedBuffers().map(\.name) == ["0.mean"])
        #expect(Set(model.stateDictionary().keys) == ["0.mean", "0.scale.weight", "0.scale.bias"])
        model.to(.float64)
        let normalizer = model.layers[0] as! Normalizer
        #expect(normalizer.mean.value.dtype == .float64 && !normalizer.mean.value.requiresGrad)
        normalizer.mean.value = Tensor([4, 5, 6], dtype: .float64)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("buffers-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.saveParameters(to: url)
        let copy = Sequential([Normalizer(), Tanh()])
        let report = try copy.loadParameters(from: url)
        #expect((copy.layers[0] as! Normalizer).mean.value.scalars == [4, 5, 6])
        #expect(report.converted.sorted() == ["0.mean: f64 → f32", "0.scale.bias: f64 → f32", "0.scale.weight: f64 → f32"])
        #expect(throws: ParameterLoadingError(missing: ["0.mean"])) {
            try copy.loadParameters(model.parameterTensors())
        }
    }

    /// Half-precision files (as PyTorch writes them) load into float32 parameters.
    @Test func halfPrecisionFilesLoad() throws {
        let layer = Linear(2, 1)
        let data = SafeTensors.encode(["weight": Tensor([0.5, -1.25], shape: [1, 2]), "bias": Tensor([3])], storageType: .bfloat16)
        try layer.loadParameters(SafeTensors.decode(data).tensors)
        #expect(layer.weight.value.scalars == [0.5, -1.25] && layer.bias!.value.scalars == [3])
    }
}
