import Foundation
import Testing
@testable import CharLM
import Layers

/// `--resume` with another `--batch`: the text is cut into other streams, so the carried state
/// of the old ones is dropped instead of stopping the run on a state of the wrong shape.
@Suite struct BatchChangeTests {
    @Test func resumingWithAnotherBatchStartsTheStreamsFromZeroState() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        #expect(FileManager.default.createFile(atPath: data, contents: Data((0..<300).map { "v\($0 % 8) -= 2\n" }.joined().utf8)))
        func configuration(batch: Int, steps: Int, resume: Bool) -> TrainingConfiguration {
            var configuration = TrainingConfiguration()
            (configuration.dataPath, configuration.cell, configuration.hidden) = (data, .lstm, 8)
            (configuration.batch, configuration.sequenceLength, configuration.steps) = (batch, 6, steps)
            (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (100, 100, 100)
            configuration.checkpointPath = folder.appendingPathComponent("m.safetensors").path
            (configuration.resume, configuration.givenFlags) = (resume, resume ? ["--batch"] : [])
            return configuration
        }
        try Trainer(configuration: configuration(batch: 4, steps: 3, resume: false)).run()
        try Trainer(configuration: configuration(batch: 2, steps: 5, resume: true)).run()
        let (checkpoint, tensors) = try Checkpoint.read(path: folder.appendingPathComponent("m.safetensors").path)
        #expect(checkpoint.step == 5)
        #expect(tensors["state.0"]?.shape == [1, 2, 8])
    }
}
