import AutoGrad
import Synchronization

/// How the gradient of the loss flows back through time in one run of a recurrent network:
/// ‖∂L/∂h_t‖ for every step t of every layer and direction, as the backward pass found it —
/// the measurement behind vanishing and exploding gradients.
///
/// h_t is the state a step hands on (its first state component: the hidden state h of the
/// built-in cells, also their output), and ∂L/∂h_t its *total* gradient: through the step's
/// output and through every later step (when a cell's output is another tensor computed from
/// that state, as an ``ElmanCell`` with an output layer's, only through the later steps). The norm is the Euclidean norm over the whole
/// [batch, size] gradient. Steps are counted in the order each direction runs, so in a reverse
/// direction step 0 reads each sequence's last element. With lengths, a sequence contributes
/// nothing past its length (its state is held there, and no gradient reaches the step's).
///
/// Read it from ``RecurrentNetwork/gradientFlow`` after the backward pass of a call made with
/// ``RecurrentNetwork/recordsGradientFlow`` on, and draw it with ``svg(title:)``.
public struct GradientFlow: Sendable, Equatable {
    /// The norms of one layer and direction.
    public struct Series: Sendable, Equatable {
        /// The layer, from 0 at the input.
        public let layer: Int
        /// Whether this is a bidirectional layer's reverse direction.
        public let isReverse: Bool
        /// ‖∂L/∂h_t‖ for each step t in run order; 0 where no gradient arrived.
        public let norms: [Double]

        /// Creates a series.
        public init(layer: Int, isReverse: Bool, norms: [Double]) {
            (self.layer, self.isReverse, self.norms) = (layer, isReverse, norms)
        }

        /// `layer 0` (or `layer 0 forward` / `layer 0 reverse` when `bidirectional`).
        public func label(bidirectional: Bool) -> String {
            "layer \(layer)" + (bidirectional ? (isReverse ? " reverse" : " forward") : "")
        }
    }

    /// One series per layer and direction, layer-major and direction-minor (the order of
    /// ``RecurrentNetwork/cells``).
    public var series: [Series]
    /// The global norm of all parameters' gradients before clipping, when the caller adds it
    /// (Optim's `clipGradientNorm` returns it): the plot prints it beside the steps' norms.
    public var globalNormBeforeClipping: Double?

    /// A record of `series`, with the global gradient norm if known.
    public init(series: [Series], globalNormBeforeClipping: Double? = nil) {
        self.series = series
        self.globalNormBeforeClipping = globalNormBeforeClipping
    }

    /// Whether any series is a reverse direction.
    public var isBidirectional: Bool { series.contains(where: \.isReverse) }

    /// The norms of `layer`'s forward (or reverse) direction.
    public func norms(layer: Int, reverse: Bool = false) -> [Double] {
        guard let found = series.first(where: { $0.layer == layer && $0.isReverse == reverse }) else {
            opFailure("GradientFlow", "no series for layer \(layer)\(reverse ? " reverse" : ""); it has \(series.map { $0.label(bidirectional: true) })")
        }
        return found.norms
    }
}

/// The norms one call's probes write during backward: `lanes` series of `steps` norms. Shared
/// by the call's probes and the network, and possibly written by a backward pass on another
/// thread, hence the lock.
final class GradientFlowRecorder: Sendable {
    private let norms: Mutex<[[Double]]?>
    private let layout: [(layer: Int, isReverse: Bool)]
    private let steps: Int

    init(layout: [(layer: Int, isReverse: Bool)], steps: Int) {
        norms = Mutex(nil)
        (self.layout, self.steps) = (layout, steps)
    }

    /// Writes one step's norm (a later backward pass through the same graph overwrites it).
    func note(_ norm: Double, lane: Int, step: Int) {
        norms.withLock { norms in
            if norms == nil { norms = Array(repeating: Array(repeating: 0, count: steps), count: layout.count) }
            norms![lane][step] = norm
        }
    }

    /// The record, once a backward pass reached any step.
    var flow: GradientFlow? {
        norms.withLock { norms in
            norms.map { norms in
                GradientFlow(series: zip(layout, norms).map { GradientFlow.Series(layer: $0.layer, isReverse: $0.isReverse, norms: $1) })
            }
        }
    }
}

/// The identity, whose pullback notes the norm of the gradient passing through: how the
/// engine observes ∂L/∂h_t without a hook in the backward walk.
struct GradientProbe: Primitive {
    let recorder: GradientFlowRecorder
    let lane: Int
    let step: Int

    var name: String { "gradient_probe" }
    var attributes: [(name: String, value: Attribute)] { [("lane", .int(lane)), ("step", .int(step))] }
    var pullbackReads: PullbackReads { .nothing }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] { shapes[0] }

    /// The input itself: `apply` gives the result its own node, and values are never mutated
    /// in place, so sharing the storage is safe (as `stop_gradient` does).
    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { inputs[0] }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        // A placeholder (a Program's gradient being traced) has no elements to measure.
        if gradient.count == gradient.shape.reduce(1, *) {
            recorder.note(euclideanNorm(gradient.scalars), lane: lane, step: step)
        }
        return [gradient]
    }
}

/// √(Σ x²), scaled by the largest magnitude so that squares of large gradients do not overflow.
func euclideanNorm(_ values: [Double]) -> Double {
    let largest = values.reduce(0) { max($0, abs($1)) }
    guard largest > 0, largest.isFinite else { return values.contains(where: \.isNaN) ? .nan : largest }
    return largest * values.reduce(0) { $0 + ($1 / largest) * ($1 / largest) }.squareRoot()
}
