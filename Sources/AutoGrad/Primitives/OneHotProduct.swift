// Products with a one-hot operand: a character model's input projection (one-hot rows times a
// weight) and that weight's gradient (a gradient's columns summed by class). A one-hot row
// selects one row of the other operand, so the product is a gather, and the gradient a sum
// of rows by class: no multiplications by zero (in a 161-character model, a ninth of its
// training step's FLOPs).

extension GEMM {
    /// A product whose op(A) or op(B) is one-hot, done as a gather or a sum of rows by class,
    /// or `nil` when neither operand is (read as stored: op(A) untransposed, op(B)
    /// untransposed). One-hot: each row holds at most one nonzero element, and it is exactly
    /// 1 (a row of zeros, a loss's ignored index, selects nothing). The values are the dense
    /// product's, but for its rounding of sums (the products by zero are not added) and
    /// non-finite elements of the other operand in rows the one-hot operand does not select
    /// (0 · ∞ is not formed).
    func oneHotProduct(aOffset: Int, bOffset: Int) -> (() -> Void)? {
        // Only where the dense product's multiply-adds outnumber the elements the gather or
        // the sum touches (a transposed operand is rearranged first) many times over: a
        // batch-1 character model's few rows multiply faster densely.
        func pays(touching elements: Int) -> Bool { m * n * k >= 32 * elements }
        if !transposeA, pays(touching: m * n + (transposeB ? k * n : 0)),
           let classes = Self.oneHotClasses(a, offset: aOffset, rows: m, columns: k) {
            return { selectRows(classes, bOffset: bOffset) }
        }
        if !transposeB, pays(touching: m * k + (transposeA ? n * m : 0)),
           let classes = Self.oneHotClasses(b, offset: bOffset, rows: k, columns: n) {
            return { sumByClass(classes, aOffset: aOffset) }
        }
        return nil
    }

    /// The class of each row of the `rows` × `columns` matrix at `offset` in `storage` (-1
    /// for a row of zeros), or `nil` when it is not one-hot; a dense matrix is rejected at
    /// its first element that is neither 0 nor 1.
    private static func oneHotClasses(_ storage: TensorStorage, offset: Int, rows: Int, columns: Int) -> [Int]? {
        func classes<T: FloatElement>(_ values: UnsafePointer<T>) -> [Int]? {
            var classes = [Int](repeating: -1, count: rows)
            for row in 0..<rows {
                let start = values + row * columns
                for column in 0..<columns where start[column] != 0 {
                    guard start[column] == 1, classes[row] < 0 else { return nil }
                    classes[row] = column
                }
            }
            return classes
        }
        switch storage.dtype {
        case .float32: return classes(UnsafePointer(storage.pointer(Float.self) + offset))
        case .float64: return classes(UnsafePointer(storage.pointer(Double.self) + offset))
        }
    }

    /// C = op(A)·op(B) (+ bias) for one-hot op(A): row i of C is row `classes[i]` of op(B)
    /// (zeros for -1); op(A)'s row sums are 1 or 0.
    private func selectRows(_ classes: [Int], bOffset: Int) {
        func select<T: FloatElement>(_: T.Type) {
            let c = self.c.pointer(T.self), bias = self.bias.map { UnsafePointer($0.pointer(T.self)) }
            // op(B)'s rows: B's, or, when B ([n, k]) is read transposed, its columns copied
            // into rows once (then each selected row is one contiguous copy).
            var b = UnsafePointer(self.b.pointer(T.self) + bOffset)
            var columns: UnsafeMutablePointer<T>?
            if transposeB {
                let rows = UnsafeMutablePointer<T>.allocate(capacity: k * n)
                for j in 0..<n { for inner in 0..<k { rows[inner * n + j] = b[j * k + inner] } }
                (b, columns) = (UnsafePointer(rows), rows)
            }
            defer { columns?.deallocate() }
            for (row, selected) in classes.enumerated() {
                let target = c + row * n
                if selected < 0 { target.initialize(repeating: 0, count: n) } else { target.update(from: b + selected * n, count: n) }
                if let bias { for j in 0..<n { target[j] += bias[j] } }
            }
            if let sums = rowSums?.pointer(T.self) {
                for (row, selected) in classes.enumerated() { sums[row] = selected < 0 ? 0 : 1 }
            }
        }
        switch c.dtype {
        case .float32: select(Float.self)
        case .float64: select(Double.self)
        }
    }

    /// C = op(A)·op(B) (+ bias) for one-hot op(B) ([k, n]): column j of C sums the columns
    /// `inner` of op(A) with `classes[inner] == j`, in order of `inner`; op(A)'s row sums in
    /// the same order.
    private func sumByClass(_ classes: [Int], aOffset: Int) {
        func sum<T: FloatElement>(_: T.Type) {
            let a = UnsafePointer(self.a.pointer(T.self) + aOffset), c = self.c.pointer(T.self)
            let sums = rowSums?.pointer(T.self), bias = self.bias.map { UnsafePointer($0.pointer(T.self)) }
            sums?.initialize(repeating: 0, count: m)
            if transposeA {
                // A is [k, m]: column `inner` of op(A) is row `inner` of A, added whole into
                // row `classes[inner]` of Cᵀ, which is then stored transposed (a weight's
                // gradient Gᵀ·X, summed by rows of G).
                let transposed = UnsafeMutablePointer<T>.allocate(capacity: n * m)
                defer { transposed.deallocate() }
                transposed.initialize(repeating: 0, count: n * m)
                for (inner, selected) in classes.enumerated() {
                    let source = a + inner * m
                    if selected >= 0 {
                        let target = transposed + selected * m
                        for i in 0..<m { target[i] += source[i] }
                    }
                    if let sums { for i in 0..<m { sums[i] += source[i] } }
                }
                for i in 0..<m {
                    for j in 0..<n { c[i * n + j] = transposed[j * m + i] + (bias?[j] ?? 0) }
                }
            } else {
                // A is [m, k]: row i of C sums row i of A by class.
                for i in 0..<m {
                    let source = a + i * k, target = c + i * n
                    target.initialize(repeating: 0, count: n)
                    for (inner, selected) in classes.enumerated() {
                        if selected >= 0 { target[selected] += source[inner] }
                        sums?[i] += source[inner]
                    }
                    if let bias { for j in 0..<n { target[j] += bias[j] } }
                }
            }
        }
        switch c.dtype {
        case .float32: sum(Float.self)
        case .float64: sum(Double.self)
        }
    }
}
