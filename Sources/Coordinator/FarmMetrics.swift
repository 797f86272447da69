import Foundation
import Prometheus

/// The coordinator's Prometheus metrics, served at `GET /metrics` in the text format.
///
/// Counters and histograms are updated where things happen (the scheduler's loop, the film
/// assemblers); gauges of state (segments per state, jobs per state, workers) are set from the
/// published snapshot when scraped. Every name is listed in docs/configuration.md ("Metrics").
public final class FarmMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    let segmentsFinished: Counter
    let attemptsFailed: Counter
    let attemptsExpired: Counter
    let attemptsRequeued: Counter
    let malformedMessages: Counter
    let staleMessages: Counter
    let bytesReceived: Counter
    let bytesSent: Counter
    let stepSeconds: ValueHistogram
    let segmentSeconds: ValueHistogram
    let resultTurnaroundSeconds: ValueHistogram
    let stitcherFrames: Counter
    let stitcherFPS: Gauge
    let batchesDecodedByWorkers: Counter
    let batchesDecodedByStitcher: Counter
    private let segmentsByState: [(SegmentState, Gauge)]
    private let jobsByState: [(JobState, Gauge)]
    private let workersConnected: Gauge
    private let workerSlots: Gauge
    private let workerSlotsBusy: Gauge

    public init() {
        let r = registry
        segmentsFinished = r.makeCounter(name: "reel_segments_finished_total", help: "Segments rendered and stored.")
        attemptsFailed = r.makeCounter(name: "reel_attempts_failed_total", help: "Attempts a worker reported as failed.")
        attemptsExpired = r.makeCounter(name: "reel_attempts_expired_total", help: "Attempts whose lease ran out before a result came.")
        attemptsRequeued = r.makeCounter(name: "reel_attempts_requeued_total",
                                         help: "Attempts taken back without counting as failures (dead, silent or refusing workers).")
        malformedMessages = r.makeCounter(name: "reel_messages_malformed_total", help: "ZeroMQ messages dropped as malformed.")
        staleMessages = r.makeCounter(name: "reel_messages_stale_total", help: "Results and progress reports refused as stale (fenced attempts).")
        bytesReceived = r.makeCounter(name: "reel_bytes_received_total", help: "Bytes received from workers over ZeroMQ.")
        bytesSent = r.makeCounter(name: "reel_bytes_sent_total", help: "Bytes sent to workers over ZeroMQ.")
        stepSeconds = r.makeValueHistogram(name: "reel_denoising_step_seconds",
                                           buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
                                           help: "Seconds per denoising step, from workers' progress reports.")
        segmentSeconds = r.makeValueHistogram(name: "reel_segment_compute_seconds",
                                              buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300],
                                              help: "Seconds a worker spent rendering one segment.")
        resultTurnaroundSeconds = r.makeValueHistogram(name: "reel_result_turnaround_seconds",
                                                       buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
                                                       help: "Seconds from a RESULT's arrival to the dispatch after its commit (the coordinator's share of a segment's latency).")
        stitcherFrames = r.makeCounter(name: "reel_stitcher_frames_total", help: "Film frames blended, decoded and encoded.")
        stitcherFPS = r.makeGauge(name: "reel_stitcher_frames_per_second",
                                  help: "Frames per second of the last finished film's stitching (blend + encode, and the VAE decode of batches not decoded by workers).")
        batchesDecodedByWorkers = r.makeCounter(name: "reel_decode_batches_workers_total",
                                                help: "Film batches (8 frames) decoded by workers and handed back as FRAMES.")
        batchesDecodedByStitcher = r.makeCounter(name: "reel_decode_batches_stitcher_total",
                                                 help: "Film batches the stitcher decoded itself although workers decode (failed, lost or late), counted when the film is written.")
        segmentsByState = SegmentState.allCases.map {
            ($0, r.makeGauge(name: "reel_segments", labels: [("state", $0.rawValue)], help: "Segments of unfinished jobs by state (ready = queued for a worker)."))
        }
        jobsByState = JobState.allCases.map {
            ($0, r.makeGauge(name: "reel_jobs", labels: [("state", $0.rawValue)], help: "Jobs by state."))
        }
        workersConnected = r.makeGauge(name: "reel_workers_connected", help: "Workers connected now.")
        workerSlots = r.makeGauge(name: "reel_worker_slots", help: "Segments the connected workers can render at once (sum of credits).")
        workerSlotsBusy = r.makeGauge(name: "reel_worker_slots_busy", help: "Segments being rendered now.")
    }

    /// The text exposition, with the state gauges taken from `snapshot`.
    public func exposition(of snapshot: FarmSnapshot) -> String {
        var segmentCounts: [SegmentState: Int] = [:]
        var jobCounts: [JobState: Int] = [:]
        for job in snapshot.jobs {
            jobCounts[job.state, default: 0] += 1
            guard !job.state.isFinal else { continue }
            for segment in job.segments { segmentCounts[segment.state, default: 0] += 1 }
        }
        for (state, gauge) in segmentsByState { gauge.set(to: Double(segmentCounts[state] ?? 0)) }
        for (state, gauge) in jobsByState { gauge.set(to: Double(jobCounts[state] ?? 0)) }
        workersConnected.set(to: Double(snapshot.workers.count))
        workerSlots.set(to: Double(snapshot.workers.reduce(0) { $0 + $1.credit }))
        workerSlotsBusy.set(to: Double(snapshot.workers.reduce(0) { $0 + $1.attempts.count }))
        return registry.emitToString()
    }
}
