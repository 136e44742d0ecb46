import Foundation
import Layers
import Optim

/// `charlm train`: trains on the corpus with truncated BPTT, evaluating, sampling and
/// checkpointing as it goes; Ctrl-C saves a checkpoint and stops. In a ``TrainingGroup`` each
/// process trains on its share of the streams and rank 0 prints and writes the checkpoints,
/// which are those of one process training on all streams (so `--resume` works for any size).
struct Trainer {
    var configuration: TrainingConfiguration
    /// The processes training together, or `nil`: this process alone.
    var group: (any TrainingGroup)?

    init(configuration: TrainingConfiguration, group: (any TrainingGroup)? = nil) {
        self.configuration = configuration
        self.group = group
    }

    func run() throws {
        let corpus = try configuration.dataPath.map { try Corpus.load(path: $0) } ?? Corpus.packageSources()
        var configuration = self.configuration
        var resumed: (checkpoint: Checkpoint, tensors: [String: Tensor])?
        if configuration.resume {
            resumed = try Checkpoint.read(path: configuration.checkpointPath)
            try adopt(resumed!.checkpoint.configuration, into: &configuration)
        } else {
            configuration.checkpointPath = freePath(configuration.checkpointPath)
        }
        let vocabulary = resumed?.checkpoint.vocabulary ?? Vocabulary(of: corpus.text.unicodeScalars)
        let ids: [Int]
        switch vocabulary.encode(corpus.text) {
        case .success(let encoded): ids = encoded
        case .failure(let unknown):
            throw CheckpointError.mismatch(configuration.checkpointPath, detail: "its vocabulary lacks the character \(unknown.scalar.escaped(asASCII: true)) of this data; resume with the data it was trained on")
        }
        if let resumed, Vocabulary(of: corpus.text.unicodeScalars) != resumed.checkpoint.vocabulary {
            throw CheckpointError.mismatch(configuration.checkpointPath, detail: "its vocabulary (\(resumed.checkpoint.vocabulary.count) characters) differs from this data's (\(Vocabulary(of: corpus.text.unicodeScalars).count)); resume with the data it was trained on")
        }
        let split = ids.count * 9 / 10
        let streams = try group.map { try $0.streams(of: configuration.batch) } ?? 0..<configuration.batch
        let weight = Double(streams.count) / Double(configuration.batch)  // this process's share of the loss
        let training = StreamBatches(ids: Array(ids[..<split]), batch: configuration.batch, window: configuration.sequenceLength, streams: streams)
        let validationIDs = Array(ids[split...].prefix(40_000))
        let validationBatch = max(1, min(16, validationIDs.count / (configuration.sequenceLength + 1)))
        guard training.isUsable, validationIDs.count > configuration.sequenceLength + 1 else {
            throw CorpusError.tooShort(corpus.source, characters: ids.count,
                                       needed: (configuration.batch + 1) * (configuration.sequenceLength + 1) * 10 / 9 + 1)
        }

        RandomGenerator.seedThread(configuration.seed)
        let model = CharModel(configuration, vocabularySize: vocabulary.count)
        let optimizer = try Adam(model.namedParameters(), options: .init(learningRate: configuration.learningRate))
        let diagnosis = configuration.diagnose ? GradientDiagnosis(model.encoder) : nil
        let schedule = configuration.schedule == .constant ? LearningRateSchedule.constant
            : try .cosineAnnealing(period: configuration.steps, minimum: configuration.learningRate / 10)
        var state: [Tensor]?
        var checkpoint = Checkpoint(configuration: configuration, vocabulary: vocabulary, step: 0,
                                    curve: LossCurve(baseline: unigramBitsPerCharacter(train: ids[..<split], validation: validationIDs)))
        if let resumed {
            state = try Checkpoint.restore(resumed.tensors, path: configuration.checkpointPath, into: model, optimizer: optimizer)
            // Another --batch cuts the text into other streams: their state starts from zeros.
            if state?.first?.shape[1] != configuration.batch { state = nil }
            if group != nil { state = state?.map { $0.slice(streams, along: 1) } }  // this process's streams
            checkpoint.step = resumed.checkpoint.step
            checkpoint.curve = resumed.checkpoint.curve
        }
        try group?.join(model.parametersInBackwardOrder)
        let firstStep = checkpoint.step + 1
        print("charlm: \(configuration.cell.rawValue) \(configuration.layers)×\(configuration.hidden), \(model.parameters().map(\.value.count).reduce(0, +)) parameters; \(ids.count) characters from \(corpus.source)"
              + (group.map { "; " + $0.summary(batch: configuration.batch) } ?? ""))
        print("vocabulary \(vocabulary.count) characters; unigram baseline \(format(checkpoint.curve.baseline!)) bits/char on the validation split; " +
              (resumed == nil ? "checkpoint \(configuration.checkpointPath)" : "resuming \(configuration.checkpointPath) at step \(firstStep)"))
        Interrupt.install()
        var progress = ProgressReporter(totalSteps: configuration.steps, logEvery: configuration.evaluateEvery)
        var trainingLoss = 0.0, lossCount = 0
        var savedStep = resumed?.checkpoint.step
        func save() throws {
            let allStreams = try group.map { group in try state?.map { try group.allGather($0, along: 1) } } ?? state
            if group?.rank ?? 0 == 0 {
                try checkpoint.write(model: model, optimizer: optimizer, state: allStreams)
                try checkpoint.curve.write(to: configuration.lossCurvePath)
                try diagnosis?.write(to: configuration.gradientPlotPath)
            }
            savedStep = checkpoint.step
        }
        for step in firstStep...max(firstStep, configuration.steps) where step <= configuration.steps {
            let (inputs, targets, startsPass) = training.window(at: step - 1)
            if startsPass { state = nil }
            // In a group the head reads a detached copy, so backward runs in two stages and the
            // head's gradients are exchanged while the recurrent layers' backward runs.
            func forward() -> (loss: Tensor, features: Tensor, cut: Tensor, next: [Tensor]) {
                let (features, next) = model.features(inputs, state: state)
                let cut = group == nil ? features : features.detached().requiringGrad()
                let loss = crossEntropy(logits: model.head(cut).reshaped(to: [-1, vocabulary.count]), targets: IndexTensor(targets.values))
                return (loss, features, cut, next)
            }
            let (loss, features, cut, next) = forward()
            // In a group: the global loss, and a stop request any process had, in one small
            // exchange before backward, so that every process checks and stops alike.
            var (lossValue, stopAgreed) = (loss.item(), false)
            if let group {
                (lossValue, stopAgreed) = try group.agree(loss: lossValue, weight: weight, stop: Interrupt.isRequested || step == configuration.stopAfter)
            }
            // Stop before a NaN or ∞ reaches the weights; no save, so the last checkpoint stays good.
            // The step runs again in anomaly mode to name the op (and recurrent step) it came from.
            guard lossValue.isFinite else {
                progress.finish()
                throw TrainingError.nonFiniteLoss(step: step, loss: lossValue, checkpoint: configuration.checkpointPath, savedStep: savedStep,
                                                  anomaly: firstAnomaly { forward().loss })
            }
            state = next.map { $0.detached() }
            optimizer.zeroGrad()
            loss.backward()
            if let group { try group.finishBackward(of: features, through: cut, model: model, weight: weight) }
            let norm = configuration.clip > 0 ? clipGradientNorm(model.parameters(), maxNorm: configuration.clip) : nil
            diagnosis?.note(step: step, globalNorm: norm ?? globalGradientNorm(model.parameters()))
            try optimizer.apply(schedule, atStep: step - 1)
            optimizer.step()
            checkpoint.step = step
            trainingLoss += lossValue
            lossCount += 1
            progress.update(step: step, firstStep: firstStep, loss: lossValue,
                            tokens: (step - firstStep + 1) * configuration.batch * configuration.sequenceLength)
            let isLast = step == configuration.steps
            if step % configuration.evaluateEvery == 0 || isLast {
                let bits = try validationLoss(model, ids: validationIDs, batch: validationBatch) / log(2)
                checkpoint.curve.training.append((step, trainingLoss / Double(lossCount) / log(2)))
                checkpoint.curve.validation.append((step, bits))
                (trainingLoss, lossCount) = (0, 0)
                progress.note("step \(step): validation \(format(bits)) bits/char (unigram \(format(checkpoint.curve.baseline!)))")
            }
            if step % configuration.sampleEvery == 0 && !isLast && group?.rank ?? 0 == 0 {
                progress.note(sampleText(model, vocabulary, step: step, length: 200))
            }
            let interrupted = group == nil ? Interrupt.isRequested || step == configuration.stopAfter : stopAgreed
            if step % configuration.checkpointEvery == 0 || isLast || interrupted { try save() }
            if interrupted {
                progress.finish()
                print("interrupted: saved \(configuration.checkpointPath) at step \(step); continue with --resume")
                return
            }
        }
        progress.finish()
        try save()
        if group?.rank ?? 0 == 0 { print(sampleText(model, vocabulary, step: configuration.steps, length: 400)) }
        let final = checkpoint.curve.validation.last?.bitsPerCharacter ?? .nan
        print("done: validation \(format(final)) bits/char vs unigram \(format(checkpoint.curve.baseline!)); checkpoint \(configuration.checkpointPath), loss curve \(configuration.lossCurvePath)")
    }

