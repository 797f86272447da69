import Foundation
import Planner

/// A job's in-memory state on the scheduler's thread: its plan and where each segment stands.
final class LiveJob {
    var record: JobRecord
    let plan: SegmentPlan
    var segments: [String: LiveSegment] = [:]
    /// Segments whose dependencies are all done and that no attempt holds.
    var readySet: Set<String> = []
    /// For each segment, the segments anchored on it.
    private var dependents: [String: [String]] = [:]
    /// Plan order (level, then index) of each segment, for picking the next ready one.
    private let order: [String: Int]
    private(set) var doneCount = 0
    var workerFailures: [String: Int] = [:]
    var blocklist: Set<String> = []
    var resumeState: JobState?
    var pausedAt = 0.0
    let started = Date()
    private var firstDone: Date?

    init(record: JobRecord, plan: SegmentPlan, segments: [SegmentRecord]) {
        self.record = record
        self.plan = plan
        var order: [String: Int] = [:]
        for (i, task) in plan.segments.enumerated() {
            order[task.id] = i
            for dependency in task.dependencies { dependents[dependency, default: []].append(task.id) }
        }
        self.order = order
        let rows = Dictionary(uniqueKeysWithValues: segments.map { ($0.id, $0) })
        for task in plan.segments {
            let row = rows[task.id]
            var segment = LiveSegment(task: task, state: row?.state ?? .waiting, digest: row?.digest,
                                      attempts: row?.attempts ?? 0, failures: row?.failures ?? [])
            if segment.state == .done { doneCount += 1 } else { segment.digest = nil }
            self.segments[task.id] = segment
        }
        refreshReadiness()
    }

    /// Recomputes which segments are ready from their dependencies (after a restore).
    func refreshReadiness() {
        readySet.removeAll()
        for (id, segment) in segments where segment.state == .waiting || segment.state == .ready {
            let ready = segment.task.dependencies.allSatisfy { segments[$0]?.state == .done }
            segments[id]?.state = ready ? .ready : .waiting
            if ready { readySet.insert(id) }
        }
    }

    /// The earliest ready segment in plan order that fits a worker's window.
    func nextReady(maxFrames: Int) -> SegmentTask? {
        readySet.lazy.compactMap { self.segments[$0]?.task }.filter { $0.frames <= maxFrames }
            .min { (order[$0.id] ?? 0) < (order[$1.id] ?? 0) }
    }

    /// Segments that become ready once `id` is done (and the segments in `alsoDone`: results of
    /// the same group commit not marked done yet).
    func dependentsReadyAfter(_ id: String, alsoDone: Set<String> = []) -> [String] {
        (dependents[id] ?? []).filter { child in
            segments[child]?.state == .waiting
                && segments[child]!.task.dependencies.allSatisfy { $0 == id || alsoDone.contains($0) || segments[$0]?.state == .done }
        }
    }

    /// Back to the queue: ready, no attempt.
    func requeue(_ id: String) {
        segments[id]?.state = .ready
        segments[id]?.attempt = nil
        readySet.insert(id)
    }

    func markDone(_ id: String, digest: String, seconds: Double, worker: String, ready: [String]) {
        guard segments[id]?.state != .done else { return }
        segments[id]?.state = .done
        segments[id]?.digest = digest
        segments[id]?.attempt = nil
        segments[id]?.seconds = seconds
        segments[id]?.worker = worker
        doneCount += 1
        if firstDone == nil { firstDone = Date() }
        for child in ready {
            segments[child]?.state = .ready
            readySet.insert(child)
        }
    }

    /// A finished segment whose latents cannot be read: render it again (its dependents wait).
    func reopen(_ id: String) {
        guard let segment = segments[id], segment.state == .done else { return }
        segments[id]?.state = .ready
        segments[id]?.digest = nil
        doneCount -= 1
        readySet.insert(id)
        for child in dependents[id] ?? [] where segments[child]?.state == .ready {
            segments[child]?.state = .waiting
            readySet.remove(child)
        }
    }

    func status(attempts: [String: LiveAttempt], framesWritten: Int, filmReady: Bool, now: Double) -> JobStatus {
        // One pass over the plan for every level's counts.
        var levels = (0..<plan.levels).map { LevelProgress(level: $0, stride: 1, done: 0, total: 0) }
        for task in plan.segments where levels.indices.contains(task.level) {
            if levels[task.level].total == 0 { levels[task.level].stride = task.stride }
            levels[task.level].total += 1
            if segments[task.id]?.state == .done { levels[task.level].done += 1 }
        }
        var eta: Double?
        if let firstDone, doneCount > 0, doneCount < plan.segments.count, !record.state.isFinal {
            let elapsed = max(Date().timeIntervalSince(started), Date().timeIntervalSince(firstDone))
            eta = elapsed / Double(doneCount) * Double(plan.segments.count - doneCount)
        }
        let request = record.spec.request
        return JobStatus(
            id: record.id, state: record.state, summary: record.spec.summary, duration: request.duration, seed: request.seed,
            strategy: request.strategy.rawValue, priority: record.spec.priority, error: record.error,
            created: record.created, updated: record.updated, segmentsTotal: plan.segments.count, segmentsDone: doneCount,
            levels: levels, framesWritten: record.state == .done ? plan.totalFrames * (record.spec.fps / plan.geometry.fps) : framesWritten, framesTotal: plan.totalFrames * (record.spec.fps / plan.geometry.fps),
            etaSeconds: eta, filmReady: filmReady,
            segments: plan.segments.map { task in
                let s = segments[task.id]!
                let attempt = s.attempt.flatMap { attempts[$0] }
                return SegmentStatus(id: task.id, level: task.level, startFrame: task.startFrame, stride: task.stride, state: s.state,
                                     attempts: s.attempts, failures: s.failures, worker: attempt?.workerName ?? s.worker,
                                     attempt: s.attempt, step: attempt?.step, steps: attempt?.steps, seconds: s.seconds)
            })
    }
}

struct LiveSegment {
    let task: SegmentTask
    var state: SegmentState
    var digest: String?
    var attempts: Int
    var failures: [String]
    var attempt: String?
    var seconds: Double?
    var worker: String?
}
