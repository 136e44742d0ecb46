import CKernels
import Synchronization

/// A program compiled for repeated runs: optimized (``Program/optimized()``), fused
/// (``Program/fusingElementwise()``), and given a memory plan, so a run writes each result
/// into a buffer planned by liveness — no tape, and no per-op allocation for the built-in ops
/// (fused and elementwise kernels, matrix products, reductions, shape ops, slices, gathers,
/// `where`); a user-defined primitive allocates its result, as in eager mode.
///
///     let step = Executable(program.gradient(withRespectTo: parameterPositions).program)
///     let results = step(inputs)          // outputs, then gradients
///
/// Results equal the program's interpreted run (bit for bit where the same kernels run;
/// fused kernels may round differently only where the C float32 kernels would). A returned
/// tensor is never overwritten by a later run: a buffer still referenced is replaced.
/// Runs are serialized (one at a time per executable).
public final class Executable: @unchecked Sendable {
    /// The program as compiled (after the passes).
    public let program: Program
    /// Where each result lives and the planned peak.
    public let plan: MemoryPlan
    /// How many equations run as fused elementwise kernels.
    public var fusedKernelCount: Int { program.equations.count { $0.primitive is FusedElementwise } }

    private let steps: [Step]
    private let lastUse: [Int]
    /// Each input's shape and element type, as ``prepare(_:)`` checks the arguments against.
    private let inputShapes: [[Int]], inputElements: [ElementType]
    private let state: Mutex<RunState>

    /// What runs reuse: the planned slots' buffers, and scratch arrays kept with their
    /// capacity (a recurrent run calls a step's executable at every step: arrays made per
    /// call were a third of a char-LM training step's allocations).
    private struct RunState {
        var slots: [TensorStorage?]
        /// Each equation's result during a run; all `nil` between runs.
        var results: [Tensor?]
        var operands: [Tensor] = []
        /// The destinations of ``callAsFunction(_:writingOutputs:)``: results written into
        /// another tensor's elements instead of planned slots; empty between runs.
        var targets: [(position: Int, storage: TensorStorage)] = []
    }

    /// How one equation runs.
    private enum Kind {
        /// Shares its operand's buffer from element `offset` on (reshape, stop_gradient, a
        /// slice of whole leading rows).
        case alias(offset: Int)
        /// Writes into planned slot `slot` with `kernel`.
        case planned(slot: Int, kernel: Kernel)
        /// A fused kernel of several outputs, each written where its target says.
        case separating(FusedElementwise, targets: [RowTarget])
        /// A result a `separating` kernel makes, in slot `slot` (a row, or a concatenation of
        /// rows); `nil`: an equation that is not run and has no value (a slice or a row that
        /// another equation of the kernel's takes).
        case separated(slot: Int?)
        /// Allocates its result (ops without a write-into-buffer kernel).
        case allocating
    }

    /// A write-into-buffer kernel, resolved once at compile time (no casts per run).
    private enum Kernel {
        case buffered(any WritesIntoBuffer)
        case unary(any UnaryElementwisePrimitive)
        case binary(any BinaryElementwisePrimitive)

        init(_ primitive: any Primitive) {
            switch primitive {
            case let buffered as WritesIntoBuffer: self = .buffered(buffered)
            case let unary as UnaryElementwisePrimitive: self = .unary(unary)
            case let binary as BinaryElementwisePrimitive: self = .binary(binary)
            default: opFailure("Executable", "\(primitive.name) has no write-into-buffer kernel")
            }
        }
    }

    /// A class, so the run loop borrows each step instead of copying its existentials.
    private final class Step {
        let primitive: any Primitive
        let operands: [Program.Value]
        let type: ValueType
        let kind: Kind
        init(equation: Program.Equation, kind: Kind) {
            primitive = equation.primitive
            operands = equation.operands
            type = equation.type
            self.kind = kind
        }
    }

