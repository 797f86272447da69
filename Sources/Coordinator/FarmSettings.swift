import Foundation

/// The coordinator's timing and fault-tolerance knobs, with their defaults.
public struct FarmSettings: Sendable, Equatable, Codable {
    /// Seconds between heartbeats in both directions; any message counts as one.
    public var heartbeatInterval: Double = 1.0
    /// Heartbeats missed before a worker is declared dead and its attempts requeued.
    public var liveness: Int = 5
    /// Longest an attempt may run before it is taken back and given to another worker (seconds).
    public var lease: Double = 300
    /// Failed or expired attempts of one segment that fail its job.
    public var maxFailures: Int = 3
    /// Failed or expired attempts of one worker within one job that block it from that job.
    public var workerFailureLimit: Int = 3
    /// Jobs waiting or running at once; further submissions are refused until some finish.
    public var maxQueuedJobs: Int = 64
    /// Whether films' VAE decode is farmed out to the workers (DECODE/FRAMES) rather than run on
    /// the coordinator's stitcher thread.
    public var decodeOnWorkers = true
    /// Seconds the stitcher waits for a farmed-out batch before decoding it itself.
    public var decodeTimeout: Double = 20

    public init() {}

    /// Seconds of silence after which a worker is dead.
    public var deadAfter: Double { heartbeatInterval * Double(liveness) }
}

import Models

extension ReelTinyModel {
    /// One latent frame's shape `[C, h, w]`.
    var latentFrameShape: [Int] { [config.dit.latentChannels, config.dit.latentSize, config.dit.latentSize] }
}
