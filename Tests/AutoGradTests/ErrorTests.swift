import Testing
import AutoGrad

/// Shape, axis and dtype misuse stops the program with a message naming the op and the shapes
/// (Docs/AutoGrad.docc/Errors.md). Each check runs in a child process (an exit test).
@Suite struct ErrorTests {
    @Test func addOfShapesThatDoNotBroadcast() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
        }
        expectStandardError(result, contains: ["add:", "[2,3]", "[4]", "cannot be broadcast"])
    }

    @Test func matmulWithDifferentInnerDimensions() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]))
        }
        expectStandardError(result, contains: ["matmul:", "inner dimensions", "[2,3]", "[4,5]"])
    }

    @Test func reshapeToAWrongCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).reshaped(to: [4, 2])
        }
        expectStandardError(result, contains: ["reshape:", "[2,3]", "[4,2]"])
    }

    @Test func sumAlongAnAxisOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).sum(along: [2])
        }
        expectStandardError(result, contains: ["reduce_sum:", "axis 2", "[2,3]"])
    }

    @Test func whereWithAConditionOfAnotherFloatType() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.where(nonzero: Tensor(zeros: [3], dtype: .float64), Tensor(zeros: [3]), Tensor(ones: [3]))
        }
        expectStandardError(result, contains: ["where:", "condition must be bool or f32", "f64"])
    }

    @Test func mixedDTypes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [3], dtype: .float32) * Tensor(zeros: [3], dtype: .float64)
        }
        expectStandardError(result, contains: ["mul:", "dtypes differ", "f32[3]", "f64[3]"])
    }

    @Test func gatherIndexOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [4, 3]).gathering(IndexTensor([1, 4]))
        }
        expectStandardError(result, contains: ["gather:", "index 4", "[4,3]"])
    }

    @Test func backwardOnANonScalarWithoutSeed() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            (Tensor(ones: [2, 3]).requiringGrad() * 2).backward()
        }
        expectStandardError(result, contains: ["backward:", "[2,3]", "not a scalar", "seed"])
    }
}
