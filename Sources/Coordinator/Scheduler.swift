import Foundation
import Logging
import Planner
import Stitcher
import Wire

/// The farm's scheduling state machine: jobs → segments → attempts → workers.
///
/// It owns no socket and no thread: the coordinator's loop feeds it decoded messages and clock
/// ticks, and it answers with messages to send (through `send`) while writing every state change to
/// the journal *before* acting on it. Confined to one thread (the loop); not Sendable on purpose.
///
/// Invariants: a segment has at most one open attempt; a result is stored only for the segment's
/// current open attempt (the attempt id is the fencing token); a segment is counted done once.
public final class Scheduler {
    public typealias Send = (_ identity: [UInt8], _ message: WireMessage) -> Bool

    let settings: FarmSettings
    let journal: Journal
    let store: SegmentStore
    let geometry: ModelGeometry
    let frameShape: [Int]
    let samplerDefaults: SamplerParameters
    let logger: Logger
    private let send: Send
    /// Monotonic seconds.
    private let clock: () -> Double
    /// Called with a job when one of its final-level segments is stored (the stitcher's feed).
    var onFinalSegment: (LiveJob, SegmentTask, String) -> Void = { _, _, _ in }
    /// Called when a job's last segment is stored, and when a job leaves the farm (cancel/fail).
    var onJobSegmentsComplete: (LiveJob) -> Void = { _ in }
    var onJobEnded: (LiveJob) -> Void = { _ in }
    /// Called when a job paused for a full disk resumes.
    var onJobResumed: (LiveJob) -> Void = { _ in }

    private(set) var jobs: [String: LiveJob] = [:]
    private var workers: [[UInt8]: LiveWorker] = [:]
    private var attempts: [String: LiveAttempt] = [:]
    private var nextJobSeq: Int
    private var lastHeartbeat = -Double.infinity
    private var anchorCache = AnchorCache(capacity: 64)
    /// Films' decode batches on their way to and from workers.
    private(set) var decodes: DecodeRouter
    /// Results verified and stored this loop turn, waiting for `commitResults`.
    private var handedIn: [HandedIn] = []
    /// When each result committed this turn arrived (for its turnaround).
    private var awaitingDispatch: [Double] = []
    private var turnaround = ResultTurnaround()
    /// Bumped by every change a snapshot would show (heartbeats alone do not count).
    public private(set) var revision = 0
    private var dispatchedRevision = -1
    private var lastDispatch = -Double.infinity
    private var lastHousekeeping = -Double.infinity
    public private(set) var malformedMessages = 0 {
        didSet { metrics?.malformedMessages.increment(by: Int64(malformedMessages - oldValue)) }
    }
    public private(set) var staleMessages = 0 {
        didSet { metrics?.staleMessages.increment(by: Int64(staleMessages - oldValue)) }
    }
    /// Where counters and histograms go (the coordinator's /metrics); nil in bare tests.
    var metrics: FarmMetrics?

    public init(settings: FarmSettings, journal: Journal, store: SegmentStore, geometry: ModelGeometry, frameShape: [Int],
                samplerDefaults: SamplerParameters, logger: Logger, clock: @escaping () -> Double, send: @escaping Send) throws {
        self.settings = settings
        self.journal = journal
        self.store = store
        self.geometry = geometry
        self.frameShape = frameShape
        self.samplerDefaults = samplerDefaults
        self.logger = logger
        self.clock = clock
        self.send = send
        self.decodes = DecodeRouter(giveUpAfter: 2 * settings.decodeTimeout)
        self.nextJobSeq = try journal.lastJobSeq() + 1
    }

    // MARK: Jobs

    /// Plans and records a job; returns its id. Throws a one-sentence error for a bad spec.
    public func submit(_ spec: JobSpec) throws -> String {
        try spec.validate(modelFPS: geometry.fps)
        let open = jobs.values.filter { !$0.record.state.isFinal }.count
        guard open < settings.maxQueuedJobs else {
            throw JobSpecError.invalid("the coordinator already holds \(open) unfinished jobs (the limit is \(settings.maxQueuedJobs)); wait for some to finish or cancel one")
        }
        let plan: SegmentPlan
        do { plan = try Planner.plan(spec.request, geometry: geometry) } catch { throw JobSpecError.invalid("\(error)") }
        let seq = nextJobSeq
        let id = String(format: "j%04d-%08x", seq, UInt32.random(in: 0...UInt32.max))
        let now = Date()
        let record = JobRecord(id: id, seq: seq, spec: spec, state: .queued, error: nil, created: now, updated: now)
        let segments = plan.segments.map { task in
            SegmentRecord(job: id, id: task.id, level: task.level, state: task.dependencies.isEmpty ? .ready : .waiting,
                          digest: nil, attempts: 0, failures: [])
        }
        try journal.insert(job: record, segments: segments)
        nextJobSeq += 1
        let job = LiveJob(record: record, plan: plan, segments: segments)
        jobs[id] = job
        revision += 1
        logger.info("job submitted", metadata: ["job": "\(id)", "segments": "\(plan.segments.count)", "levels": "\(plan.levels)"])
        return id
    }

