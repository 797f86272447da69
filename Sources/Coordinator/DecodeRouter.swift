import Stitcher
import Wire

/// Farms a film's VAE decode out to the workers. The film assembler's batches (film-aligned, so
/// the pictures do not depend on who decodes them) wait here for a worker; each worker holds at
/// most `perWorker` at once; FRAMES or FAILED settle them.
///
/// Nothing here is journaled or leased like a segment: a batch whose worker leaves goes back to
/// the front of the queue, one that no answer settles within `giveUpAfter` seconds is given up
/// (the stitcher, which waits less long, has decoded it itself by then), and a coordinator restart
/// starts the film again from the stored segments anyway.
struct DecodeRouter {
    struct Batch {
        let sequence: Int
        let id: String
        let job: String
        let frames: Int
        let latents: [Float]
        let pending: PendingFrames
        /// Workers it was sent to so far.
        var sends = 0
    }

    private struct Out {
        let batch: Batch
        let worker: [UInt8]
        let sent: Double
    }

    let perWorker: Int
    let giveUpAfter: Double
    let maxSends = 3
    private var queue: [Batch] = []
    private var out: [String: Out] = [:]
    private var held: [[UInt8]: Int] = [:]
    private var sequence = 0

    init(perWorker: Int = 2, giveUpAfter: Double) {
        self.perWorker = perWorker
        self.giveUpAfter = giveUpAfter
    }

    /// Batches waiting for a worker.
    var waiting: Int { queue.count }
    /// Batches out at workers.
    var outstanding: Int { out.count }

    /// Queues a batch of `job`'s film; its pictures (or nil) go to `pending`.
    mutating func enqueue(job: String, frames: Int, latents: [Float], pending: PendingFrames) {
        sequence += 1
        queue.append(Batch(sequence: sequence, id: "\(job).d\(sequence)", job: job, frames: frames, latents: latents, pending: pending))
    }

    /// Sends waiting batches, oldest first, to the workers in `order` that have room. A send that
    /// fails leaves the batch at the front for the next worker.
    mutating func dispatch(to order: [[UInt8]], model: String, frameShape: [Int], now: Double,
                           send: ([UInt8], WireMessage) -> Bool) {
        for identity in order where !queue.isEmpty {
            while !queue.isEmpty && held[identity, default: 0] < perWorker {
                var batch = queue[0]
                batch.sends += 1
                let request = DecodeRequest(decode: batch.id, model: model, frames: batch.frames, frameShape: frameShape)
                guard send(identity, .decode(request, latents: batch.latents)) else { break }
                queue.removeFirst()
                out[batch.id] = Out(batch: batch, worker: identity, sent: now)
                held[identity, default: 0] += 1
            }
        }
    }

    /// A FRAMES message. False when it answers no batch out at that worker (stale or unknown).
    mutating func arrived(_ frames: DecodedFrames, pixels: [UInt8], from identity: [UInt8]) -> Bool {
        guard let entry = out[frames.decode], entry.worker == identity else { return false }
        settle(frames.decode)
        let size = frames.width * frames.height * 3
        entry.batch.pending.fulfil((0..<frames.frames).map {
            RGBFrame(width: frames.width, height: frames.height, pixels: Array(pixels[($0 * size)..<(($0 + 1) * size)]))
        })
        return true
    }

    /// A FAILED naming `id`. True when it was one of our batches: the stitcher decodes it itself.
    mutating func failed(_ id: String, from identity: [UInt8]) -> Bool {
        guard let entry = out[id], entry.worker == identity else { return false }
        settle(id)
        entry.batch.pending.fulfil(nil)
        return true
    }

    /// The worker left or died: its batches go back to the front of the queue, in order — except
    /// one that has now lost `maxSends` workers (a batch that makes workers fail), which the
    /// stitcher decodes itself.
    mutating func workerLost(_ identity: [UInt8]) {
        let returned = out.values.filter { $0.worker == identity }.sorted { $0.batch.sequence < $1.batch.sequence }
        for entry in returned { settle(entry.batch.id) }
        for entry in returned where entry.batch.sends >= maxSends { entry.batch.pending.fulfil(nil) }
        queue.insert(contentsOf: returned.map(\.batch).filter { $0.sends < maxSends }, at: 0)
        held[identity] = nil
    }

    /// The job ended or its film stopped: nothing of it is decoded any more.
    mutating func drop(job: String) {
        for batch in queue where batch.job == job { batch.pending.fulfil(nil) }
        queue.removeAll { $0.job == job }
        for (id, entry) in out where entry.batch.job == job {
            settle(id)
            entry.batch.pending.fulfil(nil)
        }
    }

    /// No worker can take a batch now (none connected announces DECODE): hands every waiting batch
    /// back to the stitcher at once rather than letting each wait out its timeout.
    mutating func releaseWaiting() {
        for batch in queue { batch.pending.fulfil(nil) }
        queue.removeAll()
    }

    /// Gives up batches out longer than `giveUpAfter` (an answer lost on the way), freeing their slots.
    mutating func expire(now: Double) {
        for (id, entry) in out where now - entry.sent > giveUpAfter {
            settle(id)
            entry.batch.pending.fulfil(nil)
        }
    }

    private mutating func settle(_ id: String) {
        guard let entry = out.removeValue(forKey: id) else { return }
        held[entry.worker, default: 1] -= 1
        if held[entry.worker] == 0 { held[entry.worker] = nil }
    }
}
