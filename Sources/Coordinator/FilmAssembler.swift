import Foundation
import Models
import Planner
import Stitcher
import Synchronization
import Tensors

/// Whether `error` says the disk is full (FFmpeg, POSIX or Foundation file errors).
func isOutOfSpace(_ error: any Error) -> Bool {
    if let ffmpeg = error as? FFmpegError { return ffmpeg.isOutOfSpace }
    return storagePOSIXCode(error) == .ENOSPC
}

/// Streams one job's film while its final-level segments arrive: reads each from the segment store,
/// blends, decodes, encodes. Runs on its own thread (decoding and encoding are CPU work that must
/// not stall the coordinator's socket loop); the loop hands it segment digests and learns of the
/// end through `completion`.
final class FilmAssembler: Sendable {
    let job: String
    let film: URL
    let preview: URL
    private let inbox = Mutex<Inbox>(Inbox())
    private let wake = DispatchSemaphore(value: 0)
    private let progress = Atomic<Int>(0)
    /// Nanoseconds spent blending, decoding and encoding (not waiting for segments).
    private let busy = Atomic<Int>(0)

    private struct Inbox {
        var segments: [(task: SegmentTask, digest: String)] = []
        var allArrived = false
        var cancelled = false
    }

    private let locallyDecoded = Atomic<Int>(0)

    /// Output frames encoded so far.
    var framesWritten: Int { progress.load(ordering: .relaxed) }

    /// Batches the stitcher decoded itself although workers were asked (known once the film ends).
    var batchesDecodedLocally: Int { locallyDecoded.load(ordering: .relaxed) }

    /// Frames per second of the stitcher so far (blend + encode, the VAE decode of batches it decodes
    /// itself, and waiting for the workers' pictures), nil before any.
    var framesPerSecond: Double? {
        let ns = busy.load(ordering: .relaxed)
        return ns > 0 ? Double(framesWritten) / (Double(ns) * 1e-9) : nil
    }

    private func timed<T>(_ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        defer {
            let d = ContinuousClock.now - start
            busy.add(Int(d.components.seconds) * 1_000_000_000 + Int(d.components.attoseconds / 1_000_000_000), ordering: .relaxed)
        }
        return try body()
    }

    /// How a film ended.
    enum Outcome: Sendable {
        /// The film is in place under `film`.
        case written
        /// One sentence; the job fails.
        case failed(String)
        /// The disk filled up (one sentence): the job pauses and its film starts again when space is back.
        case outOfSpace(String)
    }

    /// Starts the thread; `completion` is called exactly once unless cancelled.
    /// Batches go to `remote` (with its timeout in seconds) when given; `decoder` decodes the rest.
    init(job: String, spec: JobSpec, plan: SegmentPlan, directory: URL, store: SegmentStore, decoder: any LatentFrameDecoder,
         remote: (decoder: any RemoteFrameDecoder, timeout: Double)?, frameShape: [Int], pixelSize: (width: Int, height: Int),
         soundtrack: URL?, completion: @escaping @Sendable (Outcome) -> Void) {
        self.job = job
        self.film = directory.appendingPathComponent("film.mp4")
        self.preview = directory.appendingPathComponent("preview.mp4")
        let thread = Thread { [self] in
            let outcome = self.run(spec: spec, plan: plan, store: store, decoder: decoder, remote: remote, frameShape: frameShape,
                                   pixelSize: pixelSize, soundtrack: soundtrack)
            if !self.inbox.withLock({ $0.cancelled }) { completion(outcome) }
        }
        thread.name = "reel-stitch-\(job)"
        thread.start()
    }

    func add(_ task: SegmentTask, digest: String) {
        inbox.withLock { $0.segments.append((task, digest)) }
        wake.signal()
    }

    /// Every final-level segment has been handed over.
    func allArrived() {
        inbox.withLock { $0.allArrived = true }
        wake.signal()
    }

    func cancel() {
        inbox.withLock { $0.cancelled = true }
        wake.signal()
    }

    private func run(spec: JobSpec, plan: SegmentPlan, store: SegmentStore, decoder: any LatentFrameDecoder,
                     remote: (decoder: any RemoteFrameDecoder, timeout: Double)?, frameShape: [Int],
                     pixelSize: (width: Int, height: Int), soundtrack: URL?) -> Outcome {
        let interpolation = spec.fps / plan.geometry.fps
        let outputFrames = plan.totalFrames * interpolation
        var settings = EncoderSettings(crf: spec.crf, preset: spec.preset, outputSize: spec.size.flatMap(JobSpec.parseSize))
        settings.soundtrack = soundtrack
        settings.expectedFrames = outputFrames
        settings.preview = preview
        let request = spec.request
        var metadata = [
            "title": spec.summary, "reel_seed": String(request.seed), "reel_model": spec.model, "reel_version": ReelVersion.current,
            "reel_strategy": request.strategy.rawValue, "ai_generated": "true",
            "comment": "AI generated by Reel \(ReelVersion.current) with \(spec.model); seed \(request.seed)",
            "reel_seams": plan.seams.map { String($0 * interpolation) }.joined(separator: ","),
        ]
        if let prompt = request.prompt { metadata["reel_prompt"] = prompt }
        if let storyboard = request.storyboard, let json = try? JSONEncoder().encode(storyboard) {
            metadata["reel_storyboard"] = String(decoding: json, as: UTF8.self)
        }
        do {
            let writer = try MP4Writer(url: film, width: pixelSize.width, height: pixelSize.height, framesPerSecond: spec.fps,
                                       settings: settings, metadata: metadata)
            let stitcher = try FilmStitcher(plan: plan.stitchSpans, totalFrames: plan.totalFrames, frameShape: frameShape,
                                            blender: LatentBlender(ramp: spec.blend, adainStrength: spec.adain), decoder: decoder, writer: writer)
            stitcher.interpolation = interpolation
            if let remote {
                stitcher.remote = remote.decoder
                stitcher.remoteTimeout = remote.timeout
            }
            defer { locallyDecoded.store(stitcher.batchesDecodedLocally, ordering: .relaxed) }
            let frameSize = frameShape.reduce(1, *)
            while true {
                wake.wait()
                let (batch, done, cancelled) = inbox.withLock { box -> ([(task: SegmentTask, digest: String)], Bool, Bool) in
                    defer { box.segments.removeAll() }
                    return (box.segments, box.allArrived, box.cancelled)
                }
                if cancelled { return .failed("cancelled") }  // the writer's temporary file goes with it
                for (task, digest) in batch {
                    let values = [Float](littleEndianBytes: try store.get(digest)[...])
                    guard values.count == task.frames * frameSize else {
                        return .failed("segment \(task.id) in the store holds \(values.count) values; expected \(task.frames * frameSize)")
                    }
                    let anchored = task.anchors.map { task.startFrame + $0.slot * task.stride }
                    try timed {
                        try stitcher.add(SegmentLatents(id: task.id, start: task.startFrame, frames: task.frames, frameShape: frameShape,
                                                        values: values, anchorFrames: anchored))
                    }
                    progress.store(stitcher.outputFrames, ordering: .relaxed)
                }
                if done && inbox.withLock({ $0.segments.isEmpty }) {
                    try timed { try stitcher.finish() }
                    progress.store(stitcher.outputFrames, ordering: .relaxed)
                    return .written
                }
            }
        } catch {
            if isOutOfSpace(error) { return .outOfSpace("stitching stopped: \(error)") }
            return .failed("stitching failed: \(error)")
        }
    }
}
