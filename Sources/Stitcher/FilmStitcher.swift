import Foundation
import Models
import Synchronization
import Tensors

/// Turns latent frames into pictures: `[n, C, h, w]` (the DiT's unit-variance space) →
/// `[n, 3, H, W]` in about [-1, 1].
public protocol LatentFrameDecoder: Sendable {
    func decodeFrames(_ latents: Tensor) -> Tensor
}

extension ReelTinyVAE: LatentFrameDecoder {
    public func decodeFrames(_ latents: Tensor) -> Tensor { decode(rawLatents(latents)) }
}

/// Decodes batches of latent frames away from the stitcher's thread — on the farm's workers — so
/// the stitcher's own work is blending and encoding. Results come back later, in any order.
public protocol RemoteFrameDecoder: Sendable {
    /// Starts decoding `latents` `[n, C, h, w]` (the DiT's space); returns at once.
    func submit(_ latents: Tensor) -> PendingFrames
}

/// Pictures on their way back from a `RemoteFrameDecoder`: fulfilled once, with the frames or with
/// nil (the decode failed or was given up), and waited for by the stitcher.
public final class PendingFrames: Sendable {
    private let result = Mutex<[RGBFrame]??>(nil)
    private let arrived = DispatchSemaphore(value: 0)

    public init() {}

    /// Hands over the pictures (nil: none will come). Later calls are ignored.
    public func fulfil(_ frames: [RGBFrame]?) {
        let first = result.withLock { value -> Bool in
            guard value == nil else { return false }
            value = .some(frames)
            return true
        }
        if first { arrived.signal() }
    }

    /// The pictures, or nil when they failed or did not come within `timeout` seconds (nil: no limit).
    public func wait(timeout: Double?) -> [RGBFrame]? {
        if let timeout {
            if arrived.wait(timeout: .now() + timeout) == .timedOut { fulfil(nil) }
        } else {
            arrived.wait()
        }
        return result.withLock { $0 ?? nil }
    }
}

/// The stitcher's own decoder on a thread of its own, batches in submission order. The encoder's
/// thread then never runs the VAE: decoding the next batches overlaps encoding this one, and the
/// encoder's output does not depend on what ran before it on its thread (measured: with the VAE
/// decode on the encoder's thread, libx264 wrote different bitstreams for identical pictures from
/// one run to the next; see docs/STATUS.md).
final class DecodeThread: RemoteFrameDecoder {
    private let decoder: any LatentFrameDecoder
    private let thread = OnDemandThread(name: "reel-stitch-decode")

    init(decoder: any LatentFrameDecoder) { self.decoder = decoder }

    func submit(_ latents: Tensor) -> PendingFrames {
        let pending = PendingFrames()
        thread.run { [decoder] in pending.fulfil(RGBFrame.frames(fromCHW: decoder.decodeFrames(latents))) }
        return pending
    }
}

/// Runs jobs one at a time, in submission order, on a thread of its own that exists only while
/// there is work: the first job starts it, and it ends when the queue is empty. (8 MiB of stack,
/// like the render threads.)
public final class OnDemandThread: Sendable {
    private let name: String
    private let lane = Mutex<(queue: [@Sendable () -> Void], running: Bool)>(([], false))

    public init(name: String) { self.name = name }

