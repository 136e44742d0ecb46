import Foundation
import CKernels
import Synchronization

/// Matrix product of the last two axes, batched over (broadcast) leading axes; either operand
/// may be read transposed, so pullbacks never materialize a transpose. An optional third
/// operand, a bias of the result's columns, is added to every row as the GEMM stores its
/// result (PyTorch's `addmm`): a layer's bias costs no pass over the result of its own.
struct MatMul: WritesIntoBuffer {
    let transposeA: Bool, transposeB: Bool
    var name: String { "matmul" }
    var pullbackReads: PullbackReads { PullbackReads(operands: [0, 1]) }
    var attributes: [(name: String, value: Attribute)] {
        (transposeA ? [("transA", .bool(true))] : []) + (transposeB ? [("transB", .bool(true))] : [])
    }

    /// (rows, inner) of op(A) and (inner, columns) of op(B).
    private func matrixDims(_ a: [Int], _ b: [Int]) -> (m: Int, k: Int, kB: Int, n: Int) {
        let (ra, ca) = (a[a.count - 2], a[a.count - 1]), (rb, cb) = (b[b.count - 2], b[b.count - 1])
        return transposeA ? (ca, ra, transposeB ? cb : rb, transposeB ? rb : cb)
                          : (ra, ca, transposeB ? cb : rb, transposeB ? rb : cb)
    }

    func outputShape(_ shapes: OperandShapes) throws(ShapeError) -> [Int] {
        guard shapes.count == 2 || shapes.count == 3 else {
            throw ShapeError(name, "takes two operands and an optional bias, got \(shapes.count) operands")
        }
        let a = shapes[0], b = shapes[1]
        guard a.count >= 2, b.count >= 2 else {
            throw ShapeError(name, "operands must have rank >= 2, got \(describe(a)) and \(describe(b))")
        }
        let (m, k, kB, n) = matrixDims(a, b)
        guard k == kB else {
            throw ShapeError(name, "inner dimensions differ: \(describe(a))\(transposeA ? "ᵀ" : "") × \(describe(b))\(transposeB ? "ᵀ" : "") (\(k) vs \(kB))")
        }
        try checkBias(shapes, columns: n, op: name)
        return try broadcastShapes(Array(a.dropLast(2)), Array(b.dropLast(2)), op: name) + [m, n]
    }

    func forward(_ inputs: [Tensor], shape: [Int]) -> Tensor { written(inputs, shape: shape) }
    func write(_ inputs: [Tensor], into output: TensorStorage, shape: [Int]) {
        multiply(inputs[0], inputs[1], adding: inputs.count > 2 ? inputs[2] : nil, into: output, shape: shape)
    }

    /// The product (plus `bias` on every row) written into `result` (of the output's size):
    /// what a compiled program runs into its planned buffer.
    func multiply(_ a: Tensor, _ b: Tensor, adding bias: Tensor? = nil, into result: TensorStorage, shape: [Int]) {
        let (m, k, _, n) = matrixDims(a.shape, b.shape)
        let batchShape = Array(shape.dropLast(2))
        let aStrides = broadcastStrides(Array(a.shape.dropLast(2)), to: batchShape)
        let bStrides = broadcastStrides(Array(b.shape.dropLast(2)), to: batchShape)
        let batch = elementCount(batchShape)
        var aOffsets = [Int](), bOffsets = [Int]()
        for flat in 0..<batch {
            var rest = flat, aOffset = 0, bOffset = 0
            for axis in batchShape.indices.reversed() {
                let index = rest % batchShape[axis]
                rest /= batchShape[axis]
                aOffset += index * aStrides[axis]
                bOffset += index * bStrides[axis]
            }
            aOffsets.append(aOffset * m * k)
            bOffsets.append(bOffset * k * n)
        }
        let gemm = GEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        a: a.storage, b: b.storage, c: result, bias: bias?.storage)
        gemm.run(aOffsets: aOffsets, bOffsets: bOffsets)
    }

    func pullback(_ gradient: Tensor, inputs: [Tensor], output: Tensor) -> [Tensor?] {
        let (a, b, g) = (inputs[0], inputs[1], gradient)
        let gradA: Tensor?, gradB: Tensor?
        switch (transposeA, transposeB) {
        case (false, false):
            gradA = a.requiresGrad ? matmul(g, b, transposeB: true) : nil
            gradB = b.requiresGrad ? matmul(a, g, transposeA: true) : nil
        case (false, true):
            gradA = a.requiresGrad ? matmul(g, b) : nil
            // A layer's weight and bias (`linear`) take the same pass over the output gradient.
            if b.requiresGrad, inputs.count > 2, inputs[2].requiresGrad, !isRecording, g.shape.count == 2, a.shape.count == 2 {
                let (weight, bias) = productAndColumnSums(g, a)
                return [gradA, weight, bias]
            }
            gradB = b.requiresGrad ? matmul(g, a, transposeA: true) : nil
        case (true, false):
            gradA = a.requiresGrad ? matmul(b, g, transposeB: true) : nil
            gradB = b.requiresGrad ? matmul(a, g) : nil
        case (true, true):
            gradA = a.requiresGrad ? matmul(b, g, transposeA: true, transposeB: true) : nil
            gradB = b.requiresGrad ? matmul(g, a, transposeA: true, transposeB: true) : nil
        }
        let bias = inputs.count > 2 && inputs[2].requiresGrad ? g.sum(toShape: inputs[2].shape) : nil
        return inputs.count > 2 ? [gradA, gradB, bias] : [gradA, gradB]
    }
}

