import Foundation

/// What the HTTP API and the dashboard show: a copy of the coordinator's state taken on its loop.
public struct FarmSnapshot: Sendable, Codable, Equatable {
    public var jobs: [JobStatus] = []
    public var workers: [WorkerStatus] = []
    public var taken: Date = Date()
    /// Messages dropped as malformed, and results refused as stale, since start.
    public var malformedMessages: Int = 0
    public var staleMessages: Int = 0
    /// How quickly the coordinator turns results around (nil before the first one).
    public var turnaround: ResultTurnaround?
    /// CPU seconds the coordinator's loop thread has used since it started (its scheduling,
    /// journal, store and socket work; not libzmq's I/O thread, the blob flusher or the HTTP API).
    public var loopCPUSeconds: Double?

    public init() {}
}

/// From a RESULT's arrival on the coordinator's loop to the end of the dispatch that follows its
/// commit (the moment the segments it unblocked are on their way to workers): the coordinator's
/// share of the latency a segment adds, excluding the network and the worker.
public struct ResultTurnaround: Sendable, Codable, Equatable {
    public var results: Int = 0
    public var totalSeconds: Double = 0
    public var maxSeconds: Double = 0

    public init() {}

    public var meanSeconds: Double { results == 0 ? 0 : totalSeconds / Double(results) }

    mutating func record(_ seconds: Double) {
        results += 1
        totalSeconds += seconds
        maxSeconds = max(maxSeconds, seconds)
    }
}

public struct JobStatus: Sendable, Codable, Equatable {
    public var id: String
    public var state: JobState
    public var summary: String
    public var duration: Double
    public var seed: UInt64
    public var strategy: String
    public var priority: Int
    public var error: String?
    public var created: Date
    public var updated: Date
    public var segmentsTotal: Int
    public var segmentsDone: Int
    /// Done/total per planned level, coarse to fine.
    public var levels: [LevelProgress]
    /// Frames written to the film so far, of `framesTotal`.
    public var framesWritten: Int
    public var framesTotal: Int
    /// Seconds left, estimated from the segment rate so far; nil before the first segment.
    public var etaSeconds: Double?
    public var filmReady: Bool
    public var segments: [SegmentStatus]
}

public struct LevelProgress: Sendable, Codable, Equatable {
    public var level: Int
    public var stride: Int
    public var done: Int
    public var total: Int
}

public struct SegmentStatus: Sendable, Codable, Equatable {
    public var id: String
    public var level: Int
    public var startFrame: Int
    public var stride: Int
    public var state: SegmentState
    public var attempts: Int
    public var failures: [String]
    public var worker: String?
    public var attempt: String?
    /// Denoising step reached by the current attempt, of `steps`.
    public var step: Int?
    public var steps: Int?
    /// Seconds the finished segment took on its worker.
    public var seconds: Double?
}

public struct WorkerStatus: Sendable, Codable, Equatable {
    public var name: String
    public var identity: String
    public var threads: Int
    public var credit: Int
    public var draining: Bool
    public var heartbeatAge: Double
    public var attempts: [String]
    public var segmentsDone: Int
    /// Finished segments per minute since the worker joined.
    public var segmentsPerMinute: Double
}
