/// How ``RecurrentNetwork`` applies its ``RecurrentNetwork/regularisation``: the engine calls
/// these at four points of a run (around the call, on each layer's input, on the output, and
/// per step), and they return their argument unchanged when the regulariser is off.
extension RecurrentNetwork {
    /// Whether the steps of a call must run eagerly through ``regularisedStep(_:_:state:time:context:masks:)``:
    /// while state dropout or weight drop is on in training, or zoneout in either mode. (Input
    /// and output dropout act outside the steps.)
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

    /// A layer's input sequence [time, batch, features] with its variational mask (one per
    /// sequence, shared by all steps), in training.
    func regularisedLayerInput(_ sequence: Tensor) -> Tensor {
        sequenceMasked(sequence, probability: regularisation.variationalDropout?.inputs ?? 0)
    }

    /// The network's output sequence [time, batch, features] with its variational mask, in training.
    func regularisedOutput(_ sequence: Tensor) -> Tensor {
        sequenceMasked(sequence, probability: regularisation.variationalDropout?.outputs ?? 0)
    }

    private func sequenceMasked(_ sequence: Tensor, probability: Double) -> Tensor {
        guard isTraining, probability > 0 else { return sequence }
        let (batch, features) = (sequence.shape[1], sequence.shape[2])
        return sequence * invertedDropoutMask([1, batch, features], dtype: sequence.dtype, probability: probability)
    }

    /// The state-dropout masks of one layer and direction, drawn once for the whole sequence
    /// (`nil` entries: components not dropped), when the steps need regularising.
    func stepMasks(for start: [Tensor]) -> [Tensor?]? {
        guard stepsNeedRegularisation else { return nil }
        guard isTraining, let dropout = regularisation.variationalDropout, dropout.state > 0 else {
            return Array(repeating: nil, count: start.count)
        }
        if let outside = dropout.stateComponents.first(where: { $0 >= start.count }) {
            opFailure("VariationalDropout", "state component \(outside) of a \(Cell.self) state of \(start.count) components")
        }
        return start.indices.map { component in
            dropout.stateComponents.contains(component)
                ? invertedDropoutMask(start[component].shape, dtype: start[component].dtype, probability: dropout.state)
                : nil
        }
    }

    /// One step with state dropout (the step reads the masked state) and zoneout (each unit
    /// of the new state keeps its previous value with probability p; the expectation in eval).
    func regularisedStep(_ cell: Cell, _ input: Tensor, state: [Tensor], time: Int, context: Cell.Context,
                         masks: [Tensor?]) -> (output: Tensor, state: [Tensor]) {
        let read = zip(state, masks).map { component, mask in mask.map { component * $0 } ?? component }
        let (output, next) = cell.step(prepared: input, state: read, time: time, context: context)
        guard let zoneout = regularisation.zoneout else { return (output, next) }
        let zoned = zip(zip(state, next), zoneout.probabilities(components: next.count)).map { pair, p -> Tensor in
            let (previous, new) = pair
            guard p > 0 else { return new }
            guard isTraining else { return p * previous + (1 - p) * new }
            // d = 1 with probability p; d ⊙ s_{t−1} + (1 − d) ⊙ s̃ is s_{t−1} or s̃ exactly.
            let keep = drawnMask(new.shape, dtype: new.dtype, probability: p, hit: 1, miss: 0)
            return keep * previous + (1 - keep) * new
        }
        return (output, zoned)
    }
}
