import CKernels

/// Elementwise ops evaluated as one kernel: its body is a small program of unary and binary
/// elementwise equations and `where` (with the comparisons that make its condition), run
/// block by block over the output so every intermediate stays in a cache-sized buffer and no
/// intermediate tensor is allocated (the approach of numexpr; no code generation). Operands
/// are full-size, scalars, or read through a window: broadcast, or a `slice` of an input in
/// the body (an LSTM's gate columns of its pre-activations), gathered block by block through
/// strides, never copied out whole.
///
/// A body may return several values of one shape (an LSTM step's gates, its new memory and
/// its new output): the result then stacks them, [outputs, shape…], and each is written
/// block by block as it is computed, so values read both inside and outside the kernel are
/// read from memory once (a kernel per value would read each value's operands again).
///
/// Prints with its body as text: `fused[body="graph(%a: f32[8], %b: f32[]) { … }"]`.
struct FusedElementwise: WritesIntoBuffer {
    /// One member op and where its operands come from. The per-block loop reads only trivial
    /// values (the operands' sources, and the op's float32 C loop where it has one): copying
    /// an op's existential at every block and step measurably cost time.
    struct Step: Sendable {
        enum Operands: Sendable {
            case unary(Source)
            case binary(Source, Source)
            /// `where`: the second operand where the first (a condition, 1 or 0) is non-zero,
            /// else the third.
            case select(Source, Source, Source)
        }
        let operands: Operands
        /// The op's C loops, for float32 blocks.
        let unaryFloat32: Float32Kernel?, binaryFloat32: BinaryFloat32Kernel?
        /// The op, for the loops without a C version (float64, and ops without one).
        let unary: (any UnaryElementwisePrimitive)?, binary: (any BinaryElementwisePrimitive)?

        init(_ operands: Operands, unary: (any UnaryElementwisePrimitive)? = nil, binary: (any BinaryElementwisePrimitive)? = nil) {
            self.operands = operands
            (self.unary, self.binary) = (unary, binary)
            (unaryFloat32, binaryFloat32) = (unary?.float32Kernel, binary?.float32Kernel)
        }
    }
    /// An operand of a step: an input of the fused op read element by element, a window of
    /// one (``Window``), or an earlier step's block.
    enum Source: Sendable {
        case input(Int)
        case window(Int)
        case step(Int)
    }

    /// An input read through strides over the output's shape from an element offset: a
    /// broadcast input, or a slice of one (read in place where a block lies within one of its
    /// rows, else gathered block by block; never materialized).
    struct Window: Sendable {
        let input: Int, offset: Int, strides: [Int]
    }

    /// The body and its steps, behind one reference so copying the op is one retain.
    private final class Contents: Sendable {
        let body: Program
        let steps: [Step]
        /// Each output's shape, and the windows the steps read.
        let shape: [Int]
        let windows: [Window]
        /// For each step, the output it computes (written into the result), else its block
        /// of scratch.
        let placement: [Placement]
        /// The scratch blocks the steps that are not outputs take.
        let scratchCount: Int
        init(body: Program, steps: [Step], windows: [Window], outputSteps: [Int]) {
            self.body = body
            self.steps = steps
            self.windows = windows
            shape = body.type(of: body.outputs[0]).shape
            var placement: [Placement] = [], scratch = 0
            for index in steps.indices {
                if let output = outputSteps.firstIndex(of: index) {
                    placement.append(.output(output))
                } else {
                    placement.append(.scratch(scratch))
                    scratch += 1
                }
            }
            self.placement = placement
            scratchCount = scratch
        }
    }
    /// Where a step's block goes.
    private enum Placement: Sendable {
        case output(Int), scratch(Int)
    }
    private let contents: Contents
    /// The body (its outputs: the kernel's).
    var body: Program { contents.body }
    private var steps: [Step] { contents.steps }
    /// The result's shape: the one output's, or the outputs' stacked.
    private var resultShape: [Int] { body.outputs.count == 1 ? contents.shape : [body.outputs.count] + contents.shape }

    /// Elements per block: the scratch blocks of a few dozen steps stay in L1/L2.
    static let blockSize = 512