    /// Rebuilds the live state from the journal after a (re)start. Open attempts become orphans:
    /// a worker that reconnects within the grace period and names them in its heartbeat keeps
    /// them; otherwise they are requeued. Finished segments are never rendered again.
    public func restore() throws {
        let now = clock()
        for record in try journal.jobs() {
            let plan: SegmentPlan
            do { plan = try Planner.plan(record.spec.request, geometry: geometry) } catch {
                logger.error("journal job cannot be planned any more", metadata: ["job": "\(record.id)", "error": "\(error)"])
                continue
            }
            var segments = try journal.segments(job: record.id)
            // A segment whose blob is gone or damaged is rendered again rather than trusted.
            for i in segments.indices where segments[i].state == .done {
                if let digest = segments[i].digest, store.contains(digest) { continue }
                logger.warning("finished segment's latents are missing; rendering it again", metadata: ["job": "\(record.id)", "segment": "\(segments[i].id)"])
                segments[i].state = .waiting
                segments[i].digest = nil
            }
            let job = LiveJob(record: record, plan: plan, segments: segments)
            jobs[record.id] = job
            nextJobSeq = max(nextJobSeq, record.seq + 1)
            if record.state.isFinal { continue }
            for open in try journal.attempts(job: record.id, state: .leased) {
                guard job.segments[open.segment]?.state == .leased else { continue }
                let remaining = max(0, open.leaseUntil.timeIntervalSinceNow)
                attempts[open.id] = LiveAttempt(id: open.id, job: record.id, segment: open.segment, worker: nil, workerName: open.worker,
                                                started: now, deadline: now + min(remaining, settings.lease),
                                                orphanUntil: now + 2 * settings.deadAfter)
                job.segments[open.segment]?.attempt = open.id
            }
            // Leased segments without a live attempt (the attempt row was never written) go back.
            for (id, segment) in job.segments where segment.state == .leased && segment.attempt == nil {
                job.segments[id]?.state = .ready
            }
            job.refreshReadiness()
            logger.info("job restored", metadata: ["job": "\(record.id)", "done": "\(job.doneCount)/\(job.plan.segments.count)", "orphans": "\(attempts.values.filter { $0.job == record.id }.count)"])
        }
    }

    /// Runs a failed job again: its failed segments go back to the queue with their failure
    /// counts cleared (and its blocklist emptied); finished segments are kept.
    public func retry(_ id: String) throws {
        guard let job = jobs[id] else { throw JobSpecError.invalid("no job \(id); `reel status` lists the jobs") }
        guard job.record.state == .failed else {
            throw JobSpecError.invalid("job \(id) is \(job.record.state.rawValue); only a failed job can be retried")
        }
        try journal.retry(job: id)
        for (segmentID, segment) in job.segments where segment.state == .failed {
            job.segments[segmentID]?.failures = []
            job.requeue(segmentID)
        }
        // Segments whose attempts were dropped when the job failed go back to the queue too.
        for (segmentID, segment) in job.segments where segment.state == .leased && segment.attempt.map({ attempts[$0] == nil }) ?? true {
            job.requeue(segmentID)
        }
        revision += 1
        job.workerFailures = [:]
        job.blocklist = []
        job.record.state = .running
        job.record.error = nil
        logger.info("job retried", metadata: ["job": "\(id)"])
    }

    /// Cancels a job: no more dispatches, open attempts fenced off, the stitcher stopped.
    public func cancel(_ id: String) throws {
        guard let job = jobs[id] else { throw JobSpecError.invalid("no job \(id); `reel status` lists the jobs") }
        guard !job.record.state.isFinal else { return }
        try journal.cancel(job: id)
        revision += 1
        job.record.state = .cancelled
        for attempt in attempts.values where attempt.job == id { drop(attempt: attempt.id) }
        onJobEnded(job)
        logger.info("job cancelled", metadata: ["job": "\(id)"])
    }

    /// Marks a job finished after its film was written (or failed writing it).
    func finishJob(_ id: String, error: String?) {
        revision += 1
        guard let job = jobs[id], !job.record.state.isFinal else { return }
        let state: JobState = error == nil ? .done : .failed
        do { try journal.setJobState(id, state, error: error) } catch { logger.error("journal write failed", metadata: ["job": "\(id)", "error": "\(error)"]) }
        job.record.state = state
        job.record.error = error
        job.record.updated = Date()
        logger.info("job \(state.rawValue)", metadata: ["job": "\(id)", "error": "\(error ?? "")"])
    }

    // MARK: Messages

