import AutoGrad
import Foundation
import Testing

/// What a finished `mpirun` printed and how it ended.
struct Run {
    let status: Int32
    let output: String
    let errors: String
}

/// Runs and waits for MPI jobs of this package's executables (built next to the test binary).
enum MPI {
    /// The directory holding the test binary and the package's executables.
    static let products = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
        .deletingLastPathComponent()

    /// `mpirun` from PATH, or nil when Open MPI is not installed.
    static let launcher: URL? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }

    /// Held while a job runs: suites run in parallel, and jobs started at once would share the
    /// two cores (timing-sensitive tests) and race for Open MPI's session directory.
    static let oneJobAtATime = NSLock()

    /// Starts `mpirun --oversubscribe -np processes executable arguments` in `folder` (call
    /// ``finish(_:_:_:timeout:)`` next: it releases ``oneJobAtATime``).
    static func start(_ processes: Int, _ executable: String, _ arguments: [String], in folder: URL) throws -> (Process, Pipe, Pipe) {
        guard let launcher else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "mpirun (apt-get install openmpi-bin)"]) }
        let process = Process()
        process.executableURL = launcher
        process.arguments = ["--oversubscribe", "-np", "\(processes)", products.appendingPathComponent(executable).path] + arguments
        process.currentDirectoryURL = folder
        // Containers and CI often run as root, which mpirun refuses unless told; each job gets
        // its own session directory, so that jobs of other test runs cannot collide with it.
        let session = FileManager.default.temporaryDirectory.appendingPathComponent("dp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: session, withIntermediateDirectories: true)
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_orte_tmpdir_base": session.path]) { $1 }
        oneJobAtATime.lock()
        // The test runner's threads block most signals and a spawned process inherits that mask:
        // mpirun would never see the SIGTERM or SIGUSR1 it must forward. Spawn it unblocked.
        var unblocked = sigset_t(), previous = sigset_t()
        sigemptyset(&unblocked)
        pthread_sigmask(SIG_SETMASK, &unblocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let (output, errors) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (output, errors)
        do { try process.run() } catch {
            oneJobAtATime.unlock()
            throw error
        }
        return (process, output, errors)
    }

    /// Runs a job to its end, killing it after `timeout` seconds (recorded as a test failure).
    static func run(_ processes: Int, _ executable: String, _ arguments: [String], in folder: URL,
                    timeout: TimeInterval = 300) throws -> Run {
        let (process, output, errors) = try start(processes, executable, arguments, in: folder)
        return finish(process, output, errors, timeout: timeout)
    }

    /// Waits for a started job (at most `timeout` seconds) and collects its output.
    static func finish(_ process: Process, _ output: Pipe, _ errors: Pipe, timeout: TimeInterval) -> Run {
        // Read while waiting, so a full pipe cannot block the job.
        nonisolated(unsafe) var (printed, reported) = (Data(), Data())
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) { printed = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: readers) { reported = errors.fileHandleForReading.readDataToEndOfFile() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            Issue.record("mpirun \(process.arguments ?? []) still running after \(timeout) s: killed")
            for pid in children(of: process.processIdentifier) + [process.processIdentifier] { kill(pid, SIGKILL) }
        }
        process.waitUntilExit()
        oneJobAtATime.unlock()
        if let session = process.environment?["OMPI_MCA_orte_tmpdir_base"] { try? FileManager.default.removeItem(atPath: session) }
        readers.wait()
        return Run(status: process.terminationStatus, output: String(decoding: printed, as: UTF8.self),
                   errors: String(decoding: reported, as: UTF8.self))
    }
}

/// A fresh empty directory for one test's files (the test removes it).
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dataparallel-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The largest absolute difference between same-named tensors of two safetensors files,
/// after checking that they hold the same names and shapes.
func largestDifference(_ first: URL, _ second: URL, prefix: String = "") throws -> Double {
    let (a, b) = (try SafeTensors.read(from: first).tensors, try SafeTensors.read(from: second).tensors)
    let names = a.keys.filter { $0.hasPrefix(prefix) }.sorted()
    #expect(!names.isEmpty && names == b.keys.filter { $0.hasPrefix(prefix) }.sorted())
    var largest = 0.0
    for name in names {
        #expect(a[name]!.shape == b[name]!.shape, "\(name)")
        for (x, y) in zip(a[name]!.scalars, b[name]!.scalars) { largest = max(largest, abs(x - y)) }
    }
    return largest
}

/// The processes whose parent is `parent`.
func children(of parent: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2 else { return false }
        return Int32(fields[1]) == parent
    }
}
