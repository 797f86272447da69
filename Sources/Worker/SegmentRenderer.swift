import Denoiser
import Foundation
import Models
import Stitcher
import Synchronization
import Tensors
import Wire

/// Renders one segment task into clean latents `[frames, C, h, w]` (flattened).
public protocol SegmentRenderer: Sendable {
    /// Models this renderer offers (sent in READY).
    var models: [String] { get }
    var maxWindowFrames: Int { get }
    /// Runs the denoising loop; `progress(step, steps)` after each step. Throws a sentence.
    func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float]
    /// Whether `decode` works (announced in READY; only such workers are sent DECODE).
    var decodes: Bool { get }
    /// Decodes a DECODE's latent frames to packed 8-bit RGB pictures, exactly as the coordinator's
    /// stitcher would (the same VAE on the same batch). Throws a sentence.
    func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8])
}

extension SegmentRenderer {
    public var decodes: Bool { true }
}

/// The built-in renderer: reel-tiny's DiT with the flow-matching sampler, conditioned on the
/// task's prompts (MiniLM embeddings mixed by weight) and its anchor frames. For a DiT with layout
/// channels, a window with no anchor frame (a film's opening) follows the track the planner draws
/// from the mixed prompt and the task's seed, as `reel generate` does; an anchored window gets no
/// layout and continues what its anchors show (the DiT was trained with layouts dropped).
public final class ReelTinyRenderer: SegmentRenderer {
    public let generator: ClipGenerator
    private let embeddings = Mutex<[String: [Float]]>([:])

    public init(generator: ClipGenerator) { self.generator = generator }

    public var models: [String] { [generator.model.config.name] }
    public var maxWindowFrames: Int { generator.model.dit.windowFrames }

    public func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float] {
        let dit = generator.model.dit
        guard task.model == generator.model.config.name else {
            throw RenderError("this worker runs \(generator.model.config.name), not \(task.model)")
        }
        guard task.frames == dit.windowFrames, task.frameShape == dit.frameShape else {
            throw RenderError("task wants \(task.frames) frames of \(task.frameShape); \(generator.model.config.name) renders \(dit.windowFrames) of \(dit.frameShape)")
        }
        guard generator.model.config.stridesTrained.contains(task.stride) else {
            throw RenderError("stride \(task.stride) is not one \(generator.model.config.name) was trained on (\(generator.model.config.stridesTrained))")
        }
        let frameSize = dit.frameShape.reduce(1, *)
        var anchorValues = [Float](repeating: 0, count: task.frames * frameSize)
        var mask = [Bool](repeating: false, count: task.frames)
        for (i, slot) in task.anchorSlots.enumerated() {
            anchorValues.replaceSubrange((slot * frameSize)..<((slot + 1) * frameSize), with: anchors[(i * frameSize)..<((i + 1) * frameSize)])
            mask[slot] = true
        }
        let settings = SamplerSettings(steps: task.sampler.steps, guidance: Float(task.sampler.guidance), shift: Float(task.sampler.shift),
                                       method: SamplingMethod(rawValue: task.sampler.method) ?? .euler)
        let text = text(for: task.text)
        // The planner reads the mixed pooled embedding and every weighted prompt's token states.
        let layout = task.anchorSlots.isEmpty
            ? generator.plan(pooled: Array(text.prefix(dit.textDimension)),
                             words: task.text.filter { $0.weight > 0 }.flatMap { generator.plannerWords($0.prompt) },
                             seed: task.seed, stride: task.stride).map(generator.layout)
            : nil
        let latents = generator.latents(text: text, seed: task.seed, startFrame: task.startFrame, stride: task.stride,
                                        anchors: Tensor(shape: [task.frames] + dit.frameShape, scalars: anchorValues), mask: mask,
                                        level: task.level, layout: layout, settings: settings, progress: progress)
        return latents.scalars
    }

    public func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8]) {
        let model = generator.model
        guard request.model == model.config.name else { throw RenderError("this worker runs \(model.config.name), not \(request.model)") }
        guard request.frameShape == model.dit.frameShape else {
            throw RenderError("DECODE holds latent frames of \(request.frameShape); \(model.config.name) decodes \(model.dit.frameShape)")
        }
        let frames = RGBFrame.frames(fromCHW: model.vae.decodeFrames(Tensor(shape: [request.frames] + request.frameShape, scalars: latents)))
        let video = model.config.video
        return (DecodedFrames(decode: request.decode, frames: frames.count, width: video.width, height: video.height),
                frames.flatMap(\.pixels))
    }

    /// The weighted mix of the prompts' embeddings, renormalised to unit length like each embedding.
    /// For a model that reads word states (`ClipGenerator.textInput`), the word rows of every prompt
    /// with a weight follow, in the task's order: the mix says how much of each prompt, the words
    /// what each says.
    func text(for prompts: [PromptWeight]) -> [Float] {
        let width = generator.model.config.dit.textDim
        var mixed: [Float]?
        var words: [Float] = []
        for item in prompts where item.weight > 0 {
            let input = embeddings.withLock { $0[item.prompt] } ?? {
                let e = generator.textInput(item.prompt)
                embeddings.withLock { cache in
                    if cache.count > 256 { cache.removeAll() }
                    cache[item.prompt] = e
                }
                return e
            }()
            let embedding = Array(input.prefix(width))
            words += input.dropFirst(width)
            let w = Float(item.weight)
            if mixed == nil { mixed = embedding.map { $0 * w } } else { for i in embedding.indices { mixed![i] += embedding[i] * w } }
        }
        guard var result = mixed else { return [Float](repeating: 0, count: width) }
        let norm = result.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { for i in result.indices { result[i] /= norm } }
        return result + words
    }
}

