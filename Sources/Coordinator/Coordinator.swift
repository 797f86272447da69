import Foundation
import Logging
import Models
import Planner
import Stitcher
import Synchronization
import Tensors
import Wire

/// The farm's coordinator: a ZeroMQ ROUTER that workers connect to, the scheduler, the journal,
/// the segment store and one film assembler per job.
///
/// The ROUTER socket and the scheduler live on one dedicated thread (libzmq sockets are not
/// thread-safe, and the scheduler is a single-threaded state machine). Everything else — the HTTP
/// API, `reel render` — talks to that thread through `submit`/`cancel` (a command inbox the loop
/// drains every few milliseconds) and reads `snapshot`, a copy the loop publishes after each pass.
public final class Coordinator: Sendable {
    public struct Configuration: Sendable {
        /// ZeroMQ endpoint to bind, e.g. `tcp://0.0.0.0:5555`, `tcp://127.0.0.1:*`, `ipc:///tmp/reel.sock`.
        public var bind: String
        /// Journal, segment store and films live here.
        public var stateDirectory: URL
        public var settings: FarmSettings
        /// CURVE: the coordinator's key pair and the folder of worker public keys it lets in.
        /// Nil: plain TCP (the CLI allows that only on loopback or with --insecure).
        public var curve: CurveServerSettings?
        /// Benchmarking only (`reel bench farm`): false skips the film (no VAE decode, no MP4), and a
        /// job ends as soon as its last segment is stored, so what is measured is the scheduler,
        /// the journal and the sockets alone. Films of such jobs do not exist.
        public var assemblesFilms = true
        /// Benchmarking only: called on the coordinator's thread the moment a job's last segment is
        /// stored (its argument is the job id), for timing without the snapshot's cadence (at most 4 a second).
        public var onSegmentsComplete: (@Sendable (String) -> Void)?

        public init(bind: String, stateDirectory: URL, settings: FarmSettings = FarmSettings(), curve: CurveServerSettings? = nil) {
            self.bind = bind
            self.stateDirectory = stateDirectory
            self.settings = settings
            self.curve = curve
        }
    }

    /// CURVE on the coordinator's socket: its own keys and the workers it trusts.
    public struct CurveServerSettings: Sendable {
        public var keys: CurveKeyPair
        /// One public key per file; re-read when an unknown key connects.
        public var authorizedKeys: URL

        public init(keys: CurveKeyPair, authorizedKeys: URL) {
            self.keys = keys
            self.authorizedKeys = authorizedKeys
        }
    }