    /// Compiles `program`, running the optimization and fusion passes first unless
    /// `optimizing` is false.
    public init(_ program: Program, optimizing: Bool = true) {
        let compiled = optimizing ? program.optimized().fusingElementwise() : program
        self.program = compiled
        lastUse = compiled.lastUses()
        (inputShapes, inputElements) = (compiled.inputs.map(\.type.shape), compiled.inputs.map(\.type.element))
        let separation = Separation(compiled)
        let plan = MemoryPlan(compiled, madeByKernels: separation.made, writesIntoBuffer: Executable.writesIntoBuffer)
        self.plan = plan
        let made = Set(separation.made.values.joined())
        steps = compiled.equations.enumerated().map { position, equation in
            let kind: Kind = if let targets = separation.kernels[position] {
                .separating(equation.primitive as! FusedElementwise, targets: targets)
            } else if made.contains(position) {
                .separated(slot: plan.slots[position]!)
            } else if separation.skipped.contains(position) {
                .separated(slot: nil)
            } else {
                Executable.aliasOffset(equation, in: compiled).map { .alias(offset: $0) }
                    ?? plan.slots[position].map { .planned(slot: $0, kernel: Kernel(equation.primitive)) } ?? .allocating
            }
            return Step(equation: equation, kind: kind)
        }
        state = Mutex(RunState(slots: Array(repeating: nil, count: plan.slotSizes.count), results: Array(repeating: nil, count: steps.count)))
    }

    /// Runs the compiled program on values for its inputs (as ``Program/run(_:)``).
    public func callAsFunction(_ arguments: [Tensor]) -> [Tensor] {
        prepare(arguments)
        return state.withLock { state in run(arguments, &state) }
    }

    /// What every run does first: the thread's float mode, and a check of the arguments.
    private func prepare(_ arguments: [Tensor]) {
        ag_prepare_thread()
        guard arguments.count == program.inputs.count else {
            opFailure("Executable", "\(arguments.count) arguments for a program with \(program.inputs.count) inputs")
        }
        // Compared field by field, by index: building each argument's ValueType, or copying
        // each input and argument out of their arrays, cost retains and releases per
        // argument at every step of a recurrent run.
        for index in arguments.indices
        where arguments[index].shape != inputShapes[index] || arguments[index].elementType != inputElements[index] {
            let input = program.inputs[index]
            opFailure("Executable", "input %\(input.name) expects \(input.type), got \(arguments[index].valueType)")
        }
    }

    /// Runs as ``callAsFunction(_:)`` and leaves each output `k` that `destinations` names in
    /// that tensor's elements from flat element `offset` on: written there by the kernel that
    /// makes it where that kernel writes into a buffer (no copy), else copied. The destinations
    /// are written in place whatever shares their storage: they are buffers their caller is
    /// filling (a recurrent run's sequence of step gradients, each step its own rows).
    package func callAsFunction(_ arguments: [Tensor], writingOutputs destinations: [Int: (tensor: Tensor, offset: Int)]) -> [Tensor] {
        prepare(arguments)
        let results = state.withLock { state in
            for (k, destination) in destinations {
                guard case .result(let output) = program.outputs[k] else { continue }
                let position = madeAt(output)
                guard !state.targets.contains(where: { $0.position == position }), steps[position].type.element.floatType == destination.tensor.dtype
                else { continue }
                switch steps[position].kind {
                case .planned, .separated: break
                default: continue
                }
                state.targets.append((position, .view(of: destination.tensor.storage, from: destination.offset, count: steps[position].type.count)))
            }
            return run(arguments, &state)
        }
        for (k, destination) in destinations {
            let target = destination.tensor.storage.base + destination.offset * destination.tensor.dtype.byteCount
            if results[k].storage.base == target { continue }  // written there by its kernel
            let bytes = results[k].count * results[k].dtype.byteCount
            target.copyMemory(from: results[k].storage.base, byteCount: bytes)
        }
        return results
    }