/// The check of a product's optional third operand, a bias of its `columns` (`matmul`'s and
/// `matmul_packed`'s), among its first `count` operands (`matmul_packed`'s addend follows).
func checkBias(_ shapes: OperandShapes, columns: Int, op name: String, among count: Int? = nil) throws(ShapeError) {
    if (count ?? shapes.count) == 3, Array(shapes[2]) != [columns] {
        throw ShapeError(name, "the bias must be [\(columns)], one value per column of the product, got \(describe(Array(shapes[2])))")
    }
}

/// How many threads large matrix products may use (default: every core).
public enum ComputeThreads {
    private static let limit = Atomic<Int>(ProcessInfo.processInfo.activeProcessorCount)
    /// The current limit, at least 1.
    public static var maximum: Int {
        get { limit.load(ordering: .relaxed) }
        set { limit.store(Swift.max(1, newValue), ordering: .relaxed) }
    }
}

extension ComputeThreads {
    /// The threads work started on this thread can use: ``maximum``, or 1 inside a task of
    /// a parallel loop (such as one of ``concurrentPerform(_:_:)``'s calls), where the pool is
    /// taken and a split would only run its parts one after another.
    public static var available: Int { isInParallelTask ? 1 : maximum }

    /// Whether this thread runs a task of a parallel loop (a pool worker always does).
    static var isInParallelTask: Bool { ag_in_parallel_task() != 0 }

    /// Calls `body(i)` for every i in `0..<count`, concurrently on up to ``maximum`` threads
    /// of the shared pool (the caller's included), returning when all calls are done. Work
    /// inside `body` that would itself split across threads runs on its own thread, and
    /// recording is per thread: a worker records unless `body` says otherwise.
    public static func concurrentPerform(_ count: Int, _ body: (Int) -> Void) {
        parallelFor(count, threads: Swift.min(maximum, count), body)
    }
}

/// Calls `body(i)` for every i in `0..<count` on up to `threads` threads of the shared pool
/// (CKernels' ThreadPool.c), returning when all calls are done.
func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        var task = body
        withUnsafeMutablePointer(to: &task) { context in
            ag_parallel_for(Int64(count), Int32(threads), { context, index in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
            }, context)
        }
    }
}

/// One (batched) GEMM call split across threads: by batch when there are enough matrices,
/// else by rows of the output.
struct GEMM: @unchecked Sendable {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int
    let a: TensorStorage, b: TensorStorage, c: TensorStorage
    /// Added to every row of each product, or `nil`.
    var bias: TensorStorage? = nil
    /// Receives op(A)'s `m` row sums, or `nil` (a product of one matrix only).
    var rowSums: TensorStorage? = nil

    /// Below this many multiply-adds a product runs on the calling thread.
    static let parallelThreshold = 1 << 18

    func run(aOffsets: [Int], bOffsets: [Int]) {
        let batch = aOffsets.count
        precondition(rowSums == nil || batch == 1, "row sums of a batch of products")
        if batch == 1, let product = oneHotProduct(aOffset: aOffsets[0], bOffset: bOffsets[0]) { return product() }
        let threads = m * n * k * batch >= GEMM.parallelThreshold ? Swift.min(ComputeThreads.available, Swift.max(batch, m, n)) : 1
        if threads <= 1 {
            for i in 0..<batch { multiply(aOffsets[i], bOffsets[i], i * m * n, rows: 0..<m, columns: 0..<n) }
        } else if batch >= threads {
            parallelFor(threads, threads: threads) { part in
                for i in stride(from: part, to: batch, by: threads) {
                    multiply(aOffsets[i], bOffsets[i], i * m * n, rows: 0..<m, columns: 0..<n)
                }
            }
        } else {
            // Split the longer side of C, so each thread still gets a well-shaped block (a
            // recurrent step's product has few rows and many columns).
            let splitRows = m >= n
            let length = splitRows ? m : n, perPart = (length + threads - 1) / threads
            parallelFor(threads, threads: threads) { part in
                let range = (part * perPart)..<Swift.min(length, (part + 1) * perPart)
                guard !range.isEmpty else { return }
                for i in 0..<batch {
                    multiply(aOffsets[i], bOffsets[i], i * m * n, rows: splitRows ? range : 0..<m, columns: splitRows ? 0..<n : range)
                }
            }
        }
    }

