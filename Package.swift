// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "AutoGrad",
    products: [
        .library(name: "AutoGrad", targets: ["AutoGrad"]),
        .library(name: "Layers", targets: ["Layers"]),
        .library(name: "Optim", targets: ["Optim"]),
        // The char-LM trainer as a library, so Distributed/ runs it under MPI.
        .library(name: "CharLM", targets: ["CharLM"]),
        .executable(name: "charlm", targets: ["charlm"]),
        .executable(name: "agbench", targets: ["agbench"]),
        .executable(name: "seq2seq", targets: ["seq2seq"]),
        .executable(name: "ctcdigits", targets: ["ctcdigits"]),
        .executable(name: "slots", targets: ["slots"]),
        .executable(name: "sentiment", targets: ["sentiment"]),
    ],
    targets: [
        // Hot kernels (GEMM) with runtime ISA dispatch, and per-thread state (grad mode, FTZ).
        .target(name: "CKernels"),
        .target(name: "AutoGrad", dependencies: ["CKernels"]),
        .target(name: "Layers", dependencies: ["AutoGrad", "CKernels"]),
        .target(name: "Optim", dependencies: ["AutoGrad", "CKernels"]),
        .target(name: "CharLM", dependencies: ["Layers", "Optim"]),
        .executableTarget(name: "charlm", dependencies: ["CharLM"]),
        .executableTarget(name: "agbench", dependencies: ["AutoGrad", "Layers", "Optim"]),
        // Runnable examples of the classic recurrent applications (issue 11).
        .target(name: "ExampleSupport"),
        .executableTarget(name: "seq2seq", dependencies: ["Layers", "Optim", "ExampleSupport"]),
        .executableTarget(name: "ctcdigits", dependencies: ["Layers", "Optim", "ExampleSupport"]),
        .executableTarget(name: "slots", dependencies: ["Layers", "Optim", "ExampleSupport"]),
        .executableTarget(name: "sentiment", dependencies: ["Layers", "Optim", "ExampleSupport"]),
        .testTarget(name: "AutoGradTests", dependencies: ["AutoGrad"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "OptimTests", dependencies: ["Optim", "Layers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "LearningTests", dependencies: ["Layers", "Optim"]),
        .testTarget(name: "CharLMTests", dependencies: ["CharLM", "charlm"]),
        .testTarget(name: "Seq2SeqTests", dependencies: ["seq2seq"]),
        .testTarget(name: "CTCDigitsTests", dependencies: ["ctcdigits"]),
        .testTarget(name: "SlotsTests", dependencies: ["slots"]),
        .testTarget(name: "SentimentTests", dependencies: ["sentiment"]),
    ]
)