    /// Handles one multipart message from the ROUTER (`identity` stripped off).
    public func handle(identity: [UInt8], frames: [[UInt8]]) {
        let message: WireMessage
        do { message = try WireMessage.decode(frames) } catch {
            malformedMessages += 1
            if case .unsupportedVersion = error {
                _ = send(identity, .disconnect(Disconnect(reason: "this coordinator speaks REEL/1 only: upgrade the worker", draining: false)))
            }
            if malformedMessages <= 20 || malformedMessages % 1000 == 0 {
                logger.warning("dropped a malformed message", metadata: ["from": "\(hex(identity))", "error": "\(error)", "dropped": "\(malformedMessages)"])
            }
            return
        }
        let now = clock()
        workers[identity]?.lastSeen = now
        if case .heartbeat = message {} else { revision += 1 }
        switch message {
        case .ready(let ready): register(identity: identity, ready: ready, now: now)
        case .heartbeat(let beat): heartbeat(identity: identity, beat: beat, now: now)
        case .progress(let progress): self.progress(progress, from: identity, now: now)
        case .result(let result, let latents): self.result(result, latents: latents, from: identity, now: now)
        case .failed(let failure): failed(failure, from: identity)
        case .disconnect(let bye): disconnect(identity: identity, bye: bye)
        case .frames(let frames, let pixels):
            if decodes.arrived(frames, pixels: pixels, from: identity) { metrics?.batchesDecodedByWorkers.increment() } else { staleMessages += 1 }
        case .task, .decode:
            malformedMessages += 1
            logger.warning("a worker sent \(message.type.rawValue), which only the coordinator sends; dropped", metadata: ["from": "\(hex(identity))"])
        }
    }

    // MARK: Decoding films on workers

    /// Queues one film batch for a worker's VAE (see `DecodeRouter`).
    func enqueueDecode(job: String, latents: [Float], frames: Int, pending: PendingFrames) {
        guard jobs[job] != nil else { pending.fulfil(nil); return }
        decodes.enqueue(job: job, frames: frames, latents: latents, pending: pending)
    }

    /// Forgets a job's decode batches (its film ended or stopped); their waiters get nil.
    func dropDecodes(job: String) { decodes.drop(job: job) }

    /// Sends waiting decode batches to live workers of this farm's model, in a fixed order.
    private func dispatchDecodes(now: Double) {
        decodes.expire(now: now)
        guard decodes.waiting > 0 else { return }
        let order = workers.values.filter { $0.ready.decodes && !$0.draining && $0.ready.models.contains("reel-tiny") }
            .map(\.identity).sorted { $0.lexicographicallyPrecedes($1) }
        // With no worker to take them, the stitcher decodes the batches itself, now.
        guard !order.isEmpty else { return decodes.releaseWaiting() }
        decodes.dispatch(to: order, model: "reel-tiny", frameShape: frameShape, now: now, send: send)
    }

    private func register(identity: [UInt8], ready: Ready, now: Double) {
        // The same worker under a new identity has reconnected: its attempts wait for its heartbeat.
        for (other, worker) in workers where other != identity && worker.ready.worker == ready.worker {
            orphanAttempts(of: worker, now: now)
            workers[other] = nil
        }
        if let existing = workers[identity] {
            workers[identity]?.ready = ready
            workers[identity]?.draining = false
            logger.info("worker re-announced", metadata: ["worker": "\(ready.worker)", "attempts": "\(existing.attempts.count)"])
        } else {
            workers[identity] = LiveWorker(identity: identity, ready: ready, joined: now, lastSeen: now)
            logger.info("worker joined", metadata: ["worker": "\(ready.worker)", "threads": "\(ready.threads)", "credit": "\(ready.credit)"])
        }
        // Attempts it is still working on (it reconnected, or we restarted) stay with it.
        if !ready.activeAttempts.isEmpty { heartbeat(identity: identity, beat: Heartbeat(activeAttempts: ready.activeAttempts), now: now) }
        if !ready.models.contains(where: { $0 == "reel-tiny" }) {
            logger.warning("worker offers none of this farm's models; it gets no tasks", metadata: ["worker": "\(ready.worker)", "models": "\(ready.models)"])
        }
    }

    private func heartbeat(identity: [UInt8], beat: Heartbeat, now: Double) {
        guard var worker = workers[identity] else {
            // A worker from before a coordinator restart: ask it to announce itself again.
            _ = send(identity, .disconnect(Disconnect(reason: "unknown worker: announce with READY", draining: false)))
            return
        }
        let claimed = Set(beat.activeAttempts)
        for id in claimed {
            guard var attempt = attempts[id], attempt.worker == nil || attempt.worker == identity else { continue }
            if attempt.worker == nil {
                attempt.worker = identity
                attempt.workerName = worker.ready.worker
                attempt.orphanUntil = nil
                attempts[id] = attempt
                worker.attempts.insert(id)
                try? journal.extendLease(attempt: id, worker: worker.ready.worker, until: Date().addingTimeInterval(attempt.deadline - now))
                logger.info("reconnected worker kept its attempt", metadata: ["worker": "\(worker.ready.worker)", "attempt": "\(id)"])
            }
        }
        worker.lingering.formIntersection(claimed)
        workers[identity] = worker
        // Attempts we gave this worker that it does not know about: the TASK was lost in flight.
        for id in worker.attempts where !claimed.contains(id) {
            if let attempt = attempts[id], now - attempt.started > 2 * settings.heartbeatInterval + 1 {
                lose(attempt: id, reason: "worker \(worker.ready.worker) does not hold the attempt (TASK lost)")
            }
        }
    }

    private func progress(_ progress: Wire.Progress, from identity: [UInt8], now: Double) {
        guard let attempt = attempts[progress.attempt] else { staleMessages += 1; return }
        if attempt.worker == nil { attempts[progress.attempt]?.worker = identity; workers[identity]?.attempts.insert(attempt.id) }
        // Step latency: time since this attempt's previous progress report, per step advanced.
        if let last = attempt.lastProgress, progress.step > last.step {
            metrics?.stepSeconds.record((now - last.time) / Double(progress.step - last.step))
        }
        attempts[progress.attempt]?.lastProgress = (progress.step, now)
        attempts[progress.attempt]?.step = progress.step
        attempts[progress.attempt]?.steps = progress.steps
    }

