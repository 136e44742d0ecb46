import Foundation

// What the example executables share: progress lines that reach a pipe or log file as they
// happen, and the wall-clock time of a run.

/// Prints a line at once, also into a pipe or log file (where stdout is block-buffered).
public func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// Wall-clock time since it was made.
public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    public init() {}

    /// Seconds elapsed.
    public var seconds: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
