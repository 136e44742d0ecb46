/// How ``RecurrentNetwork`` applies its ``RecurrentNetwork/regularisation``: the engine calls
/// these at four points of a run (around the call, on each layer's input, on the output, and
/// per step), and they return their argument unchanged when the regulariser is off.
extension RecurrentNetwork {
    /// Whether an op-by-op run's steps go through ``regularisedStep(_:_:state:time:context:masks:keep:)``:
    /// while state dropout or weight drop is on in training, or zoneout in either mode. (Input
    /// and output dropout act outside the steps; a compiled run always traces that step.)
    var stepsNeedRegularisation: Bool {
        if regularisation.zoneout != nil { return true }
        guard isTraining else { return false }
        return (regularisation.variationalDropout?.state ?? 0) > 0 || (regularisation.weightDrop?.probability ?? 0) > 0
    }

    /// Runs `body` with every cell's weight-drop parameters replaced by masked copies, one
    /// mask per parameter drawn now (cells in order, then names in order).
    func withDroppedWeights<R>(_ body: () -> R) -> R {
        guard isTraining, let drop = regularisation.weightDrop, drop.probability > 0 else { return body() }
        let dropped = cells.flatMap { cell in
            let named = cell.namedParameters()
            return drop.parameters.map { name -> (Parameter, Tensor) in
                guard let parameter = named.first(where: { $0.name == name })?.parameter else {
                    opFailure("WeightDrop", "\(type(of: cell)) has no parameter '\(name)' (it has \(named.map(\.name)))")
                }
                let value = parameter.value
                return (parameter, value * invertedDropoutMask(value.shape, dtype: value.dtype, probability: drop.probability))
            }
        }
        return Self.substituting(dropped[...], body)
    }

    private static func substituting<R>(_ replacements: ArraySlice<(Parameter, Tensor)>, _ body: () -> R) -> R {
        guard let (parameter, value) = replacements.first else { return body() }
        return parameter.substituting(value) { substituting(replacements.dropFirst(), body) }
    }

    /// The network's input sequence [time, batch, features] with the first layer's variational
    /// input mask (one per sequence, shared by all steps), in training. The later layers' input
    /// masks are their lower layers' ``layerOutputMask(_:batch:dtype:)``.
    func regularisedNetworkInput(_ sequence: Tensor) -> Tensor {
        let probability = regularisation.variationalDropout?.inputs ?? 0
        guard isTraining, probability > 0 else { return sequence }
        let (batch, features) = (sequence.shape[1], sequence.shape[2])
        return sequence * invertedDropoutMask([1, batch, features], dtype: sequence.dtype, probability: probability)
    }

    /// The variational mask [batch, features] of layer `layer`'s output sequence (its
    /// directions' outputs side by side), in training: the next layer's input mask, or the
    /// network's output mask after the last layer. It is drawn before the layer runs, so that
    /// a compiled run multiplies each step's output by its columns as the step writes it: a
    /// pass over the whole sequence afterwards, forward and backward, cost more than the
    /// mask's other work together (the sequence has left the cache by the end of the run).
    func layerOutputMask(_ layer: Int, batch: Int, dtype: DType) -> Tensor? {
        let dropout = regularisation.variationalDropout
        let probability = (layer == numLayers - 1 ? dropout?.outputs : dropout?.inputs) ?? 0
        guard isTraining, probability > 0 else { return nil }
        let features = (0..<directions).map { cells[layer * directions + $0].outputSize }.reduce(0, +)
        return invertedDropoutMask([batch, features], dtype: dtype, probability: probability)
    }

    /// Which of `count` state components the steps read through a state-dropout mask now.
    func droppedStateComponents(count: Int) -> [Bool] {
        guard isTraining, let dropout = regularisation.variationalDropout, dropout.state > 0 else {
            return Array(repeating: false, count: count)
        }
        if let outside = dropout.stateComponents.first(where: { $0 >= count }) {
            opFailure("VariationalDropout", "state component \(outside) of a \(Cell.self) state of \(count) components")
        }
        return (0..<count).map(dropout.stateComponents.contains)
    }