    private func result(_ result: SegmentResult, latents: [Float], from identity: [UInt8], now: Double) {
        guard let attempt = attempts[result.attempt], attempt.job == result.job, attempt.segment == result.segment,
              let job = jobs[result.job], let segment = job.segments[result.segment], segment.attempt == result.attempt,
              segment.state == .leased else {
            staleMessages += 1
            workers[identity]?.lingering.remove(result.attempt)
            logger.warning("refused a result from a stale attempt", metadata: ["attempt": "\(result.attempt)", "job": "\(result.job)", "segment": "\(result.segment)"])
            try? journal.record(event: "stale-result", job: jobs[result.job] == nil ? nil : result.job, segment: result.segment, attempt: result.attempt)
            return
        }
        let task = segment.task
        guard result.frames == task.frames, result.frameShape == frameShape,
              latents.count == task.frames * frameShape.reduce(1, *) else {
            fail(attempt: attempt.id, error: "result has \(result.frames) frames of \(result.frameShape); expected \(task.frames) of \(frameShape)", retryable: true, state: .failed)
            return
        }
        let bytes = latents.littleEndianBytes
        let digest = SegmentStore.digest(bytes)
        guard digest == result.sha256 else {
            fail(attempt: attempt.id, error: "result checksum \(result.sha256.prefix(12))… does not match its latents (\(digest.prefix(12))…): corrupted in transit", retryable: true, state: .failed)
            return
        }
        do { try store.put(bytes, digest: digest) } catch {
            // Disk full or unwritable state dir: keep nothing half-done, pause the job, retry later.
            logger.error("could not store a finished segment; pausing the job", metadata: ["job": "\(job.record.id)", "segment": "\(task.id)", "error": "\(error)"])
            // Requeued like any lost attempt. With the disk full its journal write may fail too; a
            // restart then finds the attempt open and requeues it, which is just as safe.
            lose(attempt: attempt.id, reason: "could not store the result")
            pause(job, reason: "cannot write under the state directory (\(describeStorageError(error))); free disk space and the job continues")
            return
        }
        // Handed in: the attempt is closed now (a repeat of this RESULT is stale), and the journal
        // records it with the rest of this loop turn's results in one transaction (`commitResults`),
        // before anything that depends on it is dispatched.
        // The RESULT reports the last steps (workers send no PROGRESS for the final step).
        if let last = attempt.lastProgress, let steps = attempt.steps, steps > last.step {
            metrics?.stepSeconds.record((now - last.time) / Double(steps - last.step))
        }
        attempts[attempt.id] = nil
        if let w = attempt.worker { workers[w]?.attempts.remove(attempt.id) }
        handedIn.append(HandedIn(attempt: attempt, task: task, digest: digest, latents: latents,
                                 seconds: Double(result.computeMilliseconds) / 1000, received: now))
    }

    /// Group commit: journals every result handed in since the last call in one transaction, then
    /// marks their segments done and their dependents ready. The loop calls it after draining the
    /// socket; `tick` calls it before dispatching.
    public func commitResults() {
        guard !handedIn.isEmpty else { return }
        revision += 1
        // A job that ended meanwhile (cancelled, failed) takes no more results.
        let batch = handedIn.filter { jobs[$0.attempt.job].map { !$0.record.state.isFinal } ?? false }
        handedIn.removeAll()
        var doneInBatch: [String: Set<String>] = [:]
        var readyAfter: [[String]] = []
        var ends: [Journal.AttemptEnd] = []
        for item in batch {
            let job = jobs[item.attempt.job]!
            let ready = job.dependentsReadyAfter(item.task.id, alsoDone: doneInBatch[job.record.id] ?? [])
            doneInBatch[job.record.id, default: []].insert(item.task.id)
            readyAfter.append(ready)
            ends.append(Journal.AttemptEnd(attempt: item.attempt.id, job: job.record.id, segment: item.task.id, as: .succeeded,
                                           segmentState: .done, digest: item.digest,
                                           failures: job.segments[item.task.id]?.failures ?? [], newlyReady: ready))
        }
        do { try journal.end(ends) } catch {
            // Nothing was recorded: the segments go back to the queue (not counted as failures)
            // and their jobs pause until the state directory takes writes again.
            for item in batch {
                guard let job = jobs[item.attempt.job] else { continue }
                job.requeue(item.task.id)
                metrics?.attemptsRequeued.increment()
                pause(job, reason: "cannot write the journal (\(describeStorageError(error))); free disk space and the job continues")
            }
            return
        }
        for (item, ready) in zip(batch, readyAfter) {
            let job = jobs[item.attempt.job]!
            let task = item.task
            job.markDone(task.id, digest: item.digest, seconds: item.seconds, worker: item.attempt.workerName, ready: ready)
            metrics?.segmentsFinished.increment()
            metrics?.segmentSeconds.record(item.seconds)
            if let w = item.attempt.worker { workers[w]?.done += 1 }
            awaitingDispatch.append(item.received)
            anchorCache.insert(job: job.record.id, segment: task.id, latents: item.latents)
            if task.level == job.plan.finalLevel { onFinalSegment(job, task, item.digest) }
            if job.record.state == .queued { setState(job, .running) }
            if job.doneCount == job.plan.segments.count {
                setState(job, .stitching)
                onJobSegmentsComplete(job)
            }
        }
    }

