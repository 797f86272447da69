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

/// One window of reel-tiny on one machine: prompt → MiniLM embedding → flow sampling with CFG →
/// VAE decode. Deterministic for a given prompt, seed and settings.
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

    /// Clean latents `[T, C, H, W]` in the DiT's unit-variance space, for the whole window.
    public func latents(prompt: String, seed: UInt64, stride: Int = 1, settings: SamplerSettings,
                        progress: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let dit = model.dit
        return latents(text: textInput(prompt), seed: seed, startFrame: 0, stride: stride,
                       anchors: Tensor(zeros: [dit.windowFrames] + dit.frameShape),
                       mask: Array(repeating: false, count: dit.windowFrames), settings: settings, progress: progress)
    }

    /// A window whose first frame is global frame `startFrame` (frames `startFrame + k·stride`),
    /// conditioned on `anchors` where `mask` is true. Its noise is the film's noise for those frames.
    public func latents(text: [Float], seed: UInt64, startFrame: Int, stride: Int, anchors: Tensor, mask: [Bool],
                        level: Int = 0, settings: SamplerSettings, progress: (Int, Int) -> Void = { _, _ in }) -> Tensor {
        let dit = model.dit
        let frames = (0..<dit.windowFrames).map { startFrame + $0 * stride }
        let noise = NoiseField(seed: seed, sharedFraction: model.config.noiseSharedFraction).window(frames: frames, level: level, frameShape: dit.frameShape)
        let conditioning = WindowConditioning(text: text, stride: stride, anchors: anchors, mask: mask)
        return FlowMatchSampler(settings: settings).sample(model: dit, noise: [noise], conditioning: [conditioning], progress: progress)[0]
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
