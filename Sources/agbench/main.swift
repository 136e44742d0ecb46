import AutoGrad
import Foundation
import Layers
import Optim

// Release-mode benchmarks: autodiff overhead per op, GEMM throughput against NumPy/PyTorch
// measured in the same run, and the cost of subnormal floats with and without flush-to-zero.
// Usage: swift run -c release agbench [overhead] [compiled] [matmul] [training] [peak] [denormal] [memory] [regularisation]
// (`training` takes optional case filters after it, e.g. `agbench training B C`, and
// `--rounds N`, the rounds each case is measured in, 3 by default. Run only when named:
// `steps CFG FAMILY [THREADS [N]]`, our training step alone for development, N more steps
// untimed for a profiler.)

let sections = Set(CommandLine.arguments.dropFirst())
func wants(_ section: String) -> Bool { sections.isEmpty || sections.contains(section) }

/// The 1000-op chain also timed in reference.py: 250 × (mul, add, tanh, sub).
func chain(_ start: Tensor, _ c: Tensor) -> Tensor {
    var x = start
    for _ in 0..<250 { x = (x * c + c).tanh() - c }
    return x
}

if wants("overhead") {
    ComputeThreads.maximum = 1
    let c = Tensor(repeating: 0.5, shape: [16])
    let recorded = medianSeconds(repeats: 50) {
        let x = Tensor(repeating: 0.1, shape: [16]).requiringGrad()
        chain(x, c).sum().backward()
    }
    let forwardOnly = medianSeconds(repeats: 50) {
        _ = noGrad { chain(Tensor(repeating: 0.1, shape: [16]), c) }
    }
    let torch = referenceFigures(threads: 1)?["torch"]
    print("Autodiff overhead, 1000-op elementwise chain on 16 elements, 1 thread (µs per op)")
    let widths = [34, 10, 10, 14]
    print(row(["", "AutoGrad", "PyTorch", "PyTorch/ours"], widths: widths))
    for (label, ours, key) in [("forward, no grad", forwardOnly, "forward_us"), ("forward recording + backward", recorded, "overhead_us")] {
        let reference = torch?[key]
        print(row([label, format(ours * 1e6 / 1000, 3), reference.map { format($0, 3) } ?? "n/a",
                   reference.map { format($0 / (ours * 1e6 / 1000)) + "×" } ?? "n/a"], widths: widths))
    }
    print()
}

if wants("compiled") { try compiledSection(chain: chain) }

if wants("matmul") {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    print("float32 GEMM, GFLOP/s (square n×n; reference = the faster of NumPy/OpenBLAS and PyTorch)")
    let widths = [8, 5, 10, 10, 10, 8]
    print(row(["threads", "n", "AutoGrad", "NumPy", "PyTorch", "ratio"], widths: widths))
    for threads in Array(Set([1, cores])).sorted() {
        let reference = referenceFigures(threads: threads)
        ComputeThreads.maximum = threads
        for n in [256, 512, 1024] {
            var generator = RandomGenerator(seed: UInt64(n))
            let a = Tensor.randomUniform([n, n], using: &generator), b = Tensor.randomUniform([n, n], using: &generator)
            let seconds = medianSeconds(repeats: n < 1024 ? 30 : 10) { _ = matmul(a, b) }
            let ours = 2 * pow(Double(n), 3) / seconds / 1e9
            let numpy = reference?["numpy"]?[String(n)], torch = reference?["torch"]?[String(n)]
            let best = [numpy, torch].compactMap { $0 }.max()
            print(row([String(threads), String(n), format(ours, 1), numpy.map { format($0, 1) } ?? "n/a",
                       torch.map { format($0, 1) } ?? "n/a", best.map { format(100 * ours / $0, 0) + "%" } ?? "n/a"],
                      widths: widths))
        }
    }
    ComputeThreads.maximum = cores
    print()
}

if wants("training") { try trainingSection() }
if sections.contains("steps") { try stepsSection() }
if wants("peak") { peakMemorySection() }
if CommandLine.arguments.count == 4 && CommandLine.arguments[1] == "peak-child" {
    try peakMemoryChild(CommandLine.arguments[2], CommandLine.arguments[3])
    exit(0)
}

if wants("denormal") {
    // Gradients that shrink geometrically through a long tanh chain end in the subnormal range,
    // where float math is many times slower on some x86 cores (Intel) unless flushed to zero.
    // A small seed gets a 100-step chain there (a long unrolled RNN gets there by itself).
    ComputeThreads.maximum = 1
    var smallestGradient: [Bool: Double] = [:]
    func shrinkingChain(flush: Bool) {
        let x = Tensor(repeating: 3, shape: [4096]).requiringGrad()
        var y = x
        for _ in 0..<100 { y = (y * 0.9).tanh() }
        y.backward(seed: Tensor(repeating: 1e-37, shape: [4096]))
        smallestGradient[flush] = x.grad!.scalars.map(abs).min()
    }
    var timings: [Bool: Double] = [:]
    for flush in [true, false] {
        setFlushesDenormals(flush)
        timings[flush] = medianSeconds(repeats: 5) { shrinkingChain(flush: flush) }
    }
    setFlushesDenormals(true)
    print("Subnormal floats: backward through 100 tanh steps on 4096 elements (gradients fall below 1.2e-38)")
    print("  flush-to-zero on:  \(format(timings[true]! * 1e3)) ms, input gradient \(smallestGradient[true]!)")
    print("  flush-to-zero off: \(format(timings[false]! * 1e3)) ms, input gradient \(smallestGradient[false]!) (subnormal)")
    print("  slowdown without flush-to-zero: \(format(timings[false]! / timings[true]!))×")
}

if wants("memory") { try memoryBenchmark() }

if wants("regularisation") { try regularisationSection() }
