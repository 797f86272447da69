import ArgumentParser
import Denoiser
import Foundation
import Models
import Stitcher
import Tensors

/// Options of the built-in model's sampler, shared by every command that renders.
struct SamplerOptions: ParsableArguments {
    @Option(help: "Random seed: the same prompt, seed and options give the same video.")
    var seed: UInt64 = 0

    @Option(help: "Denoising steps (more: slower, cleaner). Default: the model's (reel-tiny: 24).")
    var steps: Int?

    @Option(help: "Classifier-free guidance weight (1 disables guidance). Default: the model's (reel-tiny: 3).")
    var cfg: Float?

    @Option(help: "Time-schedule shift (>1 spends more steps at high noise). Default: the model's (reel-tiny: 1).")
    var shift: Float?

    @Option(help: "Sampler: euler (one model call per step) or heun (second order, two calls).")
    var method: SamplingMethod = .euler

    @Option(help: "BLAS threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let steps, !(1...1000).contains(steps) { throw ValidationError("--steps must be between 1 and 1000") }
        if let cfg, !(cfg >= 0 && cfg <= 30) { throw ValidationError("--cfg must be between 0 and 30") }
        if let shift, shift <= 0 { throw ValidationError("--shift must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The options over the model's defaults.
    func settings(for config: ReelTinyConfig) -> SamplerSettings {
        SamplerSettings(steps: steps ?? config.sampler.steps, guidance: cfg ?? config.sampler.cfgScale,
                        shift: shift ?? config.sampler.shift, method: method)
    }
}

/// Options of the MP4 encoder, shared by every command that writes a video.
struct EncoderOptions: ParsableArguments {
    @Option(help: "Output size WIDTHxHEIGHT, scaled with swscale (default: the model's 64x64).")
    var size: String?

    @Option(help: "H.264 constant rate factor, 0 (lossless) to 51; 18 is visually lossless.")
    var crf = 18

    @Option(help: "x264 preset: ultrafast … veryslow.")
    var preset = "medium"

    func validate() throws {
        if let size, parsedSize(size) == nil { throw ValidationError("--size takes WIDTHxHEIGHT with even numbers, e.g. 256x256") }
        guard (0...51).contains(crf) else { throw ValidationError("--crf must be between 0 and 51") }
        let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
        guard presets.contains(preset) else { throw ValidationError("--preset must be one of \(presets.joined(separator: ", "))") }
    }

    func parsedSize(_ text: String) -> FrameSize? {
        let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 <= 4096 && $0 % 2 == 0 }) else { return nil }
        return FrameSize(width: parts[0], height: parts[1])
    }

    var settings: EncoderSettings { EncoderSettings(crf: crf, preset: preset, outputSize: size.flatMap(parsedSize)) }
}

extension SamplingMethod: ExpressibleByArgument {}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Render one window of the built-in model (reel-tiny) on this machine to an MP4.",
        discussion: """
            One window is up to 16 frames at 8 fps (2 seconds) of the reel-tiny world: a coloured \
            ball, square or triangle moving over a background. Example:
              reel generate "a red ball bounces on green grass" --seed 7 --out ball.mp4
            """
    )

    @Argument(help: "What the video shows.")
    var prompt: String

    @Option(help: "Frames to keep from the window (default: the whole window, 16 for reel-tiny).")
    var frames: Int?

    @Option(help: "Frame stride of the window in output frames (1 = consecutive frames).")
    var stride = 1

    @Option(name: .shortAndLong, help: "Output MP4 path.")
    var out: String = "clip.mp4"

    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var encoder: EncoderOptions

    func run() throws {
        let generator = try loadGenerator()
        if let threads = sampler.threads { BLAS.threadCount = threads }
        let frames = self.frames ?? generator.model.config.dit.frames
        do { try generator.validate(prompt: prompt, frames: frames, stride: stride) } catch { throw UserError(error.description) }
        let folder = URL(fileURLWithPath: out).deletingLastPathComponent().path
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw UserError("Could not write \(out): the folder \(folder) does not exist or is not writable. Create it or choose another --out.")
        }
        let settings = sampler.settings(for: generator.model.config)
        let bar = ProgressBar(label: "denoising", total: settings.steps)
        let latents = generator.latents(prompt: prompt, seed: sampler.seed, stride: stride, settings: settings) { step, _ in bar.update(step) }
        let pixels = generator.decode(latents)
        let rgb = RGBFrame.frames(fromCHW: pixels).prefix(frames)
        let fps = generator.model.config.fps
        let url = URL(fileURLWithPath: out)
        do {
            let writer = try MP4Writer(url: url, width: rgb[0].width, height: rgb[0].height, framesPerSecond: fps,
                                       settings: encoder.settings, metadata: provenance(generator: generator))
            for frame in rgb { try writer.append(frame) }
            try writer.finish()
        } catch {
            throw UserError("Could not write \(out): \(error.description). Check that the folder exists and is writable.")
        }
        print("wrote \(out): \(rgb.count) frames at \(fps) fps, seed \(sampler.seed), \(settings.steps) steps, cfg \(settings.guidance)")
    }

    func provenance(generator: ClipGenerator) -> [String: String] {
        [
            "title": prompt, "comment": "AI generated by Reel \(ReelVersion.current) with \(generator.model.config.name); seed \(sampler.seed)",
            "reel_prompt": prompt, "reel_seed": String(sampler.seed), "reel_model": generator.model.config.name,
            "reel_version": ReelVersion.current, "ai_generated": "true",
        ]
    }
}

/// Loads reel-tiny and the text encoder, turning their errors into one clear sentence each.
func loadGenerator() throws -> ClipGenerator {
    let model: ReelTinyModel
    do { model = try ReelTinyModel() } catch { throw UserError(error.description) }
    let encoder: MiniLMEncoder
    do { encoder = try MiniLMEncoder() } catch let error as TextEncoderError { throw UserError(error.description) }
    return ClipGenerator(model: model, textEncoder: encoder)
}
