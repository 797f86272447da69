import Foundation
import Testing
@testable import Stitcher

/// A synthetic animation: a diagonal colour gradient with a soft coloured blob crossing it.
func syntheticFrames(count: Int, width: Int, height: Int) -> [RGBFrame] {
    (0..<count).map { t in
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let cx = Double(width) * (0.2 + 0.6 * Double(t) / Double(max(count - 1, 1)))
        let cy = Double(height) * (0.5 + 0.25 * sin(Double(t) * 0.5))
        for y in 0..<height {
            for x in 0..<width {
                let d2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                let blob = exp(-d2 / 60)
                let base = (Double(x) / Double(width), Double(y) / Double(height))
                let rgb = (40 + 150 * base.0 + 60 * blob, 60 + 120 * base.1 - 40 * blob, 180 - 100 * base.0 - 120 * blob)
                let i = (y * width + x) * 3
                pixels[i] = UInt8(max(0, min(255, rgb.0)).rounded())
                pixels[i + 1] = UInt8(max(0, min(255, rgb.1)).rounded())
                pixels[i + 2] = UInt8(max(0, min(255, rgb.2)).rounded())
            }
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reel-mp4-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs ffprobe (the real tool from Debian's ffmpeg package) and returns its JSON.
func ffprobe(_ url: URL) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileReadCorruptFile) }
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// Top-level MP4 box types in file order.
func topLevelBoxes(_ url: URL) throws -> [String] {
    let data = try Data(contentsOf: url)
    var offset = 0
    var boxes: [String] = []
    while offset + 8 <= data.count {
        let size = data[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        boxes.append(String(decoding: data[(offset + 4)..<(offset + 8)], as: UTF8.self))
        guard size >= 8 else { break }
        offset += size
    }
    return boxes
}

@Suite("MP4 writer (libx264 + libavformat), read back with libavcodec")
struct MP4WriterTests {
    @Test("frames decoded back match the source: count, size, rate, PSNR ≥ 35 dB; ffprobe accepts the file")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("clip.mp4")
        let source = syntheticFrames(count: 24, width: 96, height: 64)
        let writer = try MP4Writer(url: url, width: 96, height: 64, framesPerSecond: 8,
                                   metadata: ["comment": "reel test clip", "title": "synthetic"])
        for frame in source { try writer.append(frame) }
        #expect(!FileManager.default.fileExists(atPath: url.path), "the final name appears only when finished")
        try writer.finish()
        #expect(FileManager.default.fileExists(atPath: url.path))

        let reader = try MP4Reader(url: url)
        #expect(reader.codecName == "h264")
        #expect(reader.width == 96 && reader.height == 64)
        #expect(reader.frameRate.numerator == 8 && reader.frameRate.denominator == 1)
        #expect(reader.declaredFrameCount == 24)
        #expect(reader.metadata["comment"] == "reel test clip")
        let decoded = try reader.readAll()
        #expect(decoded.count == source.count)
        let psnrs = zip(decoded, source).map { $0.psnr(against: $1) }
        #expect(psnrs.allSatisfy { $0 >= 35 }, "PSNR per frame: \(psnrs.map { Int($0) })")

        let probe = try ffprobe(url)
        let stream = (probe["streams"] as! [[String: Any]])[0]
        #expect(stream["codec_name"] as? String == "h264")
        #expect(stream["pix_fmt"] as? String == "yuv420p")
        #expect(stream["r_frame_rate"] as? String == "8/1")
        #expect(stream["avg_frame_rate"] as? String == "8/1")
        #expect(stream["nb_read_frames"] as? String == "24")
        let format = probe["format"] as! [String: Any]
        #expect(abs((Double(format["duration"] as! String) ?? 0) - 3.0) < 0.01)

        let boxes = try topLevelBoxes(url)
        #expect(boxes.firstIndex(of: "moov")! < boxes.firstIndex(of: "mdat")!, "faststart puts the index first: \(boxes)")
    }

    @Test("timestamps are monotonic, one frame period apart")
    func timestamps() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("ts.mp4")
        let writer = try MP4Writer(url: url, width: 32, height: 32, framesPerSecond: 24)
        for frame in syntheticFrames(count: 10, width: 32, height: 32) { try writer.append(frame) }
        try writer.finish()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // ffprobe may add a trailing field and a side-data line to the first frame: keep the first field.
        let times = text.split(whereSeparator: \.isNewline)
            .compactMap { $0.split(separator: ",").first.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
        #expect(times.count == 10)
        for (i, t) in times.enumerated() { #expect(abs(t - Double(i) / 24) < 1e-3) }
    }

    @Test("swscale upscales to the requested size")
    func upscale() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("up.mp4")
        let writer = try MP4Writer(url: url, width: 64, height: 64, framesPerSecond: 8,
                                   settings: EncoderSettings(crf: 18, preset: "veryfast", outputSize: FrameSize(width: 256, height: 256)))
        for frame in syntheticFrames(count: 4, width: 64, height: 64) { try writer.append(frame) }
        try writer.finish()
        let reader = try MP4Reader(url: url)
        #expect(reader.width == 256 && reader.height == 256)
        #expect(try reader.readAll().count == 4)
    }

    @Test("an unwritable destination fails clearly and leaves no file")
    func unwritable() throws {
        let url = URL(fileURLWithPath: "/nonexistent-dir-\(UUID().uuidString)/film.mp4")
        let error = #expect(throws: FFmpegError.self) { try MP4Writer(url: url, width: 32, height: 32, framesPerSecond: 8) }
        #expect(error?.description.contains("avio_open") == true)
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test("bad sizes and misuse are errors, not crashes")
    func misuse() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.mp4")
        #expect(throws: FFmpegError.self) { try MP4Writer(url: url, width: 31, height: 32, framesPerSecond: 8) }
        #expect(throws: FFmpegError.self) { try MP4Writer(url: url, width: 32, height: 32, framesPerSecond: 0) }
        let writer = try MP4Writer(url: url, width: 32, height: 32, framesPerSecond: 8)
        #expect(throws: FFmpegError.self) { try writer.finish() }  // no frames yet
        #expect(throws: FFmpegError.self) { try writer.append(syntheticFrames(count: 1, width: 16, height: 16)[0]) }
        try writer.append(syntheticFrames(count: 1, width: 32, height: 32)[0])
        try writer.finish()
        #expect(throws: FFmpegError.self) { try writer.finish() }
    }

    @Test("a writer dropped before finish leaves nothing behind")
    func abandoned() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let writer = try MP4Writer(url: dir.appendingPathComponent("gone.mp4"), width: 32, height: 32, framesPerSecond: 8)
            for frame in syntheticFrames(count: 3, width: 32, height: 32) { try writer.append(frame) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).count == 1, "the temporary file exists while writing")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a file that is not a video fails to open with FFmpeg's reason")
    func notAVideo() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("junk.mp4")
        try Data(repeating: 0x42, count: 1000).write(to: url)
        let error = #expect(throws: FFmpegError.self) { try MP4Reader(url: url) }
        #expect(error?.message.isEmpty == false)
    }
}

