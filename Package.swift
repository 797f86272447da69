// swift-tools-version:6.1
import PackageDescription

// Module arrows go one way (DESIGN.md §6):
// ReelCLI → Denoiser/Stitcher/Wire → Models → Tensors → C shims.
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

        .target(name: "Tensors", dependencies: ["COpenBLAS"]),
        .target(name: "Models", dependencies: ["Tensors"]),
        .target(name: "Denoiser", dependencies: ["Models", "Tensors"]),
        .target(name: "Wire", dependencies: ["CZeroMQ"]),
        .target(name: "Stitcher", dependencies: ["CFFmpeg", "Models", "Tensors"]),
        .target(name: "Evaluation", dependencies: ["Stitcher"]),
        .executableTarget(
            name: "ReelCLI",
            dependencies: [
                "Tensors", "Models", "Denoiser", "Stitcher", "Evaluation", "Wire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "TensorsTests", dependencies: ["Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DenoiserTests", dependencies: ["Denoiser", "Models", "Tensors"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "StitcherTests", dependencies: ["Stitcher", "Models", "Tensors"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Stitcher", "Tensors"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ReelCLITests", dependencies: []),
    ],
    swiftLanguageModes: [.v6]
)