    private func failed(_ failure: Failure, from identity: [UInt8]) {
        if decodes.failed(failure.attempt, from: identity) {
            logger.info("a worker could not decode a film batch; the stitcher decodes it", metadata: ["decode": "\(failure.attempt)", "error": "\(failure.error)"])
            return
        }
        guard let attempt = attempts[failure.attempt] else {
            staleMessages += 1
            workers[identity]?.lingering.remove(failure.attempt)
            return
        }
        if failure.refused {
            // It had no free slot after all: give it a heartbeat's rest rather than a refusal loop.
            workers[identity]?.coolUntil = clock() + settings.heartbeatInterval
            lose(attempt: attempt.id, reason: "worker \(attempt.workerName) refused it: \(failure.error)")
        } else {
            fail(attempt: attempt.id, error: failure.error, retryable: failure.retryable, state: .failed)
        }
    }

    private func disconnect(identity: [UInt8], bye: Disconnect) {
        guard let worker = workers[identity] else { return }
        if bye.draining && !worker.attempts.isEmpty {
            workers[identity]?.draining = true
            logger.info("worker draining", metadata: ["worker": "\(worker.ready.worker)"])
            return
        }
        removeWorker(identity, reason: "worker \(worker.ready.worker) left: \(bye.reason)", voluntary: true)
    }

    // MARK: Time

    /// Expires leases, declares silent workers dead, sends heartbeats and dispatches ready work.
    public func tick() {
        commitResults()
        let now = clock()
        // Time-driven checks at most every 20 ms: with hundreds of workers every heartbeat is a
        // turn of the loop, and these walk every worker and attempt.
        if now - lastHousekeeping >= 0.02 {
            lastHousekeeping = now
            housekeeping(now: now)
        }
        // Dispatch after any change that can free a slot or ready a segment (they all bump the
        // revision), and every 20 ms for the time-driven ones (a refusing worker's cool-down).
        if revision != dispatchedRevision || now - lastDispatch >= 0.02 {
            dispatch(now: now)
            dispatchedRevision = revision
            lastDispatch = now
        }
        if decodes.waiting > 0 || decodes.outstanding > 0 { dispatchDecodes(now: now) }
    }

    private func housekeeping(now: Double) {
        for (identity, worker) in workers {
            // A worker that announced a slower heartbeat than ours gets its own interval.
            let interval = max(settings.heartbeatInterval, Double(worker.ready.heartbeatMilliseconds) / 1000)
            if now - worker.lastSeen > interval * Double(settings.liveness) {
                removeWorker(identity, reason: "worker \(worker.ready.worker) missed \(settings.liveness) heartbeats")
            }
        }
        for attempt in attempts.values {
            if let until = attempt.orphanUntil, now > until {
                lose(attempt: attempt.id, reason: "no worker reclaimed the attempt after the coordinator restarted")
            } else if now > attempt.deadline {
                fail(attempt: attempt.id, error: "lease of \(Int(settings.lease)) s ran out before a result came (worker \(attempt.workerName))",
                     retryable: true, state: .expired)
            }
        }
        if now - lastHeartbeat >= settings.heartbeatInterval {
            lastHeartbeat = now
            for (identity, worker) in workers {
                if !send(identity, .heartbeat(Heartbeat(activeAttempts: worker.attempts.sorted()))) {
                    removeWorker(identity, reason: "worker \(worker.ready.worker) is unreachable")
                }
            }
        }
        resumePausedJobs()
    }

