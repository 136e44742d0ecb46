import Foundation
import Layers
import Optim

/// Why a checkpoint cannot be used; each prints as one line saying what to do.
enum CheckpointError: Error, CustomStringConvertible {
    case unreadable(String, reason: String)
    case notACheckpoint(String)
    case mismatch(String, detail: String)

    var description: String {
        switch self {
        case let .unreadable(path, reason): return "checkpoint '\(path)' cannot be read (\(reason)); pass another --checkpoint or start without --resume"
        case let .notACheckpoint(path): return "'\(path)' is not a charlm checkpoint (its metadata lacks the charlm fields); pass a checkpoint written by charlm"
        case let .mismatch(path, detail): return "checkpoint '\(path)' does not fit: \(detail)"
        }
    }
}

/// Everything needed to continue training exactly, or to sample: the model, the optimizer
/// state, the carried recurrent state, the step, the vocabulary and the loss history.
struct Checkpoint {
    static let format = "charlm/1"

    var configuration: TrainingConfiguration
    var vocabulary: Vocabulary
    var step: Int
    var curve: LossCurve

    /// Writes model, optimizer and carried state atomically (never a half-written file).
    func write(model: CharModel, optimizer: any OptimizerProtocol, state: [Tensor]?) throws {
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in model.stateDictionary() { tensors["model." + name] = tensor }
        for (name, tensor) in optimizer.stateDictionary() { tensors["optimizer." + name] = tensor }
        for (index, tensor) in (state ?? []).enumerated() { tensors["state.\(index)"] = tensor.detached() }
        let metadata = [
            "format": Self.format, "cell": configuration.cell.rawValue, "hidden": "\(configuration.hidden)",
            "layers": "\(configuration.layers)", "embedding": "\(configuration.embedding)", "vocabulary": vocabulary.serialized, "step": "\(step)",
            "seq_len": "\(configuration.sequenceLength)", "batch": "\(configuration.batch)",
            "lr": "\(configuration.learningRate)", "schedule": configuration.schedule.rawValue, "clip": "\(configuration.clip)", "seed": "\(configuration.seed)",
            "history": curve.serialized,
        ]
        try SafeTensors.write(tensors, metadata: metadata, to: URL(fileURLWithPath: configuration.checkpointPath))
    }

    /// Reads a checkpoint's metadata and tensors, checking it is a charlm checkpoint.
    static func read(path: String) throws -> (checkpoint: Checkpoint, tensors: [String: Tensor]) {
        let tensors: [String: Tensor], metadata: [String: String]
        do { (tensors, metadata) = try SafeTensors.read(from: URL(fileURLWithPath: path)) } catch {
            throw CheckpointError.unreadable(path, reason: "\(error)")
        }
        guard metadata["format"] == format, let cell = metadata["cell"].flatMap(CellKind.init(rawValue:)),
              let hidden = metadata["hidden"].flatMap(Int.init), let layers = metadata["layers"].flatMap(Int.init),
              let step = metadata["step"].flatMap(Int.init), let symbols = metadata["vocabulary"],
              let curve = metadata["history"].flatMap(LossCurve.init(serialized:)) else {
            throw CheckpointError.notACheckpoint(path)
        }
        var configuration = TrainingConfiguration()
        configuration.cell = cell
        configuration.hidden = hidden
        configuration.layers = layers
        // Checkpoints from before --embedding worked are one-hot models.
        configuration.embedding = metadata["embedding"].flatMap(Int.init) ?? 0
        configuration.checkpointPath = path
        configuration.sequenceLength = metadata["seq_len"].flatMap(Int.init) ?? configuration.sequenceLength
        configuration.batch = metadata["batch"].flatMap(Int.init) ?? configuration.batch
        configuration.learningRate = metadata["lr"].flatMap(Double.init) ?? configuration.learningRate
        // Checkpoints from before --schedule were trained with cosine decay.
        configuration.schedule = metadata["schedule"].flatMap(ScheduleKind.init(rawValue:)) ?? .cosine
        configuration.clip = metadata["clip"].flatMap(Double.init) ?? configuration.clip
        configuration.seed = metadata["seed"].flatMap(UInt64.init) ?? configuration.seed
        let vocabulary = Vocabulary(symbols: Array(symbols.unicodeScalars))
        return (Checkpoint(configuration: configuration, vocabulary: vocabulary, step: step, curve: curve), tensors)
    }

    /// A model (and optimizer and state, when given) restored from the tensors.
    static func restore(_ tensors: [String: Tensor], path: String, into model: CharModel,
                        optimizer: (any OptimizerProtocol)? = nil) throws -> [Tensor]? {
        func section(_ prefix: String) -> [String: Tensor] {
            Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(prefix) }.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        }
        do {
            try model.loadParameters(section("model."))
            try optimizer?.load(state: section("optimizer."))
        } catch {
            throw CheckpointError.mismatch(path, detail: "\(error)")
        }
        let state = section("state.").sorted { $0.key < $1.key }.map(\.value)
        return state.isEmpty ? nil : state
    }
}
