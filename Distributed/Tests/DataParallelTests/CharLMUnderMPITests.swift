import AutoGrad
import Foundation
import Testing

/// The main job under mpirun (`charlm-mpi`): rank 0 alone reports and writes checkpoints that
/// any number of processes resumes, and a process that dies ends the job without a hang and
/// without spoiling the last checkpoint.
@Suite(.serialized) struct CharLMUnderMPITests {
    private func writeCorpus(in folder: URL) -> String {
        let path = folder.appendingPathComponent("text.txt").path
        let text = (0..<600).map { "line \($0): let x\($0 % 7) = f(\($0 % 13));\n" }.joined()
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    private func step(of checkpoint: URL) throws -> Int? {
        let metadata = try SafeTensors.read(from: checkpoint).metadata
        return metadata["format"] == "charlm/1" ? metadata["step"].flatMap(Int.init) : nil
    }

    /// 1 process for 4 steps, resumed by 2 processes to step 8 and by 3 to step 12, ends where
    /// 1 process training 12 steps straight ends (float32: equal to rounding, 1e-5).
    @Test func checkpointsResumeWithAnyNumberOfProcesses() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = writeCorpus(in: folder)
        func train(_ processes: Int, steps: Int, _ name: String, resume: Bool = false) throws {
            let run = try MPI.run(processes, "charlm-mpi", ["--data", data, "--cell", "lstm", "--hidden", "16", "--batch", "6",
                                                            "--seq-len", "8", "--steps", "\(steps)", "--eval-every", "4",
                                                            "--sample-every", "1000", "--checkpoint", name] + (resume ? ["--resume"] : []),
                                  in: folder)
            #expect(run.status == 0, "\(run.errors)")
            #expect(run.output.components(separatedBy: "done: validation").count == 2, "rank 0 alone reports")
        }
        try train(1, steps: 12, "straight.safetensors")
        try train(1, steps: 4, "split.safetensors")
        try train(2, steps: 8, "split.safetensors", resume: true)
        try train(3, steps: 12, "split.safetensors", resume: true)
        let (straight, split) = (folder.appendingPathComponent("straight.safetensors"), folder.appendingPathComponent("split.safetensors"))
        #expect(try step(of: split) == 12)
        #expect(try largestDifference(straight, split) <= 1e-5)
        try train(1, steps: 13, "straight.safetensors", resume: true)  // one more step changes the numbers
        #expect(try largestDifference(straight, split, prefix: "model.") > 1e-4)
    }

    /// A 2-process run that saves every step, once it has saved step 3.
    private func startSavingEveryStep(in folder: URL) throws -> (job: (Process, Pipe, Pipe), checkpoint: URL, arguments: [String]) {
        let checkpoint = folder.appendingPathComponent("m.safetensors")
        let arguments = ["--data", writeCorpus(in: folder), "--cell", "gru", "--hidden", "8", "--batch", "4", "--seq-len", "6",
                         "--eval-every", "1000", "--sample-every", "100000", "--checkpoint-every", "1", "--checkpoint", checkpoint.path]
        let job = try MPI.start(2, "charlm-mpi", arguments + ["--steps", "100000"], in: folder)
        let deadline = Date().addingTimeInterval(120)
        while job.0.isRunning && Date() < deadline && (try? step(of: checkpoint)).flatMap({ $0 }) ?? 0 < 3 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        return (job, checkpoint, arguments)
    }

    /// SIGKILL to rank 1: mpirun ends the job (no hang) naming the dead rank, the checkpoint
    /// loads, and one process resumes it to the end.
    @Test func aDyingProcessEndsTheJobAndTheCheckpointStaysGood() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ((job, output, errors), checkpoint, arguments) = try startSavingEveryStep(in: folder)
        let victim = childProcess(of: job.processIdentifier, rank: 1)
        if let victim { kill(victim, SIGKILL) } else { job.terminate() }
        let run = MPI.finish(job, output, errors, timeout: 60)
        try #require(victim != nil, "no process of rank 1 under mpirun: \(run.errors)")
        #expect(run.status != 0)
        #expect(run.errors.contains("rank 1") && run.errors.contains("signal 9"), "\(run.errors)")
        let saved = try #require(try step(of: checkpoint))
        #expect(saved >= 3)
        let resumed = try MPI.run(1, "charlm-mpi", arguments + ["--steps", "\(saved + 2)", "--resume"], in: folder)
        #expect(resumed.status == 0, "\(resumed.errors)")
        #expect(try step(of: checkpoint) == saved + 2)
    }

    /// SIGUSR1 to mpirun (forwarded to every process) stops the run as Ctrl-C stops `charlm`:
    /// all processes agree on the step, rank 0 saves it, and the job ends successfully.
    @Test func userSignalOneSavesAndStopsEveryProcess() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ((job, output, errors), checkpoint, _) = try startSavingEveryStep(in: folder)
        kill(job.processIdentifier, SIGUSR1)
        let run = MPI.finish(job, output, errors, timeout: 60)
        #expect(run.status == 0, "\(run.errors)")
        let saved = try #require(try step(of: checkpoint))
        #expect(run.output.contains("interrupted: saved \(checkpoint.path) at step \(saved);"), "\(run.output.suffix(300))")
    }

    /// The process `parent` (mpirun) started as `rank` (Open MPI puts the rank in its environment).
    private func childProcess(of parent: Int32, rank: Int) -> Int32? {
        children(of: parent).first { pid in
            let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") ?? Data()
            return environment.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }
        }
    }
}
