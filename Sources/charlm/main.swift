import Foundation
import Layers

// charlm: the package's main job. `swift run -c release charlm` trains a character-level
// language model on the package's own sources; `charlm sample` generates from a checkpoint.
// Every problem with input (flags, data, checkpoints) ends in one line on stderr and exit 1.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("charlm: error: \(message)\n".utf8))
    exit(1)
}

func runSample(_ configuration: SamplingConfiguration) throws {
    let (checkpoint, tensors) = try Checkpoint.read(path: configuration.checkpointPath)
    let saved = checkpoint.configuration
    let model = CharModel(saved, vocabularySize: checkpoint.vocabulary.count)
    _ = try Checkpoint.restore(tensors, path: configuration.checkpointPath, into: model)
    let prime: [Int]
    switch checkpoint.vocabulary.encode(configuration.prime) {
    case .success(let ids) where !ids.isEmpty: prime = ids
    case .success: throw UsageError.malformedValue(flag: "--prime", value: "", expected: "at least one character")
    case .failure(let unknown):
        throw UsageError.malformedValue(flag: "--prime", value: configuration.prime,
                                        expected: "characters the model knows (it has never seen \(unknown.scalar.escaped(asASCII: true)))")
    }
    var generator = RandomGenerator(seed: configuration.seed)
    let text = sample(model, vocabulary: checkpoint.vocabulary, prime: prime, length: configuration.length,
                      temperature: configuration.temperature, generator: &generator)
    print(configuration.prime + text)
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "--help", "-h", "help":
        print(helpText)
    case "sample":
        try runSample(SamplingConfiguration(arguments: Array(arguments.dropFirst())))
    case "train":
        try Trainer(configuration: TrainingConfiguration(arguments: Array(arguments.dropFirst()))).run()
    case let command? where !command.hasPrefix("--"):
        throw UsageError.unknownCommand(command)
    default:
        try Trainer(configuration: TrainingConfiguration(arguments: arguments)).run()
    }
} catch {
    fail("\(error)")
}
