import ArgumentParser
import Coordinator
import Foundation
import Planner
import Stitcher

extension Strategy: ExpressibleByArgument {}


/// What to render: every option of every stage, shared by `reel render` and `reel submit` so both
/// reach all of them (one front door).
struct FilmOptions: ParsableArguments {
    @Argument(help: "What the film shows (or use --storyboard).")
    var prompt: String?

    @Option(help: "A storyboard JSON file of shots with their own prompts and times (docs/storyboard.md); replaces the prompt.")
    var storyboard: String?

    @Option(help: "Length of the film in seconds (default 60; with --storyboard, the storyboard's end).")
    var duration: Double?

    @Option(help: "Output frames per second: 8 (the model's rate) or a multiple up to 48, interpolated in latent space.")
    var fps = 8

    @Option(help: "Planning strategy: hierarchical (keyframes first, then levels filled in parallel) or sequential (each segment continues the last).")
    var strategy: Strategy = .hierarchical

    @Option(help: "Seam blending ramp in latent space: none, linear, cosine or pyramid.")
    var blend: BlendRamp = .cosine

    @Option(help: "AdaIN strength toward the anchors' colour statistics, 0 (off) to 1.")
    var adain: Float = 0

    @Option(name: .customLong("audio"), help: "Soundtrack file muxed under the film (copied when MP4 takes its codec, else AAC), trimmed or padded to the film.")
    var soundtrack: String?

    @Option(help: "Higher runs first among queued jobs (-1000…1000).")
    var priority = 0

    func validate() throws {
        if prompt == nil && storyboard == nil { throw ValidationError("give a prompt or --storyboard FILE") }
        if prompt != nil && storyboard != nil { throw ValidationError("give a prompt or --storyboard, not both") }
        if let duration, !(duration.isFinite && duration > 0 && duration <= 3600) { throw ValidationError("--duration must be between 0 and 3600 seconds") }
    }

    /// The job these options describe, checked; errors are one sentence.
    func spec(sampler: SamplerOptions, encoder: EncoderOptions) throws -> JobSpec {
        var board: Storyboard?
        if let storyboard {
            guard let data = FileManager.default.contents(atPath: storyboard) else {
                throw UserError("Could not read the storyboard \(storyboard): the file does not exist or is not readable.")
            }
            do { board = try Storyboard.parse(data) } catch { throw UserError("The storyboard \(storyboard) is not valid: \(error)") }
        }
        let length = duration ?? board?.duration ?? 60
        let request = RenderRequest(prompt: prompt, storyboard: board, duration: length, seed: sampler.seed, strategy: strategy)
        var audio: Data?
        if let soundtrack {
            guard let data = FileManager.default.contents(atPath: soundtrack) else {
                throw UserError("Could not read the soundtrack \(soundtrack): the file does not exist or is not readable.")
            }
            audio = data
        }
        let spec = JobSpec(request: request, fps: fps, size: encoder.size, blend: blend, adain: adain, crf: encoder.crf, preset: encoder.preset,
                           steps: sampler.steps, cfg: sampler.cfg, shift: sampler.shift, method: sampler.method.rawValue,
                           priority: priority, soundtrack: audio)
        do { try spec.validate() } catch { throw UserError(error.description) }
        return spec
    }
}

/// One line of a job's progress: a redrawn line on a terminal, a plain line every few seconds otherwise.
final class JobProgressView {
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private var lastText = ""

    func show(_ job: JobStatus, workers: Int?) {
        let levels = job.levels.map { "L\($0.level)×\($0.stride) \($0.done)/\($0.total)" }.joined(separator: " ")
        let eta = job.etaSeconds.map { String(format: "ETA %.0fs", $0) } ?? "ETA –"
        let width = 24, filled = job.segmentsTotal > 0 ? width * job.segmentsDone / job.segmentsTotal : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let text = "\(job.state.rawValue) \(bar) segments \(job.segmentsDone)/\(job.segmentsTotal) [\(levels)] frames \(job.framesWritten)/\(job.framesTotal)"
            + (workers.map { " workers \($0)" } ?? "") + " \(eta)"
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
        } else if text != lastText && Date().timeIntervalSince(lastLine) > 2 || job.state.isFinal {
            lastLine = Date()
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
        lastText = text
    }

    func end() { if interactive { FileHandle.standardError.write(Data("\n".utf8)) } }
}
