import Foundation
import Synchronization
import Testing
@testable import Stitcher
import Models
import Tensors

func constantSegment(_ id: String, start: Int, frames: Int, value: Float, shape: [Int] = [2, 1, 1], anchors: [Int] = []) -> SegmentLatents {
    SegmentLatents(id: id, start: start, frames: frames, frameShape: shape,
                   values: [Float](repeating: value, count: frames * shape.reduce(1, *)), anchorFrames: anchors)
}

@Suite("Blending overlaps in latent space")
struct BlendingTests {
    let a = constantSegment("a", start: 0, frames: 8, value: 0)
    let b = constantSegment("b", start: 4, frames: 8, value: 10)

    /// The blended value of frames 0..<12 for two constant segments overlapping on frames 4-7.
    func blended(_ ramp: BlendRamp) -> [Float] {
        let blender = LatentBlender(ramp: ramp)
        return (0..<12).map { blender.blend(frame: $0, segments: [a, b])[0] }
    }

    @Test("linear: weights cross through the overlap, w = k/(n+1)")
    func linear() {
        #expect(blended(.linear) == [0, 0, 0, 0, 2, 4, 6, 8, 10, 10, 10, 10])
    }

    @Test("cosine: raised-cosine weights (1 − cos πu)/2")
    func cosine() {
        let got = blended(.cosine)
        for (k, f) in (4..<8).enumerated() {
            let u = Float(k + 1) / 5
            #expect(abs(got[f] - 10 * (1 - cos(Float.pi * u)) / 2) < 1e-5)
        }
        #expect(got[0..<4].allSatisfy { $0 == 0 } && got[8...].allSatisfy { $0 == 10 })
    }

    @Test("none: a hard cut in the middle of the overlap")
    func none() {
        #expect(blended(.none) == [0, 0, 0, 0, 0, 0, 10, 10, 10, 10, 10, 10])
    }

    @Test("pyramid: each segment weighs frames by distance from its own edges")
    func pyramid() {
        let got = blended(.pyramid)
        for f in 4..<8 {
            let wa = Float(min(f + 1, 8 - f)), wb = Float(min(f - 4 + 1, 8 - (f - 4)))
            #expect(abs(got[f] - 10 * wb / (wa + wb)) < 1e-5)
        }
    }

    @Test("a frame covered by one segment passes through unchanged")
    func passThrough() {
        let s = SegmentLatents(id: "s", start: 3, frames: 2, frameShape: [3], values: [1, 2, 3, 4, 5, 6])
        #expect(LatentBlender(ramp: .cosine).blend(frame: 4, segments: [s]) == [4, 5, 6])
    }

    @Test("gaps and wrong shapes are reported with the frames and the segment")
    func validation() {
        let gap = #expect(throws: StitchError.self) {
            try LatentBlender.validate([a, constantSegment("c", start: 10, frames: 4, value: 1)], totalFrames: 14, frameShape: [2, 1, 1])
        }
        #expect(gap == .gap(8..<10))
        #expect(gap?.description.contains("frames 8-9") == true)
        let shape = #expect(throws: StitchError.self) {
            try LatentBlender.validate([a, constantSegment("d", start: 4, frames: 8, value: 1, shape: [3, 1, 1])], totalFrames: 12, frameShape: [2, 1, 1])
        }
        #expect(shape?.description.contains("segment d") == true || shape?.description.contains("Segment d") == true)
    }

    @Test("AdaIN moves a segment's channel statistics to its anchors'")
    func adain() {
        // Channel 0: anchor frame 0 has mean 5, deviation 1; the other frames drift to mean 9, deviation 3.
        var values: [Float] = []
        for f in 0..<4 { for i in 0..<4 { values.append(f == 0 ? 5 + (i % 2 == 0 ? 1 : -1) : 9 + (i % 2 == 0 ? 3 : -3)) } }
        let s = SegmentLatents(id: "s", start: 0, frames: 4, frameShape: [1, 2, 2], values: values, anchorFrames: [0])
        let moved = LatentBlender(ramp: .linear, adainStrength: 1).normalizedToAnchors([s])[0]
        #expect(Array(moved.values[0..<4]) == Array(values[0..<4]), "anchor frames stay")
        let rest = moved.values[4...].map(Double.init)
        let mean = rest.reduce(0, +) / Double(rest.count)
        #expect(abs(mean - 5) < 1.5, "mean pulled from 9 toward 5: \(mean)")
        #expect(LatentBlender(ramp: .linear, adainStrength: 0).normalizedToAnchors([s])[0] == s)
    }
}

