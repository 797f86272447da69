import ArgumentParser
import Evaluation
import Foundation
import Stitcher

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Judge a video of the reel-tiny world against its prompt: colour, shape, motion.",
        discussion: """
            Reads the video back with FFmpeg, finds the subject against the background in each frame \
            (docs/world.md says how) and compares its colour, shape and motion with what the prompt names.
            """
    )

    @Argument(help: "The video file (MP4).")
    var video: String

    @Option(help: "The prompt the video was made from.")
    var prompt: String

    @Option(help: "Frame stride the video was rendered at (output frames between its frames).")
    var stride = 1

    @Option(help: "Seam frames, comma-separated (default: the video's reel_seams tag, written by the stitcher).")
    var seams: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: video) else { throw UserError("No file at \(video); give the path of an MP4 to judge.") }
        let frames: [RGBFrame], tags: [String: String]
        do {
            let reader = try MP4Reader(url: URL(fileURLWithPath: video))
            tags = reader.metadata
            frames = try reader.readAll()
        } catch {
            throw UserError("Could not read \(video) as a video: \(error.description).")
        }
        let report = VideoEvaluation.evaluate(frames: frames, prompt: prompt, stride: stride)
        let seamFrames = (seams ?? tags["reel_seams"] ?? "").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let seamReport = SeamMetric.measure(frames: frames, seams: seamFrames)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            struct Output: Encodable { let adherence: AdherenceReport; let seams: SeamReport? }
            print(String(decoding: try encoder.encode(Output(adherence: report, seams: seamReport)), as: UTF8.self))
            return
        }
        func line(_ name: String, _ expected: String?, _ observed: String?, _ correct: Bool?) -> String {
            let verdict = correct.map { $0 ? "ok" : "WRONG" } ?? "not named in the prompt"
            return "\(name): expected \(expected ?? "-"), observed \(observed ?? "none") — \(verdict)"
        }
        print("\(video): subject found in \(report.framesWithSubject)/\(report.frames) frames")
        print(line("colour", report.expected.colour, report.observedColour, report.colourCorrect))
        print(line("shape ", report.expected.shape, report.observedShape, report.shapeCorrect))
        print(line("motion", report.expected.motion, report.observedMotion, report.motionCorrect))
        if let seamReport {
            print(String(format: "seams: ratio %.3f (1.0 = invisible; change %.2f across seams vs %.2f inside), %d seams",
                         seamReport.ratio, seamReport.seamChange, seamReport.insideChange, seamReport.seams.count))
        } else {
            print("seams: none known (the video has no reel_seams tag; pass --seams)")
        }
    }
}
