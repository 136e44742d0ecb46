import CKernels
/// The recurrent regularisers a ``RecurrentNetwork`` applies (its
/// ``RecurrentNetwork/regularisation``), for any cell including user-defined ones. Dropout
/// and weight drop act only in training (``Module/isTraining``): in `eval()` the network
/// computes exactly what it computes without them. Zoneout acts in both modes (its evaluation
/// form is the expectation). Every mask comes from the calling thread's generator, so
/// `RandomGenerator.seedThread(_:)` makes a run reproducible.
///
///     let lstm = LSTM(inputSize: 32, hiddenSize: 256, numLayers: 2)
///     lstm.regularisation = RecurrentRegularisation(
///         variationalDropout: VariationalDropout(inputs: 0.25, state: 0.25, outputs: 0.25),
///         weightDrop: WeightDrop(0.5), zoneout: Zoneout(probabilities: [0.05, 0.5]))
public struct RecurrentRegularisation: Sendable, Hashable {
    /// Gal & Ghahramani's dropout with one mask per sequence, or `nil`.
    public var variationalDropout: VariationalDropout?
    /// DropConnect on named recurrent weights (AWD-LSTM's weight drop), or `nil`.
    public var weightDrop: WeightDrop?
    /// Krueger et al.'s zoneout of the state, or `nil`.
    public var zoneout: Zoneout?

    /// The given regularisers; none by default.
    public init(variationalDropout: VariationalDropout? = nil, weightDrop: WeightDrop? = nil, zoneout: Zoneout? = nil) {
        self.variationalDropout = variationalDropout
        self.weightDrop = weightDrop
        self.zoneout = zoneout
    }
}

/// Variational dropout (Gal & Ghahramani, "A Theoretically Grounded Application of Dropout in
/// Recurrent Neural Networks", 2016): inverted dropout whose mask is drawn once per sequence
/// (per batch row) and call, and reused at every time step:
///
///     x̃_t = x_t ⊙ m_x      h̃_{t−1} = h_{t−1} ⊙ m_h      ỹ_t = y_t ⊙ m_y      m ∈ {0, 1/(1 − p)}
///
/// - `inputs`: every layer's input sequence — the network's input for the first layer, the
///   layer below's output (both directions concatenated) for the others; one mask per layer.
/// - `state`: the state the step reads, one mask per layer and direction. Only the components
///   listed in `stateComponents` are dropped, by default component 0, which in every built-in
///   cell is the recurrent output h (y for a Jordan cell) that goes through the recurrent
///   weights, as in the paper; an LSTM's memory c is not dropped, since a mask fixed over the
///   sequence would erase the same memory units at every step (Semeniuta et al. 2016). The
///   mask affects only what the step reads: the carried and the returned final state are the
///   cell's own.
/// - `outputs`: the network's output sequence (the last layer's), one mask.
public struct VariationalDropout: Sendable, Hashable {
    /// The probability of dropping a unit of every layer's input.
    public let inputs: Double
    /// The probability of dropping a unit of the state components the step reads.
    public let state: Double
    /// The probability of dropping a unit of the network's output.
    public let outputs: Double
    /// The state components `state` drops (positions in the cell's state).
    public let stateComponents: [Int]

    /// Dropout probabilities, each in [0, 1).
    public init(inputs: Double = 0, state: Double = 0, outputs: Double = 0, stateComponents: [Int] = [0]) {
        for (name, p) in [("inputs", inputs), ("state", state), ("outputs", outputs)] {
            requireProbability(p, "VariationalDropout", name)
        }
        guard stateComponents.allSatisfy({ $0 >= 0 }) else {
            opFailure("VariationalDropout", "state components \(stateComponents) must be non-negative positions")
        }
        self.inputs = inputs
        self.state = state
        self.outputs = outputs
        self.stateComponents = stateComponents
    }
}

