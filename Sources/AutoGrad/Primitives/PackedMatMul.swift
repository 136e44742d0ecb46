import CKernels

// Matrix products whose right operand is packed once and read many times: what a recurrent
// step's weight needs, since the GEMM otherwise repacks the whole weight for a product of a
// few rows at every step (a third of its time at batch 32). Both ops are execution details
// that `Program.hoistingInvariants` introduces after differentiation, so they have no gradient;
// the packed layout follows the CPU's vector width, so a packed value stays in its process.

/// `pack_rhs`: op(B), a [k, n] matrix (B read transposed when `transposed`), in the GEMM's
/// panel layout, as a flat vector of `packedCount(k, n)` elements.
struct PackRightOperand: WritesIntoBuffer {
    let transposed: Bool
    var name: String { "pack_rhs" }
    var attributes: [(name: String, value: Attribute)] { transposed ? [("transB", .bool(true))] : [] }
    var pullbackReads: PullbackReads { .nothing }

    /// (k, n) of op(B) for B of `shape`.
    private func dimensions(_ shape: [Int]) -> (k: Int, n: Int) {
        transposed ? (shape[1], shape[0]) : (shape[0], shape[1])
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes.count == 1, shapes[0].count == 2 else {
            throw ShapeError(name, "takes one matrix, got \(shapes.map { describe(Array($0)) }.joined(separator: ", "))")
        }
        let (k, n) = dimensions(Array(shapes[0]))
        return [packedCount(k: k, n: n)]
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }

    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        let b = inputs[0], (k, n) = dimensions(b.shape), ldb = Int64(b.shape[1])
        switch b.dtype {
        case .float32: ag_sgemm_pack_b(transposed ? 1 : 0, Int64(k), Int64(n), b.storage.pointer(Float.self), ldb, output.pointer(Float.self))
        case .float64: ag_dgemm_pack_b(transposed ? 1 : 0, Int64(k), Int64(n), b.storage.pointer(Double.self), ldb, output.pointer(Double.self))
        }
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        opFailure(name, "a packed operand has no gradient (products are packed after differentiation)")
    }
}

/// The elements a packed [k, n] right operand takes, of either float type.
private func packedCount(k: Int, n: Int) -> Int {
    Int(ag_gemm_packed_size(Int64(k), Int64(n)))
}

/// `matmul_packed`: op(A) · B (+ a bias of `n` values on every row, as `matmul`'s) (+ an
/// addend of the result's shape, the last operand, when `addsAddend`) where B ([k, n]) was
/// packed by `pack_rhs`. A is [m, k] read transposed when `transposeA` ([k, m]), or,
/// untransposed, any [..., k] whose rows are all multiplied; the result has A's rows and `n`
/// columns. The addend is what `Program.accumulatingIntoProducts` folds in: a recurrent step's
/// input part, added to its recurrent product by the GEMM rather than by a pass of its own.
struct PackedMatMul: WritesIntoBuffer {
    let transposeA: Bool
    /// The columns of B (its packed form does not say).
    let columns: Int
    /// Whether the last operand is an addend of the result's shape.
    var addsAddend = false
    var name: String { "matmul_packed" }
    var attributes: [(name: String, value: Attribute)] {
        [("n", .int(columns))] + (transposeA ? [("transA", .bool(true))] : []) + (addsAddend ? [("addend", .bool(true))] : [])
    }
    var pullbackReads: PullbackReads { .nothing }

    /// (rows, inner) of op(A).
    private func dimensions(_ a: [Int]) -> (m: Int, k: Int) {
        transposeA ? (a[1], a[0]) : (a.dropLast().reduce(1, *), a[a.count - 1])
    }

    /// What the operands are, for messages.
    private var expected: String { "a matrix, a packed vector, an optional bias" + (addsAddend ? " and an addend" : "") }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        let extra = addsAddend ? 1 : 0
        guard shapes.count == 2 + extra || shapes.count == 3 + extra else {
            throw ShapeError(name, "takes \(expected), got \(shapes.count) operands")
        }
        let a = Array(shapes[0]), packed = Array(shapes[1])
        guard a.count >= 2, !transposeA || a.count == 2, packed.count == 1 else {
            throw ShapeError(name, "takes \(expected), got \(shapes.map { describe(Array($0)) }.joined(separator: ", "))")
        }
        let k = dimensions(a).k
        guard packed[0] == packedCount(k: k, n: columns) else {
            throw ShapeError(name, "\(describe(packed)) is not a packed [\(k), \(columns)] operand for \(describe(a))")
        }
        try checkBias(shapes, columns: columns, op: name, among: shapes.count - extra)
        let shape = transposeA ? [a[1], columns] : Array(a.dropLast()) + [columns]
        if addsAddend, let addend = shapes.last, Array(addend) != shape {
            throw ShapeError(name, "the addend must have the product's shape \(describe(shape)), got \(describe(Array(addend)))")
        }
        return shape
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }

    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        let extra = addsAddend ? 1 : 0
        let a = inputs[0], packed = inputs[1].storage, bias = inputs.count > 2 + extra ? inputs[2].storage : nil
        let (m, k) = dimensions(a.shape), n = columns
        // The addend is copied into C, which the GEMM then accumulates onto: a streaming copy
        // reads it faster than the stores could (a recurrent step's input part is in L3 or
        // memory by then).
        if addsAddend, let addend = inputs.last, addend.storage.base != output.base {
            output.base.copyMemory(from: addend.storage.base, byteCount: m * n * a.dtype.byteCount)
        }
        let beta: Double = addsAddend ? 1 : 0
        let lda = Int64(a.shape[a.shape.count - 1])
        // Threads take column ranges of whole panels, so each reads only its part of B.
        let panel = Int(a.dtype == .float32 ? ag_sgemm_panel_width() : ag_dgemm_panel_width())
        let panels = (n + panel - 1) / panel
        let threads = m * n * k >= GEMM.parallelThreshold ? Swift.min(ComputeThreads.available, panels) : 1
        let perPart = (panels + threads - 1) / threads * panel
        let transA: Int32 = transposeA ? 1 : 0
        func multiply(part: Int) {
            let (begin, end) = (Int64(part * perPart), Int64(Swift.min(n, (part + 1) * perPart)))
            guard begin < end else { return }
            switch a.dtype {
            case .float32:
                ag_sgemm_packed(transA, Int64(m), Int64(n), Int64(k), 1, a.storage.pointer(Float.self), lda,
                                packed.pointer(Float.self), Float(beta), output.pointer(Float.self), Int64(n), begin, end,
                                bias.map { UnsafePointer($0.pointer(Float.self)) })
            case .float64:
                ag_dgemm_packed(transA, Int64(m), Int64(n), Int64(k), 1, a.storage.pointer(Double.self), lda,
                                packed.pointer(Double.self), beta, output.pointer(Double.self), Int64(n), begin, end,
                                bias.map { UnsafePointer($0.pointer(Double.self)) })
            }
        }
        if threads <= 1 { multiply(part: 0) } else { parallelFor(threads, threads: threads) { multiply(part: $0) } }
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        opFailure(name, "a product with a packed operand has no gradient (products are packed after differentiation)")
    }
}