/// Decodes each batch on a thread of its own with the same VAE, then passes the pictures through
/// `answer` (which may drop or spoil them) — the farm's workers in miniature.
final class ThreadDecoder: RemoteFrameDecoder, @unchecked Sendable {
    let vae: ReelTinyVAE
    let answer: @Sendable ([RGBFrame]) -> [RGBFrame]?
    let batches = Atomic<Int>(0)

    init(vae: ReelTinyVAE, answer: @escaping @Sendable ([RGBFrame]) -> [RGBFrame]?) {
        self.vae = vae
        self.answer = answer
    }

    func submit(_ latents: Tensor) -> PendingFrames {
        let pending = PendingFrames()
        let thread = Thread { [self] in
            batches.add(1, ordering: .relaxed)
            let frames = RGBFrame.frames(fromCHW: vae.decodeFrames(latents))
            Thread.sleep(forTimeInterval: Double.random(in: 0...0.02))
            pending.fulfil(answer(frames))
        }
        thread.stackSize = 8 << 20
        thread.start()
        return pending
    }
}

/// The small random-weight VAE from the parity fixture: a real decoder, cheap to run.
func fixtureVAE() throws -> ReelTinyVAE {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ModelsTests/Fixtures/reel-tiny-parity").standardized
    return try ReelTinyModel(folder: folder).vae
}

@Suite("Streaming stitcher")
struct FilmStitcherTests {
    /// Segments of 8 frames every 6 (overlap 2) over 50 frames, random latents.
    func plannedSegments(frameShape: [Int]) -> [SegmentLatents] {
        return stride(from: 0, to: 44, by: 6).map { start in
            let count = 8 * frameShape.reduce(1, *)
            let values = (0..<count).map { i in Float(sin(Double(start * 31 + i) * 0.37)) }
            return SegmentLatents(id: "seg\(start)", start: start, frames: 8, frameShape: frameShape, values: values)
        }
    }

    func stitch(_ segments: [SegmentLatents], order: [Int], vae: ReelTinyVAE, remote: (any RemoteFrameDecoder)? = nil,
                to url: URL) throws -> (maxHeld: Int, frames: Int, decodedLocally: Int) {
        let shape = segments[0].frameShape
        let plan = Dictionary(uniqueKeysWithValues: segments.map { ($0.id, $0.span) })
        let writer = try MP4Writer(url: url, width: 64, height: 64, framesPerSecond: 8, settings: EncoderSettings(crf: 0, preset: "ultrafast"))
        let stitcher = try FilmStitcher(plan: plan, totalFrames: 50, frameShape: shape, blender: LatentBlender(ramp: .cosine),
                                        decoder: vae, writer: writer)
        stitcher.remote = remote
        stitcher.decodeAhead = 3
        stitcher.remoteTimeout = 5
        var maxHeld = 0
        for i in order {
            try stitcher.add(segments[i])
            maxHeld = max(maxHeld, stitcher.heldSegments)
        }
        try stitcher.finish()
        return (maxHeld, stitcher.framesWritten, stitcher.batchesDecodedLocally)
    }

