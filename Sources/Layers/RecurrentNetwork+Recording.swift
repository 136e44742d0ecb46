import AutoGrad

/// A recurrent network's recording options and what its latest call recorded (stored in the
/// network; the options are public through ``RecurrentNetwork``'s properties).
struct RecurrentRecording {
    var recordsGradientFlow = false
    var collectsStepStates = false
    var collectsStepGates = false
    /// The latest call's gradient norms, written by its backward pass.
    var flow: GradientFlowRecorder?
    /// The latest call's states, in ``RecurrentNetwork/stepStates``'s layout.
    var stepStates: [Tensor]?
    /// The latest call's gates, in ``RecurrentNetwork/stepGates``'s layout.
    var stepGates: [String: Tensor]?
}

/// A network that can record how gradients flow back through time, seen whatever its cell:
/// code holding `any SequenceLayer` (a model choosing LSTM or GRU at run time) reaches the
/// recording with `as? any GradientFlowRecording`.
public protocol GradientFlowRecording: AnyObject {
    /// Whether each call records the gradient flow (see ``RecurrentNetwork/recordsGradientFlow``).
    var recordsGradientFlow: Bool { get set }
    /// The latest call's gradient flow, once its backward pass ran.
    var gradientFlow: GradientFlow? { get }
}

extension RecurrentNetwork: GradientFlowRecording {}

extension RecurrentNetwork {
    /// Whether each call records how the gradient flows back through time: after the backward
    /// pass through a call's results, ``gradientFlow`` holds ‖∂L/∂h_t‖ for every step, layer
    /// and direction (see ``GradientFlow``). Off by default; on, every step's state passes
    /// through a probe (an identity op), so keep it for diagnosis. Recorded by eager runs.
    public var recordsGradientFlow: Bool {
        get { recording.recordsGradientFlow }
        set { recording.recordsGradientFlow = newValue }
    }

    /// The gradient flow of the latest call made with ``recordsGradientFlow`` on, once a
    /// backward pass through its results has run; `nil` before.
    public var gradientFlow: GradientFlow? { recording.flow?.flow }

    /// Whether each call keeps every step's state, read from ``stepStates``. Off by default.
    public var collectsStepStates: Bool {
        get { recording.collectsStepStates }
        set { recording.collectsStepStates = newValue }
    }

    /// Every step's state of the latest call made with ``collectsStepStates`` on: one tensor
    /// per state component (an LSTM's h and c), each [layers · directions, time, batch, size].
    ///
    /// The first axis is the final state's (layer-major, direction-minor), and time is the
    /// input's: `stepStates[c][i, t]` is component c of cell i's state once it has read input
    /// step t — in a reverse direction, after reading steps t through the sequence's end. Past
    /// a sequence's length (with `lengths` or a mask) each direction holds its final state.
    ///
    /// The *final state* the call returns is, for each sequence, the forward direction's state
    /// at its last valid step (`t = length − 1`) and the reverse direction's at step 0 (having
    /// read the whole sequence backwards); a sequence of length 0 keeps the initial state.
    /// The states are the tensors the run used, so gradients can be taken with respect to them.
    public var stepStates: [Tensor]? { recording.stepStates }

    /// Whether each call keeps every step's gates, read from ``stepGates``. Off by default.
    public var collectsStepGates: Bool {
        get { recording.collectsStepGates }
        set { recording.collectsStepGates = newValue }
    }

    /// Every step's gates of the latest call made with ``collectsStepGates`` on, by the names
    /// the cell reports them under (``ContextualRecurrentCell/stepReportingGates(prepared:state:time:context:)``:
    /// an ``LSTMCell``'s `i`, `f`, `g`, `o`, a ``GRUCell``'s `r`, `z`, `n`; empty for a cell that
    /// reports none), each [layers · directions, time, batch, size] in ``stepStates``'s layout:
    /// `stepGates["f"]![i, t]` is the forget gate cell i computed when it read input step t.
    /// Past a sequence's length (with `lengths` or a mask) no step runs, and the gates are zero.
    /// They are the tensors the run used, so gradients can be taken with respect to them.
    public var stepGates: [String: Tensor]? { recording.stepGates }

    /// Whether the steps must run eagerly, one `cell.step` at a time, so that the probes and
    /// the kept states and gates see them: a compiled step program would bypass them.
    var stepsNeedRecording: Bool { recordsGradientFlow || collectsStepStates || collectsStepGates }

