import Foundation
import Testing

/// Data-parallel training computes what one process computes on the whole batch: a float64
/// LSTM trained 10 steps by 2 processes with B sequences each ends with the parameters (and
/// carried state) of 1 process trained on 2B, to 1e-12 — both numbers from separate runs.
@Suite(.serialized) struct EquivalenceTests {
    @Test func twoProcessesWithBatchBEqualOneWithBatch2B() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        func train(_ processes: Int, batch: Int, steps: Int = 10, _ name: String, _ extra: [String] = []) throws -> URL {
            let run = try MPI.run(processes, "dpcheck", ["--batch", "\(batch)", "--steps", "\(steps)", "--out", name] + extra, in: folder)
            #expect(run.status == 0, "\(run.errors)")
            return folder.appendingPathComponent(name)
        }
        let one = try train(1, batch: 4, "one.safetensors")
        let two = try train(2, batch: 4, "two.safetensors")
        #expect(try largestDifference(one, two) <= 1e-12)
        // The runs really trained: 10 steps moved the parameters away from the shared start.
        let start = try train(1, batch: 4, steps: 0, "start.safetensors")
        #expect(try largestDifference(one, start, prefix: "lstm.") > 1e-3)

        // Uneven shares (2 + 3 sequences), a bucket per parameter, allreduces started only
        // after backward: still the one-process result.
        let oneOfFive = try train(1, batch: 5, "one5.safetensors")
        let twoOfFive = try train(2, batch: 5, "two5.safetensors", ["--no-overlap", "--bucket", "8"])
        #expect(try largestDifference(oneOfFive, twoOfFive) <= 1e-12)
        #expect(try largestDifference(oneOfFive, one, prefix: "head.") > 1e-6)  // another batch, other numbers
    }
}
