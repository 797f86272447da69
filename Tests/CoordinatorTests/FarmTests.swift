import Denoiser
import Foundation
import Logging
import Models
import Planner
import Stitcher
import Synchronization
import Tensors
import Testing
import TestSupport
import Wire
@testable import Coordinator
@testable import Worker

/// The real thing on loopback: a coordinator (real ROUTER socket, SQLite journal, segment store,
/// FFmpeg encoder) and workers rendering with the real reel-tiny weights — only with 2 denoising
/// steps so a test film takes seconds.
enum FarmFixture {
    static let generator: ClipGenerator = {
        BLAS.threadCount = 1
        return ClipGenerator(model: try! ReelTinyModel(), textEncoder: try! MiniLMEncoder())
    }()

    static func spec(duration: Double = 4, seed: UInt64 = 11, strategy: Strategy = .hierarchical) -> JobSpec {
        JobSpec(request: RenderRequest(prompt: "a red ball rolls left on green grass", duration: duration, seed: seed, strategy: strategy),
                preset: "ultrafast", steps: 2)
    }

    static func settings(heartbeat: Double = 0.1, liveness: Int = 4, lease: Double = 30) -> FarmSettings {
        var s = FarmSettings()
        s.heartbeatInterval = heartbeat
        s.liveness = liveness
        s.lease = lease
        return s
    }

    static func coordinator(state: URL, bind: String = "tcp://127.0.0.1:*", settings: FarmSettings = settings()) throws -> Coordinator {
        let c = Coordinator(configuration: .init(bind: bind, stateDirectory: state, settings: settings), model: generator.model,
                            logger: Logger(label: "test.coordinator"))
        try c.start()
        return c
    }

    static func worker(_ name: String, endpoint: String, renderer: (any SegmentRenderer)? = nil, heartbeat: Double = 0.1) -> Worker {
        var config = Worker.Configuration(connect: endpoint, name: name)
        config.heartbeatInterval = heartbeat
        config.liveness = 4
        config.maxBackoff = 0.5
        let worker = Worker(configuration: config, renderer: renderer ?? ReelTinyRenderer(generator: generator), logger: Logger(label: "test.\(name)"))
        let thread = Thread { try? worker.run() }
        thread.stackSize = 8 << 20
        thread.start()
        return worker
    }

    /// Waits until `condition` holds for the job, or fails after `timeout` seconds.
    static func wait(_ coordinator: Coordinator, job: String, timeout: Double = 120, until condition: (JobStatus) -> Bool) async throws -> JobStatus {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = coordinator.snapshot.jobs.first(where: { $0.id == job }), condition(status) { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FarmTestError("job \(job) did not reach the expected state in \(timeout) s: \(String(describing: coordinator.snapshot.jobs.first { $0.id == job }))")
    }

    static func finalDigests(state: URL, job: String) throws -> [String: String] {
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        return Dictionary(uniqueKeysWithValues: try journal.segments(job: job).map { ($0.id, $0.digest ?? "") })
    }
}

struct FarmTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A renderer that always fails, to exercise retries and blocklisting (the model itself is real elsewhere).
struct AlwaysFailingRenderer: SegmentRenderer {
    var models: [String] { ["reel-tiny"] }
    var maxWindowFrames: Int { 16 }
    func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float] {
        throw RenderError("out of memory on purpose")
    }
    func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8]) {
        throw RenderError("out of memory on purpose")
    }
}

/// The real renderer, announcing that it does not decode (a worker from before DECODE).
struct NonDecodingRenderer: SegmentRenderer {
    let inner: any SegmentRenderer
    var models: [String] { inner.models }
    var maxWindowFrames: Int { inner.maxWindowFrames }
    var decodes: Bool { false }
    func render(_ task: TaskAssignment, anchors: [Float], progress: (Int, Int) -> Void) throws -> [Float] {
        try inner.render(task, anchors: anchors, progress: progress)
    }
    func decode(_ request: DecodeRequest, latents: [Float]) throws -> (DecodedFrames, pixels: [UInt8]) {
        throw RenderError("this worker was never sent DECODE")
    }
}

@Suite(.serialized) struct FarmTests {
    /// Renders one job to completion with `workers` workers; returns the segment digests and film
    /// bytes. Holds the BLAS thread gate (shared): no test changes the thread count meanwhile.
    func render(workers count: Int, spec: JobSpec = FarmFixture.spec(), decodeOnWorkers: Bool = true) async throws
        -> (digests: [String: String], film: Data, batchesDecodedByWorkers: Int) {
        try await BLASThreadGate.shared { try await renderUngated(workers: count, spec: spec, decodeOnWorkers: decodeOnWorkers) }
    }

