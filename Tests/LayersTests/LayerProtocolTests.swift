import Foundation
import Testing
import Layers

/// A user's layer: a Module subclass that adopts UnaryLayer composes like the built-in ones.
private final class Doubled: Module, UnaryLayer {
    let inner = Linear(3, 3)
    func forward(_ x: Tensor) -> Tensor { inner(x) * 2 }
}

/// Tensor-to-tensor layers share ``UnaryLayer``; recurrent networks are ``SequenceLayer``s
/// whatever their cell; misuse of either does not compile (issue 13).
@Suite struct LayerProtocolTests {
    @Test func userLayerComposesInSequential() {
        let doubled = Doubled()
        let model = Sequential([doubled, Tanh()])
        var generator = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 3], using: &generator)
        #expect(model(x).scalars == (doubled.inner(x) * 2).tanh().scalars)
        #expect(model.namedParameters().map(\.name) == ["0.inner.weight", "0.inner.bias"])
    }

    /// `any SequenceLayer` runs an LSTM or a GRU chosen at run time, exactly as called directly.
    @Test func sequenceLayerHoldsAnyRecurrentNetwork() {
        var generator = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 4, 3], using: &generator)
        let lstm = LSTM(inputSize: 3, hiddenSize: 2, batchFirst: true), gru = GRU(inputSize: 3, hiddenSize: 2, batchFirst: true)
        let layers: [any SequenceLayer] = [lstm, gru]
        let viaProtocol = layers.map { $0(x, initialState: nil, lengths: [4, 2]) }
        #expect(viaProtocol[0].output.scalars == lstm(x, lengths: [4, 2]).output.scalars)
        #expect(viaProtocol[1].state[0].scalars == gru(x, lengths: [4, 2]).state[0].scalars)
        #expect(viaProtocol[0].state.count == 2 && viaProtocol[1].state.count == 1)
    }

    /// Type-checks snippets against the built `Layers` module with the toolchain's `swiftc`:
    /// a positive control must compile, each misuse must not, with the protocol in the error.
    @Test func misuseDoesNotCompile() throws {
        let control = "let m = Sequential([Linear(2, 2), Tanh(), LSTM(inputSize: 2, hiddenSize: 2)]); _ = m(Tensor(zeros: [1, 1, 2]))"
        #expect(try typeCheck(control).isEmpty)
        let misuses = [
            ("_ = Sequential([Embedding(4, 2), Linear(2, 2)])", "UnaryLayer"),
            ("_ = Sequential([LSTMCell(inputSize: 2, hiddenSize: 2)])", "UnaryLayer"),
            ("_ = LSTMCell(inputSize: 2, hiddenSize: 2)(Tensor(zeros: [1, 2]))", "non-function type"),
            ("_ = Module()(Tensor(zeros: [1, 2]))", "non-function type"),
            ("_ = Embedding(4, 2)(Tensor(zeros: [1, 2]))", "IndexTensor"),
        ]
        for (source, expected) in misuses {
            let errors = try typeCheck(source)
            #expect(errors.contains(expected), "\(source): \(errors.isEmpty ? "compiled" : errors)")
        }
    }

    /// The compiler's errors for `source` (empty when it type-checks).
    private func typeCheck(_ source: String) throws -> String {
        // The test binary sits in the build directory, next to Modules/ and CKernels.build/.
        let build = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("misuse-\(UUID().uuidString).swift")
        try Data(("import Layers\n" + source + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swiftc", "-typecheck", "-I", build.appendingPathComponent("Modules").path,
                             "-Xcc", "-fmodule-map-file=" + build.appendingPathComponent("CKernels.build/module.modulemap").path, file.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? "" : (text.isEmpty ? "exit \(process.terminationStatus)" : text)
    }
}
