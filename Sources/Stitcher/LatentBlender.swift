import Foundation

/// One finished segment's latents placed on the film's timeline.
public struct SegmentLatents: Sendable, Equatable {
    /// Stable id (the planner's task id), for messages.
    public let id: String
    /// Global output frame of the segment's first latent frame.
    public let start: Int
    /// Latent frames, row-major `[frames, C, H, W]` flattened.
    public let frames: Int
    public let frameShape: [Int]
    public let values: [Float]
    /// Frames (indices within the segment) that are anchors shared with neighbours; AdaIN pulls the
    /// segment's colour statistics toward them.
    public let anchorFrames: [Int]

    public init(id: String, start: Int, frames: Int, frameShape: [Int], values: [Float], anchorFrames: [Int] = []) {
        self.id = id
        self.start = start
        self.frames = frames
        self.frameShape = frameShape
        self.values = values
        self.anchorFrames = anchorFrames
    }

    public var frameSize: Int { frameShape.reduce(1, *) }
    /// Global frames covered, `start ..< start + frames`.
    public var span: Range<Int> { start..<(start + frames) }

    /// One latent frame by global index.
    func frame(atGlobal index: Int) -> ArraySlice<Float> {
        let local = index - start
        return values[(local * frameSize)..<((local + 1) * frameSize)]
    }
}

/// How overlapping segments are weighted where they share frames.
public enum BlendRamp: String, Sendable, CaseIterable, Codable {
    /// No blending: each frame comes from one segment; the cut sits mid-overlap.
    case none
    /// Weights cross linearly through the overlap.
    case linear
    /// Raised-cosine cross-fade (zero slope at both ends of the overlap).
    case cosine
    /// Each segment weighs its frames by distance from its own edges (a triangle over the whole
    /// window), normalised over the segments present: MultiDiffusion-style.
    case pyramid
}

/// Why segments cannot be stitched. Each message names the problem and the fix.
public enum StitchError: Error, CustomStringConvertible, Equatable {
    case gap(Range<Int>)
    case shapeMismatch(segment: String, shape: [Int], expected: [Int])
    case badSegment(String)

    public var description: String {
        switch self {
        case .gap(let frames):
            "The segments leave a gap: frames \(frames.lowerBound)-\(frames.upperBound - 1) are covered by none. Re-render the missing segments (reel resume) before stitching."
        case .shapeMismatch(let segment, let shape, let expected):
            "Segment \(segment) has latent frames of shape \(shape) but the film's are \(expected); it was rendered by another model or is corrupt. Re-render it."
        case .badSegment(let detail):
            "A segment is malformed: \(detail). Re-render it."
        }
    }
}

/// Blends overlapping segment latents in latent space, one output frame at a time.
///
/// A frame's latent is `Σ w_s · z_s / Σ w_s` over the segments covering it. For `linear` and
/// `cosine`, a segment's weight ramps up through the frames it shares with the segment before it
/// and down through those it shares with the one after, so the two weights of an overlap sum to 1.
public struct LatentBlender: Sendable {
    public var ramp: BlendRamp
    /// AdaIN toward anchors: each segment's per-channel mean and deviation are moved toward those of
    /// its anchor frames as the blend of all segments sees them (0 = off, 1 = fully).
    public var adainStrength: Float

    public init(ramp: BlendRamp = .cosine, adainStrength: Float = 0) {
        self.ramp = ramp
        self.adainStrength = adainStrength
    }

    /// Checks shapes and coverage of `0..<totalFrames`.
    public static func validate(_ segments: [SegmentLatents], totalFrames: Int, frameShape: [Int]) throws(StitchError) {
        var covered = [Bool](repeating: false, count: totalFrames)
        for s in segments {
            guard s.frameShape == frameShape else { throw .shapeMismatch(segment: s.id, shape: s.frameShape, expected: frameShape) }
            guard s.frames > 0, s.values.count == s.frames * s.frameSize else {
                throw .badSegment("\(s.id) declares \(s.frames) frames of \(s.frameShape) but holds \(s.values.count) values")
            }
            for f in s.span where f >= 0 && f < totalFrames { covered[f] = true }
        }
        if let first = covered.firstIndex(of: false) {
            let end = covered[first...].firstIndex(of: true) ?? totalFrames
            throw .gap(first..<end)
        }
    }

