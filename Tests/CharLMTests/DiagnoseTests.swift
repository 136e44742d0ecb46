import Foundation
import Testing
@testable import charlm

/// `charlm --diagnose`: the gradient-flow plot beside the loss curve, training unchanged.
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
}
