import Foundation
import Logging
import Stitcher
import Synchronization
import Tensors
import Wire

/// A farm worker: connects a DEALER to the coordinator, announces READY, renders the segments it
/// is given, decodes film batches it is sent (DECODE, on a thread of its own), heartbeats, and
/// rides through coordinator restarts and network cuts.
///
/// The socket lives on one thread (the loop); rendering runs on `credit` compute threads so the
/// loop keeps heartbeating during a long segment. Compute threads hand messages to the loop
/// through an outbox.
public final class Worker: Sendable {
    public struct Configuration: Sendable {
        /// Coordinator endpoint, e.g. `tcp://HOST:5555`.
        public var connect: String
        public var name: String
        /// Segments rendered at once (each on its own thread).
        public var credit: Int = 1
        /// BLAS threads this worker reports (the process-wide BLAS setting is the caller's).
        public var threads: Int = 1
        public var heartbeatInterval: Double = 1.0
        /// Silent heartbeats before the worker reconnects.
        public var liveness: Int = 5
        /// Longest wait between reconnection tries (doubles from the heartbeat interval).
        public var maxBackoff: Double = 32
        /// On drain, the longest wait for the current segments before handing them back.
        public var drainTimeout: Double = 120
        /// CURVE: this worker's keys and the coordinator's public key; nil for plain TCP.
        public var curve: CurveClientKeys?

        public init(connect: String, name: String) {
            self.connect = connect
            self.name = name
        }
    }

    public let configuration: Configuration
    private let renderer: any SegmentRenderer
    private let logger: Logger
    private let outbox = Mutex<[WireMessage]>([])
    /// Rung by compute threads when they post to the outbox, so the loop sends at once instead of
    /// at its next poll timeout (nil only if the process is out of file descriptors).
    private let doorbell = try? Doorbell()
    private let computing = Mutex<[String: Date]>([:])
    private let state = Mutex<Phase>(.running)
    private let finishedCount = Atomic<Int>(0)
    private let decodedCount = Atomic<Int>(0)
    /// Answers DECODE requests one at a time, oldest first, beside the render threads.
    private let decodeThread = OnDemandThread(name: "reel-decode")
    private let refusedHandshakes = Atomic<Int>(0)

    private enum Phase: Sendable { case running, draining(deadline: Date), stopping }

    public init(configuration: Configuration, renderer: any SegmentRenderer, logger: Logger = Logger(label: "reel.worker")) {
        self.configuration = configuration
        self.renderer = renderer
        self.logger = logger
    }

    /// CURVE handshakes with the coordinator that failed (key refused, or wrong coordinator key).
    public var authenticationFailures: Int { refusedHandshakes.load(ordering: .relaxed) }

    /// Segments finished since start.
    public var segmentsFinished: Int { finishedCount.load(ordering: .relaxed) }

    /// DECODE batches answered with pictures since start.
    public var batchesDecoded: Int { decodedCount.load(ordering: .relaxed) }

    /// Stops taking tasks, finishes (or after `drainTimeout` hands back) what it holds, says
    /// goodbye and returns from `run`.
    public func drain() {
        state.withLock { phase in
            if case .running = phase { phase = .draining(deadline: Date().addingTimeInterval(configuration.drainTimeout)) }
        }
    }

    /// Leaves at once; segments in progress are handed back.
    public func stop() { state.withLock { $0 = .stopping } }

