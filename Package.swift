// swift-tools-version:6.1
import PackageDescription

// Module arrows go one way (DESIGN.md §6):
// ReelCLI → Coordinator/Worker → Planner/Denoiser/Stitcher/Wire → Models → Tensors → C shims.
let package = Package(
    name: "Reel",
    products: [
        .executable(name: "reel", targets: ["ReelCLI"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Denoiser", targets: ["Denoiser"]),
        .library(name: "Stitcher", targets: ["Stitcher"]),
        .library(name: "Wire", targets: ["Wire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        // C shims: one per system library, each a module map plus shim.h.
        .systemLibrary(
            name: "CZeroMQ",
            path: "Sources/CZeroMQ",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CFFmpeg",
            path: "Sources/CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]
        ),
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // Vectorised element-wise kernels (exp, SiLU, GELU, softmax) in C; see its header.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CKernels"]),
        .target(name: "Models", dependencies: ["Tensors"]),
        .target(name: "Denoiser", dependencies: ["Models", "Tensors"]),
        .target(name: "Wire", dependencies: ["CZeroMQ"]),
        .target(name: "Stitcher", dependencies: ["CFFmpeg", "Models", "Tensors"]),
        .target(name: "Evaluation", dependencies: ["Stitcher"]),
        .target(name: "Planner"),
        .target(
            name: "Coordinator",
            dependencies: [
                "Planner", "Wire", "Stitcher", "Models", "Tensors",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/dashboard")]
        ),
        .target(
            name: "Worker",
            dependencies: [
                "Wire", "Denoiser", "Models", "Stitcher", "Tensors",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ReelCLI",
            dependencies: [
                "Tensors", "Models", "Denoiser", "Stitcher", "Evaluation", "Wire", "Planner", "Coordinator", "Worker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Shared by the test targets (deterministic random numbers); not part of any product.
        .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Tensors", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DenoiserTests", dependencies: ["Denoiser", "Models", "Tensors"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "TestSupport"]),
        .testTarget(name: "StitcherTests", dependencies: ["Stitcher", "Models", "Tensors"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Stitcher", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "PlannerTests", dependencies: ["Planner", "TestSupport"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Worker", "Planner", "Wire", "Models", "Tensors", "Denoiser", "Stitcher", "TestSupport"]),
        .testTarget(name: "ReelCLITests", dependencies: ["Coordinator"]),
    ],
    swiftLanguageModes: [.v6]
)
