import Foundation
import Stitcher

/// How well a clip follows its prompt, as `reel eval` reports it.
public struct AdherenceReport: Sendable, Codable, Equatable {
    public let prompt: String
    public let expected: PromptAttributes
    public let observedColour: String?
    public let observedShape: String?
    public let observedMotion: String?
    public let frames: Int
    /// Frames in which a subject stood out from the background.
    public let framesWithSubject: Int
    /// nil where the prompt names no such attribute.
    public let colourCorrect: Bool?
    public let shapeCorrect: Bool?
    public let motionCorrect: Bool?
}

public enum VideoEvaluation {
    /// Judges frames against a prompt. `stride` is the output-frame spacing of the frames.
    public static func evaluate(frames: [RGBFrame], prompt: String, stride: Int = 1) -> AdherenceReport {
        let analysis = ClipAnalysis()
        let track = frames.map { analysis.observe($0) }
        let seen = track.compactMap { $0 }
        let colour = ClipAnalysis.colour(track)
        let shape = ClipAnalysis.shape(track)
        let motion = ClipAnalysis.motion(track, stride: stride)
        let expected = PromptAttributes(prompt: prompt)
        return AdherenceReport(
            prompt: prompt, expected: expected,
            observedColour: colour, observedShape: shape, observedMotion: motion,
            frames: frames.count, framesWithSubject: seen.count,
            colourCorrect: expected.colour.map { $0 == colour },
            shapeCorrect: expected.shape.map { $0 == shape },
            motionCorrect: expected.motion.map { $0 == motion })
    }

    /// Reads an MP4 (or any video FFmpeg reads) and judges it against a prompt.
    public static func evaluate(video: URL, prompt: String, stride: Int = 1) throws(FFmpegError) -> AdherenceReport {
        let reader = try MP4Reader(url: video)
        return evaluate(frames: try reader.readAll(), prompt: prompt, stride: stride)
    }
}