    /// Runs until drained or stopped. Blocking: call it on a thread of its own.
    public func run() throws {
        let context = try ZMQContext()
        var session = try Session(worker: self, context: context, active: [])
        var silentSince = Date()
        var backoff = configuration.heartbeatInterval
        var lastBeat = Date.distantPast
        var sentGoodbyeDrain = false
        /// Results sent but not yet confirmed by the coordinator (it stops listing the attempt).
        var unconfirmed: [String: (message: WireMessage, sent: Date)] = [:]
        logger.info("worker started", metadata: ["worker": "\(configuration.name)", "coordinator": "\(configuration.connect)", "credit": "\(configuration.credit)"])

        while true {
            let phase = state.withLock { $0 }
            // Leaving: drained (nothing computing), drain timed out, or stopped.
            let busy = computing.withLock { !$0.isEmpty }
            var leave = false
            switch phase {
            case .running: break
            case .stopping: leave = true
            case .draining(let deadline):
                if !sentGoodbyeDrain {
                    session.send(.disconnect(Disconnect(reason: "worker draining", draining: true)))
                    sentGoodbyeDrain = true
                }
                leave = (!busy && outbox.withLock { $0.isEmpty }) || Date() > deadline
            }
            if leave {
                flushOutbox(into: &session, unconfirmed: &unconfirmed)
                session.send(.disconnect(Disconnect(reason: busy ? "worker stopped; handing back its segments" : "worker drained", draining: false)))
                // Let the last RESULT and the goodbye leave before the socket closes (linger is 0 otherwise).
                try? session.socket.set(.linger(2000))
                session.socket.close()
                logger.info("worker left", metadata: ["worker": "\(configuration.name)", "segments": "\(segmentsFinished)"])
                return
            }

            if waitForMessage(session.socket) {
                while case .message(let frames)? = try? session.socket.receive(dontWait: true) {
                    silentSince = Date()
                    backoff = configuration.heartbeatInterval
                    handle(frames, session: &session, unconfirmed: &unconfirmed, phase: phase)
                }
            }
            flushOutbox(into: &session, unconfirmed: &unconfirmed)
            watchHandshakes(&session)

            let now = Date()
            if now.timeIntervalSince(lastBeat) >= configuration.heartbeatInterval {
                lastBeat = now
                session.send(.heartbeat(Heartbeat(activeAttempts: held(unconfirmed))))
            }
            // Paranoid Pirate: silence for `liveness` beats means the coordinator or the path to
            // it is gone. Reconnect with a fresh socket (and identity), backing off.
            if now.timeIntervalSince(silentSince) > configuration.heartbeatInterval * Double(configuration.liveness) + backoff - configuration.heartbeatInterval {
                logger.warning("coordinator silent; reconnecting", metadata: ["worker": "\(configuration.name)", "backoff_s": "\(backoff)"])
                session.socket.close()
                session = try Session(worker: self, context: context, active: held(unconfirmed))
                for (_, pending) in unconfirmed { session.send(pending.message) }
                silentSince = now
                backoff = min(backoff * 2, configuration.maxBackoff)
            }
        }
    }

    /// Waits up to 20 ms for a message from the coordinator or a post to the outbox; true when a
    /// message is ready to read.
    private func waitForMessage(_ socket: ZMQSocket) -> Bool {
        guard let doorbell else { return (try? socket.pollIn(timeoutMilliseconds: 20)) == true }
        guard let ready = try? socket.pollIn(timeoutMilliseconds: 20, orReadable: doorbell.readDescriptor) else { return false }
        if ready.fd { doorbell.clear() }
        return ready.socket
    }

    /// Queues a message for the loop to send, and wakes it.
    private func post(_ message: WireMessage) {
        outbox.withLock { $0.append(message) }
        doorbell?.ring()
    }