    public func run(_ job: @escaping @Sendable () -> Void) {
        let start = lane.withLock { lane -> Bool in
            lane.queue.append(job)
            defer { lane.running = true }
            return !lane.running
        }
        guard start else { return }
        let thread = Thread { [self] in
            while let next = lane.withLock({ lane -> (@Sendable () -> Void)? in
                if lane.queue.isEmpty { lane.running = false; return nil }
                return lane.queue.removeFirst()
            }) {
                next()
            }
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Streams a film out of segments that arrive in any order.
///
/// The stitcher knows the plan's spans (which global frames each segment covers). Each time a
/// segment arrives it emits, in order, every next frame whose covering segments have all arrived:
/// blend in latent space → decode → encode. Segments are dropped once the film has moved past them,
/// so memory holds only the segments around the write position, however long the film.
public final class FilmStitcher {
    public let totalFrames: Int
    public let frameShape: [Int]
    /// Model frames blended so far (their pixels follow in decode batches).
    public private(set) var framesWritten = 0
    /// Where each planned segment sits, by id.
    private let plan: [String: Range<Int>]
    private let spans: [(id: String, span: Range<Int>)]
    private let longestSpan: Int
    private var pending: [String: SegmentLatents] = [:]
    private let blender: LatentBlender
    private let decoder: any LatentFrameDecoder
    private let writer: MP4Writer
    /// Frames decoded per VAE call (batched for BLAS efficiency).
    public var decodeBatch = 8
    /// Output frames per latent frame: above 1, in-between frames are interpolated linearly in
    /// latent space (a film at 2× or 3× the model's frame rate); the last frame is held.
    public var interpolation = 1
    /// Frames handed to the encoder so far (about `framesWritten × interpolation`, less the ones
    /// waiting for a full decode batch or still being decoded).
    public private(set) var outputFrames = 0
    private var lastBlended: [Float]?
    /// Blended latents waiting for a full decode batch.
    private var decodeQueue: [[Float]] = []
    /// Where batches are decoded when set (the farm's workers); `decoder` then only stands in for
    /// a batch that fails or does not come back within `remoteTimeout` seconds. Set it before the
    /// first segment.
    public var remote: (any RemoteFrameDecoder)?
    /// Batches out (at `remote` or the decode thread) before the stitcher waits for the oldest (encoding stays in film order).
    public var decodeAhead = 8
    public var remoteTimeout: Double = 20
    /// Batches the stitcher decoded itself although `remote` was set.
    public private(set) var batchesDecodedLocally = 0
    /// Batches being decoded, oldest first, with their latents for a local stand-in when `remote`
    /// fails them.
    private var inFlight: [(pending: PendingFrames, latents: Tensor)] = []
    /// Decodes whatever `remote` does not, off this thread.
    private lazy var local = DecodeThread(decoder: decoder)

    /// `plan` maps each segment id to the global frames it will cover; together they must cover
    /// `0..<totalFrames` (a gap is reported here, before any work).
    public init(plan: [String: Range<Int>], totalFrames: Int, frameShape: [Int], blender: LatentBlender,
                decoder: any LatentFrameDecoder, writer: MP4Writer) throws(StitchError) {
        var covered = [Bool](repeating: false, count: totalFrames)
        for span in plan.values { for f in span where f >= 0 && f < totalFrames { covered[f] = true } }
        if let first = covered.firstIndex(of: false) {
            throw .gap(first..<(covered[first...].firstIndex(of: true) ?? totalFrames))
        }
        self.plan = plan
        self.spans = plan.map { (id: $0.key, span: $0.value) }.sorted { ($0.span.lowerBound, $0.id) < ($1.span.lowerBound, $1.id) }
        self.longestSpan = plan.values.map(\.count).max() ?? 0
        self.totalFrames = totalFrames
        self.frameShape = frameShape
        self.blender = blender
        self.decoder = decoder
        self.writer = writer
    }

    /// Seams of a plan: every frame `f` where the set of segments covering `f` differs from the set
    /// covering `f − 1` (the first frame after each change). Written to the film's `reel_seams` tag.
    public static func seams(plan: [String: Range<Int>], totalFrames: Int) -> [Int] {
        var starts = Set<Int>(), ends = Set<Int>()
        for span in plan.values { starts.insert(span.lowerBound); ends.insert(span.upperBound) }
        return starts.union(ends).filter { $0 > 0 && $0 < totalFrames }.sorted()
    }

    /// Segments held in memory now.
    public var heldSegments: Int { pending.count }

    /// Takes one finished segment and writes every frame that has become ready.
    public func add(_ segment: SegmentLatents) throws {
        guard let span = plan[segment.id] else { throw StitchError.badSegment("\(segment.id) is not in the plan") }
        guard span == segment.span else {
            throw StitchError.badSegment("\(segment.id) covers frames \(segment.span) but the plan placed it at \(span)")
        }
        guard segment.frameShape == frameShape else {
            throw StitchError.shapeMismatch(segment: segment.id, shape: segment.frameShape, expected: frameShape)
        }
        guard segment.values.count == segment.frames * segment.frameSize else {
            throw StitchError.badSegment("\(segment.id) holds \(segment.values.count) values for \(segment.frames) frames of \(frameShape)")
        }
        if framesWritten >= span.upperBound { return }  // arrived after the film moved past it (a retry)
        // AdaIN depends on the segment alone: apply it once, on arrival.
        pending[segment.id] = blender.normalizedToAnchors([segment])[0]
        try writeReadyFrames()
    }

    /// Ids of planned segments covering frame `f`, from the spans sorted by start.
    private func covering(_ f: Int) -> [String] {
        // Segments are bounded in length, so only those starting within the longest span before f matter.
        var low = 0, high = spans.count
        while low < high { let mid = (low + high) / 2; if spans[mid].span.lowerBound <= f { low = mid + 1 } else { high = mid } }
        var ids: [String] = []
        var i = low - 1
        while i >= 0 && spans[i].span.lowerBound > f - longestSpan {
            if spans[i].span.contains(f) { ids.append(spans[i].id) }
            i -= 1
        }
        return ids
    }

    /// Blends every next frame whose segments have all arrived and decodes them in batches of
    /// exactly `decodeBatch` output frames. Batches are aligned to the film, not to arrival order:
    /// BLAS may round differently for different batch sizes, so a film's pixels must not depend on
    /// when its segments happened to arrive (determinism across farms and restarts).
    private func writeReadyFrames() throws {
        while framesWritten < totalFrames {
            let f = framesWritten
            let ids = covering(f)
            guard ids.allSatisfy({ pending[$0] != nil }) else { break }
            let latent = blender.blend(frame: f, segments: ids.map { pending[$0]! })
            if interpolation > 1, let previous = lastBlended {
                for j in 1..<interpolation {
                    let t = Float(j) / Float(interpolation)
                    decodeQueue.append(zip(previous, latent).map { $0 + ($1 - $0) * t })
                }
            }
            decodeQueue.append(latent)
            lastBlended = latent
            framesWritten += 1
            // Forget segments wholly behind the blend position.
            for (id, segment) in pending where segment.span.upperBound <= framesWritten { pending[id] = nil }
            while decodeQueue.count >= decodeBatch { try emit(decodeBatch) }
        }
    }

    /// Sends the first `count` queued latents to be decoded — by `remote`, else on the stitcher's
    /// decode thread — and encodes the oldest batch once more than `decodeAhead` are out.
    private func emit(_ count: Int) throws {
        let batch = decodeQueue.prefix(count)
        let latents = Tensor(shape: [batch.count] + frameShape, scalars: batch.flatMap { $0 })
        decodeQueue.removeFirst(batch.count)
        inFlight.append(((remote ?? local).submit(latents), latents))
        while inFlight.count > decodeAhead { try writeOldestBatch() }
    }

    private func writeOldestBatch() throws {
        let (pending, latents) = inFlight.removeFirst()
        guard remote != nil else { return try write(pending.wait(timeout: nil)!) }
        // Pictures of another count or size than the batch (a worker running another model) are
        // not used: the stitcher decodes the batch itself, as when none come back in time.
        if let frames = pending.wait(timeout: remoteTimeout), frames.count == latents.shape[0],
           frames.allSatisfy({ $0.width == writer.inputWidth && $0.height == writer.inputHeight }) {
            try write(frames)
        } else {
            batchesDecodedLocally += 1
            try write(local.submit(latents).wait(timeout: nil)!)
        }
    }

    private func write(_ frames: [RGBFrame]) throws {
        for frame in frames { try writer.append(frame) }
        outputFrames += frames.count
    }

    /// Finishes the film: every frame must have been written.
    public func finish() throws {
        guard framesWritten == totalFrames else {
            let missing = plan.filter { pending[$0.key] == nil && $0.value.upperBound > framesWritten }.map(\.key).sorted()
            throw StitchError.badSegment("the film stops at frame \(framesWritten) of \(totalFrames); segments not received: \(missing.prefix(8).joined(separator: ", "))")
        }
        if interpolation > 1, let last = lastBlended {
            // Hold the last frame so the film lasts totalFrames × interpolation frames.
            decodeQueue += Array(repeating: last, count: interpolation - 1)
        }
        while !decodeQueue.isEmpty { try emit(min(decodeBatch, decodeQueue.count)) }
        while !inFlight.isEmpty { try writeOldestBatch() }
        try writer.finish()
    }
}

extension RGBFrame {
    /// Frames from `[T, 3, H, W]` values in [-1, 1] (clamped, rounded to 8 bits).
    public static func frames(fromCHW pixels: Tensor) -> [RGBFrame] {
        let (count, height, width) = (pixels.shape[0], pixels.shape[2], pixels.shape[3])
        let plane = height * width
        return (0..<count).map { t in
            var bytes = [UInt8](repeating: 0, count: plane * 3)
            pixels.scalars.withUnsafeBufferPointer { p in
                for c in 0..<3 {
                    let base = (t * 3 + c) * plane
                    for i in 0..<plane {
                        let v = (p[base + i] + 1) * 127.5
                        bytes[i * 3 + c] = UInt8(max(0, min(255, v.rounded())))
                    }
                }
            }
            return RGBFrame(width: width, height: height, pixels: bytes)
        }
    }
}
