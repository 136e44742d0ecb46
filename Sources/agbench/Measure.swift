import Foundation

/// The median wall time of `body` in seconds, after one warm-up run, measured while the
/// machine is quiet: the share of the cores other processes took during the measurement
/// (from /proc/stat, less this process's own CPU time) must stay under 5%; otherwise it is
/// measured again (up to 4 more times) and the quietest measurement kept.
func medianSeconds(repeats: Int, _ body: () -> Void) -> Double {
    body()
    var quietest: (others: Double, seconds: Double)?
    for _ in 0..<5 {
        let (busyBefore, ownBefore, start) = (busyCoreSeconds(), ownCPUSeconds(), DispatchTime.now().uptimeNanoseconds)
        var times: [Double] = []
        for _ in 0..<repeats {
            let begin = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9)
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let others = busyBefore.map { max(0, (busyCoreSeconds()! - $0) - (ownCPUSeconds() - ownBefore)) / (wall * cores) } ?? 0
        let median = times.sorted()[times.count / 2]
        if quietest == nil || others < quietest!.others { quietest = (others, median) }
        if others <= 0.05 { break }
    }
    return quietest!.seconds
}

/// Seconds of CPU time all cores spent busy since boot (user, nice, system, irq, softirq,
/// steal from /proc/stat's first line), or `nil` where /proc/stat is unreadable.
private func busyCoreSeconds() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
          let line = text.split(separator: "\n").first else { return nil }
    let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard fields.count >= 8 else { return nil }
    // user nice system idle iowait irq softirq steal, in 1/100 s.
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / 100
}

/// This process's CPU time (user + system), in seconds.
func ownCPUSeconds() -> Double {
    let usage = ownUsage()
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// The page faults this process has taken (minor ones: pages the kernel supplied, zeroed):
/// unlike times, a count that the machine's load does not change.
func ownPageFaults() -> Int { ownUsage().ru_minflt }

/// This process's resource usage so far.
private func ownUsage() -> rusage {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage
}

/// NumPy/PyTorch figures from Benchmarks/reference.py, run now on this machine, or `nil`
/// when python3 (or the script) is unavailable.
func referenceFigures(threads: Int) -> [String: [String: Double]]? {
    runReference("reference.py", threads: threads)
}

/// The JSON a script in Benchmarks/ prints when run with the thread count (and further
/// arguments), or `nil`.
func runReference<Result: Decodable>(_ name: String, threads: Int, arguments: [String] = []) -> Result? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", benchmarkScript(name).path, String(threads)] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return try? JSONDecoder().decode(Result.self, from: data)
}

/// A fixed-width table row.
func row(_ cells: [String], widths: [Int]) -> String {
    zip(cells, widths).map { cell, width in
        cell.count >= width ? cell : cell + String(repeating: " ", count: width - cell.count)
    }.joined(separator: "  ")
}

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// The script `name` in Benchmarks/.
func benchmarkScript(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Benchmarks/\(name)").standardized
}