    private func handle(_ frames: [[UInt8]], session: inout Session, unconfirmed: inout [String: (message: WireMessage, sent: Date)], phase: Phase) {
        let message: WireMessage
        do { message = try WireMessage.decode(frames) } catch {
            logger.warning("dropped a malformed message from the coordinator", metadata: ["error": "\(error)"])
            return
        }
        switch message {
        case .task(let task, let anchors):
            guard case .running = phase else {
                // Draining: hand it straight back (not counted against the segment).
                session.send(.failed(Failure(attempt: task.attempt, error: "worker \(configuration.name) is draining", retryable: true, refused: true)))
                return
            }
            start(task, anchors: anchors)
        case .decode(let request, let latents):
            guard case .running = phase else {
                session.send(.failed(Failure(attempt: request.decode, error: "worker \(configuration.name) is leaving", retryable: true, refused: true)))
                return
            }
            enqueueDecode(request, latents: latents)
        case .heartbeat(let beat):
            let listed = Set(beat.activeAttempts)
            // A result is confirmed once the coordinator stops listing its attempt; one still
            // listed long after sending was lost on the way and goes again.
            for (attempt, pending) in unconfirmed {
                if !listed.contains(attempt) { unconfirmed[attempt] = nil } else if Date().timeIntervalSince(pending.sent) > 3 * configuration.heartbeatInterval {
                    session.send(pending.message)
                    unconfirmed[attempt]?.sent = Date()
                }
            }
        case .disconnect(let bye):
            // The coordinator does not know us (it restarted): announce again on the same socket,
            // unless we are on our way out.
            guard case .running = phase else { return }
            logger.info("coordinator asked to re-announce", metadata: ["reason": "\(bye.reason)"])
            session.announce(active: held(unconfirmed))
            for (_, pending) in unconfirmed { session.send(pending.message) }
        case .ready, .progress, .result, .failed, .frames:
            logger.warning("coordinator sent \(message.type.rawValue), which only workers send; ignored")
        }
    }

    /// Attempts this worker holds: those computing first, then results queued or unconfirmed, at
    /// most the protocol's bound.
    private func held(_ unconfirmed: [String: (message: WireMessage, sent: Date)]) -> [String] {
        let (computingNow, queued) = computing.withLock { active in
            (Array(active.keys).sorted(), outbox.withLock { $0.compactMap { message -> String? in
                if case .result(let result, _) = message { return result.attempt } else { return nil }
            } })
        }
        let waiting = Set(queued).union(unconfirmed.keys).subtracting(computingNow).sorted()
        return Array((computingNow + waiting).prefix(ProtocolLimits.standard.maxCredit))
    }

    private func flushOutbox(into session: inout Session, unconfirmed: inout [String: (message: WireMessage, sent: Date)]) {
        for message in outbox.withLock({ box in defer { box.removeAll() }; return box }) {
            session.send(message)
            if case .result(let result, _) = message { unconfirmed[result.attempt] = (message, Date()) }
        }
    }