    /// Which of `count` state components zoneout draws masks for now (training only; eval
    /// uses the expectation).
    func zonedStateComponents(count: Int) -> [Bool] {
        guard isTraining, let zoneout = regularisation.zoneout else { return Array(repeating: false, count: count) }
        return zoneout.probabilities(components: count).map { $0 > 0 }
    }

    /// The state-dropout masks of one layer and direction, drawn once for the whole sequence
    /// (`nil` entries: components not dropped), when the steps need regularising.
    func stepMasks(for start: [Tensor]) -> [Tensor?]? {
        guard stepsNeedRegularisation else { return nil }
        let probability = regularisation.variationalDropout?.state ?? 0
        return zip(start, droppedStateComponents(count: start.count)).map { component, dropped in
            dropped ? invertedDropoutMask(component.shape, dtype: component.dtype, probability: probability) : nil
        }
    }

    /// One step with state dropout (the step reads the masked state) and zoneout (each unit
    /// of the new state keeps its previous value with probability p; the expectation in eval).
    /// `keep`, if given, holds zoneout's masks for this step (a step of ``zoneoutMasks(for:steps:)``),
    /// else they are drawn here, as that draws them.
    func regularisedStep(_ cell: Cell, _ input: Tensor, state: [Tensor], time: Int, context: Cell.Context,
                         masks: [Tensor?], keep: [Tensor?]? = nil) -> (output: Tensor, state: [Tensor]) {
        let (output, next, _) = regularised(state: state, masks: masks, keep: keep) { read in
            let (output, next) = cell.step(prepared: input, state: read, time: time, context: context)
            return (output, next, [])
        }
        return (output, next)
    }

    /// `step` (a cell's step, given the state it reads) with state dropout and zoneout as
    /// ``regularisedStep(_:_:state:time:context:masks:keep:)`` applies them; the gates are the step's own.
    func regularised(state: [Tensor], masks: [Tensor?], keep: [Tensor?]?, _ step: ([Tensor]) -> StepWithGates) -> StepWithGates {
        let read = zip(state, masks).map { component, mask in mask.map { component * $0 } ?? component }
        let (output, next, gates) = step(read)
        guard let zoneout = regularisation.zoneout else { return (output, next, gates) }
        let probabilities = zoneout.probabilities(components: next.count)
        let zoned = zip(state, next).enumerated().map { component, pair -> Tensor in
            let ((previous, new), p) = (pair, probabilities[component])
            guard p > 0 else { return new }
            guard isTraining else { return p * previous + (1 - p) * new }
            // d = 1 with probability p: the unit keeps s_{t−1}, else takes s̃ (a `where` that
            // reads the 0/1 mask in place, fused into the compiled step, forward and backward).
            let mask = keep?[component] ?? StepMasks(steps: 1, columns: [new.shape.dropFirst().reduce(1, *)], probabilities: [p], hit: 1, miss: 0)
                .masks(at: 0, rows: 0..<new.shape[0], dtype: new.dtype)[0].reshaped(to: new.shape)
            return Tensor.where(nonzero: mask, previous, new)
        }
        return (output, zoned, gates)
    }

    /// Zoneout's masks for `steps` steps from `start`: for each step, one mask per zoned
    /// component (in component order) with its rows, drawn in the order
    /// ``regularisedStep(_:_:state:time:context:masks:keep:)`` draws them; `nil` outside
    /// training or without zoneout.
    func zoneoutMasks(for start: [Tensor], steps: Int) -> StepMasks? {
        guard isTraining, let zoneout = regularisation.zoneout else { return nil }
        let probabilities = zoneout.probabilities(components: start.count)
        let zoned = probabilities.indices.filter { probabilities[$0] > 0 }
        guard !zoned.isEmpty else { return nil }
        return StepMasks(steps: steps, columns: zoned.map { start[$0].shape.dropFirst().reduce(1, *) },
                         probabilities: zoned.map { probabilities[$0] }, hit: 1, miss: 0)
    }
}