    private func sampleText(_ model: CharModel, _ vocabulary: Vocabulary, step: Int, length: Int) -> String {
        var generator = RandomGenerator(seed: configuration.seed &+ UInt64(step))
        let prime = (try? vocabulary.encode("\n").get()) ?? [0]
        let text = sample(model, vocabulary: vocabulary, prime: prime, length: length,
                          temperature: configuration.temperature, generator: &generator)
        return "--- sample at step \(step) (temperature \(configuration.temperature)) ---\n\(text)\n---"
    }

    /// A resumed run takes the checkpoint's architecture and settings; flags given now must agree.
    private func adopt(_ saved: TrainingConfiguration, into configuration: inout TrainingConfiguration) throws {
        let conflicts = [("--cell", saved.cell.rawValue, configuration.cell.rawValue), ("--hidden", "\(saved.hidden)", "\(configuration.hidden)"),
                         ("--layers", "\(saved.layers)", "\(configuration.layers)"),
                         ("--embedding", "\(saved.embedding)", "\(configuration.embedding)")]
            .filter { configuration.givenFlags.contains($0.0) && $0.1 != $0.2 }
        if let (flag, savedValue, given) = conflicts.first {
            throw CheckpointError.mismatch(configuration.checkpointPath, detail: "it was trained with \(flag) \(savedValue), not \(given); drop \(flag) or start a new checkpoint")
        }
        configuration.cell = saved.cell
        configuration.hidden = saved.hidden
        configuration.layers = saved.layers
        configuration.embedding = saved.embedding
        let given = configuration.givenFlags
        if !given.contains("--seq-len") { configuration.sequenceLength = saved.sequenceLength }
        if !given.contains("--batch") { configuration.batch = saved.batch }
        if !given.contains("--lr") { configuration.learningRate = saved.learningRate }
        if !given.contains("--schedule") { configuration.schedule = saved.schedule }
        if !given.contains("--clip") { configuration.clip = saved.clip }
        if !given.contains("--seed") { configuration.seed = saved.seed }
    }
}