    func renderUngated(workers count: Int, spec: JobSpec, decodeOnWorkers: Bool) async throws
        -> (digests: [String: String], film: Data, batchesDecodedByWorkers: Int) {
        let state = temporaryDirectory("farm-\(count)")
        defer { try? FileManager.default.removeItem(at: state) }
        var settings = FarmFixture.settings()
        settings.decodeOnWorkers = decodeOnWorkers
        let coordinator = try FarmFixture.coordinator(state: state, settings: settings)
        defer { coordinator.stop() }
        let workers = (0..<count).map { FarmFixture.worker("w\($0)", endpoint: coordinator.boundEndpoint!) }
        defer { workers.forEach { $0.stop() } }
        let job = try await coordinator.submit(spec)
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal && ($0.filmReady || $0.state != .done) }
        #expect(status.state == .done, "\(status.error ?? "")")
        #expect(status.segmentsDone == status.segmentsTotal)
        let film = try Data(contentsOf: try #require(coordinator.film(of: job)))
        if count > 1 {
            // Work was spread: more than one worker finished segments.
            let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
            let by = Set(try journal.attempts(job: job, state: .succeeded).map(\.worker))
            #expect(by.count > 1, "only \(by) rendered")
        }
        return (try FarmFixture.finalDigests(state: state, job: job), film, workers.map(\.batchesDecoded).reduce(0, +))
    }

    @Test func sameFilmWhateverTheNumberOfWorkers() async throws {
        let one = try await render(workers: 1)
        let three = try await render(workers: 3)
        #expect(one.digests.count >= 4)
        #expect(one.digests == three.digests)
        #expect(one.film == three.film)
        // The workers decoded the film's batches (32 frames: 4 of 8), and a coordinator decoding
        // them itself writes the same film.
        #expect(one.batchesDecodedByWorkers == 4, "\(one.batchesDecodedByWorkers)")
        #expect(three.batchesDecodedByWorkers == 4, "\(three.batchesDecodedByWorkers)")
        let here = try await render(workers: 2, decodeOnWorkers: false)
        #expect(here.batchesDecodedByWorkers == 0)
        #expect(here.film == one.film)
        // And the film is a real MP4 with the planned frames.
        let url = temporaryDirectory("film").appendingPathComponent("film.mp4")
        try one.film.write(to: url)
        let reader = try MP4Reader(url: url)
        #expect(reader.codecName == "h264")
        #expect(reader.declaredFrameCount == 32)
        #expect(reader.metadata["ai_generated"] == "true")
    }

