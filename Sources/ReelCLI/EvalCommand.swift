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

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: video) else { throw UserError("No file at \(video); give the path of an MP4 to judge.") }
        let report: AdherenceReport
        do { report = try VideoEvaluation.evaluate(video: URL(fileURLWithPath: video), prompt: prompt, stride: stride) } catch {
            throw UserError("Could not read \(video) as a video: \(error.description).")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
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
    }
}