    /// Hands ready segments to workers with free slots. Every attempt of the turn is journaled in
    /// one transaction before any TASK leaves.
    private func dispatch(now: Double) {
        defer {
            // Results committed this turn are turned around once this dispatch has gone out.
            if !awaitingDispatch.isEmpty {
                let end = clock()
                for arrival in awaitingDispatch {
                    turnaround.record(end - arrival)
                    metrics?.resultTurnaroundSeconds.record(end - arrival)
                }
                awaitingDispatch.removeAll()
            }
        }
        let open = jobs.values.filter { $0.record.state == .queued || $0.record.state == .running }
            .sorted { ($0.record.spec.priority, -$0.record.seq) > ($1.record.spec.priority, -$1.record.seq) }
        guard !open.isEmpty else { return }
        var planned: [PlannedStart] = []
        var reserved: [[UInt8]: Int] = [:]
        for identity in workers.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            while let worker = workers[identity], !worker.draining, worker.freeSlots - reserved[identity, default: 0] > 0,
                  now >= worker.coolUntil, worker.ready.models.contains("reel-tiny") {
                guard let (job, task) = nextTask(in: open, for: worker) else { break }
                job.readySet.remove(task.id)
                guard let start = prepare(task: task, of: job, on: worker) else { continue }
                reserved[identity, default: 0] += 1
                planned.append(start)
            }
        }
        guard !planned.isEmpty else { return }
        revision += 1
        do { try journal.begin(planned.map { ($0.record, $0.number) }) } catch {
            for start in planned {
                start.job.readySet.insert(start.task.id)
                pause(start.job, reason: "cannot write the journal (\(describeStorageError(error))); free disk space and the job continues")
            }
            return
        }
        for start in planned { launch(start, now: now) }
    }

    private func nextTask(in jobs: [LiveJob], for worker: LiveWorker) -> (LiveJob, SegmentTask)? {
        for job in jobs where !job.blocklist.contains(worker.ready.worker) {
            if let task = job.nextReady(maxFrames: worker.ready.maxWindowFrames) { return (job, task) }
        }
        return nil
    }

    /// An attempt about to start: its record (journaled before the TASK goes) and its anchors.
    private struct PlannedStart {
        let job: LiveJob
        let task: SegmentTask
        let identity: [UInt8]
        let record: AttemptRecord
        let number: Int
        let anchors: [Float]
    }

    /// The attempt for `task` on `worker`, or nil when its anchors cannot be read (their source
    /// segments are then rendered again and `task` waits for them).
    private func prepare(task: SegmentTask, of job: LiveJob, on worker: LiveWorker) -> PlannedStart? {
        guard let segment = job.segments[task.id] else { return nil }
        let anchors: [Float]
        do { anchors = try anchorLatents(for: task, of: job) } catch {
            logger.error("anchor latents unavailable; the source segment is rendered again", metadata: ["job": "\(job.record.id)", "segment": "\(task.id)", "error": "\(error)"])
            job.segments[task.id]?.state = .waiting
            for anchor in task.anchors { job.reopen(anchor.source) }
            return nil
        }
        let number = segment.attempts + 1
        let record = AttemptRecord(id: "\(job.record.id).\(task.id).\(number)", job: job.record.id, segment: task.id,
                                   worker: worker.ready.worker, state: .leased, started: Date(),
                                   leaseUntil: Date().addingTimeInterval(settings.lease))
        return PlannedStart(job: job, task: task, identity: worker.identity, record: record, number: number, anchors: anchors)
    }

    /// Starts a journaled attempt: live state, then the TASK.
    private func launch(_ start: PlannedStart, now: Double) {
        let (job, task, identity, id) = (start.job, start.task, start.identity, start.record.id)
        job.segments[task.id]?.state = .leased
        job.segments[task.id]?.attempts = start.number
        job.segments[task.id]?.attempt = id
        let present = workers[identity] != nil
        attempts[id] = LiveAttempt(id: id, job: job.record.id, segment: task.id, worker: present ? identity : nil,
                                   workerName: start.record.worker, started: now, deadline: now + settings.lease, orphanUntil: nil)
        guard let worker = workers[identity] else {
            // A send to this worker failed earlier in the same dispatch and removed it: the
            // journaled attempt is closed as lost and the segment goes back to the queue.
            lose(attempt: id, reason: "worker \(start.record.worker) went away before its task was sent")
            return
        }
        workers[identity]?.attempts.insert(id)
        if job.record.state == .queued { setState(job, .running) }
        let spec = job.record.spec
        let assignment = TaskAssignment(
            attempt: id, job: job.record.id, segment: task.id, leaseMilliseconds: Int(settings.lease * 1000), model: spec.model,
            text: task.text.map { PromptWeight(prompt: $0.prompt, weight: $0.weight) }, seed: spec.request.seed,
            level: task.level, startFrame: task.startFrame, stride: task.stride, frames: task.frames, frameShape: frameShape,
            anchorSlots: task.anchors.map(\.slot),
            sampler: SamplerParameters(steps: spec.steps ?? samplerDefaults.steps, guidance: spec.cfg.map(Double.init) ?? samplerDefaults.guidance,
                                       shift: spec.shift.map(Double.init) ?? samplerDefaults.shift, method: spec.method ?? samplerDefaults.method))
        if !send(identity, .task(assignment, anchors: start.anchors)) {
            removeWorker(identity, reason: "worker \(worker.ready.worker) is unreachable")
        }
    }

    /// The anchor frames of `task`, in slot order, read from the finished source segments.
    private func anchorLatents(for task: SegmentTask, of job: LiveJob) throws -> [Float] {
        let frameSize = frameShape.reduce(1, *)
        var values: [Float] = []
        values.reserveCapacity(task.anchors.count * frameSize)
        for anchor in task.anchors {
            let source: [Float]
            if let cached = anchorCache.get(job: job.record.id, segment: anchor.source) { source = cached } else {
                guard let digest = job.segments[anchor.source]?.digest else { throw SegmentStoreError.missing(anchor.source) }
                source = [Float](littleEndianBytes: try store.get(digest)[...])
                anchorCache.insert(job: job.record.id, segment: anchor.source, latents: source)
            }
            values += source[(anchor.sourceSlot * frameSize)..<((anchor.sourceSlot + 1) * frameSize)]
        }
        return values
    }

    // MARK: Attempt endings

    /// A failed or expired attempt: counts against the segment and the worker; requeues or fails the job.
    private func fail(attempt id: String, error: String, retryable: Bool, state: AttemptState) {
        revision += 1
        guard let attempt = attempts.removeValue(forKey: id), let job = jobs[attempt.job],
              var segment = job.segments[attempt.segment] else { return }
        if let w = attempt.worker {
            workers[w]?.attempts.remove(id)
            // A lease that ran out: the worker is most likely still at it.
            if state == .expired { workers[w]?.lingering.insert(id) }
        }
        segment.failures.append("attempt \(id) on \(attempt.workerName): \(error)")
        (state == .expired ? metrics?.attemptsExpired : metrics?.attemptsFailed)?.increment()
        let exhausted = !retryable || segment.failures.count >= settings.maxFailures
        segment.state = exhausted ? .failed : .ready
        segment.attempt = nil
        do {
            try journal.end(attempt: id, job: job.record.id, segment: segment.task.id, as: state, error: error,
                            segmentState: segment.state, failures: segment.failures)
        } catch { logger.error("journal write failed", metadata: ["attempt": "\(id)", "error": "\(error)"]) }
        job.segments[segment.task.id] = segment
        logger.warning("attempt \(state.rawValue)", metadata: ["job": "\(job.record.id)", "segment": "\(segment.task.id)", "attempt": "\(id)", "error": "\(error)"])
        job.workerFailures[attempt.workerName, default: 0] += 1
        if job.workerFailures[attempt.workerName]! >= settings.workerFailureLimit, !job.blocklist.contains(attempt.workerName) {
            job.blocklist.insert(attempt.workerName)
            try? journal.record(event: "worker-blocklisted", job: job.record.id, detail: attempt.workerName)
            logger.warning("worker blocklisted for this job", metadata: ["job": "\(job.record.id)", "worker": "\(attempt.workerName)"])
        }
        if exhausted {
            let why = "segment \(segment.task.id) failed \(segment.failures.count) time(s): " + segment.failures.joined(separator: "; ")
            failJob(job, error: why)
        } else {
            job.readySet.insert(segment.task.id)
        }
    }

    /// An attempt lost to a dead or confused worker: requeued without counting against the segment.
    private func lose(attempt id: String, reason: String) {
        revision += 1
        guard let attempt = attempts.removeValue(forKey: id), let job = jobs[attempt.job] else { return }
        if let w = attempt.worker { workers[w]?.attempts.remove(id) }
        guard let segment = job.segments[attempt.segment], segment.attempt == id else { return }
        do {
            try journal.end(attempt: id, job: job.record.id, segment: segment.task.id, as: .lost, error: reason,
                            segmentState: .ready, failures: segment.failures)
        } catch { logger.error("journal write failed", metadata: ["attempt": "\(id)", "error": "\(error)"]) }
        job.requeue(segment.task.id)
        metrics?.attemptsRequeued.increment()
        logger.info("attempt requeued", metadata: ["job": "\(job.record.id)", "segment": "\(segment.task.id)", "attempt": "\(id)", "reason": "\(reason)"])
    }

    /// Forgets an attempt whose job was cancelled or paused (its result will be refused as stale).
    private func drop(attempt id: String) {
        guard let attempt = attempts.removeValue(forKey: id) else { return }
        if let w = attempt.worker {
            workers[w]?.attempts.remove(id)
            workers[w]?.lingering.insert(id)
        }
    }

    private func orphanAttempts(of worker: LiveWorker, now: Double) {
        for id in worker.attempts {
            attempts[id]?.worker = nil
            attempts[id]?.orphanUntil = now + 2 * settings.deadAfter
        }
    }

    private func removeWorker(_ identity: [UInt8], reason: String, voluntary: Bool = false) {
        revision += 1
        guard let worker = workers.removeValue(forKey: identity) else { return }
        logger.log(level: voluntary ? .info : .warning, "worker removed", metadata: ["worker": "\(worker.ready.worker)", "reason": "\(reason)"])
        for id in worker.attempts.sorted() { lose(attempt: id, reason: reason) }
        decodes.workerLost(identity)
    }

    private func failJob(_ job: LiveJob, error: String) {
        revision += 1
        do { try journal.setJobState(job.record.id, .failed, error: error) } catch { logger.error("journal write failed", metadata: ["error": "\(error)"]) }
        job.record.state = .failed
        job.record.error = error
        for attempt in attempts.values where attempt.job == job.record.id { drop(attempt: attempt.id) }
        onJobEnded(job)
        logger.error("job failed", metadata: ["job": "\(job.record.id)", "error": "\(error)"])
    }

    /// Pauses a job whose film could not be written for lack of space (the film assembler's
    /// report); it resumes like any paused job once a probe write succeeds.
    func pauseForStorage(_ id: String, reason: String) {
        guard let job = jobs[id], !job.record.state.isFinal else { return }
        pause(job, reason: reason)
    }

    private func pause(_ job: LiveJob, reason: String) {
        revision += 1
        guard job.record.state != .paused else { return }
        job.resumeState = job.record.state
        job.record.state = .paused
        job.record.error = reason
        job.pausedAt = clock()
        try? journal.setJobState(job.record.id, .paused, error: reason)
        logger.error("job paused", metadata: ["job": "\(job.record.id)", "reason": "\(reason)"])
    }

    /// Paused jobs are retried every few seconds: a test write to the store tells if space is back.
    private func resumePausedJobs() {
        let now = clock()
        for job in jobs.values where job.record.state == .paused && now - job.pausedAt > 5 {
            job.pausedAt = now
            let probe = store.directory.appendingPathComponent(".space-probe")
            guard FileManager.default.createFile(atPath: probe.path, contents: Data(count: 1 << 20)) else { continue }
            try? FileManager.default.removeItem(at: probe)
            let state = job.resumeState ?? .running
            do { try journal.setJobState(job.record.id, state) } catch { continue }
            job.record.state = state
            job.record.error = nil
            revision += 1
            logger.info("job resumed: the state directory is writable again", metadata: ["job": "\(job.record.id)"])
            onJobResumed(job)
        }
    }

    private func setState(_ job: LiveJob, _ state: JobState) {
        revision += 1
        do { try journal.setJobState(job.record.id, state) } catch { logger.error("journal write failed", metadata: ["error": "\(error)"]) }
        job.record.state = state
        job.record.updated = Date()
    }

    // MARK: Snapshot

    public func snapshot(framesWritten: (String) -> Int, filmReady: (String) -> Bool) -> FarmSnapshot {
        let now = clock()
        var snapshot = FarmSnapshot()
        snapshot.malformedMessages = malformedMessages
        snapshot.staleMessages = staleMessages
        snapshot.turnaround = turnaround.results > 0 ? turnaround : nil
        snapshot.jobs = jobs.values.sorted { $0.record.seq < $1.record.seq }.map { job in
            job.status(attempts: attempts, framesWritten: framesWritten(job.record.id), filmReady: filmReady(job.record.id), now: now)
        }
        snapshot.workers = workers.values.sorted { $0.ready.worker < $1.ready.worker }.map { w in
            WorkerStatus(name: w.ready.worker, identity: hex(w.identity), threads: w.ready.threads, credit: w.ready.credit, draining: w.draining,
                         heartbeatAge: now - w.lastSeen, attempts: w.attempts.sorted(), segmentsDone: w.done,
                         segmentsPerMinute: Double(w.done) / max(now - w.joined, 1) * 60)
        }
        return snapshot
    }

    /// Live attempts (tests and diagnostics).
    public var openAttempts: [String] { attempts.keys.sorted() }
    public var workerNames: [String] { workers.values.map(\.ready.worker).sorted() }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

