import Foundation
import Layers

/// Runs one `charlm` command line (`train`, the default, or `sample`): what the `charlm`
/// executable does, and what Distributed's `charlm-mpi` does in every process.
///
/// - Parameters:
///   - arguments: the command line without the program name.
///   - group: the processes training together (data parallel), or `nil` for this process alone.
/// - Throws: a usage, data, checkpoint or training error, each printing as one line.
public func runCharLM(_ arguments: [String], group: (any TrainingGroup)? = nil) throws {
    switch arguments.first {
    case "--help", "-h", "help":
        print(helpText)
    case "sample":
        try runSample(SamplingConfiguration(arguments: Array(arguments.dropFirst())))
    case "train":
        try Trainer(configuration: TrainingConfiguration(arguments: Array(arguments.dropFirst())), group: group).run()
    case let command? where !command.hasPrefix("--"):
        throw UsageError.unknownCommand(command)
    default:
        try Trainer(configuration: TrainingConfiguration(arguments: arguments), group: group).run()
    }
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