@Suite("Preview while rendering")
struct PreviewTests {
    @Test("a fragmented preview grows, plays with what is written so far, and goes away when the film is done")
    func preview() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let previewURL = dir.appendingPathComponent("film.preview.mp4")
        let writer = try MP4Writer(url: dir.appendingPathComponent("film.mp4"), width: 32, height: 32, framesPerSecond: 8,
                                   settings: EncoderSettings(preset: "ultrafast", keyframeInterval: 8, preview: previewURL))
        let frames = syntheticFrames(count: 40, width: 32, height: 32)
        var sizes: [Int] = []
        for (i, frame) in frames.enumerated() {
            try writer.append(frame)
            if i == 20 || i == 39 { sizes.append((try FileManager.default.attributesOfItem(atPath: previewURL.path)[.size] as! NSNumber).intValue) }
        }
        // Mid-render the preview is a playable fragmented MP4 holding the frames flushed so far.
        let partial = try MP4Reader(url: previewURL).readAll()
        #expect(partial.count >= 16 && partial.count < 40, "preview holds \(partial.count) frames")
        #expect(sizes[1] > sizes[0], "the preview grows: \(sizes)")
        try writer.finish()
        #expect(!FileManager.default.fileExists(atPath: previewURL.path))
        #expect(try MP4Reader(url: dir.appendingPathComponent("film.mp4")).readAll().count == 40)
    }
}