struct LiveWorker {
    let identity: [UInt8]
    var ready: Ready
    let joined: Double
    var lastSeen: Double
    var attempts: Set<String> = []
    /// Attempts taken back from this live worker (lease ran out, job cancelled or paused) that it
    /// may still be computing: they keep its slots busy until its heartbeat stops listing them
    /// or their (refused) result arrives, so it is not handed work it must turn down.
    var lingering: Set<String> = []
    /// No new task before this time: the worker just refused one for want of a free slot.
    var coolUntil: Double = 0
    var draining = false
    var done = 0

    var freeSlots: Int { ready.credit - attempts.count - lingering.count }
}

struct LiveAttempt {
    let id: String
    let job: String
    let segment: String
    /// The worker holding it; nil while orphaned after a coordinator restart or a reconnect.
    var worker: [UInt8]?
    var workerName: String
    let started: Double
    var deadline: Double
    var orphanUntil: Double?
    var step: Int?
    var steps: Int?
    /// The last PROGRESS (step, scheduler time), for the step-latency histogram.
    var lastProgress: (step: Int, time: Double)?
}

/// A verified, stored result waiting for the turn's group commit.
struct HandedIn {
    let attempt: LiveAttempt
    let task: SegmentTask
    let digest: String
    let latents: [Float]
    let seconds: Double
    let received: Double
}