    /// The run; the results at the positions `state.targets` names are written into those
    /// storages instead of planned slots.
    private func run(_ arguments: [Tensor], _ state: inout RunState) -> [Tensor] {
        // Moved out while the run uses them (a borrow of `state` across the loop would
        // conflict with `claim`'s), then put back with their capacity.
        var results = state.results, operands = state.operands
        (state.results, state.operands) = ([], [])
        defer {
            for index in results.indices { results[index] = nil }
            operands.removeAll(keepingCapacity: true)
            (state.results, state.operands) = (results, operands)
            state.targets.removeAll(keepingCapacity: true)
        }
        let targets = state.targets
        for (position, step) in steps.enumerated() {
            for operand in step.operands {
                switch operand {
                case .input(let index): operands.append(arguments[index])
                case .constant(let index): operands.append(program.constants[index])
                // A separated row's operand, its kernel's stacked result, is never made.
                case .result(let index): if let value = results[index] { operands.append(value) }
                }
            }
            let type = step.type
            var output: Tensor?
            switch step.kind {
            case .alias(let offset):
                let storage = operands[0].storage
                output = Tensor(storage: offset == 0 && storage.count == type.count ? storage : .view(of: storage, from: offset, count: type.count),
                                shape: type.shape)
            case .allocating:
                output = step.primitive.forward(operands, shape: type.shape)
            case let .planned(slot, kernel):
                // A few targets at most: a scan, where a dictionary hashed every equation's position.
                let storage = targets.first(where: { $0.position == position })?.storage ?? claim(slot, &state.slots, dtype: type.element.floatType!)
                Executable.write(kernel, type, operands, into: storage)
                output = Tensor(storage: storage, shape: type.shape)
            case .separated:
                continue  // made by its kernel
            case let .separating(fused, rowTargets):
                let dtype = type.element.floatType!, rowCount = type.count / rowTargets.count
                // The buffer of a result the kernel makes: a destination's, or its slot's.
                func made(_ position: Int) -> TensorStorage {
                    if let made = results[position] { return made.storage }
                    guard case .separated(let slot?) = steps[position].kind else { preconditionFailure("no slot for \(position)") }
                    let storage = targets.first(where: { $0.position == position })?.storage ?? claim(slot, &state.slots, dtype: dtype)
                    results[position] = Tensor(storage: storage, shape: steps[position].type.shape)
                    results[position]!.elementType = type.element
                    return storage
                }
                fused.write(operands, into: rowTargets.map { target in
                    switch target {
                    case .own(let row): FusedElementwise.OutputBuffer(storage: made(row), offset: 0, rowStride: nil)
                    case let .columns(concatenation, offset):
                        FusedElementwise.OutputBuffer(storage: made(concatenation), offset: offset, rowStride: steps[concatenation].type.shape[1])
                    case .unread: FusedElementwise.OutputBuffer(storage: .make(count: rowCount, dtype: dtype), offset: 0, rowStride: nil)
                    }
                })
            }
            output?.elementType = type.element
            results[position] = output
            operands.removeAll(keepingCapacity: true)
            for case .result(let index) in step.operands where lastUse[index] == position { results[index] = nil }
        }
        return program.outputs.map { output in
            switch output {
            case .input(let index): arguments[index]
            case .constant(let index): program.constants[index]
            case .result(let index): results[index]!
            }
        }
    }

    /// The buffer of `slot`, reused when nothing else holds it (a result returned by an
    /// earlier run may), else replaced.
    private func claim(_ slot: Int, _ slots: inout [TensorStorage?], dtype: DType) -> TensorStorage {
        var taken = slots[slot].take()
        if taken?.dtype == dtype && isKnownUniquelyReferenced(&taken!) {
            slots[slot] = taken
            return taken!
        }
        let storage = TensorStorage.make(count: plan.slotSizes[slot], dtype: dtype)
        slots[slot] = storage
        return storage
    }

    /// The position of the equation whose buffer the result at `position` is: itself, or what
    /// a reshape or stop_gradient of it shares.
    private func madeAt(_ position: Int) -> Int {
        guard case .alias(offset: 0) = steps[position].kind, case .result(let source) = steps[position].operands[0],
              steps[source].type.count == steps[position].type.count else { return position }
        return madeAt(source)
    }

    /// Where an equation that shares its operand's buffer (a reshape, a stop_gradient, a slice
    /// of whole leading rows: the outputs of a multi-output fused kernel) starts in it, or
    /// `nil` for an equation that makes its own result.
    static func aliasOffset(_ equation: Program.Equation, in program: Program) -> Int? {
        switch equation.primitive {
        case is Reshape, is StopGradient: 0
        case let slice as Slice: slice.viewOffset(in: program.type(of: equation.operands[0]).shape)
        default: nil
        }
    }

    /// Whether the equation has a kernel that writes into a given buffer.
    static func writesIntoBuffer(_ equation: Program.Equation, operandCounts: [Int]) -> Bool {
        guard equation.type.element.floatType != nil else { return false }
        switch equation.primitive {
        case is WritesIntoBuffer, is UnaryElementwisePrimitive: return true
        case is BinaryElementwisePrimitive:
            return operandCounts.allSatisfy { $0 == equation.type.count || $0 == 1 }
        default: return false
        }
    }

