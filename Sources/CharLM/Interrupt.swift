import Foundation
import Synchronization

/// Ctrl-C handling: the first SIGINT asks the training loop to save a checkpoint and stop at
/// the end of the current step; a second one exits at once. SIGUSR1 asks the same, once: mpirun
/// ends its processes on Ctrl-C but forwards SIGUSR1 to them (`kill -USR1 <mpirun's pid>`).
enum Interrupt {
    private static let requested = Atomic<Bool>(false)

    /// Installs the handler.
    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested.exchange(true, ordering: .relaxed) { _exit(130) }
        }
        signal(SIGUSR1) { _ in Interrupt.requested.store(true, ordering: .relaxed) }
    }

    /// Whether Ctrl-C was pressed.
    static var isRequested: Bool { requested.load(ordering: .relaxed) }
}