/// Recently finished segments' latents, so anchors are not re-read from disk for every child.
struct AnchorCache {
    let capacity: Int
    private var entries: [String: [Float]] = [:]
    private var order: [String] = []

    init(capacity: Int) { self.capacity = capacity }

    mutating func get(job: String, segment: String) -> [Float]? { entries["\(job)/\(segment)"] }

    mutating func insert(job: String, segment: String, latents: [Float]) {
        let key = "\(job)/\(segment)"
        if entries[key] == nil { order.append(key) }
        entries[key] = latents
        while order.count > capacity { entries[order.removeFirst()] = nil }
    }
}

/// A storage error in a few words: "no space left on device" rather than a Foundation error dump.
func describeStorageError(_ error: any Error) -> String {
    if let code = storagePOSIXCode(error) { return String(cString: strerror(code.rawValue)).lowercased() }
    return "\(error)"
}

/// The POSIX error behind a storage error, if any: Foundation wraps it, and reports a full disk
/// as its own out-of-space code.
func storagePOSIXCode(_ error: any Error) -> POSIXErrorCode? {
    let ns = error as NSError
    let underlying = (ns.userInfo[NSUnderlyingErrorKey] as? NSError) ?? ns
    if underlying.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(underlying.code)) { return code }
    if ns.domain == NSCocoaErrorDomain && ns.code == NSFileWriteOutOfSpaceError { return .ENOSPC }
    return nil
}
