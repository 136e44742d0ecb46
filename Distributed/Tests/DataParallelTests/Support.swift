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

    /// Starts `mpirun --oversubscribe -np processes executable arguments` in `folder`.
    static func start(_ processes: Int, _ executable: String, _ arguments: [String], in folder: URL) throws -> (Process, Pipe, Pipe) {
        guard let launcher else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "mpirun (apt-get install openmpi-bin)"]) }
        let process = Process()
        process.executableURL = launcher
        process.arguments = ["--oversubscribe", "-np", "\(processes)", products.appendingPathComponent(executable).path] + arguments
        process.currentDirectoryURL = folder
        // Containers and CI often run as root, which mpirun refuses unless told.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]) { $1 }
        let (output, errors) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (output, errors)
        try process.run()
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
            process.terminate()
        }
        process.waitUntilExit()
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
