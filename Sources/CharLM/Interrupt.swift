import Foundation
import Synchronization

/// Ctrl-C handling: the first SIGINT asks the training loop to save a checkpoint and stop at
/// the end of the current step; a second one exits at once.
enum Interrupt {
    private static let requested = Atomic<Bool>(false)

    /// Installs the handler.
    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested.exchange(true, ordering: .relaxed) { _exit(130) }
        }
    }

    /// Whether Ctrl-C was pressed.
    static var isRequested: Bool { requested.load(ordering: .relaxed) }
}
