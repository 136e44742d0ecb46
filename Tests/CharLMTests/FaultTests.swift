import Foundation
import Testing
@testable import CharLM
import Layers

/// The trainer under faults: killed at any moment it leaves a checkpoint that loads and
/// resumes; a non-finite loss stops it without overwriting the last checkpoint (issue 13).
@Suite(.serialized) struct FaultTests {
    private func writeCorpus(in folder: URL) -> String {
        let path = folder.appendingPathComponent("text.txt").path
        let text = (0..<300).map { "case \($0 % 9): return h(\($0 % 4))\n" }.joined()
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        return path
    }

    /// The checkpoint at `path` reads and restores into a fresh model; returns its step.
    private func loadableStep(_ path: String) throws -> Int {
        let (checkpoint, tensors) = try Checkpoint.read(path: path)
        let saved = checkpoint.configuration
        let model = CharModel(saved, vocabularySize: checkpoint.vocabulary.count)
        _ = try Checkpoint.restore(tensors, path: path, into: model)
        return checkpoint.step
    }

    /// SIGKILL at seeded random moments of a run that saves every step (so many kills land in
    /// the middle of a save): after each, the checkpoint loads, and `--resume` carries on
    /// until the run completes.
    @Test func killedAtAnyMomentTheCheckpointLoadsAndResumes() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("m.safetensors").path
        let steps = 150
        // The charlm executable is built next to the test binary.
        let executable = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("charlm")
        let arguments = ["--data", writeCorpus(in: folder), "--cell", "gru", "--hidden", "8", "--batch", "2", "--seq-len", "6",
                         "--steps", "\(steps)", "--eval-every", "10", "--sample-every", "1000", "--checkpoint-every", "1",
                         "--checkpoint", checkpoint]
        func start() throws -> Process {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments + (FileManager.default.fileExists(atPath: checkpoint) ? ["--resume"] : [])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        func lastSaved() -> Date? {
            try? FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as? Date
        }
        // Each run is killed a seeded random moment after it has saved at least once (a save
        // per step, so the kill often lands in the middle of the next one): timing from the
        // process start would, on a loaded machine, kill every run before its first save.
        var generator = RandomGenerator(seed: 11)
        var kills = 0, lastStep = 0
        for _ in 0..<8 {
            let before = lastSaved()
            let process = try start()
            while process.isRunning && lastSaved() == before { Thread.sleep(forTimeInterval: 0.002) }
            Thread.sleep(forTimeInterval: 0.03 * generator.nextUniform())
            guard process.isRunning else { process.waitUntilExit(); break }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
            let step = try loadableStep(checkpoint)
            #expect(step >= lastStep)
            lastStep = step
        }
        #expect(kills == 8 && lastStep > 0 && lastStep < steps)
        let final = try start()
        final.waitUntilExit()
        #expect(final.terminationStatus == 0)
        #expect(try loadableStep(checkpoint) == steps)
    }

    /// A run stopped after step 3 whose checkpoint then has `tensor` set to NaN (as after a
    /// divergence), configured to resume: the configuration and the poisoned file's bytes.
    private func divergedCheckpoint(in folder: URL, cell: CellKind, layers: Int = 1,
                                    poisoning tensor: String) throws -> (TrainingConfiguration, Data) {
        var configuration = TrainingConfiguration()
        (configuration.dataPath, configuration.cell, configuration.hidden, configuration.layers) = (writeCorpus(in: folder), cell, 8, layers)
        (configuration.batch, configuration.sequenceLength, configuration.steps, configuration.stopAfter) = (2, 6, 8, 3)
        (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (100, 100, 100)
        configuration.checkpointPath = folder.appendingPathComponent("m.safetensors").path
        try Trainer(configuration: configuration).run()
        let url = URL(fileURLWithPath: configuration.checkpointPath)
        var (tensors, metadata) = try SafeTensors.read(from: url)
        tensors[tensor] = Tensor(repeating: .nan, shape: try #require(tensors[tensor]).shape)
        try SafeTensors.write(tensors, metadata: metadata, to: url)
        (configuration.resume, configuration.stopAfter) = (true, nil)
        return (configuration, try Data(contentsOf: url))
    }

    /// A checkpoint whose head weights are NaN resumes into a NaN loss: training stops with a
    /// message naming the step and the op (whose NaN came in with its operand, the weight) and
    /// leaves the file as it was.
    @Test func nonFiniteLossStopsAndKeepsTheCheckpoint() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (configuration, poisoned) = try divergedCheckpoint(in: folder, cell: .rnn, poisoning: "model.head.weight")
        #expect { try Trainer(configuration: configuration).run() } throws: { error in
            guard case let .nonFiniteLoss(step, loss, _, savedStep, anomaly?)? = error as? TrainingError else { return false }
            let weight = anomaly.operands[1]
            return step == 4 && loss.isNaN && savedStep == 3 && "\(error)".contains("still holds step 3")
                && anomaly.op == "matmul" && anomaly.location == nil && weight.nanCount == weight.shape.reduce(1, *)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: configuration.checkpointPath)) == poisoned)
    }

    /// Inside the encoder the message also names the layer and time step: every recurrent
    /// weight of layer 1 is NaN, so the first NaN is its first step's recurrent product.
    @Test func nonFiniteLossNamesTheRecurrentStep() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (configuration, poisoned) = try divergedCheckpoint(in: folder, cell: .rnn, layers: 2, poisoning: "model.encoder.weight_hh_l1")
        #expect { try Trainer(configuration: configuration).run() } throws: { error in
            guard case let .nonFiniteLoss(step, _, _, _, anomaly?)? = error as? TrainingError else { return false }
            return step == 4 && anomaly.op == "matmul" && anomaly.location == "recurrent layer 1, time step 0"
                && "\(error)".contains("(forward op 'matmul' (recurrent layer 1, time step 0) produced a non-finite output")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: configuration.checkpointPath)) == poisoned)
    }
}
