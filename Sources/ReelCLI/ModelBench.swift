import ArgumentParser
import Denoiser
import Foundation
import Models
import Tensors

struct ModelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "reel-tiny speed: DiT forward GFLOP/s vs the sgemm peak, seconds per step, VAE decode fps, one window.",
        discussion: """
            Measured in one process: sgemm at 1024³ (the peak), one DiT forward with both guidance \
            passes batched (2 × 16 frames), a denoising step, a VAE decode of 16 frames, and a whole \
            16-frame window with 20 steps and CFG. FLOPs are counted from the config (GEMMs and \
            attention; element-wise work not counted).
            """
    )

    @Option(help: "Timed rounds per figure; the median is reported.")
    var rounds = 3

    @Option(help: "Thread counts to measure, comma-separated (default: all cores).")
    var threads: String?

    @Flag(help: "Skip the whole-window figure (the slowest).")
    var skipWindow = false

    func run() throws {
        let generator = try loadGenerator()
        let dit = generator.model.dit, config = dit.config
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let counts = threads.map { $0.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } } ?? [cores]
        let clock = Stopwatch(rounds: rounds, minSeconds: 0.5)
        let frames = config.frames, shape = dit.frameShape
        let batch = 2
        let x = NoiseField(seed: 1).window(frames: Array(0..<(batch * frames)), level: 0, frameShape: shape)
            .reshaped([batch, frames] + shape)
        let anchors = Tensor(zeros: x.shape), mask = Tensor(zeros: [batch, frames])
        // The guidance batch: the prompt (with its word rows for a model that reads them) and no text.
        let input = generator.textInput("a red ball bounces"), rows = input.count / config.textDim
        let text = Tensor(shape: rows == 1 ? [batch, config.textDim] : [batch, rows, config.textDim],
                          scalars: input + [Float](repeating: 0, count: input.count))
        let flops = Self.ditFlops(config) * Double(batch)
        let latents = NoiseField(seed: 2).window(frames: Array(0..<frames), level: 0, frameShape: shape)
        print("machine: \(Machine.cpuModel), \(cores) cores; model \(generator.model.config.name): DiT \(config.depth)×\(config.dim), \(config.frames * (config.latentSize / config.patch) * (config.latentSize / config.patch)) tokens")
        for count in counts {
            BLAS.threadCount = count
            let peak = clock.sgemmPeak()
            let forward = clock.measure { _ = dit.velocity(x, anchors: anchors, mask: mask, text: text, strides: [1, 1], times: [0.5, 0.5]) }
            let achieved = flops / forward / 1e9
            let decode = clock.measure { _ = generator.decode(latents) }
            print(String(format: "threads %d: sgemm peak %.1f GFLOP/s", count, peak))
            print(String(format: "  DiT forward (CFG batch of 2 × %d frames): %.1f ms, %.2f GFLOP, %.1f GFLOP/s = %.0f%% of peak",
                         frames, forward * 1000, flops / 1e9, achieved, 100 * achieved / peak))
            print(String(format: "  VAE decode: %.1f ms for %d frames = %.0f frames/s", decode * 1000, frames, Double(frames) / decode))
            if !skipWindow {
                let settings = SamplerSettings(steps: 20, guidance: 4)
                let start = DispatchTime.now().uptimeNanoseconds
                let clip = generator.latents(prompt: "a red ball bounces on green grass", seed: 1, settings: settings)
                let sampled = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                _ = generator.decode(clip)
                let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                print(String(format: "  one window, 20 steps + CFG: %.2f s sampling (%.0f ms/step), %.2f s with decode", sampled, sampled / 20 * 1000, total))
            }
        }
    }

    /// Multiply-add FLOPs (×2) of one DiT forward for one batch item.
    static func ditFlops(_ c: ReelTinyConfig.DiT) -> Double {
        let grid = c.latentSize / c.patch
        let tokens = Double(c.frames * grid * grid), d = Double(c.dim)
        let patchIn = Double((2 * c.latentChannels + 1) * c.patch * c.patch), patchOut = Double(c.latentChannels * c.patch * c.patch)
        let linear = 2 * tokens * d * 3 * d + 2 * tokens * d * d + 2 * 2 * tokens * d * Double(c.mlpRatio) * d
        // Scores and the weighted sum: each token against the tokens of its block's span.
        let spans = (try? c.spans()) ?? Array(repeating: .full, count: c.depth)
        let attention = spans.map { span -> Double in
            let keys: Double = switch span {
            case .full: tokens
            case .space: Double(grid * grid)
            case .time: Double(c.frames)
            }
            return 2 * 2 * tokens * keys * d
        }.reduce(0, +)
        return 2 * tokens * patchIn * d + Double(c.depth) * linear + attention + 2 * tokens * d * patchOut
    }
}
