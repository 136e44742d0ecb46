import CharLM
import Foundation

// charlm: the package's main job. `swift run -c release charlm` trains a character-level
// language model on the package's own sources; `charlm sample` generates from a checkpoint.
// Every problem with input (flags, data, checkpoints) ends in one line on stderr and exit 1.
// The commands live in the CharLM library, which Distributed/ also runs under MPI.

do {
    try runCharLM(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("charlm: error: \(error)\n".utf8))
    exit(1)
}