    /// The weight segment `s` gives global frame `f`, given the segments that overlap it.
    func weight(of s: SegmentLatents, at f: Int, among segments: [SegmentLatents]) -> Float {
        let local = f - s.start
        switch ramp {
        case .pyramid:
            return Float(min(local + 1, s.frames - local))
        case .none, .linear, .cosine:
            // Overlap with a segment that starts earlier (head) and one that ends later (tail).
            var weight: Float = 1
            for other in segments where other.id != s.id && other.span.overlaps(s.span) {
                if other.start < s.start && other.span.upperBound <= s.span.upperBound {
                    let shared = other.span.upperBound - s.start
                    if local < shared { weight = min(weight, rampValue(position: local, overlap: shared)) }
                } else if other.span.upperBound > s.span.upperBound && other.start >= s.start {
                    let shared = s.span.upperBound - other.start
                    let fromEnd = s.frames - 1 - local
                    if fromEnd < shared { weight = min(weight, rampValue(position: fromEnd, overlap: shared)) }
                }
            }
            return weight
        }
    }

    /// Rising weight at `position` (0-based) inside an overlap of `overlap` frames.
    func rampValue(position: Int, overlap: Int) -> Float {
        let u = Float(position + 1) / Float(overlap + 1)
        switch ramp {
        case .none: return u > 0.5 ? 1 : (u == 0.5 ? 0.5 : 0)
        case .linear: return u
        case .cosine: return (1 - cosf(Float.pi * u)) / 2
        case .pyramid: return u
        }
    }

    /// The blended latent of global frame `f` from the segments covering it (at least one).
    public func blend(frame f: Int, segments: [SegmentLatents]) -> [Float] {
        let covering = segments.filter { $0.span.contains(f) }
        precondition(!covering.isEmpty, "frame \(f) is covered by no segment")
        let size = covering[0].frameSize
        var out = [Float](repeating: 0, count: size)
        var total: Float = 0
        for s in covering {
            let w = weight(of: s, at: f, among: covering.count > 1 ? segments : [s])
            guard w > 0 else { continue }
            total += w
            let z = s.frame(atGlobal: f)
            var i = 0
            for value in z { out[i] += w * value; i += 1 }
        }
        if total == 0 {
            // Every weight vanished (a hard cut exactly at the overlap's middle): take the later segment.
            return Array(covering.max { $0.start < $1.start }!.frame(atGlobal: f))
        }
        let inverse = 1 / total
        for i in 0..<size { out[i] *= inverse }
        return out
    }

    /// Segments with AdaIN applied: per channel, `(z − μ_s)/σ_s · σ_a + μ_a` mixed in by the strength,
    /// where `a` are the segment's anchor frames.
    public func normalizedToAnchors(_ segments: [SegmentLatents]) -> [SegmentLatents] {
        guard adainStrength > 0 else { return segments }
        return segments.map { s in
            guard !s.anchorFrames.isEmpty, s.frameShape.count >= 1 else { return s }
            let channels = s.frameShape[0], plane = s.frameSize / channels
            var values = s.values
            for c in 0..<channels {
                func stats(_ frames: [Int]) -> (mean: Float, deviation: Float) {
                    var sum: Double = 0, squares: Double = 0, n: Double = 0
                    for f in frames {
                        let base = f * s.frameSize + c * plane
                        for i in 0..<plane { let v = Double(s.values[base + i]); sum += v; squares += v * v; n += 1 }
                    }
                    let mean = sum / n
                    return (Float(mean), Float(max(squares / n - mean * mean, 1e-12).squareRoot()))
                }
                let anchors = stats(s.anchorFrames.filter { $0 >= 0 && $0 < s.frames })
                let whole = stats(Array(0..<s.frames))
                for f in 0..<s.frames where !s.anchorFrames.contains(f) {
                    let base = f * s.frameSize + c * plane
                    for i in 0..<plane {
                        let moved = (s.values[base + i] - whole.mean) / whole.deviation * anchors.deviation + anchors.mean
                        values[base + i] = s.values[base + i] + adainStrength * (moved - s.values[base + i])
                    }
                }
            }
            return SegmentLatents(id: s.id, start: s.start, frames: s.frames, frameShape: s.frameShape, values: values, anchorFrames: s.anchorFrames)
        }
    }
}