    private func start(_ task: TaskAssignment, anchors: [Float]) {
        let inserted = computing.withLock { active -> Bool in
            guard active[task.attempt] == nil, active.count < configuration.credit else { return false }
            active[task.attempt] = Date()
            return true
        }
        guard inserted else {
            post(.failed(Failure(attempt: task.attempt, error: "worker \(configuration.name) has no free slot", retryable: true, refused: true)))
            return
        }
        let thread = Thread { [self] in
            let started = Date()
            var lastReport = Date.distantPast
            let answer: WireMessage
            do {
                let latents = try renderer.render(task, anchors: anchors) { step, steps in
                    // One PROGRESS per step, but never more than 20 a second; none for the last
                    // step, which the RESULT right behind it reports.
                    if step < steps && Date().timeIntervalSince(lastReport) > 0.05 {
                        lastReport = Date()
                        post(.progress(Progress(attempt: task.attempt, step: step, steps: steps)))
                    }
                }
                let bytes = latents.littleEndianBytes
                let result = SegmentResult(attempt: task.attempt, job: task.job, segment: task.segment, frames: task.frames,
                                           frameShape: task.frameShape, sha256: SHA256.hex(bytes),
                                           computeMilliseconds: Int(Date().timeIntervalSince(started) * 1000))
                answer = .result(result, latents: latents)
                finishedCount.add(1, ordering: .relaxed)
                logger.info("segment rendered", metadata: ["job": "\(task.job)", "segment": "\(task.segment)", "attempt": "\(task.attempt)",
                                                          "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
            } catch {
                answer = .failed(Failure(attempt: task.attempt, error: "\(error)", retryable: true))
                logger.error("segment failed", metadata: ["job": "\(task.job)", "segment": "\(task.segment)", "error": "\(error)"])
            }
            // Free the slot and queue the answer in one step. The coordinator answers a RESULT with
            // the next TASK within a round trip, and that task must find the slot free: the loop
            // flushes the outbox whenever it wakes (every 20 ms at least), so an answer queued
            // before the slot was freed could go out first and the TASK be refused. `held` reads
            // both under the same lock, so a heartbeat lists the attempt in one place or the other.
            computing.withLock { active in
                active[task.attempt] = nil
                outbox.withLock { $0.append(answer) }
            }
            doorbell?.ring()
        }
        thread.name = "reel-render"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a DECODE for the decode thread. Decoding is short (a batch of 8 frames of reel-tiny
    /// takes about 0.1 s on 2 cores) and runs beside the render threads, outside the worker's
    /// credit: the coordinator limits how many it sends.
    private func enqueueDecode(_ request: DecodeRequest, latents: [Float]) {
        decodeThread.run { [self] in
            do {
                let (frames, pixels) = try renderer.decode(request, latents: latents)
                decodedCount.add(1, ordering: .relaxed)
                post(.frames(frames, pixels: pixels))
            } catch {
                post(.failed(Failure(attempt: request.decode, error: "\(error)", retryable: true)))
                logger.warning("decode failed", metadata: ["decode": "\(request.decode)", "error": "\(error)"])
            }
        }
    }

    /// One connection: a DEALER socket with a fresh identity, announced with READY.
    /// Counts a failed CURVE handshake; the first one is logged with what to check.
    private func noteFailedHandshake(_ advice: String) {
        if refusedHandshakes.add(1, ordering: .relaxed).newValue == 1 {
            logger.error("\(advice); retrying", metadata: ["worker": "\(configuration.name)"])
        }
    }

    /// Turns CURVE handshake events into a count and one clear log line.
    private func watchHandshakes(_ session: inout Session) {
        guard let events = session.monitor?.poll(), !events.isEmpty else { return }
        let wrongServer = "the CURVE handshake with \(configuration.connect) failed: check that --coordinator-key is the coordinator's public key and the coordinator runs with CURVE"
        for event in events {
            switch event {
            case .handshakeSucceeded:
                session.handshakes += 1
            case .authenticationRefused(let status):
                noteFailedHandshake("the coordinator refused this worker's key (ZAP status \(status)): put this worker's .pub file into the coordinator's --authorized-keys folder")
            case .handshakeFailed:
                noteFailedHandshake(wrongServer)
            case .disconnected where session.handshakes == 0:
                noteFailedHandshake(wrongServer)
            default:
                break
            }
        }
    }

    private struct Session {
        let socket: ZMQSocket
        let worker: Worker
        /// Connection events, watched under CURVE to tell a refused key from a silent coordinator.
        let monitor: ZMQMonitor?
        var handshakes = 0

        init(worker: Worker, context: ZMQContext, active: [String]) throws {
            self.worker = worker
            socket = try ZMQSocket(context: context, type: .dealer)
            monitor = worker.configuration.curve == nil ? nil : try ZMQMonitor(socket, context: context)
            var identity = Array(worker.configuration.name.utf8.prefix(32)) + [0x2f]
            for _ in 0..<8 { identity.append(UInt8.random(in: 0...255)) }
            try socket.set(.routingID(identity))
            try socket.set(.maxMessageSize(Int64(ProtocolLimits.standard.maxPayloadBytes + 2 * ProtocolLimits.standard.maxHeaderBytes)))
            try worker.configuration.curve?.apply(to: socket)
            try socket.connect(worker.configuration.connect)
            announce(active: active)
        }

        /// READY, naming the attempts still in hand so the coordinator keeps them with us.
        func announce(active: [String]) {
            let r = worker.renderer
            send(.ready(Ready(worker: worker.configuration.name, models: r.models, maxWindowFrames: r.maxWindowFrames,
                              threads: worker.configuration.threads, credit: worker.configuration.credit,
                              heartbeatMilliseconds: Int(worker.configuration.heartbeatInterval * 1000),
                              activeAttempts: active, decodes: r.decodes)))
        }

        func send(_ message: WireMessage) {
            do { _ = try socket.send(message.encoded(), dontWait: true) } catch {
                worker.logger.debug("send failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
