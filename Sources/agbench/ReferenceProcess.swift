import Foundation

/// A reference script kept running for the rounds of one config, so each round's reference
/// figures are measured right after ours, with no interpreter start-up or model set-up
/// between them: the script (run with `serve` in place of a cell family) builds every
/// family's models once, prints `ready`, then measures a family each time it reads a line
/// `measure FAMILY`, printing one line of JSON. On these shared machines a case's speed drifts
/// from second to second; started anew for every round, the reference ran about three seconds
/// after ours. (One process per config rather than per case: each holds its own PyTorch, about
/// 0.7 GB.)
final class ReferenceProcess {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    /// Output read but not yet taken as a line.
    private var pending = Data()

    /// Starts Benchmarks/`name` with the thread count and `arguments` (then `serve`), or
    /// returns `nil` when python3 or the script is unavailable.
    init?(_ name: String, threads: Int, arguments: [String]) {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", benchmarkScript(name).path, String(threads)] + arguments + ["serve"]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        // A script that stopped (torch missing, say) must fail its measurement, not end this
        // process with SIGPIPE when the request is written.
        signal(SIGPIPE, SIG_IGN)
        do { try process.run() } catch { return nil }
    }

    /// Whether the script has set up its models (it prints `ready`), waited for on first use:
    /// started together, the scripts import and build while nothing is measured.
    lazy var isReady: Bool = nextLine().map { String(decoding: $0, as: UTF8.self) } == "ready"

    /// The figures of one measurement of `family`, or `nil` when the script has stopped (torch
    /// missing, say) or printed something else.
    func measure<Result: Decodable>(_ family: String) -> Result? {
        guard process.isRunning, (try? input.fileHandleForWriting.write(contentsOf: Data("measure \(family)\n".utf8))) != nil,
              let line = nextLine() else { return nil }
        return try? JSONDecoder().decode(Result.self, from: line)
    }

    /// The script's next line of output, or `nil` when it ended first.
    private func nextLine() -> Data? {
        while true {
            if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                defer { pending.removeSubrange(pending.startIndex...end) }
                return Data(pending[pending.startIndex..<end])
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            pending.append(chunk)
        }
    }

    /// Ends the script (it stops at the end of its input) and waits for it.
    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