public struct RenderError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Fault injection only (`reel worker --fault-delay`, used by scripts/chaos): renders like
/// `inner` after sleeping `delay` seconds, to play a worker slower than its lease or one that is
/// still busy when the network is cut. The latents are the real ones.
public struct FaultDelayRenderer: SegmentRenderer {
    public let inner: any SegmentRenderer
    public let delay: Double

    public init(inner: any SegmentRenderer, delay: Double) {
        self.inner = inner
        self.delay = delay
    }

    public var models: [String] { inner.models }
    public var maxWindowFrames: Int { inner.maxWindowFrames }

    public func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float] {
        Thread.sleep(forTimeInterval: delay)
        return try inner.render(task, anchors: anchors, progress: progress)
    }

    public var decodes: Bool { inner.decodes }

    public func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8]) {
        try inner.decode(request, latents: latents)
    }
}

/// Benchmarking only (`reel worker --benchmark-load`, driven by `reel bench farm`): stands in for
/// the denoising with a fixed-time load — it sleeps `seconds` per segment and returns latents of
/// the task's shape, one constant of its own per segment — so hundreds of worker processes fit on one machine and the farm's own
/// overhead (coordinator, journal, sockets) can be measured against a known ideal. Its films are
/// meaningless.
public struct BenchmarkLoadRenderer: SegmentRenderer {
    public let seconds: Double
    public let models: [String]
    public let maxWindowFrames: Int

    public init(seconds: Double, model: String, windowFrames: Int) {
        self.seconds = seconds
        self.models = [model]
        self.maxWindowFrames = windowFrames
    }

    public func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float] {
        guard models.contains(task.model) else { throw RenderError("this benchmark worker stands in for \(models[0]), not \(task.model)") }
        Thread.sleep(forTimeInterval: seconds)
        progress(task.sampler.steps, task.sampler.steps)
        // A value of its own per segment (FNV-1a of job and segment), so each result is a blob
        // the coordinator must really store, as with rendered latents.
        var hash: UInt32 = 2_166_136_261
        for byte in "\(task.job)/\(task.segment)".utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return [Float](repeating: Float(hash >> 8) / Float(1 << 24), count: task.frames * task.frameShape.reduce(1, *))
    }

    /// Benchmark workers hold no VAE: they do not offer to decode, and refuse if asked.
    public var decodes: Bool { false }

    public func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8]) {
        throw RenderError("a benchmark-load worker has no VAE to decode with")
    }
}
