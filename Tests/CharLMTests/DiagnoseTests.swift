import Foundation
import Testing
import AutoGrad
@testable import CharLM

/// `charlm --diagnose`: the gradient-flow plot beside the loss curve, training unchanged.
@Suite(.serialized) struct DiagnoseTests {
    @Test func diagnoseWritesTheGradientPlotBesideTheLossCurve() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        #expect(FileManager.default.createFile(atPath: data, contents: Data((0..<300).map { "x = f(\($0 % 7));\n" }.joined().utf8)))
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
        // Recording observes the run without changing it. The recorded run goes op by op (each
        // step is observed) while the plain one runs compiled steps, whose float32 rounding
        // differs in the last bits: the same tensors, equal to float32 round-off.
        let plain = try SafeTensors.read(from: folder.appendingPathComponent("plain.safetensors")).tensors
        let diagnosed = try SafeTensors.read(from: folder.appendingPathComponent("diagnosed.safetensors")).tensors
        #expect(plain.keys.sorted() == diagnosed.keys.sorted())
        for (name, tensor) in plain {
            let difference = zip(tensor.scalars, diagnosed[name]!.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-5, "\(name): \(difference)")
        }
    }
}