    /// The block length for an output of `count` elements in rows of `rowLength`: at most
    /// ``blockSize``, and, for a kernel that reads windows, whole rows (or an equal part of
    /// one) where rows hold at least 64 elements, so each window's block lies within one of
    /// its rows and is read in place instead of gathered.
    static func blockLength(count: Int, rowLength: Int, readsWindows: Bool) -> Int {
        let plain = Swift.max(1, Swift.min(blockSize, count))
        guard readsWindows, rowLength >= 64, rowLength < count else { return plain }
        if rowLength <= blockSize { return rowLength }
        return stride(from: blockSize, through: 64, by: -1).first { rowLength % $0 == 0 } ?? plain
    }

    /// Wraps `body`, whose equations must all be unary or binary elementwise ops (comparisons
    /// included: their 1 or 0 is held in the body's float type), `where`, or slices of its
    /// inputs, and whose outputs are distinct results of those ops, of one shape, the last
    /// equation's among them.
    init?(body: Program) {
        var steps: [Step] = [], windows: [Window] = []
        guard let last = body.equations.indices.last, body.outputs.contains(.result(last)),
              Set(body.outputs).count == body.outputs.count else { return nil }
        let shape = body.equations[last].type.shape
        let count = elementCount(shape)
        /// Each equation's result as a source: a step, or a window for a slice.
        var results: [Source] = [], broadcastInputs: [Int: Source] = [:]
        func window(_ input: Int, offset: Int, strides: [Int], shape sourceShape: [Int]) -> Source {
            // A window's strides are over the output's shape: broadcast the source's to it.
            let broadcast = AutoGrad.broadcastStrides(sourceShape, to: shape)
            let rankOffset = shape.count - sourceShape.count
            let outputStrides = shape.indices.map { axis in
                broadcast[axis] == 0 ? 0 : strides[axis - rankOffset]
            }
            windows.append(Window(input: input, offset: offset, strides: outputStrides))
            return .window(windows.count - 1)
        }
        func source(_ value: Program.Value) -> Source? {
            switch value {
            case .input(let index):
                let type = body.inputs[index].type
                if type.count == count || type.count == 1 { return .input(index) }
                if let known = broadcastInputs[index] { return known }
                let broadcast = window(index, offset: 0, strides: contiguousStrides(type.shape), shape: type.shape)
                broadcastInputs[index] = broadcast
                return broadcast
            case .result(let index): return results[index]
            case .constant: return nil
            }
        }
        for equation in body.equations {
            if let slice = equation.primitive as? Slice {
                // A slice of an input is a window on it; a slice of a step's block is not fused.
                guard case .input(let index) = equation.operands[0] else { return nil }
                let sourceShape = body.inputs[index].type.shape, own = contiguousStrides(sourceShape)
                var strides = own
                strides[slice.axis] *= slice.step
                results.append(window(index, offset: slice.start * own[slice.axis], strides: strides, shape: equation.type.shape))
                continue
            }
            results.append(.step(steps.count))
            switch equation.primitive {
            case let unary as UnaryElementwisePrimitive:
                guard let x = source(equation.operands[0]) else { return nil }
                steps.append(Step(.unary(x), unary: unary))
            case let binary as BinaryElementwisePrimitive:
                guard let a = source(equation.operands[0]), let b = source(equation.operands[1]) else { return nil }
                steps.append(Step(.binary(a, b), binary: binary))
            case is Where:
                let operands = equation.operands.compactMap(source)
                guard operands.count == 3 else { return nil }
                steps.append(Step(.select(operands[0], operands[1], operands[2])))
            default:
                return nil
            }
        }
        // Every output is a step's result (not a window) of the output shape.
        var outputSteps: [Int] = []
        for output in body.outputs {
            guard case .result(let index) = output, case .step(let step) = results[index],
                  body.equations[index].type.shape == shape else { return nil }
            outputSteps.append(step)
        }
        guard body.equations[last].type.element.floatType != nil else { return nil }
        contents = Contents(body: body, steps: steps, windows: windows, outputSteps: outputSteps)
    }

