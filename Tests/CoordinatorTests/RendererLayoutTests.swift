import Denoiser
import Models
import Tensors
import Testing
import TestSupport
import Wire
@testable import Worker

/// The built-in renderer and the track planner: a film's opening window (no anchors) follows the
/// planner's track, as `reel generate` does; an anchored window gets no layout. Both compare
/// renders, so they hold the BLAS thread gate (no test changes the thread count meanwhile).
@Suite struct RendererLayoutTests {
    static let prompt = "a small red circle grows larger on a blue sky"
    static let settings = SamplerSettings(steps: 3, guidance: 4.5, shift: 3, method: .euler)

    static func task(anchorSlots: [Int]) -> TaskAssignment {
        let dit = FarmFixture.generator.model.dit
        return TaskAssignment(attempt: "j.L0-0000.1", job: "j", segment: "L0-0000", leaseMilliseconds: 60_000,
                              model: FarmFixture.generator.model.config.name, text: [PromptWeight(prompt: prompt, weight: 1)],
                              seed: 5, level: 0, startFrame: 0, stride: 1, frames: dit.windowFrames, frameShape: dit.frameShape,
                              anchorSlots: anchorSlots, sampler: SamplerParameters(steps: 3, guidance: 4.5, shift: 3, method: "euler"))
    }

    static func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test func openingWindowFollowsThePlannersTrack() async throws {
        try await BLASThreadGate.shared { try openingWindow() }
    }

    func openingWindow() throws {
        let generator = FarmFixture.generator
        let dit = generator.model.dit
        try #require(dit.layoutChannels > 0, "the shipped reel-tiny reads layouts")
        let rendered = try ReelTinyRenderer(generator: generator).render(Self.task(anchorSlots: []), anchors: [], progress: { _, _ in })
        // `reel generate`'s window: the same prompt, seed and stride, its layout from the planner.
        let generated = generator.latents(prompt: Self.prompt, seed: 5, stride: 1, settings: Self.settings).scalars
        // The same window with no layout.
        let plain = generator.latents(text: generator.textInput(Self.prompt), seed: 5, startFrame: 0, stride: 1,
                                      anchors: Tensor(zeros: [dit.windowFrames] + dit.frameShape),
                                      mask: Array(repeating: false, count: dit.windowFrames), settings: Self.settings).scalars
        // The renderer renormalises the prompt mix, which may move the embedding by an ulp.
        #expect(Self.largestDifference(rendered, generated) < 1e-3)
        #expect(Self.largestDifference(rendered, plain) > 0.1)
    }

    @Test func anchoredWindowGetsNoLayout() async throws {
        try await BLASThreadGate.shared { try anchoredWindow() }
    }

    func anchoredWindow() throws {
        let generator = FarmFixture.generator
        let dit = generator.model.dit
        let renderer = ReelTinyRenderer(generator: generator)
        let frameSize = dit.frameShape.reduce(1, *)
        let slots = [0, 1, 2, 3]
        let anchors = (0..<(slots.count * frameSize)).map { Float(($0 * 37) % 23) / 23 - 0.5 }
        let rendered = try renderer.render(Self.task(anchorSlots: slots), anchors: anchors, progress: { _, _ in })
        var anchorFrames = [Float](repeating: 0, count: dit.windowFrames * frameSize)
        anchorFrames.replaceSubrange(0..<anchors.count, with: anchors)
        let unplanned = generator.latents(text: renderer.text(for: Self.task(anchorSlots: slots).text), seed: 5, startFrame: 0, stride: 1,
                                          anchors: Tensor(shape: [dit.windowFrames] + dit.frameShape, scalars: anchorFrames),
                                          mask: (0..<dit.windowFrames).map { slots.contains($0) }, settings: Self.settings).scalars
        #expect(rendered == unplanned)
    }
}
