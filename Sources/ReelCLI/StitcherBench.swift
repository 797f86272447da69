import ArgumentParser
import Foundation
import Models
import Stitcher
import Tensors

struct StitcherBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitcher",
        abstract: "Stitch a synthetic film (blend + VAE decode + encode): fps next to raw libx264 fps, and peak RSS.",
        discussion: """
            Segments of 16 latent frames every 12 (overlap 4) are generated on the fly as smooth \
            deterministic patterns and fed to the streaming stitcher in order, then the same decoded \
            frames are encoded again by a bare MP4Writer for the raw-encoder figure. Peak RSS is the \
            process's (getrusage): run once per --minutes value to compare lengths.
            """
    )

    @Option(help: "Film length in minutes at the model's frame rate.")
    var minutes: Double = 1

    @Option(help: "Output size WIDTHxHEIGHT (swscale from 64x64).")
    var size = "256x256"

    @Option(help: "x264 preset.")
    var preset = "veryfast"

    @Option(help: "Blend ramp.")
    var ramp: BlendRamp = .cosine

    @Flag(help: "Skip the raw-encoder comparison (it keeps decoded frames in memory).")
    var skipRaw = false

    @Flag(help: ArgumentHelp("Also time the stitcher with its decode farmed out: the pictures of each batch are decoded in an untimed first pass and handed back the way workers' FRAMES are, so the timed pass is the stitcher's own work (blend + encode) — what it costs when the farm decodes."))
    var decodeElsewhere = false

    func run() throws {
        let model: ReelTinyModel
        do { model = try ReelTinyModel() } catch { throw UserError(error.description) }
        let parts = size.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2 else { throw ValidationError("--size takes WIDTHxHEIGHT") }
        let fps = model.config.fps
        let total = Int(minutes * 60 * Double(fps))
        let shape = [model.config.vae.latentChannels, 8, 8]
        let window = 16, step = 12
        var plan: [String: Range<Int>] = [:]
        var start = 0
        while true {
            let s = min(start, max(0, total - window))
            plan["seg\(s)"] = s..<min(s + window, total)
            if s + window >= total { break }
            start += step
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reel-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let settings = EncoderSettings(crf: 18, preset: preset, outputSize: FrameSize(width: parts[0], height: parts[1]))
        let segments = plan.sorted(by: { $0.value.lowerBound < $1.value.lowerBound })
        /// Streams the whole film through a fresh stitcher; returns its wall seconds and most segments held.
        func stitch(to name: String, remote: (any RemoteFrameDecoder)?, label: String) throws -> (seconds: Double, maxHeld: Int) {
            let writer = try MP4Writer(url: dir.appendingPathComponent(name), width: 64, height: 64, framesPerSecond: fps, settings: settings)
            let stitcher = try FilmStitcher(plan: plan, totalFrames: total, frameShape: shape, blender: LatentBlender(ramp: ramp),
                                            decoder: model.vae, writer: writer)
            stitcher.remote = remote
            let bar = ProgressBar(label: label, total: total)
            let begin = DispatchTime.now().uptimeNanoseconds
            var maxHeld = 0
            for (id, span) in segments {
                let perFrame = shape.reduce(1, *)
                var values = [Float](repeating: 0, count: span.count * perFrame)
                for (k, f) in span.enumerated() {
                    for i in 0..<perFrame {
                        let c = Float(i / 64), y = Float((i / 8) % 8), x = Float(i % 8)
                        values[k * perFrame + i] = sinf(0.07 * Float(f) + c + 0.5 * x) * cosf(0.3 * y + 0.05 * Float(f))
                    }
                }
                try stitcher.add(SegmentLatents(id: id, start: span.lowerBound, frames: span.count, frameShape: shape, values: values))
                maxHeld = max(maxHeld, stitcher.heldSegments)
                bar.update(stitcher.framesWritten)
            }
            try stitcher.finish()
            return (Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9, maxHeld)
        }
        let (stitchSeconds, maxHeld) = try stitch(to: "film.mp4", remote: nil, label: "stitching")
        print(String(format: "stitch %d frames (%.1f min at %d fps, %d segments, %@ → %@, %@): %.1f s = %.1f fps; at most %d segments held",
                     total, minutes, fps, plan.count, "64x64", size, preset, stitchSeconds, Double(total) / stitchSeconds, maxHeld))
        print(String(format: "peak RSS after stitching: %.1f MiB", Self.peakRSSMiB()))
        var elsewhereFPS: Double?
        if decodeElsewhere {
            let recorder = RecordedPictures(vae: model.vae)
            _ = try stitch(to: "recording.mp4", remote: recorder, label: "decoding (untimed)")
            recorder.replaying = true
            let (seconds, _) = try stitch(to: "elsewhere.mp4", remote: recorder, label: "stitching, decode elsewhere")
            let same = try Data(contentsOf: dir.appendingPathComponent("elsewhere.mp4")) == Data(contentsOf: dir.appendingPathComponent("film.mp4"))
            elsewhereFPS = Double(total) / seconds
            print(String(format: "stitch with the decode farmed out (pictures handed back as workers' FRAMES are): %.1f s = %.1f fps; film identical to the one above: %@",
                         seconds, Double(total) / seconds, same ? "yes" : "NO"))
        }
        if !skipRaw {
            let frames = try MP4Reader(url: dir.appendingPathComponent("film.mp4")).readAll().prefix(min(total, 2000))
            let small = frames.map { Self.shrink($0, to: 64) }
            let raw = try MP4Writer(url: dir.appendingPathComponent("raw.mp4"), width: 64, height: 64, framesPerSecond: fps, settings: settings)
            let rawBegin = DispatchTime.now().uptimeNanoseconds
            for frame in small { try raw.append(frame) }
            try raw.finish()
            let rawSeconds = Double(DispatchTime.now().uptimeNanoseconds - rawBegin) / 1e9
            let rawFPS = Double(small.count) / rawSeconds, stitchFPS = Double(total) / stitchSeconds
            print(String(format: "raw libx264 on the same %d frames (64x64 → %@, %@): %.1f fps; stitcher/raw = %.0f%%",
                         small.count, size, preset, rawFPS, 100 * stitchFPS / rawFPS))
            if let elsewhereFPS {
                print(String(format: "stitcher with the decode farmed out / raw = %.0f%%", 100 * elsewhereFPS / rawFPS))
            }
            // What the stitcher's time goes to: the VAE decode alone, in the stitcher's batches of 8,
            // against the sgemm peak measured here and now.
            let latents = Tensor(shape: [8] + shape, scalars: (0..<(8 * shape.reduce(1, *))).map { sinf(Float($0) * 0.37) })
            let clock = Stopwatch(rounds: 5, minSeconds: 0.5)
            let decode = clock.measure { _ = model.vae.decode(latents) } / 8
            let peak = clock.sgemmPeak()
            let gflop = model.vae.decodeFLOPsPerFrame / 1e9
            print(String(format: "VAE decode alone (%d BLAS threads): %.1f fps = %.2f GFLOP/frame × %.1f fps = %.1f GFLOP/s, %.0f%% of the sgemm peak (%.1f GFLOP/s)",
                         BLAS.threadCount, 1 / decode, gflop, 1 / decode, gflop / decode, 100 * gflop / decode / peak, peak))
            print(String(format: "bounds: decode at 100%% of peak = %.0f fps; decode and encode one after the other on these cores = %.0f fps (%.0f%% of raw)",
                         peak / gflop, 1 / (decode + 1 / rawFPS), 100 / (decode + 1 / rawFPS) / rawFPS))
        }
    }

    static func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// Box-filter a frame down to size×size (the stitcher's input size for the raw comparison).
    static func shrink(_ frame: RGBFrame, to size: Int) -> RGBFrame {
        if frame.width == size { return frame }
        let fx = frame.width / size, fy = frame.height / size
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size { for x in 0..<size { for c in 0..<3 {
            var sum = 0
            for dy in 0..<fy { for dx in 0..<fx { sum += Int(frame.pixels[((y * fy + dy) * frame.width + x * fx + dx) * 3 + c]) } }
            pixels[(y * size + x) * 3 + c] = UInt8(sum / (fx * fy))
        }}}
        return RGBFrame(width: size, height: size, pixels: pixels)
    }
}

extension BlendRamp: ExpressibleByArgument {}

/// The bench's stand-in for the farm's workers: first it decodes each batch where it is asked
/// (recording the pictures), then it hands the recorded pictures back, in order, as fast as a
/// FRAMES message could arrive — so a second stitch of the same film measures the stitcher alone.
final class RecordedPictures: RemoteFrameDecoder, @unchecked Sendable {
    let vae: ReelTinyVAE
    /// Set between the two passes (the bench is single-threaded).
    var replaying = false
    private var batches: [[RGBFrame]] = []
    private var next = 0

    init(vae: ReelTinyVAE) { self.vae = vae }

    func submit(_ latents: Tensor) -> PendingFrames {
        let pending = PendingFrames()
        if replaying {
            pending.fulfil(batches[next])
            next += 1
        } else {
            let frames = RGBFrame.frames(fromCHW: vae.decodeFrames(latents))
            batches.append(frames)
            pending.fulfil(frames)
        }
        return pending
    }
}