/// Weight drop (Merity et al., "Regularizing and Optimizing LSTM Language Models", 2017; the
/// DropConnect of Wan et al. 2013 on recurrent weights): each named weight W of every cell is
/// replaced by W ⊙ M, with M an inverted-dropout mask (entries 0 or 1/(1 − p)) drawn once per
/// forward call and shared by every time step and batch row. Gradients reach W through the
/// mask. The names are those of the cell's own parameters (`weight_hh`, not the network's
/// `weight_hh_l0`); a cell without one of them stops the call naming it.
///
/// The weights are substituted while the call runs, so a network must not be called by two
/// threads at once while weight drop is on.
public struct WeightDrop: Sendable, Hashable {
    /// The probability of dropping each weight.
    public let probability: Double
    /// The cell parameters dropped.
    public let parameters: [String]

    /// Drops each entry of the named cell parameters with `probability` (in [0, 1)).
    public init(_ probability: Double, parameters: [String] = ["weight_hh"]) {
        requireProbability(probability, "WeightDrop", "probability")
        guard !parameters.isEmpty else { opFailure("WeightDrop", "no parameters named") }
        self.probability = probability
        self.parameters = parameters
    }
}

/// Zoneout (Krueger et al., "Zoneout: Regularizing RNNs by Randomly Preserving Hidden
/// Activations", 2017): each unit of a state component keeps its previous value with
/// probability p, drawn afresh per unit, batch row and time step; evaluation uses the
/// expectation:
///
///     training:   s_t = d_t ⊙ s_{t−1} + (1 − d_t) ⊙ cell(x_t, s_{t−1}),   d_t ~ Bernoulli(p)
///     evaluation: s_t = p · s_{t−1} + (1 − p) · cell(x_t, s_{t−1})
///
/// It acts on the carried state; each step's output stays the cell's own, as in the authors'
/// `ZoneoutWrapper`. Krueger et al.'s LSTM uses different rates for h and c (e.g. 0.05 and 0.5):
/// `Zoneout(probabilities: [0.05, 0.5])`.
public struct Zoneout: Sendable, Hashable {
    /// One probability per state component, or one for every component.
    public let probabilities: [Double]

    /// The same probability (in [0, 1)) for every state component.
    public init(_ probability: Double) {
        self.init(probabilities: [probability])
    }

    /// One probability (in [0, 1)) per state component, in the cell's state order; a
    /// single value applies to every component.
    public init(probabilities: [Double]) {
        guard !probabilities.isEmpty else { opFailure("Zoneout", "no probabilities given") }
        for p in probabilities { requireProbability(p, "Zoneout", "probability") }
        self.probabilities = probabilities
    }

    /// The probability for each of `count` state components.
    func probabilities(components count: Int) -> [Double] {
        if probabilities.count == 1 { return Array(repeating: probabilities[0], count: count) }
        guard probabilities.count == count else {
            opFailure("Zoneout", "\(probabilities.count) probabilities for a state of \(count) components")
        }
        return probabilities
    }
}

/// Stops unless `p` is a dropout probability, in [0, 1).
func requireProbability(_ p: Double, _ op: String, _ name: String) {
    guard (0..<1).contains(p) else { opFailure(op, "\(name) must be in [0, 1), got \(p)") }
}

/// An inverted-dropout mask: each entry 0 with probability p, else 1/(1 − p), from the
/// calling thread's generator.
func invertedDropoutMask(_ shape: [Int], dtype: DType, probability p: Double) -> Tensor {
    drawnMask(shape, dtype: dtype, probability: p, hit: 0, miss: 1 / (1 - p))
}

