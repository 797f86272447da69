import Foundation
import Testing
@testable import Evaluation
import Stitcher

/// Deterministic start positions inside the frame, as world.py's random_anchor chooses them.
func anchor(for motion: String, size: String, index: Int) -> (x: Double, y: Double) {
    let r = size == "big" ? 10.0 : 6.0
    let f = Double((index * 37) % 100) / 100, g = Double((index * 61) % 100) / 100
    let lo = r + 2, hi = 64 - r - 2
    switch motion {
    case "bounce": return (lo + f * (hi - lo), lo + 14 + g * (hi - lo - 14))
    case "circle": return (lo + 12 + f * (hi - lo - 24), lo + 12 + g * (hi - lo - 24))
    case "grow", "shrink": let big = r * 1.4; return (big + 2 + f * (60 - 2 * big), big + 2 + g * (60 - 2 * big))
    default: return (lo + f * (hi - lo), lo + g * (hi - lo))
    }
}

func groundTruthClips() -> [WorldClip] {
    var clips: [WorldClip] = []
    var index = 0
    for colour in World.colours.map(\.name) {
        for shape in World.shapes {
            for motion in World.motions {
                let size = index % 2 == 0 ? "big" : "small"
                let background = WorldRenderer.backgroundNames[index % WorldRenderer.backgroundNames.count]
                clips.append(WorldClip(background: background, colour: colour, shape: shape, size: size, motion: motion,
                                       anchor: anchor(for: motion, size: size, index: index), phase: Double((index * 13) % 100) / 100))
                index += 1
            }
        }
    }
    return clips
}

@Suite("reel eval: prompt reading and clip analysis on the world's own renders")
struct EvaluationTests {
    @Test("prompts are read into world attributes, synonyms and held-out templates included", arguments: [
        ("a red ball rolls left on green grass", PromptAttributes(colour: "red", shape: "circle", motion: "left", size: nil, background: "grass")),
        ("small crimson circle drifting to the left", PromptAttributes(colour: "red", shape: "circle", motion: "left", size: "small")),
        ("there is a large royal blue cube travelling from right to left up in the daytime sky",
         PromptAttributes(colour: "blue", shape: "square", motion: "left", size: "big", background: "sky")),
        ("clip: bright green wedge, moving in a circle, at night", PromptAttributes(colour: "green", shape: "triangle", motion: "circle", size: nil, background: "night")),
        ("In the snow we watch a tiny hot pink orb bouncing up and down", PromptAttributes(colour: "pink", shape: "circle", motion: "bounce", size: "small", background: "snow")),
        ("look, a golden block shrinks down on the sand!", PromptAttributes(colour: "yellow", shape: "square", motion: "shrink", size: nil, background: "sand")),
        ("a violet pyramid that remains stationary", PromptAttributes(colour: "purple", shape: "triangle", motion: "still", size: nil)),
        ("an aqua disc rising", PromptAttributes(colour: "cyan", shape: "circle", motion: "up", size: nil)),
        // A colour in a background phrase the tables do not list is not the subject's.
        ("a red ball bounces across green grass", PromptAttributes(colour: "red", shape: "circle", motion: "bounce", size: nil)),
        ("a small blue square drifts right over a pink and orange sunset", PromptAttributes(colour: "blue", shape: "square", motion: "right", size: "small")),
    ])
    func prompts(prompt: String, expected: PromptAttributes) {
        #expect(PromptAttributes(prompt: prompt) == expected)
    }

