import AutoGrad
import Foundation
import Layers
import Optim

/// The compiled section: the 1000-op chain and an MLP training step, each traced, differentiated
/// and compiled, against the same work run eagerly (and the chain against PyTorch eager, from
/// reference.py); with the fused kernel counts and the planned peak memory.
func compiledSection(chain: (Tensor, Tensor) -> Tensor) throws {
    ComputeThreads.maximum = 1
    let c = Tensor(repeating: 0.5, shape: [16]), start = Tensor(repeating: 0.1, shape: [16])
    let traced = Program.trace([start, c]) { a in [chain(a.tensor(0), a.tensor(1)).sum()] }
    let compiled = Executable(traced.program.gradient(withRespectTo: [0]).program)
    let seed = Tensor(1.0)
    let compiledSeconds = medianSeconds(repeats: 200) { _ = compiled([start, c, seed]) }
    let eagerSeconds = medianSeconds(repeats: 50) {
        let x = start.requiringGrad()
        chain(x, c).sum().backward()
    }
    let torch = referenceFigures(threads: 1)?["torch"]?["overhead_us"]
    let ours = compiledSeconds * 1e6 / 1000, eager = eagerSeconds * 1e6 / 1000
    print("Compiled programs (trace → gradient → optimize, fuse, plan memory → run), 1 thread")
    let widths = [40, 10, 10, 10, 10]
    print(row(["1000-op chain, forward + backward", "compiled", "eager", "PyTorch", "eager/comp"], widths: widths))
    print(row(["  µs per op", format(ours, 3), format(eager, 3), torch.map { format($0, 3) } ?? "n/a", format(eager / ours) + "×"],
              widths: widths))
    print("  \(compiled.program.equations.count) equations, \(compiled.fusedKernelCount) fused kernels; \(compiled.plan)")

    // An MLP training step: 64 → 256 → 10, batch 64, cross-entropy, Adam.
    ComputeThreads.maximum = ProcessInfo.processInfo.activeProcessorCount
    let eagerModel = Sequential([Linear(64, 256), Tanh(), Linear(256, 10)])
    let tracedModel = Sequential([Linear(64, 256), Tanh(), Linear(256, 10)])
    tracedModel.labelParameters()
    var generator = RandomGenerator(seed: 4)
    let x = Tensor.randomNormal([64, 64], using: &generator)
    let labels = IndexTensor((0..<64).map { $0 % 10 })
    let step = Program.trace([x, labels], parameters: tracedModel.parameters()) { a in
        [crossEntropy(logits: tracedModel(a.tensor(0)), targets: a.indices(1))]
    }.compiledGradient()
    let eagerOptimizer = try Adam(eagerModel.namedParameters(), options: .init())
    let tracedOptimizer = try Adam(tracedModel.namedParameters(), options: .init())
    let eagerStep = medianSeconds(repeats: 100) {
        eagerOptimizer.zeroGrad()
        crossEntropy(logits: eagerModel(x), targets: labels).backward()
        eagerOptimizer.step()
    }
    let compiledStep = medianSeconds(repeats: 100) {
        tracedOptimizer.zeroGrad()
        _ = step([x, labels])
        tracedOptimizer.step()
    }
    print(row(["MLP 64-256-10 step, batch 64, Adam (ms)", format(compiledStep * 1e3, 3), format(eagerStep * 1e3, 3), "",
               format(eagerStep / compiledStep) + "×"], widths: widths))
    print("  \(step.executable.program.equations.count) equations, \(step.executable.fusedKernelCount) fused kernels; \(step.executable.plan)")
    print()
}