/// Training that cannot go on.
enum TrainingError: Error, CustomStringConvertible {
    /// The loss became NaN or infinite at `step`; `savedStep` is the last checkpoint written or
    /// resumed from; `anomaly`, the first op of the step that produced a non-finite value.
    case nonFiniteLoss(step: Int, loss: Double, checkpoint: String, savedStep: Int?, anomaly: AnomalyError?)
    /// More processes than training streams: a process would have nothing to train on.
    case tooFewStreams(batch: Int, processes: Int)

    var description: String {
        switch self {
        case let .nonFiniteLoss(step, loss, checkpoint, savedStep?, anomaly):
            return "the loss is \(loss) at step \(step)\(anomaly.map { " (\($0))" } ?? ""); stopped without saving, so '\(checkpoint)' still holds step \(savedStep): resume from it with a lower --lr or a --clip"
        case let .nonFiniteLoss(step, loss, _, nil, anomaly):
            return "the loss is \(loss) at step \(step)\(anomaly.map { " (\($0))" } ?? ""), before any checkpoint was written; start again with a lower --lr or a --clip"
        case let .tooFewStreams(batch, processes):
            return "--batch \(batch) streams cannot be shared among \(processes) processes; pass --batch \(processes) or more, or start fewer processes"
        }
    }
}

/// `path`, or the first `name-N.ext` that does not exist: a new run never replaces a checkpoint.
func freePath(_ path: String) -> String {
    guard FileManager.default.fileExists(atPath: path) else { return path }
    let url = URL(fileURLWithPath: path)
    let base = url.deletingPathExtension().path, ext = url.pathExtension
    for index in 1... {
        let candidate = "\(base)-\(index)" + (ext.isEmpty ? "" : ".\(ext)")
        if !FileManager.default.fileExists(atPath: candidate) { return candidate }
    }
    return path
}

/// Bits per character of the validation text under the training text's character frequencies
/// (add-one smoothed): what a model without context achieves.
func unigramBitsPerCharacter(train: ArraySlice<Int>, validation: [Int]) -> Double {
    let classes = (train.max() ?? 0) + (validation.max() ?? 0) + 1
    var counts = [Double](repeating: 1, count: classes)
    for id in train { counts[id] += 1 }
    let total = counts.reduce(0, +)
    return -validation.map { log2(counts[$0] / total) }.reduce(0, +) / Double(validation.count)
}

func format(_ value: Double) -> String { String(format: "%.3f", value) }