/// A tensor whose entries are `hit` with probability p and `miss` otherwise, from the calling
/// thread's generator: eight draws from it seed eight generators (as `RandomGenerator(seed:)`),
/// which run side by side (vectorized, in C); entries 16c + 2j and 16c + 2j + 1 come from the
/// low and high 32 bits k of generator j's draw c, each `hit` when k < ⌈p · 2³²⌉ — a
/// probability within 2.4·10⁻¹⁰ of p, the same in either dtype. Regularised runs draw many
/// masks, and one generator's chain of dependent operations was most of their cost.
func drawnMask(_ shape: [Int], dtype: DType, probability p: Double, hit: Double, miss: Double) -> Tensor {
    let seeds = RandomGenerator.withThreadGenerator { generator in (0..<8).map { _ in generator.next() } }
    let threshold = maskThreshold(p)
    return filledMask(shape, dtype: dtype) { (out: UnsafeMutablePointer<Float>, count) in
        ag_draw_mask_f32(seeds, threshold, Float(hit), Float(miss), out, count)
    } double: { out, count in
        ag_draw_mask_f64(seeds, threshold, hit, miss, out, count)
    }
}

/// Zoneout's masks over the steps of a run: a seed per step and mask, drawn from the calling
/// thread's generator step by step and within a step mask by mask, and from each seed a mask
/// whose rows are drawn each on its own (`ag_draw_row_masks`: row r is filled as
/// ``drawnMask(_:dtype:probability:hit:miss:)`` fills a mask, by eight generators whose state
/// words are the splitmix64 outputs 32r + 1 … 32r + 32 of the stream seeded with the step's
/// seed). A compiled
/// run's lanes draw their own rows of a step's masks just before the step reads them, so a
/// mask is in cache when it is read, and a run holds no masks of steps not yet run: drawn all
/// at once, a B-sized run's zoneout masks (3.2 MB) had left the cache by the time each step
/// read its own.
struct StepMasks: Sendable {
    /// `seeds[step][mask]`.
    let seeds: [[UInt64]]
    /// Each mask's entries per row.
    let columns: [Int]
    /// Each mask's probability of `hit`.
    let probabilities: [Double]
    let hit: Double, miss: Double

    /// Masks of `columns` entries per row for `steps` steps, their seeds drawn now.
    init(steps: Int, columns: [Int], probabilities: [Double], hit: Double, miss: Double) {
        seeds = RandomGenerator.withThreadGenerator { generator in
            (0..<steps).map { _ in columns.map { _ in generator.next() } }
        }
        (self.columns, self.probabilities, self.hit, self.miss) = (columns, probabilities, hit, miss)
    }

    /// The number of masks per step.
    var count: Int { columns.count }

    /// Rows `rows` of step `t`'s masks, [rows, columns] each.
    func masks(at t: Int, rows: Range<Int>, dtype: DType) -> [Tensor] {
        columns.indices.map { k in
            let (seed, threshold, first, count) = (seeds[t][k], maskThreshold(probabilities[k]), Int64(rows.lowerBound), Int64(rows.count))
            return filledMask([rows.count, columns[k]], dtype: dtype) { (out: UnsafeMutablePointer<Float>, _) in
                ag_draw_row_masks_f32(seed, first, count, Int64(columns[k]), threshold, Float(hit), Float(miss), out)
            } double: { out, _ in
                ag_draw_row_masks_f64(seed, first, count, Int64(columns[k]), threshold, hit, miss, out)
            }
        }
    }
}

/// The 32-bit threshold of ``drawnMask(_:dtype:probability:hit:miss:)``: a half k is a hit
/// when k < ⌈p · 2³²⌉ (exact: p · 2³² is a Double of at most 53 significant bits).
func maskThreshold(_ p: Double) -> UInt64 { UInt64((p * 0x1p32).rounded(.up)) }

/// A tensor of `shape` filled by the float32 or float64 fill, given its buffer and size.
private func filledMask(_ shape: [Int], dtype: DType, float: (UnsafeMutablePointer<Float>, Int64) -> Void,
                        double: (UnsafeMutablePointer<Double>, Int64) -> Void) -> Tensor {
    switch dtype {
    case .float32: Tensor(unsafeUninitializedShape: shape, as: Float.self) { if let base = $0.baseAddress { float(base, Int64($0.count)) } }
    case .float64: Tensor(unsafeUninitializedShape: shape, as: Double.self) { if let base = $0.baseAddress { double(base, Int64($0.count)) } }
    }
}
