import Foundation
import Testing
@testable import charlm
import Layers

/// charlm's diagnostics: `--diagnose`'s gradient-flow plot beside the loss curve (training
/// unchanged), and the anomaly behind a non-finite loss.
@Suite(.serialized) struct DiagnoseTests {
    @Test func diagnoseWritesTheGradientPlotBesideTheLossCurve() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        FileManager.default.createFile(atPath: data, contents: Data((0..<300).map { "x = f(\($0 % 7));\n" }.joined().utf8))
        func run(_ name: String, diagnose: Bool) throws {
            var configuration = try TrainingConfiguration(arguments: ["--data", data, "--cell", "gru", "--hidden", "8", "--layers", "2",
                "--batch", "2", "--seq-len", "6", "--steps", "4", "--eval-every", "2", "--sample-every", "100",
                "--checkpoint-every", "100", "--checkpoint", folder.appendingPathComponent(name).path] + (diagnose ? ["--diagnose"] : []))
            configuration.seed = 3
            try Trainer(configuration: configuration).run()
        }
        try run("plain.safetensors", diagnose: false)
        try run("diagnosed.safetensors", diagnose: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(!files.contains("plain-gradients.svg") && files.contains("diagnosed-loss.svg"))
        let svg = try String(contentsOfFile: folder.appendingPathComponent("diagnosed-gradients.svg").path, encoding: .utf8)
        for fragment in ["mean over steps 1–4", "global gradient norm before clipping: ", ">layer 0</text>", ">layer 1</text>"] {
            #expect(svg.contains(fragment), "\(fragment)")
        }
        #expect(svg.components(separatedBy: "<path d=\"M").count == 3)  // one line per layer
        // Recording observes the run without changing it.
        #expect(try Data(contentsOf: folder.appendingPathComponent("plain.safetensors"))
                == Data(contentsOf: folder.appendingPathComponent("diagnosed.safetensors")))
    }

    /// A non-finite loss names the op that produced the first NaN, and for the encoder its
    /// layer and time step: here every recurrent weight of layer 1 is NaN, so its first step.
    @Test func nonFiniteLossNamesTheRecurrentStep() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = TrainingConfiguration()
        configuration.dataPath = folder.appendingPathComponent("text.txt").path
        FileManager.default.createFile(atPath: configuration.dataPath!, contents: Data((0..<300).map { "y = g(\($0 % 5));\n" }.joined().utf8))
        (configuration.cell, configuration.hidden, configuration.layers) = (.rnn, 8, 2)
        (configuration.batch, configuration.sequenceLength, configuration.steps, configuration.stopAfter) = (2, 6, 8, 2)
        (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (100, 100, 100)
        configuration.checkpointPath = folder.appendingPathComponent("m.safetensors").path
        try Trainer(configuration: configuration).run()
        let url = URL(fileURLWithPath: configuration.checkpointPath)
        var (tensors, metadata) = try SafeTensors.read(from: url)
        let name = "model.encoder.weight_hh_l1"
        tensors[name] = Tensor(repeating: .nan, shape: try #require(tensors[name]).shape)
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        let poisoned = try Data(contentsOf: url)
        (configuration.resume, configuration.stopAfter) = (true, nil)
        #expect { try Trainer(configuration: configuration).run() } throws: { error in
            guard case let .nonFiniteLoss(step, _, _, _, anomaly?)? = error as? TrainingError else { return false }
            return step == 3 && anomaly.op == "matmul" && anomaly.location == "recurrent layer 1, time step 0"
                && "\(error)".contains("(forward op 'matmul' (recurrent layer 1, time step 0) produced a non-finite output")
        }
        #expect(try Data(contentsOf: url) == poisoned)
    }
}
