import ArgumentParser
import Foundation
import Models
import Tensors

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Reel against this machine's limits (results belong in BENCHMARKS.md).",
        discussion: "Build with -c release for meaningful numbers: swift run -c release reel bench kernels",
        subcommands: [KernelsBench.self, ModelBench.self, StitcherBench.self, SeamBench.self, FarmBench.self]
    )
}

struct KernelsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "sgemm GFLOP/s at the models' shapes and at 1024³ (the peak), and text-encoder sentences/s.",
        discussion: """
            Every figure is measured with 1 thread and with all cores, in this one process. Each is the \
            median of --rounds timed rounds after a warm-up; a round repeats the work for at least \
            --min-seconds. GFLOP/s counts 2·m·n·k per GEMM.
            """
    )

    @Option(help: "Timed rounds per figure; the median is reported.")
    var rounds = 5

    @Option(help: "Minimum seconds per round.")
    var minSeconds = 0.25

    @Option(help: "Thread counts to measure, comma-separated (default: 1 and all cores).")
    var threads: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Skip the text-encoder figures (they need the MiniLM weights).")
    var skipEncoder = false

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard minSeconds > 0 else { throw ValidationError("--min-seconds must be positive") }
        if let threads, threadCounts(threads) == nil { throw ValidationError("--threads takes positive integers like 1,2") }
    }

    func threadCounts(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let counts = threads.flatMap(threadCounts) ?? Array(Set([1, cores])).sorted()
        let clock = Stopwatch(rounds: rounds, minSeconds: minSeconds)
        var results: [[String: Any]] = []
        func report(_ row: [String: Any], _ line: String) {
            results.append(row)
            if !json { print(line) }
        }
        if !json {
            print("machine: \(Machine.cpuModel), \(cores) cores; OpenBLAS \(BLAS.configuration)")
            print(column("sgemm shape (m×k · k×n)") + " threads    GFLOP/s  % of peak")
        }
        for count in counts {
            BLAS.threadCount = count
            var peak = 0.0
            for shape in GEMMShape.benchmarked {
                var rng = BenchRandom(seed: 1)
                let a = rng.tensor([shape.m, shape.k]), b = rng.tensor([shape.k, shape.n])
                let seconds = clock.measure { _ = Tensor.matmul(a, b) }
                let gflops = 2 * Double(shape.m * shape.n * shape.k) / seconds / 1e9
                if shape.isPeak { peak = gflops }
                let share = peak > 0 ? String(format: "%8.0f%%", 100 * gflops / peak) : "     peak"
                report(["kind": "sgemm", "shape": shape.name, "m": shape.m, "k": shape.k, "n": shape.n, "threads": count,
                        "gflops": gflops, "seconds": seconds],
                       column(shape.name) + String(format: " %7d %10.1f ", count, gflops) + share)
            }
        }
        if !skipEncoder {
            let encoder: MiniLMEncoder
            do { encoder = try MiniLMEncoder() } catch let error as TextEncoderError { throw UserError(error.description) }
            let captions = BenchCaptions.all
            if !json { print(column("text encoder (MiniLM-L6)") + " threads     sent/s") }
            for count in counts {
                BLAS.threadCount = count
                let single = clock.measure { _ = encoder.embed(captions[0]) }
                let batched = clock.measure { _ = encoder.embed(captions) }
                report(["kind": "text-encoder", "batch": 1, "threads": count, "sentences_per_second": 1 / single],
                       column("one caption at a time") + String(format: " %7d %10.1f", count, 1 / single))
                report(["kind": "text-encoder", "batch": captions.count, "threads": count, "sentences_per_second": Double(captions.count) / batched],
                       column("batch of \(captions.count) captions") + String(format: " %7d %10.1f", count, Double(captions.count) / batched))
            }
        }
        BLAS.threadCount = cores
        if json {
            let object: [String: Any] = ["machine": ["cpu": Machine.cpuModel, "cores": cores, "openblas": BLAS.configuration], "results": results]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        }
    }
}

/// Left-aligned table cell.
func column(_ text: String, width: Int = 40) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// A GEMM shape the models run, or the 1024³ peak reference.
struct GEMMShape {
    let name: String
    let m: Int, k: Int, n: Int
    var isPeak: Bool { m == 1024 && k == 1024 && n == 1024 }

    static let benchmarked: [GEMMShape] = [
        GEMMShape(name: "peak 1024×1024 · 1024×1024", m: 1024, k: 1024, n: 1024),
        GEMMShape(name: "MiniLM qkv/out 32×384 · 384×384", m: 32, k: 384, n: 384),
        GEMMShape(name: "MiniLM ffn-up 32×384 · 384×1536", m: 32, k: 384, n: 1536),
        GEMMShape(name: "MiniLM ffn-down 32×1536 · 1536×384", m: 32, k: 1536, n: 384),
        GEMMShape(name: "MiniLM batch 64×32 · 384×1536", m: 2048, k: 384, n: 1536),
        GEMMShape(name: "attention 256×32 · 32×256", m: 256, k: 32, n: 256),
        GEMMShape(name: "conv3×3 64ch@32² 64×576 · 576×1024", m: 64, k: 576, n: 1024),
        GEMMShape(name: "DiT 256 tok 256×256 · 256×768", m: 256, k: 256, n: 768),
    ]
}

/// Median-of-rounds wall-clock timing.
struct Stopwatch {
    let rounds: Int
    let minSeconds: Double

    /// sgemm GFLOP/s at 1024³ with the current BLAS thread count: the peak the benches compare with.
    func sgemmPeak() -> Double {
        var rng = BenchRandom(seed: 3)
        let a = rng.tensor([1024, 1024]), b = rng.tensor([1024, 1024])
        return 2 * pow(1024, 3) / measure { _ = Tensor.matmul(a, b) } / 1e9
    }

    /// Seconds per call of `work`, the median over rounds, after one warm-up call.
    func measure(_ work: () -> Void) -> Double {
        work()
        var perCall: [Double] = []
        for _ in 0..<rounds {
            var calls = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                work()
                calls += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minSeconds
            perCall.append(elapsed / Double(calls))
        }
        return perCall.sorted()[perCall.count / 2]
    }
}

struct BenchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        })
    }
}

enum BenchCaptions {
    static let all: [String] = {
        let colours = ["red", "blue", "green", "yellow", "purple", "orange", "white", "pink"]
        let shapes = ["ball", "square", "triangle", "star"]
        let motions = ["rolls to the left", "drifts right", "bounces", "moves in a circle", "grows slowly", "rises up"]
        let places = ["on a green field", "under a blue sky", "at night", "on sand"]
        return (0..<32).map { i in
            "a \(colours[i % 8]) \(shapes[i % 4]) \(motions[i % 6]) \(places[i % 4])"
        }
    }()
}

enum Machine {
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let value = line.split(separator: ":", maxSplits: 1).last else { return "unknown CPU" }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
