import Foundation
import Models
import Tensors

/// Why a clip cannot be generated. Each message names the cause and the fix.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case framesOutOfRange(requested: Int, supported: ClosedRange<Int>)
    case strideUnsupported(requested: Int, supported: [Int])

    public var description: String {
        switch self {
        case .emptyPrompt:
            "The prompt is empty. Describe the video, for example: reel generate \"a red ball bounces on green grass\"."
        case .framesOutOfRange(let requested, let supported):
            "\(requested) frames is outside what the model renders in one window (\(supported.lowerBound)-\(supported.upperBound)). Ask for \(supported.upperBound) or fewer, or use reel render for longer videos."
        case .strideUnsupported(let requested, let supported):
            "Frame stride \(requested) was not trained; use one of \(supported.map(String.init).joined(separator: ", "))."
        }
    }
}

/// One window of reel-tiny on one machine: prompt → MiniLM embedding → (for a DiT with layout
/// channels) the planner's subject track → flow sampling with CFG → VAE decode. Deterministic for
/// a given prompt, seed and settings.
public struct ClipGenerator: Sendable {
    public let model: ReelTinyModel
    public let textEncoder: MiniLMEncoder

    public init(model: ReelTinyModel, textEncoder: MiniLMEncoder) {
        self.model = model
        self.textEncoder = textEncoder
    }

    /// Checks a request before any work: non-empty prompt, frames and stride the model supports.
    public func validate(prompt: String, frames: Int, stride: Int) throws(GenerationError) {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyPrompt }
        let window = model.config.dit.frames
        guard (1...window).contains(frames) else { throw .framesOutOfRange(requested: frames, supported: 1...window) }
        guard model.config.stridesTrained.contains(stride) else { throw .strideUnsupported(requested: stride, supported: model.config.stridesTrained) }
    }

    /// Clean latents `[T, C, H, W]` in the DiT's unit-variance space, for the whole window. A DiT
    /// with layout channels follows the track the planner draws for the prompt (`plan`).
    public func latents(prompt: String, seed: UInt64, stride: Int = 1, settings: SamplerSettings,
                        progress: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let dit = model.dit
        // One MiniLM pass serves both the DiT's text input and the planner's.
        let needsWords = model.config.dit.takesWords || plannerReadsWords
        let (pooled, words) = needsWords ? textEncoder.embedWithWords(prompt) : (textEncoder.embed(prompt), [])
        let tokens = Array(words.joined())
        let text = model.config.dit.takesWords ? pooled + tokens : pooled
        let layout = plan(pooled: pooled, words: tokens, seed: seed, stride: stride).map { self.layout($0) }
        return latents(text: text, seed: seed, startFrame: 0, stride: stride,
                       anchors: Tensor(zeros: [dit.windowFrames] + dit.frameShape),
                       mask: Array(repeating: false, count: dit.windowFrames), layout: layout, settings: settings, progress: progress)
    }

    /// A window whose first frame is global frame `startFrame` (frames `startFrame + k·stride`),
    /// conditioned on `anchors` where `mask` is true, and on the subject's `layout` `[T, L, H, W]`
    /// when given (a DiT with layout channels; nil = none). Its noise is the film's noise for those frames.
    public func latents(text: [Float], seed: UInt64, startFrame: Int, stride: Int, anchors: Tensor, mask: [Bool],
                        level: Int = 0, layout: Tensor? = nil, settings: SamplerSettings,
                        progress: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let dit = model.dit
        let frames = (0..<dit.windowFrames).map { startFrame + $0 * stride }
        let noise = NoiseField(seed: seed, sharedFraction: model.config.noiseSharedFraction).window(frames: frames, level: level, frameShape: dit.frameShape)
        let conditioning = WindowConditioning(text: text, stride: stride, anchors: anchors, mask: mask, layout: layout)
        return FlowMatchSampler(settings: settings).sample(model: dit, noise: [noise], conditioning: [conditioning], progress: progress)[0]
    }

    /// The subject's layout the planner draws for `prompt` at frame `stride`: its track, (x, y, r)
    /// in pixels per frame of the window, from the seed's track noise (`TrackPlanner.sampleTrack`),
    /// and for a DiT whose coverage follows the subject's shape, the shape the planner names; nil
    /// for a DiT without layout channels. The layout `latents(prompt:seed:stride:settings:progress:)` follows.
    public func plan(prompt: String, seed: UInt64, stride: Int = 1) -> SubjectLayout? {
        guard model.dit.layoutChannels > 0, model.planner != nil else { return nil }
        guard plannerReadsWords else { return plan(pooled: textEncoder.embed(prompt), seed: seed, stride: stride) }
        let (pooled, words) = textEncoder.embedWithWords(prompt)
        return plan(pooled: pooled, words: Array(words.joined()), seed: seed, stride: stride)
    }

    /// The planner's layout for a pooled embedding and, for a planner that reads them (or names
    /// the shape from them), token states (rows of 384 values, flattened); nil without layout channels.
    public func plan(pooled: [Float], words: [Float] = [], seed: UInt64, stride: Int) -> SubjectLayout? {
        guard model.dit.layoutChannels > 0, let planner = model.planner else { return nil }
        let track = planner.sampleTrack(text: pooled, words: planner.config.readsWords ? words : [], stride: stride, seed: seed)
        // A disc-coverage DiT draws a circle's coverage whatever the subject (the shape is not read).
        let shape = model.dit.coverageFollowsShape ? planner.shape(pooled: pooled, words: words) ?? .circle : .circle
        return SubjectLayout(track: track, shape: shape)
    }

    /// The token states (flattened rows) the planner reads for `prompt` (for its tracks or to name
    /// the shape); empty when it reads the pooled embedding alone.
    public func plannerWords(_ prompt: String) -> [Float] {
        guard plannerReadsWords else { return [] }
        return Array(textEncoder.embedWithWords(prompt).words.joined())
    }

    /// Whether the planner reads the prompt's token states: for its tracks, or to name the shape
    /// for a DiT whose coverage follows it.
    var plannerReadsWords: Bool {
        guard let planner = model.planner else { return false }
        return planner.config.readsWords || (model.dit.coverageFollowsShape && planner.config.shapeNames != nil)
    }

    /// The DiT's layout input `[T, L, H, W]` for a subject layout.
    public func layout(_ subject: SubjectLayout) -> Tensor {
        subject.channels(latentSize: model.config.dit.latentSize, imageSize: model.config.video.width, count: model.dit.layoutChannels)
    }

    /// What the DiT takes for a prompt: the pooled MiniLM embedding, followed by the word states of
    /// its tokens (one row of 384 each) when the model reads them (`dit.text_words`).
    public func textInput(_ prompt: String) -> [Float] {
        guard model.config.dit.takesWords else { return textEncoder.embed(prompt) }
        let (pooled, words) = textEncoder.embedWithWords(prompt)
        return pooled + words.joined()
    }

    /// Decoded frames `[T, 3, H, W]` in about [-1, 1] from DiT-space latents `[T, C, h, w]`.
    public func decode(_ latents: Tensor) -> Tensor {
        model.vae.decode(model.vae.rawLatents(latents))
    }
}
