import Foundation
import Planner
import Testing
@testable import Coordinator

func temporaryDirectory(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reel-test-\(name)-\(UInt32.random(in: 0...UInt32.max))")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct JournalTests {
    func job(_ id: String, seq: Int) -> JobRecord {
        JobRecord(id: id, seq: seq, spec: JobSpec(request: RenderRequest(prompt: "a red ball", duration: 4, seed: 9)), state: .queued,
                  error: nil, created: Date(timeIntervalSince1970: 1000), updated: Date(timeIntervalSince1970: 1000))
    }

    @Test func recordsAndReloadsJobsSegmentsAttempts() throws {
        let dir = temporaryDirectory("journal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("journal.sqlite")
        do {
            let journal = try Journal(url: url)
            try journal.insert(job: job("j1", seq: 1), segments: [
                SegmentRecord(job: "j1", id: "L0-0000", level: 0, state: .ready, digest: nil, attempts: 0, failures: []),
                SegmentRecord(job: "j1", id: "L1-0000", level: 1, state: .waiting, digest: nil, attempts: 0, failures: []),
            ])
            let attempt = AttemptRecord(id: "j1.L0-0000.1", job: "j1", segment: "L0-0000", worker: "w1", state: .leased,
                                        started: Date(), leaseUntil: Date().addingTimeInterval(60))
            try journal.begin(attempt, segmentAttempts: 1)
            try journal.end(attempt: attempt.id, job: "j1", segment: "L0-0000", as: .succeeded, segmentState: .done,
                            digest: String(repeating: "ab", count: 32), failures: [], newlyReady: ["L1-0000"])
            try journal.setJobState("j1", .running)
        }
        // A new connection (as after a restart) sees every committed change.
        let journal = try Journal(url: url)
        #expect(try journal.jobs().map(\.id) == ["j1"])
        #expect(try journal.jobs()[0].state == .running)
        #expect(try journal.jobs()[0].spec.request.prompt == "a red ball")
        let segments = try journal.segments(job: "j1")
        #expect(segments.map(\.state) == [.done, .ready])
        #expect(segments[0].digest == String(repeating: "ab", count: 32))
        #expect(segments[0].attempts == 1)
        #expect(try journal.attempts(job: "j1").map(\.state) == [.succeeded])
        #expect(try journal.attempts(state: .leased).isEmpty)
        #expect(try journal.lastJobSeq() == 1)
        #expect(try journal.integrityCheck() == "ok")
        let kinds = try journal.events(job: "j1").map(\.kind)
        #expect(kinds == ["submitted", "dispatched", "attempt-succeeded", "job-running"])
    }

    @Test func usesWriteAheadLogging() throws {
        let dir = temporaryDirectory("wal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = try Journal(url: dir.appendingPathComponent("journal.sqlite"))
        try journal.insert(job: job("j2", seq: 5), segments: [])
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("journal.sqlite-wal").path))
    }

    @Test func cancelClosesOpenAttempts() throws {
        let dir = temporaryDirectory("cancel")
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = try Journal(url: dir.appendingPathComponent("journal.sqlite"))
        try journal.insert(job: job("j3", seq: 1), segments: [SegmentRecord(job: "j3", id: "L0-0000", level: 0, state: .ready, digest: nil, attempts: 0, failures: [])])
        try journal.begin(AttemptRecord(id: "a1", job: "j3", segment: "L0-0000", worker: "w", state: .leased, started: Date(), leaseUntil: Date()), segmentAttempts: 1)
        try journal.cancel(job: "j3")
        #expect(try journal.attempts(job: "j3").map(\.state) == [.cancelled])
        #expect(try journal.jobs()[0].state == .cancelled)
    }
}

@Suite struct SegmentStoreTests {
    @Test func storesByContentAndDetectsDamage() throws {
        let dir = temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SegmentStore(directory: dir)
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let digest = try store.put(bytes)
        #expect(digest == SegmentStore.digest(bytes))
        #expect(digest.count == 64)
        #expect(try store.get(digest) == bytes)
        #expect(try store.put(bytes) == digest)  // idempotent
        // No temporary files are left beside the blob.
        let folder = dir.appendingPathComponent(String(digest.prefix(2)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [digest])
        // Flip one byte on disk: the read is refused.
        var damaged = bytes
        damaged[100] ^= 0xff
        try Data(damaged).write(to: folder.appendingPathComponent(digest))
        #expect(throws: SegmentStoreError.corrupt(digest)) { try store.get(digest) }
        #expect(throws: SegmentStoreError.missing(String(repeating: "0", count: 64))) { try store.get(String(repeating: "0", count: 64)) }
    }

    @Test func aFullDiskIsRecognisedWhateverWrapsIt() {
        // The store throws POSIXError; Foundation file calls wrap errno in NSError or report their own code.
        let wrapped = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteUnknownError,
                              userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        for error: any Error in [POSIXError(.ENOSPC), wrapped, CocoaError(.fileWriteOutOfSpace)] {
            #expect(isOutOfSpace(error), "\(error)")
            #expect(describeStorageError(error) == "no space left on device", "\(error)")
        }
        #expect(!isOutOfSpace(POSIXError(.EACCES)))
        #expect(describeStorageError(POSIXError(.EACCES)) == "permission denied")
    }
}

@Suite struct JobSpecTests {
    @Test func rejectsBadOptionsWithOneSentence() {
        let request = RenderRequest(prompt: "a red ball", duration: 4, seed: 1)
        let bad: [(JobSpec, String)] = [
            (JobSpec(request: request, fps: 12), "fps 12"),
            (JobSpec(request: request, size: "257x256"), "size"),
            (JobSpec(request: request, size: "huge"), "size"),
            (JobSpec(request: request, adain: 2), "adain"),
            (JobSpec(request: request, crf: 60), "crf"),
            (JobSpec(request: request, preset: "warp"), "preset"),
            (JobSpec(request: request, steps: 0), "steps"),
            (JobSpec(request: request, cfg: .nan), "cfg"),
            (JobSpec(request: request, method: "rk4"), "method"),
            (JobSpec(request: request, model: "sora"), "model"),
            (JobSpec(request: RenderRequest(prompt: "  ", duration: 4, seed: 1)), "prompt"),
            (JobSpec(request: RenderRequest(prompt: "a red ball", duration: -1, seed: 1)), "duration"),
        ]
        for (spec, word) in bad {
            #expect(throws: JobSpecError.self) { try spec.validate() }
            do { try spec.validate() } catch { #expect(error.description.lowercased().contains(word), "\(error.description)") }
        }
        #expect(throws: Never.self) { try JobSpec(request: request, fps: 24, size: "256x256", crf: 23, preset: "fast").validate() }
        #expect(JobSpec.parseSize("256x144") == .init(width: 256, height: 144))
    }
}
