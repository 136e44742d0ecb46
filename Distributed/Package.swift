// swift-tools-version: 6.0
import PackageDescription

// Data-parallel training over MPI (issue 14), kept out of the root package so that it stays
// dependency-free: this package depends on it by path and on the system's Open MPI
// (`apt-get install libopenmpi-dev openmpi-bin`; found through pkg-config `ompi-c`).
let package = Package(
    name: "Distributed",
    products: [
        .library(name: "DataParallel", targets: ["DataParallel"]),
        .executable(name: "charlm-mpi", targets: ["charlm-mpi"]),
        .executable(name: "dpbench", targets: ["dpbench"]),
    ],
    dependencies: [.package(name: "AutoGrad", path: "..")],
    targets: [
        // The MPI C API, with inline functions for the handles Open MPI defines as macros.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "DataParallel", dependencies: ["CMPI", .product(name: "AutoGrad", package: "AutoGrad")]),
        // The main job under mpirun: the char-LM trainer with its gradients averaged over MPI.
        .executableTarget(name: "charlm-mpi", dependencies: ["DataParallel", .product(name: "CharLM", package: "AutoGrad"),
                                                              .product(name: "AutoGrad", package: "AutoGrad")]),
        // 2 ranks × 1 thread against 1 rank × 2 threads (not a test: run by hand).
        .executableTarget(name: "dpbench", dependencies: ["DataParallel", .product(name: "Layers", package: "AutoGrad"),
                                                           .product(name: "Optim", package: "AutoGrad")]),
        // Trains a float64 LSTM for the equivalence test (run under mpirun by the tests).
        .executableTarget(name: "dpcheck", dependencies: ["DataParallel", .product(name: "Layers", package: "AutoGrad"),
                                                           .product(name: "Optim", package: "AutoGrad")]),
        .testTarget(name: "DataParallelTests", dependencies: ["DataParallel", "dpcheck", "charlm-mpi"]),
    ]
)
