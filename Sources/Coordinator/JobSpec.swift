import Foundation
import Planner
import Stitcher

/// Everything a client asks for in one job: the planner's request plus every option of the later
/// stages (sampler, stitcher, encoder). `reel render` and `reel submit` both build one of these,
/// so every option is reachable from both (one front door). Sent as JSON to `POST /v1/jobs`.
public struct JobSpec: Codable, Sendable, Equatable {
    /// Prompt or storyboard, duration (s), seed, strategy.
    public var request: RenderRequest
    /// Output frames per second: the model's native rate (8) or a multiple of it up to 48
    /// (in-between frames are interpolated in latent space before decoding).
    public var fps: Int
    /// Output size `WIDTHxHEIGHT` (even numbers), scaled with swscale; nil keeps the model's 64x64.
    public var size: String?
    /// Seam blending ramp and AdaIN strength (0 = off, 1 = full) toward the anchors' statistics.
    public var blend: BlendRamp
    public var adain: Float
    /// x264 constant rate factor (0…51) and preset.
    public var crf: Int
    public var preset: String
    /// Sampler overrides; nil fields take the model's defaults.
    public var steps: Int?
    public var cfg: Float?
    public var shift: Float?
    public var method: String?
    /// Higher runs first among queued jobs.
    public var priority: Int
    /// Soundtrack file bytes (base64 in JSON), muxed trimmed/padded to the film's length.
    public var soundtrack: Data?
    /// The model every segment runs on.
    public var model: String

    public init(request: RenderRequest, fps: Int = 8, size: String? = nil, blend: BlendRamp = .cosine, adain: Float = 0,
                crf: Int = 18, preset: String = "medium", steps: Int? = nil, cfg: Float? = nil, shift: Float? = nil,
                method: String? = nil, priority: Int = 0, soundtrack: Data? = nil, model: String = "reel-tiny") {
        self.request = request
        self.fps = fps
        self.size = size
        self.blend = blend
        self.adain = adain
        self.crf = crf
        self.preset = preset
        self.steps = steps
        self.cfg = cfg
        self.shift = shift
        self.method = method
        self.priority = priority
        self.soundtrack = soundtrack
        self.model = model
    }

    public static let presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
    /// Largest accepted soundtrack upload.
    public static let maxSoundtrackBytes = 64 << 20

    /// Checks every field; the error is one sentence naming the field and the fix.
    public func validate(modelFPS: Int = 8) throws(JobSpecError) {
        do { try request.validate() } catch { throw .invalid("\(error)") }
        guard fps >= modelFPS, fps <= 48, fps % modelFPS == 0 else {
            throw .invalid("fps \(fps) is not supported: use the model's \(modelFPS) fps or a multiple of it up to 48")
        }
        if let size, Self.parseSize(size) == nil {
            throw .invalid("size \"\(size.prefix(40))\" is not WIDTHxHEIGHT with even numbers between 16 and 4096, e.g. 256x256")
        }
        guard adain.isFinite, (0...1).contains(adain) else { throw .invalid("adain must be between 0 and 1") }
        guard (0...51).contains(crf) else { throw .invalid("crf must be between 0 and 51") }
        guard Self.presets.contains(preset) else { throw .invalid("preset must be one of \(Self.presets.joined(separator: ", "))") }
        if let steps, !(1...1000).contains(steps) { throw .invalid("steps must be between 1 and 1000") }
        if let cfg, !(cfg.isFinite && cfg >= 0 && cfg <= 30) { throw .invalid("cfg must be between 0 and 30") }
        if let shift, !(shift.isFinite && shift > 0 && shift <= 100) { throw .invalid("shift must be positive (at most 100)") }
        if let method, !["euler", "heun"].contains(method) { throw .invalid("method must be euler or heun") }
        guard (-1000...1000).contains(priority) else { throw .invalid("priority must be between -1000 and 1000") }
        if let soundtrack, soundtrack.count > Self.maxSoundtrackBytes {
            throw .invalid("the soundtrack is \(soundtrack.count >> 20) MiB; the limit is \(Self.maxSoundtrackBytes >> 20) MiB")
        }
        guard model == "reel-tiny" else { throw .invalid("model \"\(model.prefix(40))\" is not known; the built-in model is reel-tiny") }
    }

    /// `WIDTHxHEIGHT` → size, or nil when malformed, odd, or outside 16…4096.
    public static func parseSize(_ text: String) -> FrameSize? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]),
              (16...4096).contains(w), (16...4096).contains(h), w % 2 == 0, h % 2 == 0 else { return nil }
        return FrameSize(width: w, height: h)
    }

    /// The prompt, or the storyboard's shots joined, for metadata and listings.
    public var summary: String {
        if let prompt = request.prompt { return prompt }
        return request.storyboard?.shots.map(\.prompt).joined(separator: " | ") ?? ""
    }
}

public enum JobSpecError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let why): return why }
    }
}