    public let configuration: Configuration
    private let model: ReelTinyModel
    private let logger: Logger
    private let inbox = Mutex<[Command]>([])
    /// Wakes the loop when a command is posted (it otherwise sleeps in zmq_poll).
    private let inboxBell = try? Doorbell()
    private let published = Mutex<FarmSnapshot>(FarmSnapshot())
    private let endpoint = Mutex<String?>(nil)
    private let running = Atomic<Bool>(false)
    /// True once the journal is restored and a first snapshot published.
    private let ready = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)
    private let authenticator = Mutex<ZAPHandler?>(nil)
    /// Prometheus metrics, served by the HTTP API at /metrics.
    public let metrics = FarmMetrics()

    private enum Command: Sendable {
        case submit(JobSpec, @Sendable (Result<String, JobSpecError>) -> Void)
        case cancel(String, @Sendable (Result<Void, JobSpecError>) -> Void)
        case retry(String, @Sendable (Result<Void, JobSpecError>) -> Void)
        case stitched(String, FilmAssembler.Outcome)
        case decode(job: String, latents: [Float], frames: Int, PendingFrames)
    }

    /// A job's film batches, decoded by the farm's workers: each batch becomes a command for the loop.
    private struct FarmFrameDecoder: RemoteFrameDecoder {
        let job: String
        let coordinator: Coordinator

        func submit(_ latents: Tensor) -> PendingFrames {
            let pending = PendingFrames()
            coordinator.post(.decode(job: job, latents: latents.scalars, frames: latents.shape[0], pending))
            return pending
        }
    }

    public init(configuration: Configuration, model: ReelTinyModel, logger: Logger = Logger(label: "reel.coordinator")) {
        self.configuration = configuration
        self.model = model
        self.logger = logger
    }

    /// The endpoint actually bound (with the port chosen for `tcp://…:*`), once started.
    public var boundEndpoint: String? { endpoint.withLock { $0 } }

    /// Whether the coordinator has restored its journal and serves requests.
    public var isReady: Bool { ready.load(ordering: .acquiring) }

    /// Worker connections refused by CURVE authentication since start (0 without CURVE).
    public var authenticationRefusals: Int { authenticator.withLock { $0?.refusals ?? 0 } }

    /// The latest published state.
    public var snapshot: FarmSnapshot { published.withLock { $0 } }

    /// Opens the journal, restores unfinished jobs, binds the socket and starts the loop thread.
    /// Throws one clear sentence when the state directory or the endpoint cannot be used.
    public func start() throws {
        let state = configuration.stateDirectory
        do { try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true) } catch {
            throw CoordinatorError("cannot create the state directory \(state.path): \(error.localizedDescription); choose a writable --state")
        }
        let journal: Journal
        do { journal = try Journal(url: state.appendingPathComponent("journal.sqlite")) } catch {
            throw CoordinatorError("cannot open the journal in \(state.path): \(error); check the directory's permissions and free space")
        }
        // Blobs are flushed to disk by their own thread, off the loop's critical path.
        let syncer = BlobSyncer()
        let store: SegmentStore
        do { store = try SegmentStore(directory: state.appendingPathComponent("segments"), durability: .background(syncer)) } catch {
            syncer.stop()
            throw CoordinatorError("cannot create the segment store in \(state.path): \(error.localizedDescription); check the directory's permissions and free space")
        }
        let ready = DispatchSemaphore(value: 0)
        let startError = Mutex<CoordinatorError?>(nil)
        running.store(true, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            serve(journal: journal, store: store, ready: ready, startError: startError)
            syncer.stop()
            // serve() has returned: its socket and context are gone, so the port is free again.
            stopped.signal()
        }
        thread.name = "reel-coordinator"
        thread.start()
        ready.wait()
        if let error = startError.withLock({ $0 }) { throw error }
        logger.info("coordinator listening", metadata: ["endpoint": "\(boundEndpoint ?? configuration.bind)", "state": "\(state.path)"])
    }

    /// The loop thread's body. Everything ZeroMQ is local, released (socket closed, context
    /// terminated) when this returns.
    private func serve(journal: Journal, store: SegmentStore, ready: DispatchSemaphore, startError: borrowing Mutex<CoordinatorError?>) {
        // Fails the start with one sentence (the caller's start() throws it).
        func fail(_ message: String) {
            startError.withLock { $0 = CoordinatorError(message) }
            running.store(false, ordering: .sequentiallyConsistent)
            ready.signal()
        }
        let context: ZMQContext
        do { context = try ZMQContext() } catch {
            fail("cannot create a ZeroMQ context: \(error)")
            return
        }
        var zap: ZAPHandler?
        if let curve = configuration.curve {
            // The handler answers before the socket binds, so no unauthenticated peer slips in.
            let logger = logger
            do {
                zap = try ZAPHandler(context: context, authorizedKeys: curve.authorizedKeys) { decision in
                    switch decision {
                    case .accepted(let address, _, let name):
                        logger.info("worker key accepted", metadata: ["address": "\(address)", "key_file": "\(name)"])
                    case .refused(let address, let key, let reason):
                        logger.warning("worker connection refused: \(reason)", metadata: ["address": "\(address)", "key": "\(key)"])
                    }
                }
            } catch {
                fail(error.description)
                return
            }
            authenticator.withLock { $0 = zap }
            if zap?.authorizedKeyCount == 0 {
                logger.warning("no worker keys in \(curve.authorizedKeys.path) yet: every worker will be refused until its .pub file is put there")
            }
        }
        let socket: ZMQSocket
        do {
            socket = try ZMQSocket(context: context, type: .router)
            if let curve = configuration.curve {
                try socket.set(.zapDomain("reel"))
                try socket.set(.curveServer(true))
                try socket.set(.curvePublicKey(curve.keys.publicKey))
                try socket.set(.curveSecretKey(curve.keys.secretKey))
            }
            try socket.set(.routerMandatory(true))
            // No worker message is larger than a RESULT of the biggest window this model renders
            // (reel-tiny: 32 KiB of latents) with its small header; libzmq drops anything larger
            // unread, and at most 100 messages wait per peer (a worker has a few in flight), so a
            // flood from many peers cannot balloon the coordinator's memory.
            try socket.set(.maxMessageSize(Int64(Coordinator.largestMessageBytes(for: model))))
            try socket.set(.sendHighWaterMark(10_000))
            try socket.set(.receiveHighWaterMark(100))
            // A coordinator restarted at once may find its port still held for a moment.
            var tries = 0
            while true {
                do { try socket.bind(configuration.bind); break } catch where error.code == EADDRINUSE && tries < 30 {
                    tries += 1
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
            endpoint.withLock { $0 = try? socket.lastEndpoint() }
        } catch {
            zap?.stop()
            fail("cannot bind \(configuration.bind): \(error); pick a free port or a valid endpoint (tcp://HOST:PORT)")
            return
        }
        let loop: Loop
        do {
            loop = try Loop(coordinator: self, socket: socket, journal: journal, store: store)
        } catch {
            zap?.stop()
            fail("cannot restore from the journal: \(error)")
            return
        }
        loop.publish()
        ready.signal()
        loop.run()
        socket.close()
        zap?.stop()
        _ = context
    }

    /// The ROUTER's ZMQ_MAXMSGSIZE: the larger of a RESULT of one full window of latents and a
    /// FRAMES of one window's worth of pictures (the stitcher's decode batches are smaller), plus
    /// 16 KiB for the frames before the payload. Workers send nothing bigger: READY lists at most 64
    /// models, HEARTBEAT at most 64 attempt ids, FAILED at most 4,096 bytes of error (ProtocolLimits).
    /// A bigger message makes ZeroMQ drop the worker's connection.
    static func largestMessageBytes(for model: ReelTinyModel) -> Int {
        let window = model.config.dit.frames
        let result = window * model.latentFrameShape.reduce(1, *) * MemoryLayout<Float>.size
        let pictures = window * model.config.video.width * model.config.video.height * 3
        return max(result, pictures) + 16 << 10
    }

    /// Stops the loop (open attempts stay in the journal for the next start) and waits for it.
    public func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        inboxBell?.ring()
        stopped.wait()
    }

    /// Plans and journals a job; returns its id.
    public func submit(_ spec: JobSpec) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            post(.submit(spec, { continuation.resume(with: $0) }))
        }
    }

    public func cancel(_ job: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            post(.cancel(job, { continuation.resume(with: $0) }))
        }
    }

    /// Runs a failed job again (its failed segments requeued, finished ones kept).
    public func retry(_ job: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            post(.retry(job, { continuation.resume(with: $0) }))
        }
    }

    /// Queues a command for the loop and wakes it.
    private func post(_ command: Command) {
        inbox.withLock { $0.append(command) }
        inboxBell?.ring()
    }

    /// The finished film of a job, when there is one.
    public func film(of job: String) -> URL? {
        let url = configuration.stateDirectory.appendingPathComponent("jobs/\(job)/film.mp4")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The growing preview (fragmented MP4) of a job while it renders.
    public func preview(of job: String) -> URL? {
        let url = configuration.stateDirectory.appendingPathComponent("jobs/\(job)/preview.mp4")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The loop thread's state: owns the socket, the scheduler and the assemblers.
    private final class Loop {
        let coordinator: Coordinator
        let socket: ZMQSocket
        let scheduler: Scheduler
        let store: SegmentStore
        var assemblers: [String: FilmAssembler] = [:]

        init(coordinator: Coordinator, socket: ZMQSocket, journal: Journal, store: SegmentStore) throws {
            self.coordinator = coordinator
            self.socket = socket
            self.store = store
            let config = coordinator.model.config
            let start = ContinuousClock.now
            let logger = coordinator.logger
            scheduler = try Scheduler(
                settings: coordinator.configuration.settings, journal: journal, store: store, geometry: .reelTiny,
                frameShape: coordinator.model.latentFrameShape,
                samplerDefaults: SamplerParameters(steps: config.sampler.steps, guidance: Double(config.sampler.cfgScale),
                                                   shift: Double(config.sampler.shift), method: "euler"),
                logger: logger,
                clock: { let d = ContinuousClock.now - start; return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 },
                send: { [metrics = coordinator.metrics] identity, message in
                    do {
                        let frames = message.encoded()
                        metrics.bytesSent.increment(by: Int64(frames.reduce(0) { $0 + $1.count }))
                        return try socket.send([identity] + frames, dontWait: true)
                    } catch {
                        logger.debug("send failed", metadata: ["to": "\(hex(identity))", "error": "\(error)"])
                        return false
                    }
                })
            scheduler.metrics = coordinator.metrics
            let assemblesFilms = coordinator.configuration.assemblesFilms
            scheduler.onFinalSegment = { [unowned self] job, task, digest in
                if assemblesFilms { assembler(for: job)?.add(task, digest: digest) }
            }
            scheduler.onJobSegmentsComplete = { [unowned self] job in
                coordinator.configuration.onSegmentsComplete?(job.record.id)
                if assemblesFilms {
                    assembler(for: job)?.allArrived()
                } else {
                    // No film to wait for: end the job on the next turn of the loop.
                    let id = job.record.id
                    coordinator.post(.stitched(id, .written))
                }
            }
            scheduler.onJobEnded = { [unowned self] job in
                assemblers.removeValue(forKey: job.record.id)?.cancel()
                scheduler.dropDecodes(job: job.record.id)
            }
            scheduler.onJobResumed = { [unowned self] job in
                // A film stopped by a full disk starts again from the stored segments.
                if assemblers[job.record.id] == nil { restartFilm(of: job) }
            }
            try scheduler.restore()
            // Unfinished films restart from the segments already in the store.
            for job in scheduler.jobs.values.sorted(by: { $0.record.seq < $1.record.seq }) where !job.record.state.isFinal {
                restartFilm(of: job)
            }
        }

        /// Starts a job's film again from the final-level segments already in the store.
        func restartFilm(of job: LiveJob) {
            guard coordinator.configuration.assemblesFilms else { return }
            guard let assembler = assembler(for: job) else { return }
            for task in job.plan.segments where task.level == job.plan.finalLevel {
                if let digest = job.segments[task.id]?.digest { assembler.add(task, digest: digest) }
            }
            if job.doneCount == job.plan.segments.count { assembler.allArrived() }
        }

        func assembler(for job: LiveJob) -> FilmAssembler? {
            let id = job.record.id
            if let existing = assemblers[id] { return existing }
            let directory = coordinator.configuration.stateDirectory.appendingPathComponent("jobs/\(id)")
            do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
                scheduler.finishJob(id, error: "cannot create \(directory.path): \(error.localizedDescription)")
                return nil
            }
            var soundtrack: URL?
            if let bytes = job.record.spec.soundtrack {
                let url = directory.appendingPathComponent("soundtrack")
                if !FileManager.default.fileExists(atPath: url.path) { try? bytes.write(to: url) }
                soundtrack = url
            }
            let video = coordinator.model.config.video
            let coordinator = self.coordinator
            let settings = coordinator.configuration.settings
            let assembler = FilmAssembler(
                job: id, spec: job.record.spec, plan: job.plan, directory: directory, store: store, decoder: coordinator.model.vae,
                remote: settings.decodeOnWorkers ? (FarmFrameDecoder(job: id, coordinator: coordinator), settings.decodeTimeout) : nil,
                frameShape: coordinator.model.latentFrameShape, pixelSize: (video.width, video.height), soundtrack: soundtrack,
                completion: { outcome in coordinator.post(.stitched(id, outcome)) })
            assemblers[id] = assembler
            return assembler
        }

        /// Copies the scheduler's state where the HTTP API reads it.
        func publish() {
            let frames = assemblers.mapValues(\.framesWritten)
            var snapshot = scheduler.snapshot(
                framesWritten: { frames[$0] ?? 0 },
                filmReady: { [coordinator] id in coordinator.film(of: id) != nil })
            var cpu = timespec()
            if clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0 { snapshot.loopCPUSeconds = Double(cpu.tv_sec) + Double(cpu.tv_nsec) * 1e-9 }
            coordinator.published.withLock { $0 = snapshot }
            coordinator.ready.store(true, ordering: .releasing)
        }

        func run() {
            var lastPublish = -1.0
            var publishedRevision = -1
            let started = Date()
            while coordinator.running.load(ordering: .relaxed) {
                do {
                    // Sleep until a worker's message or a command arrives; wake at least 10 times
                    // a second for leases, heartbeats and liveness.
                    let readable: Bool
                    if let bell = coordinator.inboxBell {
                        let ready = try socket.pollIn(timeoutMilliseconds: 100, orReadable: bell.readDescriptor)
                        if ready.fd { bell.clear() }
                        readable = ready.socket
                    } else {
                        readable = try socket.pollIn(timeoutMilliseconds: 20)
                    }
                    if readable {
                        // Drain what is queued, bounded so commands and ticks still get their turn.
                        for _ in 0..<256 {
                            guard case .message(let frames) = try socket.receive(dontWait: true) else { break }
                            guard frames.count >= 2 else { continue }
                            coordinator.metrics.bytesReceived.increment(by: Int64(frames.dropFirst().reduce(0) { $0 + $1.count }))
                            scheduler.handle(identity: frames[0], frames: Array(frames.dropFirst()))
                        }
                        // One journal transaction for the results of this drain.
                        scheduler.commitResults()
                    }
                } catch {
                    coordinator.logger.error("socket error", metadata: ["error": "\(error)"])
                }
                let commands = coordinator.inbox.withLock { box in defer { box.removeAll() }; return box }
                // Replies go out after the next publish, so a caller sees its change in the snapshot.
                var replies: [() -> Void] = []
                for command in commands {
                    switch command {
                    case .submit(let spec, let reply):
                        do {
                            let id = try scheduler.submit(spec)
                            replies.append { reply(.success(id)) }
                        } catch let error as JobSpecError { replies.append { reply(.failure(error)) } } catch {
                            replies.append { reply(.failure(.invalid("the journal could not record the job: \(error); check free space under the state directory"))) }
                        }
                    case .cancel(let id, let reply):
                        do { try scheduler.cancel(id); replies.append { reply(.success(())) } } catch let error as JobSpecError {
                            replies.append { reply(.failure(error)) }
                        } catch {
                            replies.append { reply(.failure(.invalid("\(error)"))) }
                        }
                    case .retry(let id, let reply):
                        do {
                            try scheduler.retry(id)
                            if let job = scheduler.jobs[id] { restartFilm(of: job) }
                            replies.append { reply(.success(())) }
                        } catch let error as JobSpecError { replies.append { reply(.failure(error)) } } catch {
                            replies.append { reply(.failure(.invalid("\(error)"))) }
                        }
                    case .stitched(let id, let outcome):
                        switch outcome {
                        case .written:
                            if let assembler = assemblers[id] {
                                coordinator.metrics.stitcherFrames.increment(by: Int64(assembler.framesWritten))
                                if let fps = assembler.framesPerSecond { coordinator.metrics.stitcherFPS.set(to: fps) }
                                coordinator.metrics.batchesDecodedByStitcher.increment(by: Int64(assembler.batchesDecodedLocally))
                            }
                            assemblers[id] = nil
                            scheduler.finishJob(id, error: nil)
                        case .failed(let error):
                            assemblers[id] = nil
                            scheduler.dropDecodes(job: id)
                            scheduler.finishJob(id, error: error)
                        case .outOfSpace(let error):
                            // The film starts again from the stored segments once the job resumes.
                            assemblers[id] = nil
                            scheduler.dropDecodes(job: id)
                            scheduler.pauseForStorage(id, reason: "\(error); free disk space and the film is written again")
                        }
                    case .decode(let job, let latents, let frames, let pending):
                        scheduler.enqueueDecode(job: job, latents: latents, frames: frames, pending: pending)
                    }
                }
                scheduler.tick()
                let now = Date().timeIntervalSince(started)
                // After a command, publish before its caller can ask about the result; otherwise
                // at most 4 times a second when something changed (films being stitched count) —
                // a snapshot lists every segment of every job, so more often costs the loop more
                // than any reader gains — and once a second regardless (heartbeat ages).
                let changed = scheduler.revision != publishedRevision || !assemblers.isEmpty
                if !commands.isEmpty || (changed && now - lastPublish >= 0.25) || now - lastPublish >= 1 {
                    lastPublish = now
                    publishedRevision = scheduler.revision
                    publish()
                }
                for reply in replies { reply() }
            }
            for assembler in assemblers.values { assembler.cancel() }
        }
    }
}

/// A coordinator start-up problem, as one sentence.
public struct CoordinatorError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