    private static func write(_ kernel: Kernel, _ type: ValueType, _ operands: [Tensor], into storage: TensorStorage) {
        let count = type.count
        switch kernel {
        case .buffered(let primitive):
            primitive.write(operands, into: storage, shape: type.shape)
        case .unary(let unary):
            switch storage.dtype {
            case .float32: unary.map(operands[0].storage.pointer(Float.self), storage.pointer(Float.self), count: count)
            case .float64: unary.map(operands[0].storage.pointer(Double.self), storage.pointer(Double.self), count: count)
            }
        case .binary(let binary):
            let (a, b) = (operands[0], operands[1])
            switch storage.dtype {
            case .float32:
                binary.zip(a.storage.pointer(Float.self), scalarA: a.count != count, b.storage.pointer(Float.self),
                           scalarB: b.count != count, storage.pointer(Float.self), count: count)
            case .float64:
                binary.zip(a.storage.pointer(Double.self), scalarA: a.count != count, b.storage.pointer(Double.self),
                           scalarB: b.count != count, storage.pointer(Double.self), count: count)
            }
        }
    }
}

/// Where a compiled program's results live: results that write into buffers get a slot,
/// reused by a later result of the same size once every value in it is dead (liveness);
/// aliases (reshape, stop_gradient, slices of whole leading rows) share their operand's slot.
public struct MemoryPlan: Sendable, CustomStringConvertible {
    /// The slot of each equation's result, or `nil` for results that allocate.
    public let slots: [Int?]
    /// Elements per slot.
    public let slotSizes: [Int]
    /// The largest number of bytes the planned slots hold at once during a run.
    public let peakBytes: Int
    /// The bytes of all results together: what a run keeping every intermediate (as the
    /// eager tape does for backward) would hold.
    public let unplannedBytes: Int

    /// The plan of `program`, where the results that multi-output kernels make (`madeByKernels`,
    /// by kernel; see ``Executable/Separation``) get slots of their own, taken when their
    /// kernel runs.
    init(_ program: Program, madeByKernels: [Int: [Int]] = [:], writesIntoBuffer: (Program.Equation, [Int]) -> Bool) {
        let lastUse = program.lastUses()
        var slots = [Int?](repeating: nil, count: program.equations.count)
        var sizes: [Int] = [], keys: [Int] = [], bytes: [Int] = [], free: [Int: [Int]] = [:], liveValues: [Int: Int] = [:]
        var live = 0, peak = 0, total = 0
        var dying = [[Int]](repeating: [], count: program.equations.count + 1)
        var taken: [Int: Int] = [:]
        func allocate(_ type: ValueType) -> Int {
            // Slots are shared by values of one element count and storage width.
            let key = 2 * type.count + (type.element == .float32 ? 0 : 1), slot: Int
            if let reused = free[key]?.popLast() {
                slot = reused
            } else {
                slot = sizes.count
                sizes.append(type.count)
                keys.append(key)
                bytes.append(type.count * (type.element == .float32 ? 4 : 8))
            }
            live += bytes[slot]
            peak = Swift.max(peak, live)
            return slot
        }
        for (position, equation) in program.equations.enumerated() {
            total += equation.type.count * (equation.type.element == .float32 ? 4 : 8)
            // A result of a multi-output kernel that ran already has its slot.
            var slot = taken[position]
            if let made = madeByKernels[position] {
                // Taken before the kernel's operands die: it reads them while writing its rows.
                for result in made { taken[result] = allocate(program.equations[result].type) }
            } else if slot == nil, Executable.aliasOffset(equation, in: program) != nil {
                if case .result(let source) = equation.operands[0] { slot = slots[source] }
            } else if slot == nil, writesIntoBuffer(equation, equation.operands.map { program.type(of: $0).count }) {
                slot = allocate(equation.type)
            }
            slots[position] = slot
            if let slot { liveValues[slot, default: 0] += 1 }
            // A slot is freed when the last value in it dies (after its last reader runs).
            dying[Swift.min(lastUse[position], program.equations.count)].append(position)
            for dead in dying[position] where lastUse[dead] == position {
                guard let deadSlot = slots[dead] else { continue }
                liveValues[deadSlot]! -= 1
                if liveValues[deadSlot] == 0 {
                    free[keys[deadSlot], default: []].append(deadSlot)
                    live -= bytes[deadSlot]
                }
            }
        }
        self.slots = slots
        slotSizes = sizes
        peakBytes = peak
        unplannedBytes = total
    }

    public var description: String {
        "\(slotSizes.count) buffers, planned peak \(peakBytes) bytes (all results: \(unplannedBytes) bytes)"
    }
}