    /// The block `rows` × `columns` of C = op(A)·op(B) for one matrix of the batch (offsets in
    /// elements).
    private func multiply(_ aOffset: Int, _ bOffset: Int, _ cOffset: Int, rows: Range<Int>, columns: Range<Int>) {
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        // Row i of op(A) starts at row i of A, or at column i when A is read transposed;
        // column j of op(B) at column j of B, or at row j when B is read transposed.
        let aStart = aOffset + rows.lowerBound * (transposeA ? 1 : lda)
        let bStart = bOffset + columns.lowerBound * (transposeB ? ldb : 1)
        let cStart = cOffset + rows.lowerBound * n + columns.lowerBound
        let (mm, nn) = (Int64(rows.count), Int64(columns.count))
        // A block of C's columns sums its rows of op(A) only if it is the first: its rows'
        // sums are every block's.
        let sums = columns.lowerBound == 0 ? rowSums : nil
        switch c.dtype {
        case .float32:
            ag_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, mm, nn, Int64(k), 1,
                     a.pointer(Float.self) + aStart, Int64(lda), b.pointer(Float.self) + bStart, Int64(ldb),
                     0, c.pointer(Float.self) + cStart, Int64(n), bias.map { UnsafePointer($0.pointer(Float.self)) + columns.lowerBound },
                     sums.map { $0.pointer(Float.self) + rows.lowerBound })
        case .float64:
            ag_dgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, mm, nn, Int64(k), 1,
                     a.pointer(Double.self) + aStart, Int64(lda), b.pointer(Double.self) + bStart, Int64(ldb),
                     0, c.pointer(Double.self) + cStart, Int64(n), bias.map { UnsafePointer($0.pointer(Double.self)) + columns.lowerBound },
                     sums.map { $0.pointer(Double.self) + rows.lowerBound })
        }
    }
}

/// `aᵀ·b` and the column sums of `a`, for matrices `a` [rows, m] and `b` [rows, n], from one
/// GEMM that sums `a` as it packs it: a layer's weight gradient and its bias's from the output
/// gradient `a`, in one pass over it instead of two (the sums add the rows in order, as
/// `a.sum(along: [0])` does). Not recorded: for pullbacks that are not themselves differentiated.
func productAndColumnSums(_ a: Tensor, _ b: Tensor) -> (product: Tensor, sums: Tensor) {
    precondition(!isRecording && a.shape.count == 2 && b.shape.count == 2 && a.shape[0] == b.shape[0] && a.dtype == b.dtype,
                 "productAndColumnSums: \(a.shape)ᵀ × \(b.shape), recording: \(isRecording)")
    let (m, n) = (a.shape[1], b.shape[1])
    let product = TensorStorage.make(count: m * n, dtype: a.dtype), sums = TensorStorage.make(count: m, dtype: a.dtype)
    GEMM(transposeA: true, transposeB: false, m: m, n: n, k: a.shape[0], a: a.storage, b: b.storage, c: product, rowSums: sums)
        .run(aOffsets: [0], bOffsets: [0])
    return (Tensor(storage: product, shape: [m, n]), Tensor(storage: sums, shape: [m]))
}

/// The matrix product of the last two axes of `a` and `b`, batched over broadcast leading
/// axes; `transposeA`/`transposeB` read an operand's last two axes swapped, at no cost.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    apply(MatMul(transposeA: transposeA, transposeB: transposeB), [a, b])
}

/// `x · weightᵀ + bias` for `x` of shape [..., in], `weight` [out, in] and `bias` [out] (or
/// `nil`): a layer's affine map as one product whose stores add the bias, as PyTorch's
/// `F.linear` (`addmm`); the same values as `matmul(x, weight, transposeB: true) + bias`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    apply(MatMul(transposeA: false, transposeB: true), bias.map { [x, weight, $0] } ?? [x, weight])
}