    var name: String { "fused" }
    /// The pullback recomputes the body from the operands; it never reads the output.
    var pullbackReads: PullbackReads { PullbackReads(operands: Array(body.inputs.indices)) }
    var attributes: [(name: String, value: Attribute)] {
        [("body", .text(body.description.split(separator: "\n").map { $0.trimmingPrefix(while: \.isWhitespace) }.joined(separator: " ")))]
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes.count == body.inputs.count,
              zip(shapes, body.inputs).allSatisfy({ $0 == $1.type.shape }) else {
            throw ShapeError(name, "operands \(shapes.map(describe)) do not match the body's inputs")
        }
        return resultShape
    }

    func outputElement(_ elements: OperandElements) throws(ShapeError) -> ElementType {
        guard zip(elements, body.inputs).allSatisfy({ $0 == $1.type.element }) else {
            throw ShapeError(name, "operand types do not match the body's inputs")
        }
        return body.equations.last!.type.element
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }

    /// Kernels of at least this many elements (a recurrent step's gates at batch 32) are split
    /// by blocks across threads; below it, waking a thread costs more than it saves.
    static let parallelCount = 8192

    /// Evaluates the body block by block into `output` (which has the result's size: the
    /// outputs stacked).
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        let count = elementCount(contents.shape)
        write(inputs, into: body.outputs.indices.map { OutputBuffer(storage: output, offset: $0 * count, rowStride: nil) })
    }

    /// Where an output is written: a buffer of its own (from element `offset`), or columns of
    /// a wider matrix whose rows are `rowStride` elements apart (a concatenation of outputs).
    struct OutputBuffer {
        let storage: TensorStorage, offset: Int, rowStride: Int?
    }

    /// Whether this kernel's outputs can be written as columns of a wider matrix: its blocks
    /// then lie within rows.
    var writesColumns: Bool {
        contents.shape.count == 2 && (contents.shape.last ?? 1) % blockLength(writingColumns: true) == 0
    }

    /// The kernel's block length: blocks lie within rows where windows are read or columns
    /// written (``blockLength(count:rowLength:readsWindows:)``).
    private func blockLength(writingColumns: Bool) -> Int {
        Self.blockLength(count: elementCount(contents.shape), rowLength: contents.shape.last ?? 1,
                         readsWindows: !contents.windows.isEmpty || writingColumns)
    }

    /// Evaluates the body block by block, each output where `outputs` says (columns only
    /// where ``writesColumns``).
    func write(_ inputs: [Tensor], into outputs: [OutputBuffer]) {
        // A condition may be held in the other float type (a mask's storage is float32); the
        // inputs are copied only then.
        let dtype = outputs[0].storage.dtype
        let inputs = inputs.allSatisfy { $0.dtype == dtype } ? inputs : inputs.map { $0.converted(to: dtype) }
        let shape = contents.shape, count = elementCount(shape)
        // Small outputs get blocks of their own size, so the scratch fits on the stack.
        let block = blockLength(writingColumns: outputs.contains { $0.rowStride != nil })
        let blocks = (count + block - 1) / block
        let threads = count >= Self.parallelCount ? Swift.min(ComputeThreads.available, blocks) : 1
        let perThread = (blocks + threads - 1) / threads
        let strides = outputs.map { $0.rowStride ?? (shape.last ?? 1) }
        func evaluate(part: Int) {
            let elements = (part * perThread * block)..<Swift.min(count, (part + 1) * perThread * block)
            guard !elements.isEmpty else { return }
            switch dtype {
            case .float32:
                self.evaluate(inputs, outputs.map { $0.storage.pointer(Float.self) + $0.offset }, strides, count, block: block, elements: elements)
            case .float64:
                self.evaluate(inputs, outputs.map { $0.storage.pointer(Double.self) + $0.offset }, strides, count, block: block, elements: elements)
            }
        }
        if threads > 1 { parallelFor(threads, threads: threads) { evaluate(part: $0) } } else { evaluate(part: 0) }
    }

    /// Evaluates the blocks of `block` elements that cover `elements` (of `count`, each
    /// output's) into the outputs' buffers, whose rows lie `rowStrides` apart.
    private func evaluate<T: FloatElement>(_ inputs: [Tensor], _ outputs: [UnsafeMutablePointer<T>], _ rowStrides: [Int], _ count: Int,
                                           block: Int, elements: Range<Int>) {
        let windows = contents.windows, steps = contents.steps, rowLength = contents.shape.last ?? 1
        let placement = contents.placement
        // A window whose blocks each lie within one of its rows is read in place; the others
        // are gathered into scratch blocks after the steps'.
        let inPlace = rowLength % block == 0
        func isGathered(_ window: Window) -> Bool { !inPlace || window.strides.last != 1 }
        let gatheredCount = windows.count(where: isGathered)
        withUnsafeTemporaryAllocation(of: T.self, capacity: Swift.max(1, block * (contents.scratchCount + gatheredCount))) { scratch in
            let scratch = scratch.baseAddress!
            // Operand base pointers on the stack too: a kernel call allocates nothing.
            withUnsafeTemporaryAllocation(of: UnsafePointer<T>.self, capacity: inputs.count + windows.count) { pointers in
                // Each input's base, then each window's elements for the current block.
                let bases = pointers.baseAddress!, gathered = bases + inputs.count
                for (index, input) in inputs.enumerated() { bases[index] = UnsafePointer(input.storage.pointer(T.self)) }
                // The current block's row and column in the output shape (a block lies within a
                // row when an output is written as columns), and where step `index` writes it.
                var blockRow = 0, blockColumn = 0
                func target(_ index: Int) -> UnsafeMutablePointer<T> {
                    switch placement[index] {
                    case .output(let k): outputs[k] + blockRow * rowStrides[k] + blockColumn
                    case .scratch(let slot): scratch + slot * block
                    }
                }
                func operand(_ source: Source, at start: Int) -> (UnsafePointer<T>, Bool) {
                    switch source {
                    case .window(let index):
                        return (gathered[index], false)
                    case .input(let index):
                        return inputs[index].count == 1 && count != 1 ? (bases[index], true) : (bases[index] + start, false)
                    case .step(let index):
                        return (UnsafePointer(target(index)), false)
                    }
                }
                for start in stride(from: elements.lowerBound, to: elements.upperBound, by: block) {
                    let n = Swift.min(block, count - start)
                    (blockRow, blockColumn) = start.quotientAndRemainder(dividingBy: rowLength)
                    // Windows are gathered block by block into their own scratch (or read in
                    // place where the block lies within one of their rows).
                    var slot = contents.scratchCount
                    for (index, window) in windows.enumerated() {
                        let base = bases[window.input] + window.offset
                        if isGathered(window) {
                            gathered[index] = gatherWindow(base, strides: window.strides, shape: contents.shape, start: start, count: n,
                                                           into: scratch + slot * block)
                            slot += 1
                        } else {
                            gathered[index] = base + Self.offset(of: start, shape: contents.shape, strides: window.strides)
                        }
                    }
                    for index in steps.indices {
                        // The outputs' steps write straight into the result.
                        let target = target(index)
                        switch steps[index].operands {
                        case let .unary(x):
                            let px = operand(x, at: start).0
                            if T.self == Float.self, let kernel = steps[index].unaryFloat32 {
                                kernel(Self.float(px), Self.float(target), Int64(n))
                            } else {
                                Self.mapBlock(steps[index].unary!, px, target, n)
                            }
                        case let .binary(a, b):
                            let (pa, sa) = operand(a, at: start), (pb, sb) = operand(b, at: start)
                            if T.self == Float.self, let kernel = steps[index].binaryFloat32 {
                                kernel(Self.float(pa), sa ? 1 : 0, Self.float(pb), sb ? 1 : 0, Self.float(target), Int64(n))
                            } else {
                                Self.zipBlock(steps[index].binary!, pa, sa, pb, sb, target, n)
                            }
                        case let .select(c, a, b):
                            let (pc, sc) = operand(c, at: start), (pa, sa) = operand(a, at: start), (pb, sb) = operand(b, at: start)
                            blendWhere(pc, sc, pa, sa, pb, sb, target, n)
                        }
                    }
                }
            }
        }
    }
}
