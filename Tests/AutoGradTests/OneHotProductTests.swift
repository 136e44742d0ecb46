import Testing
import AutoGrad

/// Products with a one-hot operand are gathers and sums by class (a character model's input
/// projection and its weight's gradient): the dense product's values, checked against the
/// test's own loops in both float types, for either operand one-hot, read transposed or not,
/// with a bias and rows of zeros (an ignored index).
@Suite struct OneHotProductTests {
    let rows = 256, classes = 64, columns = 128

    /// Row classes, one in five of them ignored (-1: a row of zeros).
    private func rowClasses(seed: UInt64) -> [Int] {
        var generator = RandomGenerator(seed: seed)
        return (0..<rows).map { row in row % 5 == 3 ? -1 : Int(generator.next() % UInt64(classes)) }
    }

    private func oneHot(_ classes: [Int], dtype: DType) -> Tensor {
        Tensor.oneHot(IndexTensor(classes.map { $0 < 0 ? self.classes : $0 }, shape: [classes.count]), classCount: self.classes,
                      dtype: dtype, ignoring: self.classes)
    }

    @Test(arguments: [DType.float64, .float32], [false, true])
    func oneHotRowsSelectRowsOfTheWeight(dtype: DType, transposed: Bool) {
        var generator = RandomGenerator(seed: 31)
        let ids = rowClasses(seed: 32), x = oneHot(ids, dtype: dtype)
        var weight = Tensor.randomNormal(transposed ? [columns, self.classes] : [self.classes, columns], dtype: dtype, using: &generator)
        let bias = Tensor.randomNormal([columns], dtype: dtype, using: &generator)
        // An infinity in a class no row selects: the dense product would make NaNs (0 · ∞) in
        // every row; the gather never reads it.
        let unused = (0..<self.classes).first { !ids.contains($0) }!
        var values = weight.scalars
        values[transposed ? unused : unused * columns] = .infinity
        weight = Tensor(values, shape: weight.shape, dtype: dtype)
        let result = transposed ? linear(x, weight: weight, bias: bias) : matmul(x, weight) + bias
        let (w, b) = (weight.scalars, bias.scalars)
        let expected = ids.flatMap { selected in
            (0..<columns).map { j -> Double in
                let value = selected < 0 ? 0 : w[transposed ? j * self.classes + selected : selected * columns + j]
                return dtype == .float32 ? Double(Float(value) + Float(b[j])) : value + b[j]
            }
        }
        #expect(result.scalars == expected)
    }

    /// The weight's gradient (Gᵀ·X with X one-hot) sums G's rows by class; the bias's, all of
    /// them: to round-off of the sums' order.
    @Test(arguments: [DType.float64, .float32])
    func gradientsSumRowsByClass(dtype: DType) {
        var generator = RandomGenerator(seed: 33)
        let ids = rowClasses(seed: 34), x = oneHot(ids, dtype: dtype)
        let weight = Tensor.randomNormal([columns, self.classes], dtype: dtype, using: &generator).requiringGrad()
        let bias = Tensor.randomNormal([columns], dtype: dtype, using: &generator).requiringGrad()
        let upstream = Tensor.randomNormal([rows, columns], dtype: dtype, using: &generator)
        (linear(x, weight: weight, bias: bias) * upstream).sum().backward()
        let g = upstream.scalars
        var expectedWeight = [Double](repeating: 0, count: columns * self.classes), expectedBias = [Double](repeating: 0, count: columns)
        for (row, selected) in ids.enumerated() {
            for j in 0..<columns {
                if selected >= 0 { expectedWeight[j * self.classes + selected] += g[row * columns + j] }
                expectedBias[j] += g[row * columns + j]
            }
        }
        let tolerance = dtype == .float32 ? 1e-4 : 1e-12
        #expect(zip(weight.grad!.scalars, expectedWeight).allSatisfy { abs($0 - $1) <= tolerance })
        #expect(zip(bias.grad!.scalars, expectedBias).allSatisfy { abs($0 - $1) <= tolerance })
    }

    /// A product whose right operand is one-hot, its left read either way: each row of C sums
    /// that row of op(A) by class. An infinity where op(B) has a row of zeros is never
    /// multiplied (densely, 0 · ∞ would make NaNs).
    @Test(arguments: [false, true])
    func oneHotRightOperandsSumByClass(transposeA: Bool) {
        var generator = RandomGenerator(seed: 35)
        let ids = rowClasses(seed: 36), x = oneHot(ids, dtype: .float64)  // [rows, classes]: op(B), k = rows
        var values = Tensor.randomNormal([columns * rows], dtype: .float64, using: &generator).scalars
        let ignored = ids.firstIndex(of: -1)!
        values[transposeA ? ignored * columns + 5 : 5 * rows + ignored] = .infinity
        let a = Tensor(values, shape: transposeA ? [rows, columns] : [columns, rows], dtype: .float64)
        let result = matmul(a, x, transposeA: transposeA)
        var expected = [Double](repeating: 0, count: columns * self.classes)
        for i in 0..<columns {
            for (inner, selected) in ids.enumerated() where selected >= 0 {
                expected[i * self.classes + selected] += values[transposeA ? inner * columns + i : i * rows + inner]
            }
        }
        #expect(result.shape == [columns, self.classes])
        #expect(zip(result.scalars, expected).allSatisfy { abs($0 - $1) <= 1e-13 })
    }

    /// A 0/1 matrix with two ones in a row is no one-hot: the dense product, values intact.
    @Test func matricesOfZerosAndOnesThatAreNotOneHotMultiplyDensely() {
        var generator = RandomGenerator(seed: 37)
        var ids = rowClasses(seed: 38).map { max($0, 0) }
        ids[rows - 1] = 0
        var values = oneHot(ids, dtype: .float64).scalars
        values[(rows - 1) * self.classes + 1] = 1  // the last row selects classes 0 and 1
        let x = Tensor(values, shape: [rows, self.classes], dtype: .float64)
        let weight = Tensor.randomNormal([self.classes, columns], dtype: .float64, using: &generator)
        let w = weight.scalars, result = matmul(x, weight).scalars
        for j in 0..<columns {
            #expect(abs(result[(rows - 1) * columns + j] - (w[j] + w[columns + j])) <= 1e-13)
            #expect(result[j] == w[ids[0] * columns + j])
        }
    }
}
