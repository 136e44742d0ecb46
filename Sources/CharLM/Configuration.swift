/// The recurrent cell a model uses.
enum CellKind: String, CaseIterable {
    case lstm, gru, rnn, jordan
}

/// How the learning rate moves over a run.
enum ScheduleKind: String, CaseIterable {
    /// The --lr rate at every step.
    case constant
    /// Cosine decay from --lr to a tenth of it over the run.
    case cosine
}

/// Everything `charlm train` is told on the command line.
struct TrainingConfiguration {
    var cell = CellKind.lstm
    var hidden = 256
    var layers = 1
    /// Character embedding size; 0: one-hot characters, the default (what the README measures).
    var embedding = 0
    var sequenceLength = 64
    var batch = 32
    var learningRate = 3e-3
    /// Constant by measurement: on this package's sources a constant rate ends 0.11 bits/char
    /// (2,500 steps) and 0.40 (1,000 steps) below cosine decay (README, "Learning-rate schedule").
    var schedule = ScheduleKind.constant
    var steps = 2500
    var clip = 1.0
    var seed: UInt64 = 1
    var dataPath: String?
    var checkpointPath = "charlm.safetensors"
    var resume = false
    var evaluateEvery = 250
    var sampleEvery = 500
    var checkpointEvery = 500
    var temperature = 0.8
    var curvePath: String?
    /// Record the gradient flow through time and plot it beside the loss curve (Diagnosis.swift).
    var diagnose = false
    /// Stop after this step as Ctrl-C does (saving a checkpoint): lets tests interrupt a run.
    var stopAfter: Int?
    /// The flags given on the command line (a resumed run refuses ones that contradict the checkpoint).
    var givenFlags: Set<String> = []

    static let valuedFlags: Set<String> = [
        "--cell", "--hidden", "--layers", "--embedding", "--seq-len", "--batch", "--lr", "--schedule", "--steps", "--clip",
        "--seed", "--data", "--checkpoint", "--eval-every", "--sample-every", "--checkpoint-every",
        "--temperature", "--curve",
    ]

    /// Parses `charlm train` flags; unknown or malformed ones throw.
    init(arguments: [String]) throws(UsageError) {
        let flags = try FlagParser(arguments, command: "train", valued: Self.valuedFlags, switches: ["--resume", "--diagnose"])
        cell = try flags.choice("--cell", default: cell)
        hidden = try flags.int("--hidden", default: hidden, range: 1...8192)
        layers = try flags.int("--layers", default: layers, range: 1...16)
        embedding = try flags.int("--embedding", default: embedding, range: 0...8192)
        sequenceLength = try flags.int("--seq-len", default: sequenceLength, range: 1...100_000)
        batch = try flags.int("--batch", default: batch, range: 1...100_000)
        learningRate = try flags.double("--lr", default: learningRate, range: 1e-8...10)
        schedule = try flags.choice("--schedule", default: schedule)
        steps = try flags.int("--steps", default: steps)
        clip = try flags.double("--clip", default: clip, range: 0...1e6)
        seed = UInt64(try flags.int("--seed", default: Int(seed), range: 0...Int.max))
        dataPath = flags.string("--data")
        checkpointPath = flags.string("--checkpoint") ?? checkpointPath
        resume = flags.has("--resume")
        evaluateEvery = try flags.int("--eval-every", default: evaluateEvery)
        sampleEvery = try flags.int("--sample-every", default: sampleEvery)
        checkpointEvery = try flags.int("--checkpoint-every", default: checkpointEvery)
        temperature = try flags.double("--temperature", default: temperature, range: 0.01...10)
        curvePath = flags.string("--curve")
        diagnose = flags.has("--diagnose")
        givenFlags = Set(arguments.filter { $0.hasPrefix("--") })
    }

    /// The loss-curve file: --curve, or the checkpoint's name with `-loss.svg`.
    var lossCurvePath: String {
        curvePath ?? checkpointStem + "-loss.svg"
    }

    /// The checkpoint path without `.safetensors`: the files written beside it add a suffix.
    var checkpointStem: String {
        checkpointPath.hasSuffix(".safetensors") ? String(checkpointPath.dropLast(".safetensors".count)) : checkpointPath
    }

    init() {}
}

/// What `charlm sample` is told.
struct SamplingConfiguration {
    var checkpointPath = "charlm.safetensors"
    var prime = "\n"
    var length = 500
    var temperature = 0.8
    var seed: UInt64 = 1

    init(arguments: [String]) throws(UsageError) {
        let flags = try FlagParser(arguments, command: "sample",
                                   valued: ["--checkpoint", "--prime", "--length", "--temperature", "--seed"], switches: [])
        checkpointPath = flags.string("--checkpoint") ?? checkpointPath
        prime = flags.string("--prime") ?? prime
        length = try flags.int("--length", default: length, range: 1...1_000_000)
        temperature = try flags.double("--temperature", default: temperature, range: 0.01...10)
        seed = UInt64(try flags.int("--seed", default: Int(seed), range: 0...Int.max))
    }
}

let helpText = """
    charlm: a character-level language model trained with truncated backpropagation through time.

    usage: charlm [train] [flags]          train (on the package's own sources unless --data)
           charlm sample [flags]           generate text from a checkpoint

    train flags:
      --cell lstm|gru|rnn|jordan   recurrent cell (lstm)
      --hidden N                   hidden size (256)
      --layers N                   stacked layers (1)
      --embedding N                learned character embedding size, 0 = one-hot (0)
      --seq-len N                  truncated-BPTT window (64)
      --batch N                    parallel streams (32)
      --lr X                       Adam learning rate (0.003)
      --schedule constant|cosine   learning rate over the run: constant, or cosine-decayed to a tenth (constant)
      --steps N                    training steps (2500)
      --clip X                     gradient-norm clipping, 0 = off (1.0)
      --seed N                     random seed (1)
      --data FILE                  UTF-8 text to train on
      --checkpoint PATH            checkpoint file (charlm.safetensors)
      --resume                     continue from --checkpoint exactly where it stopped
      --eval-every N               validation every N steps (250)
      --sample-every N             sample every N steps (500)
      --checkpoint-every N         save every N steps (500); also on Ctrl-C
      --temperature X              sampling temperature (0.8)
      --curve PATH                 loss curve SVG (the checkpoint's name + -loss.svg)
      --diagnose                   also plot ‖∂L/∂h_t‖ per time step (the checkpoint's name + -gradients.svg)

    sample flags:
      --checkpoint PATH  --prime TEXT  --length N (500)  --temperature X (0.8)  --seed N (1)
    """
