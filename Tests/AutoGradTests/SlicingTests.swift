import Testing
import AutoGrad

@Suite struct SlicingTests {
    static let gradientCases: [GradientCase] = [
        GradientCase("slice", [[4, 3]]) { $0[0].slice(1..<3, along: 0) },
        GradientCase("slice with step", [[3, 7]]) { $0[0].slice(1..<6, along: 1, step: 2) },
        GradientCase("slice with step, negative axis", [[2, 5, 2]]) { $0[0].slice(0..<5, along: -2, step: 3) },
        GradientCase("select", [[3, 4]]) { $0[0].select(1, along: 0) },
        GradientCase("select from the end", [[2, 3, 2]]) { $0[0].select(-1, along: 1) },
        GradientCase("split", [[2, 5]]) { x in
            let parts = x[0].split(sizes: [2, 0, 3], along: 1)
            return parts[0].sum(along: [1]) * parts[2].max(along: [1]) + parts[1].sum(along: [1])
        },
        GradientCase("chunk", [[4, 3]]) { x in
            let parts = x[0].chunked(into: 2, along: 0)
            return parts[0] * parts[1].exp()
        },
        GradientCase("concat axis 1", [[2, 1, 3], [2, 2, 3], [2, 1, 3]]) { concat($0, along: 1) },
        GradientCase("concat with a constant", [[2, 3]]) { x in
            concat([x[0], Tensor(ones: [1, 3], dtype: .float64), x[0].tanh()], along: 0)
        },
        GradientCase("stack axis 0", [[2, 3], [2, 3]]) { stack($0, along: 0) },
        GradientCase("stack axis -1", [[2, 3], [2, 3], [2, 3]]) { stack($0, along: -1) },
        GradientCase("where", [[2, 3], [2, 3]]) { x in
            Tensor.where(Mask([true, false, true, false, false, true], shape: [2, 3]), x[0], x[1])
        },
        GradientCase("where with broadcasting", [[2, 3], []]) { x in
            Tensor.where(Mask([true, false, true]), x[0] * x[0], x[1])
        },
        GradientCase("where with a comparison mask", [[3, 4]]) { x in
            Tensor.where(x[0] .> 0, x[0].exp(), x[0] * 0.5)
        },
        GradientCase("where with a non-zero condition", [[2, 3], [3]]) { x in
            let condition = Tensor([0, 2, -1, 0, 0.5, 1e-300], shape: [2, 3], dtype: x[0].dtype)
            return Tensor.where(nonzero: condition, x[0].tanh(), x[1] * x[1])
        },
    ]

    @Test(arguments: gradientCases) func gradient(_ row: GradientCase) throws {
        try row.check()
    }

