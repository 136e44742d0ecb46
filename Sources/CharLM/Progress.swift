import Foundation

/// Reports training progress: a live line redrawn in place on a terminal, plain log lines
/// (every `logEvery` steps) when output goes to a file or pipe.
struct ProgressReporter {
    let totalSteps: Int
    let logEvery: Int
    let isTerminal = isatty(STDOUT_FILENO) != 0
    private let started = Date()
    private var lastLine = ""

    init(totalSteps: Int, logEvery: Int) {
        self.totalSteps = totalSteps
        self.logEvery = logEvery
    }

    /// Shows the state after `step` (1-based), `tokens` characters processed in this run.
    mutating func update(step: Int, firstStep: Int, loss: Double, tokens: Int) {
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(tokens) / max(elapsed, 1e-9)
        let done = step - firstStep + 1, remaining = totalSteps - step
        let eta = done > 0 ? elapsed / Double(done) * Double(remaining) : 0
        let line = "step \(step)/\(totalSteps)  loss \(String(format: "%.3f", loss)) (\(String(format: "%.2f", loss / log(2))) bpc)  \(Self.rate(rate)) chars/s  ETA \(Self.duration(eta))"
        if isTerminal {
            print("\r\u{1B}[K" + line, terminator: "")
            fflush(nil)
            lastLine = line
        } else if step % logEvery == 0 || step == totalSteps {
            print(line)
            fflush(nil)  // a log file or pipe gets each line when it happens
        }
    }

    /// Prints a full line (validation results, samples) without breaking the live line.
    mutating func note(_ text: String) {
        if isTerminal && !lastLine.isEmpty { print("\r\u{1B}[K", terminator: "") }
        print(text)
        if isTerminal && !lastLine.isEmpty { print(lastLine, terminator: "") }
        fflush(nil)
    }

    /// Ends the live line.
    mutating func finish() {
        if isTerminal && !lastLine.isEmpty { print() }
        lastLine = ""
    }

    static func rate(_ value: Double) -> String {
        value >= 1e6 ? String(format: "%.1fM", value / 1e6) : value >= 1e3 ? String(format: "%.1fk", value / 1e3) : String(format: "%.0f", value)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 60 ? "\(total / 60)m\(String(format: "%02d", total % 60))s" : "\(total)s"
    }
}