    @Test("colour, shape and motion are recovered from ground-truth world clips")
    func groundTruth() {
        var wrong: [String] = []
        var correct = (colour: 0, shape: 0, motion: 0)
        let clips = groundTruthClips()
        for clip in clips {
            let frames = WorldRenderer.render(clip, count: 16)
            let prompt = "a \(clip.colour) \(clip.shape == "circle" ? "ball" : clip.shape) " + World.motionPhrases[clip.motion]![0]
            let report = VideoEvaluation.evaluate(frames: frames, prompt: prompt)
            if report.colourCorrect == true { correct.colour += 1 } else { wrong.append("colour \(clip) → \(report.observedColour ?? "-")") }
            if report.shapeCorrect == true { correct.shape += 1 } else { wrong.append("shape \(clip.shape)/\(clip.motion)/\(clip.size) → \(report.observedShape ?? "-")") }
            if report.motionCorrect == true { correct.motion += 1 } else { wrong.append("motion \(clip.motion) \(clip.shape) \(clip.size) \(clip.anchor) → \(report.observedMotion ?? "-")") }
        }
        let n = Double(clips.count)
        print("eval on \(clips.count) ground-truth clips: colour \(Double(correct.colour) / n), shape \(Double(correct.shape) / n), motion \(Double(correct.motion) / n)")
        for line in wrong.prefix(30) { print("  miss: \(line)") }
        #expect(Double(correct.colour) / n == 1)
        #expect(Double(correct.shape) / n >= 0.95)
        #expect(Double(correct.motion) / n >= 0.95)
    }

    @Test("the analysis survives H.264 round trips and 4× upscaling")
    func throughMP4() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, clip) in groundTruthClips().enumerated() where i % 23 == 0 {
            let url = dir.appendingPathComponent("\(i).mp4")
            let writer = try MP4Writer(url: url, width: 64, height: 64, framesPerSecond: 8,
                                       settings: EncoderSettings(outputSize: i % 2 == 0 ? FrameSize(width: 256, height: 256) : nil))
            for frame in WorldRenderer.render(clip, count: 16) { try writer.append(frame) }
            try writer.finish()
            let prompt = "a \(clip.colour) \(clip.shape) " + World.motionPhrases[clip.motion]![0]
            let report = try VideoEvaluation.evaluate(video: url, prompt: prompt)
            #expect(report.frames == 16)
            #expect(report.colourCorrect == true, "\(clip) → \(report)")
            #expect(report.motionCorrect == true, "\(clip) → \(report)")
        }
    }

    @Test("a frame with nothing but background has no subject")
    func empty() {
        var clip = groundTruthClips()[0]
        clip.anchor = (-40, -40)
        clip.motion = "still"
        #expect(ClipAnalysis().observe(WorldRenderer.render(clip, count: 1)[0]) == nil)
    }
}

@Suite("Seam metric")
struct SeamMetricTests {
    func flat(_ value: UInt8) -> RGBFrame { RGBFrame(width: 4, height: 4, pixels: [UInt8](repeating: value, count: 48)) }

    @Test("a jump at a seam shows as a ratio above 1; smooth motion across it as 1")
    func ratios() {
        // Frames brighten by 2 per frame; at frame 5 a seam adds a jump of 10.
        let jumpy = (0..<10).map { flat(UInt8(2 * $0 + ($0 >= 5 ? 10 : 0))) }
        let report = SeamMetric.measure(frames: jumpy, seams: [5])!
        #expect(abs(report.insideChange - 2) < 1e-9)
        #expect(abs(report.seamChange - 12) < 1e-9)
        #expect(abs(report.ratio - 6) < 1e-9)
        #expect(report.seams == [SeamReport.Seam(frame: 5, ratio: 6)])
        let smooth = (0..<10).map { flat(UInt8(2 * $0)) }
        #expect(abs(SeamMetric.measure(frames: smooth, seams: [5])!.ratio - 1) < 1e-9)
        #expect(SeamMetric.measure(frames: smooth, seams: []) == nil)
    }
}

@Suite("Prompt reading on reel-tiny's evaluation set")
struct EvaluationPromptTests {
    struct Item: Decodable { let text: String; let colour: String; let shape: String; let motion: String; let size: String? }

    @Test("every held-out prompt reads back as the attributes it was written from")
    func heldOutPrompts() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/train/eval_prompts.json").standardized
        let items = try JSONDecoder().decode([Item].self, from: Data(contentsOf: url))
        #expect(items.count >= 60)
        for item in items {
            let read = PromptAttributes(prompt: item.text)
            #expect(read.colour == item.colour && read.shape == item.shape && read.motion == item.motion, "\(item.text) → \(read)")
            if let size = item.size { #expect(read.size == size, "\(item.text)") }
        }
    }
}