    @Test(arguments: [DType.float32, .float64]) func sliceAndSelectMatchLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 21)
        let x = randomTensor([3, 7, 2], dtype: dtype, using: &generator)
        let cases: [(range: Range<Int>, axis: Int, step: Int)] = [(1..<6, 1, 2), (0..<7, 1, 3), (2..<3, 0, 1), (0..<2, 2, 1), (4..<4, 1, 1)]
        for (range, axis, step) in cases {
            let positions = Array(stride(from: range.lowerBound, to: range.upperBound, by: step))
            var shape = x.shape
            shape[axis] = positions.count
            let expected = multiIndices(shape).map { index -> Double in
                var source = index
                source[axis] = positions[index[axis]]
                return element(x, source)
            }
            expectTensor(x.slice(range, along: axis, step: step), shape: shape, expected, tolerance: 0)
        }
        let selected = x.select(-2, along: 1)
        expectTensor(selected, shape: [3, 2], multiIndices([3, 2]).map { element(x, [$0[0], 5, $0[1]]) }, tolerance: 0)
    }

    /// The gradients of overlapping slices add up where they overlap — whole rows (added by
    /// the vectorized loop in float32), a row's columns, every other row — exactly, as the
    /// weights are small integers.
    @Test(arguments: [DType.float32, .float64]) func sliceGradientsAddUp(dtype: DType) {
        let x = Tensor(zeros: [3, 40, 5], dtype: dtype).requiringGrad()
        let cases: [(range: Range<Int>, axis: Int, step: Int)] = [(0..<40, 1, 1), (3..<37, 1, 1), (1..<39, 1, 2), (1..<4, 2, 1), (0..<2, 0, 1)]
        var expected = [Double](repeating: 0, count: x.count)
        var loss = Tensor(0, dtype: dtype)
        for (k, (range, axis, step)) in cases.enumerated() {
            let part = x.slice(range, along: axis, step: step)
            let weights = (0..<part.count).map { Double(($0 * (k + 3)) % 7 - 3) }
            loss = loss + (part * Tensor(weights, shape: part.shape, dtype: dtype)).sum()
            for (position, index) in multiIndices(part.shape).enumerated() {
                var source = index
                source[axis] = range.lowerBound + index[axis] * step
                expected[flatPosition(source, in: x.shape)] += weights[position]
            }
        }
        loss.backward()
        #expect(x.grad?.scalars == expected)
    }

    /// A slice's gradient on its own is the output's gradient padded with zeros; the padding
    /// is written only where the slice does not reach (before it, after it, between its steps,
    /// in each outer row). Each case first frees a NaN-filled block of the gradient's size,
    /// which the allocator tends to hand back, so an element left unwritten would show.
    @Test(arguments: [DType.float32, .float64]) func aSliceGradientAloneIsPaddedWithZeros(dtype: DType) {
        let shape = [3, 40, 5]
        let cases: [(range: Range<Int>, axis: Int, step: Int)] = [(0..<40, 1, 1), (3..<37, 1, 1), (0..<10, 1, 1), (30..<40, 1, 1),
                                                                  (1..<39, 1, 2), (1..<4, 2, 1), (1..<3, 0, 1), (0..<3, 0, 1)]
        for (k, (range, axis, step)) in cases.enumerated() {
            _ = Tensor(repeating: .nan, shape: shape, dtype: dtype) + 0
            let x = Tensor(zeros: shape, dtype: dtype).requiringGrad()
            let part = x.slice(range, along: axis, step: step)
            let weights = (0..<part.count).map { Double(($0 * (k + 3)) % 7 - 3) }
            (part * Tensor(weights, shape: part.shape, dtype: dtype)).sum().backward()
            var expected = [Double](repeating: 0, count: x.count)
            for (position, index) in multiIndices(part.shape).enumerated() {
                var source = index
                source[axis] = range.lowerBound + index[axis] * step
                expected[flatPosition(source, in: shape)] = weights[position]
            }
            #expect(x.grad?.scalars == expected, "slice \(range) step \(step) along \(axis)")
        }
    }

    @Test func splitAndChunkCoverTheAxis() {
        let x = Tensor.arange(0, 12).reshaped(to: [2, 6])
        let parts = x.split(sizes: [1, 3, 2], along: 1)
        #expect(parts.map(\.shape) == [[2, 1], [2, 3], [2, 2]])
        #expect(parts[1].scalars == [1, 2, 3, 7, 8, 9])
        let chunks = x.chunked(into: 3, along: -1)
        #expect(chunks.map(\.scalars) == [[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]])
        #expect(concat(chunks, along: 1).scalars == x.scalars)
    }

    @Test(arguments: [DType.float32, .float64]) func concatAndStackMatchLoops(dtype: DType) {
        var generator = RandomGenerator(seed: 22)
        let parts = [[2, 1, 3], [2, 2, 3], [2, 3, 3]].map { randomTensor($0, dtype: dtype, using: &generator) }
        // Output position j along axis 1 comes from the part whose range holds j.
        let expected = multiIndices([2, 6, 3]).map { index -> Double in
            var offset = index[1], part = 0
            while offset >= parts[part].shape[1] { offset -= parts[part].shape[1]; part += 1 }
            return element(parts[part], [index[0], offset, index[2]])
        }
        expectTensor(concat(parts, along: 1), shape: [2, 6, 3], expected, tolerance: 0)

        let same = (0..<3).map { _ in randomTensor([2, 3], dtype: dtype, using: &generator) }
        for axis in 0...2 {
            var shape = [2, 3]
            shape.insert(3, at: axis)
            let expected = multiIndices(shape).map { index -> Double in
                var rest = index
                let which = rest.remove(at: axis)
                return element(same[which], rest)
            }
            expectTensor(stack(same, along: axis), shape: shape, expected, tolerance: 0)
        }
        #expect(concat([same[0]], along: 0).scalars == same[0].scalars)
    }

    @Test func whereMatchesLoops() {
        var generator = RandomGenerator(seed: 23)
        let a = randomTensor([2, 3], using: &generator), b = randomTensor([3], using: &generator)
        let mask = Mask([false, true, true])
        let expected = multiIndices([2, 3]).map { mask.values[$0[1]] ? element(a, $0) : element(b, [$0[1]]) }
        expectTensor(Tensor.where(mask, a, b), shape: [2, 3], expected, tolerance: 0)
    }

    /// Selecting whole leading rows shares the input's buffer instead of copying it, yet both
    /// stay values: writing into either (through the mutable buffer, as optimizers do) leaves
    /// the other as it was, and a slice of a slice reads the right elements.
    @Test func rowSlicesShareTheirBufferButStayValues() {
        var sequence = Tensor((0..<24).map(Double.init), shape: [4, 3, 2], dtype: .float64)
        var step = sequence.select(2, along: 0)
        let rows = sequence.slice(1..<3, along: 0).slice(1..<2, along: 0).select(0, along: 0)
        #expect(step.scalars == [12, 13, 14, 15, 16, 17])
        #expect(rows.scalars == step.scalars)
        #expect(Tensor((0..<6).map(Double.init), shape: [1, 6]).slice(2..<5, along: 1).scalars == [2, 3, 4])
        step.withUnsafeMutableBufferPointer(as: Double.self) { $0[0] = -1 }
        #expect(step.scalars[0] == -1 && sequence.scalars[12] == 12 && rows.scalars[0] == 12)
        sequence.withUnsafeMutableBufferPointer(as: Double.self) { $0[13] = -2 }
        #expect(rows.scalars == [12, 13, 14, 15, 16, 17] && sequence.scalars[13] == -2)
    }

    /// A numeric condition chooses `a` where it is non-zero (negative, tiny and NaN included),
    /// exactly as the mask of its non-zero elements does, broadcast either way.
    @Test(arguments: [DType.float32, .float64]) func nonzeroConditionsChooseLikeTheirMask(dtype: DType) {
        var generator = RandomGenerator(seed: 29)
        let a = randomTensor([2, 4], dtype: dtype, using: &generator), b = randomTensor([4], dtype: dtype, using: &generator)
        for condition in [Tensor([0, -3, 1e-30, .nan], shape: [4], dtype: dtype),
                          Tensor([1, 0, 0, 2, 0, 0, 5, 0], shape: [2, 4], dtype: dtype)] {
            let mask = Mask(condition.scalars.map { $0 != 0 }, shape: condition.shape)
            #expect(Tensor.where(nonzero: condition, a, b).scalars == Tensor.where(mask, a, b).scalars)
        }
    }

    /// Transfers large enough to be split between threads (a part per thread along the first
    /// axis, or a run of a concatenation's inputs) move every element once: a strided slice
    /// (gather), its pad (scatter), a second slice's gradient added into the first's
    /// (scatter-add) and concatenations, against indices computed here.
    @Test func largeTransfersMoveEveryElementOnce() {
        let previous = ComputeThreads.maximum
        defer { ComputeThreads.maximum = previous }
        ComputeThreads.maximum = 2
        let (rows, columns) = (301, 1000)  // rows not a multiple of the threads
        let x = Tensor((0..<(rows * columns)).map(Double.init), shape: [rows, columns], dtype: .float64).requiringGrad()
        let picked = x.slice(1..<999, along: 1, step: 3)  // 100,233 elements
        let pickedExpected = (0..<rows).flatMap { row in stride(from: 1, to: 999, by: 3).map { Double(row * columns + $0) } }
        #expect(zip(picked.scalars, pickedExpected).count { $0 != $1 } == 0 && picked.count == pickedExpected.count)
        let weights = Tensor.randomNormal(picked.shape, dtype: .float64), w = weights.scalars
        let loss = (picked * weights).sum() + x.slice(0..<columns, along: 1, step: 2).sum()
        let gradient = AutoGrad.gradients(of: loss, withRespectTo: [x])[0].scalars
        let expected = (0..<(rows * columns)).map { index -> Double in
            let (row, column) = index.quotientAndRemainder(dividingBy: columns)
            let viaPicked = column >= 1 && column < 999 && (column - 1) % 3 == 0 ? w[row * 333 + (column - 1) / 3] : 0
            return viaPicked + (column % 2 == 0 ? 1 : 0)
        }
        #expect(zip(gradient, expected).count { $0 != $1 } == 0 && gradient.count == expected.count)
        // Concatenations of many uneven pieces, along the first axis and within rows.
        let cuts = [0, 3, 40, 41, 150, 222, 300, 301]
        let rowPieces = zip(cuts, cuts.dropFirst()).map { x.slice($0..<$1, along: 0) }
        #expect(zip(concat(rowPieces, along: 0).scalars, x.scalars).count { $0 != $1 } == 0)
        let columnCuts = [0, 1, 333, 500, 999, 1000]
        let columnPieces = zip(columnCuts, columnCuts.dropFirst()).map { x.slice($0..<$1, along: 1) }
        #expect(zip(concat(columnPieces, along: 1).scalars, x.scalars).count { $0 != $1 } == 0)
    }

    /// Slice gradients are added in place into their region of the input's gradient when the
    /// backward pass is not recorded; overlapping slices, steps and ordinary uses of the same
    /// tensor must still sum correctly, recorded or not.
    @Test func overlappingSlicesAndFanOutSumCorrectly() throws {
        var generator = RandomGenerator(seed: 77)
        let x = Tensor.randomNormal([4, 5], dtype: .float64, using: &generator)
        let f: ([Tensor]) -> Tensor = { v in
            let t = v[0]
            return t.slice(0..<3, along: 0).tanh().sum() + (t.slice(1..<4, along: 0) * t.slice(0..<3, along: 0)).sum()
                + t.slice(0..<5, along: 1, step: 2).exp().sum() + t.select(2, along: 1).sum() * 3 + (t * t).sum()
        }
        try checkGradients(of: f, at: [x])
        try checkSecondOrderGradients(of: f, at: [x])
    }
}
