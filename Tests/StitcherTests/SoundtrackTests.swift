import Foundation
import Testing
@testable import Stitcher

/// Runs the ffmpeg tool (Debian's package) to make test audio.
func makeTone(_ url: URL, seconds: Double, codec: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=\(seconds)"] + codec + [url.path]
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
}

/// Stream durations by codec type from ffprobe.
func streamDurations(_ url: URL) throws -> [String: Double] {
    let probe = try ffprobe(url)
    var out: [String: Double] = [:]
    for stream in probe["streams"] as! [[String: Any]] {
        out[stream["codec_type"] as! String] = Double(stream["duration"] as? String ?? "") ?? -1
        if stream["codec_type"] as? String == "audio" { out["audio_codec_is_aac"] = stream["codec_name"] as? String == "aac" ? 1 : 0 }
    }
    return out
}

@Suite("Soundtrack muxing")
struct SoundtrackTests {
    func film(with audio: URL, in dir: URL, frames: Int = 24) throws -> URL {
        let url = dir.appendingPathComponent("film-\(audio.lastPathComponent).mp4")
        let writer = try MP4Writer(url: url, width: 32, height: 32, framesPerSecond: 8,
                                   settings: EncoderSettings(preset: "veryfast", soundtrack: audio, expectedFrames: frames))
        for frame in syntheticFrames(count: frames, width: 32, height: 32) { try writer.append(frame) }
        try writer.finish()
        return url
    }

    @Test("a longer AAC track is copied and trimmed to the video; shorter or non-MP4 audio is transcoded to AAC, padded or trimmed",
          arguments: [("long.m4a", 5.0, ["-c:a", "aac"]), ("short.wav", 1.0, []), ("long.wav", 5.0, []), ("short.m4a", 1.2, ["-c:a", "aac"])])
    func lengths(name: String, seconds: Double, codec: [String]) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let audio = dir.appendingPathComponent(name)
        try makeTone(audio, seconds: seconds, codec: codec)
        let url = try film(with: audio, in: dir)
        let durations = try streamDurations(url)
        #expect(abs(durations["video"]! - 3.0) < 0.01)
        #expect(abs(durations["audio"]! - 3.0) < 0.05, "audio lasts \(durations["audio"]!) s")
        #expect(durations["audio_codec_is_aac"] == 1)
        #expect(try MP4Reader(url: url).readAll().count == 24, "video frames intact")
    }

    @Test("a missing, unreadable or silent-less file is one clear error and no film is left", arguments: ["missing.wav", "junk.wav", "video.mp4"])
    func badAudio(name: String) throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let audio = dir.appendingPathComponent(name)
        if name == "junk.wav" { try Data(repeating: 7, count: 500).write(to: audio) }
        if name == "video.mp4" {
            let writer = try MP4Writer(url: audio, width: 32, height: 32, framesPerSecond: 8)
            try writer.append(syntheticFrames(count: 1, width: 32, height: 32)[0])
            try writer.finish()
        }
        let error = #expect(throws: FFmpegError.self) { try film(with: audio, in: dir) }
        #expect(error?.message.contains(audio.path) == true, "\(error?.description ?? "")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("film") || $0.hasPrefix(".film") }.isEmpty)
    }
}