    /// The recorder of one call, or `nil` when nothing is recorded; clears the last records.
    func beginStepRecording(steps: Int) -> StepRecorder? {
        recording.flow = nil
        recording.stepStates = nil
        recording.stepGates = nil
        guard stepsNeedRecording else { return nil }
        let layout = cells.indices.map { (layer: $0 / directions, isReverse: $0 % directions == 1) }
        let flow = recordsGradientFlow ? GradientFlowRecorder(layout: layout, steps: steps) : nil
        recording.flow = flow
        return StepRecorder(flow: flow, keepsStates: collectsStepStates, keepsGates: collectsStepGates, lanes: cells.count)
    }

    /// Stores the kept states and gates in ``stepStates``'s layout.
    func finishStepRecording(_ recorder: StepRecorder?, lengths: [Int]?) {
        guard let recorder else { return }
        if recorder.keepsStates, let first = recorder.states.first?.first {
            recording.stepStates = first.indices.map { component in
                recordedSequence(recorder.states.map { steps in steps.map { $0[component] } }, lengths: lengths)
            }
        }
        if recorder.keepsGates, let names = recorder.gates.first?.first?.map(\.name) {
            for (lane, steps) in recorder.gates.enumerated() where steps.contains(where: { $0.map(\.name) != names }) {
                opFailure("RecurrentNetwork", "cell \(lane) reports gates \(steps[0].map(\.name)), cell 0 \(names): stepGates needs the same")
            }
            recording.stepGates = Dictionary(uniqueKeysWithValues: names.indices.map { gate in
                (names[gate], recordedSequence(recorder.gates.map { steps in steps.map { $0[gate].value } }, lengths: lengths))
            })
        }
    }

    /// One recorded value per lane and step (run order) as [lanes, time, batch, ·], reverse
    /// directions back in input order.
    private func recordedSequence(_ lanes: [[Tensor]], lengths: [Int]?) -> Tensor {
        stack(lanes.enumerated().map { lane, steps in
            let sequence = stack(steps, along: 0)
            return lane % directions == 1 ? reversedWithinLengths(sequence, lengths) : sequence
        }, along: 0)
    }

    /// How anomaly messages name a step of cell `lane`.
    func stepLocation(lane: Int, step: Int) -> String {
        let direction = lane % directions == 1 ? "reverse direction, step \(step) counted from each sequence's end"
            : "\(bidirectional ? "forward direction, " : "")time step \(step)"
        return "recurrent layer \(lane / directions), \(direction)"
    }
}

/// One call's recording: the probes that note ∂L/∂h_t and the states and gates kept per step.
final class StepRecorder {
    let flow: GradientFlowRecorder?
    let keepsStates: Bool
    let keepsGates: Bool
    /// The states after each step, per cell, in run order.
    private(set) var states: [[[Tensor]]]
    /// The gates of each step, per cell, in run order.
    private(set) var gates: [[[(name: String, value: Tensor)]]]

    init(flow: GradientFlowRecorder?, keepsStates: Bool, keepsGates: Bool, lanes: Int) {
        (self.flow, self.keepsStates, self.keepsGates) = (flow, keepsStates, keepsGates)
        states = Array(repeating: [], count: lanes)
        gates = Array(repeating: [], count: lanes)
    }

    /// A step's results with the state handed on passing through a probe; the output too when
    /// it is that same tensor (the built-in cells), so the probe sees the total gradient.
    func observe(_ output: Tensor, _ state: [Tensor], lane: Int, step: Int) -> (Tensor, [Tensor]) {
        guard let flow, isRecording, let node = state[0].graphNode else { return (output, state) }
        let probed = apply(GradientProbe(recorder: flow, lane: lane, step: step), [state[0]])
        return (output.graphNode === node ? probed : output, [probed] + state.dropFirst())
    }

    /// Keeps the state after a step and the step's gates; `valid` marks the sequences the step
    /// ran for (`nil`: all), the others' gates are kept as zeros.
    func keep(_ state: [Tensor], gates stepGates: [(name: String, value: Tensor)], valid: Mask?, lane: Int) {
        if keepsStates { states[lane].append(state) }
        guard keepsGates else { return }
        gates[lane].append(stepGates.map { name, value in
            (name, valid.map { Tensor.where($0, value, Tensor(0, dtype: value.dtype)) } ?? value)
        })
    }
}
