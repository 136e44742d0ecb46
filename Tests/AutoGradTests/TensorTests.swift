import Foundation
import Testing
import AutoGrad

@Suite struct TensorTests {
    @Test func creation() {
        let zeros = Tensor(zeros: [2, 3])
        #expect(zeros.shape == [2, 3] && zeros.dtype == .float32 && zeros.rank == 2 && zeros.count == 6)
        #expect(zeros.scalars == Array(repeating: 0, count: 6))
        #expect(Tensor(ones: [3], dtype: .float64).scalars == [1, 1, 1])
        #expect(Tensor(repeating: 2.5, shape: [2, 2], dtype: .float64).scalars == [2.5, 2.5, 2.5, 2.5])
        let scalar = Tensor(4)
        #expect(scalar.shape == [] && scalar.count == 1 && scalar.item() == 4)
        #expect(Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]).shape == [3, 2])
        #expect(Tensor([1, 2]).shape == [2])
        let matrix = Tensor([[1, 2, 3], [4, 5, 6]], dtype: .float64)
        #expect(matrix.shape == [2, 3] && matrix.scalars == [1, 2, 3, 4, 5, 6] && matrix.dtype == .float64)
        let cube = Tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]])
        #expect(cube.shape == [3, 2, 2] && cube[2, 0, 1] == 10)
        let floats = Tensor(shape: [2, 2], scalars: [Float(1), 2, 3, 4])
        #expect(floats.dtype == .float32 && floats[1, 0] == 3)
        #expect(Tensor(shape: [3], scalars: [0.1, 0.2, 0.3]).dtype == .float64)
        #expect(Tensor(shape: [0], scalars: [Float]()).count == 0)
        #expect(matrix.zerosLike().scalars == Array(repeating: 0, count: 6) && matrix.onesLike().dtype == .float64)
    }

    /// A tensor written element by element by its initializer, in the initializer's type.
    @Test func uninitializedCreationWritesEveryElement() {
        let floats = Tensor(unsafeUninitializedShape: [2, 3], as: Float.self) { buffer in
            for i in buffer.indices { buffer[i] = Float(i) * 0.5 }
        }
        #expect(floats.shape == [2, 3] && floats.dtype == .float32 && floats.scalars == [0, 0.5, 1, 1.5, 2, 2.5])
        let doubles = Tensor(unsafeUninitializedShape: [4], as: Double.self) { buffer in
            #expect(buffer.count == 4)
            buffer.initialize(repeating: -1)
        }
        #expect(doubles.dtype == .float64 && doubles.scalars == [-1, -1, -1, -1])
    }

    @Test func arange() {
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(2, 9, step: 3).scalars == [2, 5, 8])
        #expect(Tensor.arange(1, 0, step: -0.25, dtype: .float64).scalars == [1, 0.75, 0.5, 0.25])
        #expect(Tensor.arange(0, 1, step: 0.1).count == 10)  // as torch.arange: ⌈(end − start) / step⌉
        #expect(Tensor.arange(3, 3).count == 0)
    }

    @Test func copiesHaveValueSemantics() {
        let original = Tensor([[1, 2], [3, 4]])
        var copy = original
        copy[0, 1] = 20
        #expect(original.scalars == [1, 2, 3, 4] && copy.scalars == [1, 20, 3, 4])
        var raw = original
        raw.withUnsafeMutableBufferPointer(as: Float.self) { $0[3] = 40 }
        #expect(original.scalars == [1, 2, 3, 4] && raw.scalars == [1, 2, 3, 40])
        var assigned = original
        assigned.assign(Tensor([[5, 6], [7, 8]], dtype: .float64))  // converted to the own dtype
        #expect(assigned.dtype == .float32 && assigned.scalars == [5, 6, 7, 8] && original.scalars == [1, 2, 3, 4])
        // A reshaped view shares values until written.
        var reshaped = original.reshaped(to: [4])
        reshaped[0] = -1
        #expect(original[0, 0] == 1)
    }

    @Test func assignKeepsTheGraphNode() {
        var weight = Tensor([1, 2], dtype: .float64).requiringGrad(name: "w")
        let node = weight.graphNode
        (weight * weight).sum().backward()
        weight.assign(Tensor([3, 4], dtype: .float64))
        #expect(weight.graphNode === node && weight.grad?.scalars == [2, 4])
        weight.zeroGrad()
        (weight * weight).sum().backward()
        #expect(weight.grad?.scalars == [6, 8])
    }

    @Test func elementAccessAndConversions() {
        var x = Tensor([[1.5, -2], [3, 4.25]], dtype: .float64)
        #expect(x[1, 1] == 4.25 && x[0, 1] == -2)
        x[1, 0] = 7
        #expect(x.scalars == [1.5, -2, 7, 4.25])
        #expect([Float](x) == [1.5, -2, 7, 4.25])
        #expect([Double](x) == [1.5, -2, 7, 4.25])
        let single = Tensor([0.1, 1e-3])
        #expect([Float](single) == [Float(0.1), Float(1e-3)])
        #expect([Double](single) == [Double(Float(0.1)), Double(Float(1e-3))])
        #expect(x.withUnsafeBufferPointer(as: Double.self) { Array($0) } == x.scalars)
        #expect(Tensor([[2]]).item() == 2)
    }

    @Test func leavesAndGraphMembership() {
        let plain = Tensor([1, 2])
        #expect(!plain.requiresGrad && plain.isLeaf && plain.grad == nil)  // a leaf, as in PyTorch
        let leaf = plain.requiringGrad(name: "p")
        #expect(leaf.requiresGrad && leaf.isLeaf && leaf.graphNode?.name == "p")
        let product = leaf * 2
        #expect(product.requiresGrad && !product.isLeaf && product.grad == nil)
        #expect(!leaf.requiringGrad(false).requiresGrad)
        #expect(!(plain * 2).requiresGrad)
    }

    /// PyTorch's layout: nested brackets, rows aligned under `tensor(`, one number style.
    @Test func printing() {
        #expect(Tensor([[1, 2], [3, 4]]).description == "tensor([[1., 2.],\n        [3., 4.]], f32)")
        #expect(Tensor([0.5, -1.25], dtype: .float64).description == "tensor([ 0.5000, -1.2500], f64)")
        #expect(Tensor(3).description == "tensor(3., f32)")
        let leaf = Tensor([1e-6, 2]).requiringGrad()
        #expect(leaf.description.contains("1.0000e-06") && leaf.description.hasSuffix(", f32, requiresGrad)"))
        let cube = Tensor.arange(0, 8).reshaped(to: [2, 2, 2]).description
        #expect(cube.contains("[[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.]"))
        let large = Tensor.arange(0, 2000).description
        #expect(large.contains("   0.,    1.,    2., ..., 1997., 1998., 1999.]"))  // padded to one width
        #expect(Tensor([.nan, .infinity]).description.contains("nan") && Tensor([.infinity]).description.contains("inf"))
    }

    @Test func seededRandomIsReproducible() {
        var first = RandomGenerator(seed: 42), second = RandomGenerator(seed: 42), other = RandomGenerator(seed: 43)
        let a = Tensor.randomNormal([20], using: &first), b = Tensor.randomNormal([20], using: &second)
        #expect(a.scalars == b.scalars)
        #expect(Tensor.randomNormal([20], using: &other).scalars != a.scalars)
        #expect(Tensor.randomUniform([5], using: &first).scalars == Tensor.randomUniform([5], using: &second).scalars)
    }

    @Test func randomDistributionsHaveTheRightMoments() {
        var generator = RandomGenerator(seed: 7)
        let normal = Tensor.randomNormal([20_000], mean: 2, standardDeviation: 3, dtype: .float64, using: &generator).scalars
        let mean = normal.reduce(0, +) / Double(normal.count)
        let std = (normal.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(normal.count)).squareRoot()
        // Standard errors: 3/√20000 ≈ 0.02 for the mean, ≈ 0.015 for the deviation.
        #expect(abs(mean - 2) < 0.1 && abs(std - 3) < 0.1)
        let uniform = Tensor.randomUniform([20_000], low: -1, high: 3, using: &generator).scalars
        #expect(uniform.allSatisfy { $0 >= -1 && $0 < 3 })
        #expect(abs(uniform.reduce(0, +) / Double(uniform.count) - 1) < 0.05)
    }

    /// The calling thread's generator (in a child process, as it was when it was process-wide).
    @Test func globalSeedMakesDrawsReproducible() async {
        await #expect(processExitsWith: .success) {
            RandomGenerator.seedThread(5)
            let first = Tensor.randomNormal([8]).scalars + Tensor.randomUniform([3]).scalars
            RandomGenerator.seedThread(5)
            let second = Tensor.randomNormal([8]).scalars + Tensor.randomUniform([3]).scalars
            var local = RandomGenerator(seed: 5)
            let expected = Tensor.randomNormal([8], using: &local).scalars + Tensor.randomUniform([3], using: &local).scalars
            exit(first == second && first == expected ? EXIT_SUCCESS : EXIT_FAILURE)
        }
    }
}
