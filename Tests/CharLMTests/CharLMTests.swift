import Dispatch
import Foundation
import Synchronization
import Testing
@testable import CharLM
import Layers

/// The trainer's handling of bad input, and that --resume continues exactly.
@Suite(.serialized) struct CharLMTests {
    @Test func flagsAreValidated() {
        #expect(throws: UsageError.unknownFlag("--hiden", command: "train")) { try TrainingConfiguration(arguments: ["--hiden", "3"]) }
        #expect(throws: UsageError.missingValue("--steps")) { try TrainingConfiguration(arguments: ["--steps"]) }
        #expect(throws: UsageError.malformedValue(flag: "--cell", value: "lsmt", expected: "one of lstm, gru, rnn, jordan")) {
            try TrainingConfiguration(arguments: ["--cell", "lsmt"])
        }
        #expect(throws: UsageError.self) { try TrainingConfiguration(arguments: ["--lr", "fast"]) }
        #expect(throws: UsageError.self) { try TrainingConfiguration(arguments: ["--batch", "0"]) }
        #expect(throws: UsageError.malformedValue(flag: "--schedule", value: "linear", expected: "one of constant, cosine")) {
            try TrainingConfiguration(arguments: ["--schedule", "linear"])
        }
        #expect((try? TrainingConfiguration(arguments: ["--schedule", "constant"]))?.schedule == .constant)
        #expect(TrainingConfiguration().schedule == .constant)
        let parsed = try? TrainingConfiguration(arguments: ["--cell", "gru", "--hidden", "32", "--resume"])
        #expect(parsed?.cell == .gru && parsed?.hidden == 32 && parsed?.resume == true)
    }

    @Test func badDataStopsWithACorpusError() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ bytes: [UInt8], _ name: String) -> String {
            let path = folder.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            return path
        }
        func failure(_ path: String) -> CorpusError? {
            do { _ = try Corpus.load(path: path); return nil } catch { return error }
        }
        guard case .missing = failure(folder.appendingPathComponent("none.txt").path) else { Issue.record("missing"); return }
        guard case .empty = failure(write([], "empty.txt")) else { Issue.record("empty"); return }
        guard case .binary(_, offset: 2) = failure(write([0x41, 0x42, 0, 0x43], "binary.bin")) else { Issue.record("binary"); return }
        guard case .notUTF8 = failure(write([0x41, 0xFF, 0xFE, 0x42], "latin.txt")) else { Issue.record("not UTF-8"); return }
        #expect(try Corpus.load(path: write(Array("héllo\n".utf8), "ok.txt")).text == "héllo\n")
    }

    @Test func tooShortDataForTheConfiguration() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("tiny.txt").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("abc abc abc".utf8)))
        var configuration = TrainingConfiguration()
        configuration.dataPath = path
        configuration.checkpointPath = folder.appendingPathComponent("m.safetensors").path
        #expect { try Trainer(configuration: configuration).run() } throws: { error in
            if case .tooShort = error as? CorpusError { return true }
            return false
        }
    }

    /// Training 6 steps straight equals a run interrupted after 3 steps (as by Ctrl-C) and
    /// resumed for the other 3; a corrupted
    /// or mismatched checkpoint is refused with a clear error and left untouched.
    @Test func resumeContinuesExactlyAndBadCheckpointsAreRefused() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        let text = (0..<400).map { "line \($0): let x\($0 % 7) = f(\($0 % 13));\n" }.joined()
        #expect(FileManager.default.createFile(atPath: data, contents: Data(text.utf8)))
        func configuration(_ name: String, steps: Int, resume: Bool = false) -> TrainingConfiguration {
            var configuration = TrainingConfiguration()
            (configuration.dataPath, configuration.cell, configuration.hidden) = (data, .gru, 16)
            (configuration.batch, configuration.sequenceLength, configuration.steps) = (4, 8, steps)
            (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (3, 100, 100)
            configuration.checkpointPath = folder.appendingPathComponent(name).path
            configuration.resume = resume
            return configuration
        }
        try Trainer(configuration: configuration("straight.safetensors", steps: 6)).run()
        var interrupted = configuration("split.safetensors", steps: 6)
        interrupted.stopAfter = 3
        try Trainer(configuration: interrupted).run()
        #expect(try Checkpoint.read(path: interrupted.checkpointPath).checkpoint.step == 3)
        try Trainer(configuration: configuration("split.safetensors", steps: 6, resume: true)).run()
        let straight = try SafeTensors.read(from: folder.appendingPathComponent("straight.safetensors")).tensors
        let resumed = try SafeTensors.read(from: folder.appendingPathComponent("split.safetensors")).tensors
        #expect(straight.keys.sorted() == resumed.keys.sorted())
        for (name, tensor) in straight { #expect(tensor.scalars == resumed[name]!.scalars, "\(name)") }

        // Another cell, corrupted bytes, and a file that is not a checkpoint are all refused.
        var otherCell = configuration("split.safetensors", steps: 9, resume: true)
        otherCell.cell = .lstm
        otherCell.givenFlags = ["--cell"]
        #expect(throws: CheckpointError.self) { try Trainer(configuration: otherCell).run() }
        let good = try Data(contentsOf: folder.appendingPathComponent("split.safetensors"))
        let corrupted = folder.appendingPathComponent("corrupted.safetensors")
        try good.prefix(good.count / 2).write(to: corrupted)
        #expect(throws: CheckpointError.self) { try Trainer(configuration: configuration("corrupted.safetensors", steps: 9, resume: true)).run() }
        #expect(try Data(contentsOf: corrupted) == good.prefix(good.count / 2))  // left as it was
        try SafeTensors.write(["x": Tensor(ones: [2])], to: folder.appendingPathComponent("foreign.safetensors"))
        #expect(throws: CheckpointError.self) { try Trainer(configuration: configuration("foreign.safetensors", steps: 9, resume: true)).run() }
        // Other data (a character the checkpoint's vocabulary lacks) is refused too.
        var otherData = configuration("split.safetensors", steps: 9, resume: true)
        otherData.dataPath = folder.appendingPathComponent("other.txt").path
        #expect(FileManager.default.createFile(atPath: otherData.dataPath!, contents: Data((text + "é\n").utf8)))
        #expect(throws: CheckpointError.self) { try Trainer(configuration: otherData).run() }
        #expect(try Data(contentsOf: folder.appendingPathComponent("split.safetensors")) == good)
    }

    /// Two runs with one seed, on two threads at once, write byte-identical checkpoints: the
    /// model's initialization draws from the training thread's own seeded generator.
    @Test func runsWithTheSameSeedWriteIdenticalCheckpoints() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        let text = (0..<300).map { "item \($0 % 11) = g(\($0 % 5));\n" }.joined()
        #expect(FileManager.default.createFile(atPath: data, contents: Data(text.utf8)))
        func configuration(_ name: String, seed: UInt64) -> TrainingConfiguration {
            var configuration = TrainingConfiguration()
            (configuration.dataPath, configuration.cell, configuration.hidden, configuration.seed) = (data, .lstm, 8, seed)
            (configuration.batch, configuration.sequenceLength, configuration.steps) = (2, 6, 4)
            (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (2, 100, 100)
            configuration.checkpointPath = folder.appendingPathComponent(name).path
            return configuration
        }
        let runs = [configuration("a.safetensors", seed: 5), configuration("b.safetensors", seed: 5)]
        let failures = Mutex<[String]>([])
        let done = DispatchGroup()
        for run in runs {
            done.enter()
            Thread {
                do { try Trainer(configuration: run).run() } catch { failures.withLock { $0.append("\(error)") } }
                done.leave()
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 }.isEmpty)
        let first = try Data(contentsOf: folder.appendingPathComponent("a.safetensors"))
        #expect(try Data(contentsOf: folder.appendingPathComponent("b.safetensors")) == first)
        try Trainer(configuration: configuration("c.safetensors", seed: 6)).run()
        #expect(try Data(contentsOf: folder.appendingPathComponent("c.safetensors")) != first)  // the seed matters
    }

    /// `--embedding N` puts a learned N-wide embedding in front of the encoder; 0 (the
    /// default) keeps one-hot inputs. The size is part of the checkpoint: resuming adopts it
    /// and refuses a contradicting flag.
    @Test func embeddingFlagBuildsAnEmbeddingLayer() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        #expect(FileManager.default.createFile(atPath: data, contents: Data((0..<300).map { "x\($0 % 6) = y;\n" }.joined().utf8)))
        func configuration(_ name: String, embedding: Int, resume: Bool = false) -> TrainingConfiguration {
            var configuration = TrainingConfiguration()
            (configuration.dataPath, configuration.cell, configuration.hidden, configuration.embedding) = (data, .lstm, 8, embedding)
            (configuration.batch, configuration.sequenceLength, configuration.steps) = (2, 6, 4)
            (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (100, 100, 100)
            configuration.checkpointPath = folder.appendingPathComponent(name).path
            configuration.resume = resume
            return configuration
        }
        var first = configuration("e.safetensors", embedding: 5)
        first.stopAfter = 2
        try Trainer(configuration: first).run()
        var resumed = configuration("e.safetensors", embedding: 0, resume: true)  // not given: adopted
        try Trainer(configuration: resumed).run()
        let tensors = try SafeTensors.read(from: URL(fileURLWithPath: first.checkpointPath)).tensors
        let vocabulary = tensors["model.head.weight"]!.shape[0]
        #expect(tensors["model.embedding.weight"]?.shape == [vocabulary, 5])
        #expect(tensors["model.encoder.weight_ih_l0"]?.shape == [32, 5])
        #expect(try Checkpoint.read(path: first.checkpointPath).checkpoint.step == 4)
        resumed.embedding = 3
        resumed.givenFlags = ["--embedding"]
        #expect(throws: CheckpointError.self) { try Trainer(configuration: resumed).run() }
        try Trainer(configuration: configuration("o.safetensors", embedding: 0)).run()
        let oneHot = try SafeTensors.read(from: folder.appendingPathComponent("o.safetensors")).tensors
        #expect(oneHot["model.embedding.weight"] == nil && oneHot["model.encoder.weight_ih_l0"]?.shape == [32, vocabulary])
        #expect(try TrainingConfiguration(arguments: ["--embedding", "16"]).embedding == 16)
        #expect(throws: UsageError.self) { try TrainingConfiguration(arguments: ["--embedding", "-1"]) }
    }

    /// `--schedule constant` keeps the rate (the run ends elsewhere than the cosine one) and
    /// is recorded in the checkpoint, so a resumed run keeps it.
    @Test func scheduleFlagIsAppliedAndKept() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("text.txt").path
        #expect(FileManager.default.createFile(atPath: data, contents: Data((0..<300).map { "z\($0 % 5) += 1\n" }.joined().utf8)))
        var weights: [ScheduleKind: [Double]] = [:]
        for schedule in ScheduleKind.allCases {
            var configuration = TrainingConfiguration()
            (configuration.dataPath, configuration.cell, configuration.hidden, configuration.schedule) = (data, .rnn, 8, schedule)
            (configuration.batch, configuration.sequenceLength, configuration.steps) = (2, 6, 4)
            (configuration.evaluateEvery, configuration.sampleEvery, configuration.checkpointEvery) = (100, 100, 100)
            configuration.checkpointPath = folder.appendingPathComponent("\(schedule).safetensors").path
            try Trainer(configuration: configuration).run()
            #expect(try Checkpoint.read(path: configuration.checkpointPath).checkpoint.configuration.schedule == schedule)
            weights[schedule] = try SafeTensors.read(from: URL(fileURLWithPath: configuration.checkpointPath)).tensors["model.head.weight"]!.scalars
        }
        #expect(weights[.constant] != weights[.cosine])
    }

    @Test func aNewRunNeverReplacesACheckpoint() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("charlm.safetensors").path
        #expect(freePath(path) == path)
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
        #expect(freePath(path) == folder.appendingPathComponent("charlm-1.safetensors").path)
    }

    @Test func lossHistoryRoundTripsThroughCheckpointMetadata() {
        let curve = LossCurve(training: [(10, 4.5), (20, 3.25)], validation: [(10, 4.75)], baseline: 4.9)
        let restored = LossCurve(serialized: curve.serialized)
        #expect(restored?.training.map(\.bitsPerCharacter) == [4.5, 3.25] && restored?.validation.map(\.step) == [10] && restored?.baseline == 4.9)
        #expect(curve.svg().contains("<path") && curve.svg().hasPrefix("<svg"))
        #expect(LossCurve(serialized: "{not json") == nil)
    }
}