    /// `reel bench farm`'s set-up: film assembly off, a benchmark load instead of denoising. Every
    /// segment must still be planned, dispatched, journaled and stored, the completion hook must
    /// fire once, and no film may appear.
    @Test func aCoordinatorWithoutFilmsEndsTheJobAtItsLastSegment() async throws {
        let state = temporaryDirectory("farm-bench")
        defer { try? FileManager.default.removeItem(at: state) }
        let completions = Mutex<[String]>([])
        var configuration = Coordinator.Configuration(bind: "tcp://127.0.0.1:*", stateDirectory: state, settings: FarmFixture.settings())
        configuration.assemblesFilms = false
        configuration.onSegmentsComplete = { job in completions.withLock { $0.append(job) } }
        let coordinator = Coordinator(configuration: configuration, model: FarmFixture.generator.model, logger: Logger(label: "test.bench"))
        try coordinator.start()
        defer { coordinator.stop() }
        let load = BenchmarkLoadRenderer(seconds: 0.01, model: "reel-tiny", windowFrames: 16)
        let workers = (0..<3).map { FarmFixture.worker("b\($0)", endpoint: coordinator.boundEndpoint!, renderer: load) }
        defer { workers.forEach { $0.stop() } }
        let spec = FarmFixture.spec(duration: 30)
        let job = try await coordinator.submit(spec)
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal }
        #expect(status.state == .done, "\(status.error ?? "")")
        let plan = try Planner.plan(spec.request)
        #expect(status.segmentsDone == plan.segments.count)
        #expect(completions.withLock { $0 } == [job])
        #expect(coordinator.film(of: job) == nil)
        #expect(workers.map(\.segmentsFinished).reduce(0, +) >= plan.segments.count)
        let digests = try FarmFixture.finalDigests(state: state, job: job)
        #expect(digests.count == plan.segments.count && digests.values.allSatisfy { $0.count == 64 })
    }

    @Test func aSilentWorkersSegmentIsRequeuedAndItsLateResultRefused() async throws {
        let state = temporaryDirectory("ghost")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let endpoint = coordinator.boundEndpoint!
        // A worker that takes a task and then goes silent (a hung machine), on a real DEALER socket.
        let context = try ZMQContext()
        let ghost = try ZMQSocket(context: context, type: .dealer)
        try ghost.set(.routingID(Array("ghost".utf8)))
        try ghost.connect(endpoint)
        try ghost.send(WireMessage.ready(Ready(worker: "ghost", models: ["reel-tiny"], maxWindowFrames: 16, threads: 1, credit: 1,
                                               heartbeatMilliseconds: 100)).encoded())
        let job = try await coordinator.submit(FarmFixture.spec())
        var stolen: TaskAssignment?
        let deadline = Date().addingTimeInterval(10)
        while stolen == nil && Date() < deadline {
            guard try ghost.pollIn(timeoutMilliseconds: 100), case .message(let frames) = try ghost.receive() else { continue }
            if case .task(let task, _) = try WireMessage.decode(frames) { stolen = task }
        }
        let task = try #require(stolen)
        // A real worker joins; the ghost's segment must come back to it after the ghost is declared dead.
        let worker = FarmFixture.worker("real", endpoint: endpoint)
        defer { worker.stop() }
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state == .done && $0.filmReady }
        let before = try FarmFixture.finalDigests(state: state, job: job)
        // The ghost wakes up and sends a result for its old attempt: refused, nothing changes.
        let garbage = [Float](repeating: 0.5, count: task.frames * task.frameShape.reduce(1, *))
        var hash = SHA256()
        hash.update(garbage.littleEndianBytes)
        let staleBefore = coordinator.snapshot.staleMessages
        try ghost.send(WireMessage.result(SegmentResult(attempt: task.attempt, job: task.job, segment: task.segment, frames: task.frames,
                                                        frameShape: task.frameShape, sha256: hash.finalizeHex(), computeMilliseconds: 1),
                                          latents: garbage).encoded())
        let refusedBy = Date().addingTimeInterval(5)
        while coordinator.snapshot.staleMessages == staleBefore && Date() < refusedBy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(coordinator.snapshot.staleMessages == staleBefore + 1)
        #expect(try FarmFixture.finalDigests(state: state, job: job) == before)
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let attempts = try journal.attempts(job: job)
        #expect(attempts.first { $0.id == task.attempt }?.state == .lost)
        // Every segment succeeded exactly once.
        let succeeded = attempts.filter { $0.state == .succeeded }.map(\.segment)
        #expect(succeeded.count == status.segmentsTotal)
        #expect(Set(succeeded).count == succeeded.count)
        ghost.close()
    }

    @Test func coordinatorRestartResumesWithoutRecomputing() async throws {
        try await BLASThreadGate.shared { try await restartResumesWithoutRecomputing() }
    }

    func restartResumesWithoutRecomputing() async throws {
        let state = temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(at: state) }
        let first = try FarmFixture.coordinator(state: state)
        let endpoint = first.boundEndpoint!  // tcp://127.0.0.1:PORT, reused by the second coordinator
        let worker = FarmFixture.worker("steady", endpoint: endpoint)
        defer { worker.stop() }
        let job = try await first.submit(FarmFixture.spec(duration: 8))
        _ = try await FarmFixture.wait(first, job: job) { $0.segmentsDone >= 2 }
        first.stop()
        let doneBefore = try FarmFixture.finalDigests(state: state, job: job).filter { !$0.value.isEmpty }
        #expect(doneBefore.count >= 2)

        let second = try FarmFixture.coordinator(state: state, bind: endpoint)
        defer { second.stop() }
        let status = try await FarmFixture.wait(second, job: job) { $0.state == .done && $0.filmReady }
        #expect(status.segmentsDone == status.segmentsTotal)
        let after = try FarmFixture.finalDigests(state: state, job: job)
        for (segment, digest) in doneBefore { #expect(after[segment] == digest) }
        // No segment finished before the restart was rendered again, and none counts twice.
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let succeeded = try journal.attempts(job: job, state: .succeeded).map(\.segment)
        #expect(succeeded.count == status.segmentsTotal)
        #expect(Set(succeeded).count == succeeded.count)
        // The resumed film equals an uninterrupted render of the same request.
        let reference = try await render(workers: 1, spec: FarmFixture.spec(duration: 8))
        #expect(after == reference.digests)
    }

    /// A worker slower than its lease: the attempt expires and is redone elsewhere, its late
    /// result is refused, and the coordinator does not offer it new work while it is still busy
    /// (that once made a refusal loop of thousands of attempts).
    @Test func aWorkerSlowerThanItsLeaseIsNotOfferedWorkItMustRefuse() async throws {
        let state = temporaryDirectory("slow")
        defer { try? FileManager.default.removeItem(at: state) }
        // The lease is far above a normal segment's time even on a loaded machine (a few
        // seconds in a debug build), and the slow worker far above the lease.
        var settings = FarmFixture.settings(lease: 10)
        settings.maxFailures = 6
        let coordinator = try FarmFixture.coordinator(state: state, settings: settings)
        defer { coordinator.stop() }
        let endpoint = try #require(coordinator.boundEndpoint)
        let slow = FarmFixture.worker("slow", endpoint: endpoint,
                                      renderer: FaultDelayRenderer(inner: ReelTinyRenderer(generator: FarmFixture.generator), delay: 16))
        defer { slow.stop() }
        try await Task.sleep(for: .milliseconds(300))   // the slow worker is first in line
        let job = try await coordinator.submit(FarmFixture.spec())
        let fast = FarmFixture.worker("fast", endpoint: endpoint)
        defer { fast.stop() }
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal }
        #expect(status.state == .done, "\(status.error ?? "")")
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let all = try journal.attempts(job: job)
        #expect(try journal.attempts(job: job, state: .expired).count >= 1)
        #expect(!all.contains { ($0.error ?? "").contains("no free slot") }, "\(all.map { $0.error ?? "" })")
        #expect(all.count < 3 * status.segmentsTotal, "\(all.count) attempts for \(status.segmentsTotal) segments")
    }

    @Test func metricsCountWhatHappened() async throws {
        let state = temporaryDirectory("metrics")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let worker = FarmFixture.worker("m1", endpoint: try #require(coordinator.boundEndpoint))
        defer { worker.stop() }
        let job = try await coordinator.submit(FarmFixture.spec())
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal && $0.filmReady }
        #expect(status.state == .done)
        try await Task.sleep(for: .milliseconds(300))
        let text = coordinator.metrics.exposition(of: coordinator.snapshot)
        func value(_ series: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect(value("reel_segments_finished_total") == Double(status.segmentsTotal), "\(text)")
        #expect(value(#"reel_jobs{state="done"}"#) == 1)
        #expect(value(#"reel_segments{state="ready"}"#) == 0)
        #expect(value("reel_workers_connected") == 1)
        #expect(value("reel_worker_slots") == 1)
        #expect(value("reel_stitcher_frames_total") == 32)
        #expect((value("reel_stitcher_frames_per_second") ?? 0) > 0)
        // 32 frames = 4 decode batches, all decoded by the worker.
        #expect(value("reel_decode_batches_workers_total") == 4)
        #expect(value("reel_decode_batches_stitcher_total") == 0)
        #expect((value("reel_bytes_received_total") ?? 0) > Double(status.segmentsTotal * 16 * 8 * 8 * 8 * 4))
        #expect((value("reel_bytes_sent_total") ?? 0) > 0)
        #expect((value("reel_denoising_step_seconds_count") ?? 0) >= 1)
        #expect(value("reel_segment_compute_seconds_count") == Double(status.segmentsTotal))
        #expect(value("reel_attempts_failed_total") == 0)
    }

    /// Workers that do not announce DECODE are never sent one, and the stitcher does not wait for
    /// them: with a decode timeout of 10 minutes, a film that waited would not finish in the test.
    @Test func withNoWorkerThatDecodesTheStitcherDecodesAtOnce() async throws {
        let state = temporaryDirectory("no-decoders")
        defer { try? FileManager.default.removeItem(at: state) }
        var settings = FarmFixture.settings()
        settings.decodeTimeout = 600
        let coordinator = try FarmFixture.coordinator(state: state, settings: settings)
        defer { coordinator.stop() }
        let old = NonDecodingRenderer(inner: ReelTinyRenderer(generator: FarmFixture.generator))
        let worker = FarmFixture.worker("old", endpoint: try #require(coordinator.boundEndpoint), renderer: old)
        defer { worker.stop() }
        let job = try await coordinator.submit(FarmFixture.spec())
        let status = try await FarmFixture.wait(coordinator, job: job, timeout: 100) { $0.state.isFinal && ($0.filmReady || $0.state != .done) }
        #expect(status.state == .done, "\(status.error ?? "")")
        #expect(worker.batchesDecoded == 0)
        let text = coordinator.metrics.exposition(of: coordinator.snapshot)
        let line = text.split(separator: "\n").first { $0.hasPrefix("reel_decode_batches_stitcher_total ") }
        #expect(line.flatMap { Double($0.split(separator: " ").last!) } == 4, "\(text)")
    }

    @Test func aFailedJobCanBeRetriedAndKeepsItsFinishedSegments() async throws {
        let state = temporaryDirectory("retry")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let endpoint = try #require(coordinator.boundEndpoint)
        let bad = FarmFixture.worker("bad", endpoint: endpoint, renderer: AlwaysFailingRenderer())
        let job = try await coordinator.submit(FarmFixture.spec())
        let failed = try await FarmFixture.wait(coordinator, job: job) { $0.state == .failed }
        bad.stop()
        #expect(failed.segmentsDone == 0)
        await #expect(throws: (any Error).self) { try await coordinator.retry("j9999-nothing") }
        try await coordinator.retry(job)
        let good = FarmFixture.worker("good", endpoint: endpoint)
        defer { good.stop() }
        let done = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal && ($0.filmReady || $0.state != .done) }
        #expect(done.state == .done, "\(done.error ?? "")")
        #expect(coordinator.film(of: job) != nil)
        // Retrying a job that is not failed is refused.
        await #expect(throws: (any Error).self) { try await coordinator.retry(job) }
        let events = try Journal(url: state.appendingPathComponent("journal.sqlite")).events(job: job).map(\.kind)
        #expect(events.contains("job-retried"))
    }

    @Test func aSegmentFailingThreeTimesFailsTheJobWithEveryError() async throws {
        let state = temporaryDirectory("failing")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let workers = (0..<3).map { FarmFixture.worker("bad\($0)", endpoint: coordinator.boundEndpoint!, renderer: AlwaysFailingRenderer()) }
        defer { workers.forEach { $0.stop() } }
        let job = try await coordinator.submit(FarmFixture.spec())
        let status = try await FarmFixture.wait(coordinator, job: job, timeout: 30) { $0.state.isFinal }
        #expect(status.state == .failed)
        let error = try #require(status.error)
        #expect(error.contains("failed 3 time"))
        #expect(error.components(separatedBy: "out of memory on purpose").count - 1 == 3)
    }

    @Test func aDrainingWorkerFinishesItsSegmentThenLeaves() async throws {
        let state = temporaryDirectory("drain")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let endpoint = coordinator.boundEndpoint!
        var config = Worker.Configuration(connect: endpoint, name: "leaving")
        config.heartbeatInterval = 0.1
        let leaving = Worker(configuration: config, renderer: FaultDelayRenderer(inner: ReelTinyRenderer(generator: FarmFixture.generator), delay: 0.5), logger: Logger(label: "test.leaving"))
        let exited = DispatchSemaphore(value: 0)
        Thread { try? leaving.run(); exited.signal() }.start()
        let job = try await coordinator.submit(FarmFixture.spec())
        let deadline = Date().addingTimeInterval(20)
        while coordinator.snapshot.workers.first(where: { $0.name == "leaving" })?.attempts.isEmpty ?? true, Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let held = try #require(coordinator.snapshot.workers.first { $0.name == "leaving" }?.attempts.first)
        leaving.drain()  // what SIGTERM does
        #expect(exited.wait(timeout: .now() + 20) == .success)
        // Its segment was finished and handed in, not abandoned; then it took nothing more.
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let settled = Date().addingTimeInterval(5)
        while try journal.attempts(job: job).contains(where: { $0.worker == "leaving" && $0.state == .leased }), Date() < settled {
            try await Task.sleep(for: .milliseconds(20))
        }
        let mine = try journal.attempts(job: job).filter { $0.worker == "leaving" }
        #expect(mine.map(\.id) == [held])
        #expect(mine.first?.state == .succeeded)
        #expect(leaving.segmentsFinished == 1)
        // Another worker finishes the job.
        let staying = FarmFixture.worker("staying", endpoint: endpoint)
        defer { staying.stop() }
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state == .done && $0.filmReady }
        #expect(status.segmentsDone == status.segmentsTotal)
        #expect(!coordinator.snapshot.workers.contains { $0.name == "leaving" })
    }

    @Test func higherPriorityJobsRunFirstAndCancelFencesAJob() async throws {
        let state = temporaryDirectory("priority")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        var low = FarmFixture.spec(seed: 1)
        low.priority = -5
        var high = FarmFixture.spec(seed: 2)
        high.priority = 5
        let lowJob = try await coordinator.submit(low)
        let highJob = try await coordinator.submit(high)
        let doomed = try await coordinator.submit(FarmFixture.spec(seed: 3))
        try await coordinator.cancel(doomed)
        let worker = FarmFixture.worker("only", endpoint: coordinator.boundEndpoint!)
        defer { worker.stop() }
        _ = try await FarmFixture.wait(coordinator, job: lowJob) { $0.state == .done && $0.filmReady }
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let order = try journal.attempts().filter { $0.state == .succeeded }.sorted { $0.started < $1.started }.map(\.job)
        // Every segment of the high-priority job was dispatched before any of the low one.
        let lastHigh = try #require(order.lastIndex(of: highJob))
        let firstLow = try #require(order.firstIndex(of: lowJob))
        #expect(lastHigh < firstLow)
        #expect(!order.contains(doomed))
        #expect(coordinator.snapshot.jobs.first { $0.id == doomed }?.state == .cancelled)
    }

    @Test func aWorkerThatKeepsFailingIsBlocklistedAndTheJobStillFinishes() async throws {
        // (Its decodes fail too: the stitcher decodes those batches itself.)
        let state = temporaryDirectory("blocklist")
        defer { try? FileManager.default.removeItem(at: state) }
        var settings = FarmFixture.settings()
        settings.maxFailures = 5
        settings.workerFailureLimit = 2
        let coordinator = try FarmFixture.coordinator(state: state, settings: settings)
        defer { coordinator.stop() }
        let bad = FarmFixture.worker("flaky", endpoint: coordinator.boundEndpoint!, renderer: AlwaysFailingRenderer())
        defer { bad.stop() }
        let job = try await coordinator.submit(FarmFixture.spec())
        let journal = try Journal(url: state.appendingPathComponent("journal.sqlite"))
        let deadline = Date().addingTimeInterval(10)
        while try journal.attempts(job: job, state: .failed).count < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let good = FarmFixture.worker("steady", endpoint: coordinator.boundEndpoint!)
        defer { good.stop() }
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal && ($0.filmReady || $0.state != .done) }
        #expect(status.state == .done, "\(status.error ?? "")")
        // Exactly two failures from the flaky worker, then it got nothing more of this job.
        let failed = try journal.attempts(job: job, state: .failed)
        #expect(failed.count == 2)
        #expect(failed.allSatisfy { $0.worker == "flaky" })
        #expect(try journal.attempts(job: job).filter { $0.worker == "flaky" }.count == 2)
        #expect(try journal.events(job: job).contains { $0.kind == "worker-blocklisted" && $0.detail == "flaky" })
    }

    @Test func badSubmissionsAreRefusedWithAReason() async throws {
        let state = temporaryDirectory("refuse")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        await #expect(throws: JobSpecError.self) {
            try await coordinator.submit(JobSpec(request: RenderRequest(prompt: "", duration: 4, seed: 1)))
        }
        await #expect(throws: JobSpecError.self) { try await coordinator.cancel("no-such-job") }
        #expect(coordinator.snapshot.jobs.isEmpty)
    }

    @Test func malformedMessagesAreDroppedAndTheFarmCarriesOn() async throws {
        let state = temporaryDirectory("malformed")
        defer { try? FileManager.default.removeItem(at: state) }
        let coordinator = try FarmFixture.coordinator(state: state)
        defer { coordinator.stop() }
        let context = try ZMQContext()
        let hostile = try ZMQSocket(context: context, type: .dealer)
        try hostile.connect(coordinator.boundEndpoint!)
        let junk: [[[UInt8]]] = [[[1, 2, 3]], [Array("REEL/1".utf8), Array("TASK".utf8), Array("{}".utf8)],
                                 [Array("REEL/9".utf8), Array("READY".utf8), Array("{}".utf8)],
                                 [Array("REEL/1".utf8), Array("RESULT".utf8), Array("{\"attempt\":1}".utf8), [0, 0]]]
        for frames in junk { try hostile.send(frames) }
        let worker = FarmFixture.worker("good", endpoint: coordinator.boundEndpoint!)
        defer { worker.stop() }
        let job = try await coordinator.submit(FarmFixture.spec())
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal && $0.filmReady }
        #expect(status.state == .done)
        #expect(coordinator.snapshot.malformedMessages >= 4)
    }
}