    @Test("batches decoded elsewhere give the same film; lost or misshapen ones are decoded here")
    func remoteDecoding() throws {
        let vae = try fixtureVAE()
        let segments = plannedSegments(frameShape: [vae.config.latentChannels, 8, 8])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-stitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func film(_ remote: (any RemoteFrameDecoder)?, _ name: String) throws -> (frames: [RGBFrame], decodedLocally: Int) {
            let url = dir.appendingPathComponent(name)
            let run = try stitch(segments, order: [3, 0, 1, 2, 4, 5, 6, 7], vae: vae, remote: remote, to: url)
            return (try MP4Reader(url: url).readAll(), run.decodedLocally)
        }
        let here = try film(nil, "here.mp4")
        let elsewhere = ThreadDecoder(vae: vae, answer: { $0 })
        let remote = try film(elsewhere, "remote.mp4")
        // 50 frames in batches of 8: 7 batches, all decoded on the other thread.
        #expect(elsewhere.batches.load(ordering: .relaxed) == 7)
        #expect(remote.decodedLocally == 0)
        #expect(remote.frames == here.frames)
        // A batch lost (the short last one answers nil), or pictures of the wrong size: the stitcher
        // decodes those itself.
        let lossy = try film(ThreadDecoder(vae: vae, answer: { $0.count == 8 ? $0 : nil }), "lossy.mp4")
        #expect(lossy.decodedLocally == 1)
        #expect(lossy.frames == here.frames)
        let misshapen = try film(ThreadDecoder(vae: vae, answer: { $0.map { RGBFrame(width: 2, height: 2, pixels: Array($0.pixels.prefix(12))) } }),
                                 "misshapen.mp4")
        #expect(misshapen.decodedLocally == 7)
        #expect(misshapen.frames == here.frames)
    }

    @Test("segments in any order give the same film; in order, memory holds only two segments")
    func anyOrder() throws {
        let vae = try fixtureVAE()
        let segments = plannedSegments(frameShape: [vae.config.latentChannels, 8, 8])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-stitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inOrder = try stitch(segments, order: Array(segments.indices), vae: vae, to: dir.appendingPathComponent("a.mp4"))
        let shuffled = try stitch(segments, order: [5, 2, 7, 0, 6, 1, 3, 4], vae: vae, to: dir.appendingPathComponent("b.mp4"))
        #expect(inOrder.frames == 50 && shuffled.frames == 50)
        #expect(inOrder.maxHeld <= 2)
        let first = try MP4Reader(url: dir.appendingPathComponent("a.mp4")).readAll()
        let second = try MP4Reader(url: dir.appendingPathComponent("b.mp4")).readAll()
        #expect(first.count == 50)
        #expect(first == second)
    }

    @Test("a plan with a hole is refused before any work; a missing segment stops finish with its name")
    func incomplete() throws {
        let vae = try fixtureVAE()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-stitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("film.mp4")
        let writer = try MP4Writer(url: url, width: 64, height: 64, framesPerSecond: 8)
        #expect(throws: StitchError.gap(8..<10)) {
            try FilmStitcher(plan: ["a": 0..<8, "b": 10..<16], totalFrames: 16, frameShape: [4, 8, 8], blender: LatentBlender(), decoder: vae, writer: writer)
        }
        let stitcher = try FilmStitcher(plan: ["a": 0..<8, "b": 6..<16], totalFrames: 16, frameShape: [4, 8, 8], blender: LatentBlender(), decoder: vae, writer: writer)
        try stitcher.add(SegmentLatents(id: "a", start: 0, frames: 8, frameShape: [4, 8, 8], values: [Float](repeating: 0.1, count: 8 * 256)))
        #expect(stitcher.framesWritten == 6)
        let error = #expect(throws: StitchError.self) { try stitcher.finish() }
        #expect(error?.description.contains("b") == true)
        #expect(throws: StitchError.self) {
            try stitcher.add(SegmentLatents(id: "b", start: 6, frames: 10, frameShape: [3, 8, 8], values: [Float](repeating: 0, count: 10 * 192)))
        }
        #expect(!FileManager.default.fileExists(atPath: url.path), "nothing under the final name")
    }
}
