/// The DAG of segment tasks that renders one request; a pure function of (request, geometry).
///
/// Invariants (checked by PlannerTests): segments are in topological order (level, then index) and
/// every dependency comes earlier; the final level has stride 1 and covers every frame
/// 0 ..< `totalFrames`; every anchor's source contains the anchor's global frame at `sourceSlot`.
public struct SegmentPlan: Sendable, Codable, Equatable {
    public var request: RenderRequest
    public var geometry: ModelGeometry
    /// Model frames of the film: `round(duration × fps)`, at least 1.
    public var totalFrames: Int
    /// All tasks, sorted by level, then index.
    public var segments: [SegmentTask]
    /// Number of levels (1 for sequential).
    public var levels: Int
    /// The last level: stride 1, the segments the stitcher blends into the film.
    public var finalLevel: Int

    /// The task with this id, or nil.
    public func segment(_ id: String) -> SegmentTask? {
        guard let key = Self.levelAndIndex(of: id) else { return nil }
        // Segments are sorted by (level, index): binary search.
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = segments[middle]
            if (candidate.level, candidate.index) < key { low = middle + 1 } else { high = middle }
        }
        guard low < segments.count, segments[low].id == id else { return nil }
        return segments[low]
    }

    /// The tasks of one level, in index order.
    public func segments(atLevel level: Int) -> [SegmentTask] {
        segments.filter { $0.level == level }
    }

    /// Stride of each level, coarsest first.
    public var levelStrides: [Int] {
        (0 ..< levels).map { level in segments.first { $0.level == level }?.stride ?? 1 }
    }

    /// Final-level id → the frames it renders, `startFrame ..< startFrame + frames`
    /// (the last spans may run past `totalFrames`; the stitcher drops those frames).
    public var stitchSpans: [String: Range<Int>] {
        var spans: [String: Range<Int>] = [:]
        for segment in segments where segment.level == finalLevel {
            spans[segment.id] = segment.startFrame ..< segment.startFrame + segment.frames
        }
        return spans
    }

    /// Longest dependency chain, counted in segments: the least number of rounds in which the plan can
    /// finish with unlimited workers.
    public var criticalPath: Int {
        var depth: [String: Int] = [:]
        var longest = 0
        for segment in segments {
            // Topological order: every dependency's depth is known already.
            let own = 1 + (segment.dependencies.compactMap { depth[$0] }.max() ?? 0)
            depth[segment.id] = own
            longest = max(longest, own)
        }
        return longest
    }

    /// Frames 0 < f < totalFrames where the set of final-level segments covering f differs from the
    /// set covering f − 1, ascending: where the stitcher's blends begin and end.
    public var seams: [Int] {
        var boundaries = Set<Int>()
        for segment in segments where segment.level == finalLevel {
            // Stride 1: a segment covers one contiguous run, entering at its start and leaving at its end.
            boundaries.insert(segment.startFrame)
            boundaries.insert(segment.startFrame + segment.frames)
        }
        return boundaries.filter { $0 > 0 && $0 < totalFrames }.sorted()
    }

    static func levelAndIndex(of id: String) -> (Int, Int)? {
        guard id.first == "L" else { return nil }
        let parts = id.dropFirst().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let level = Int(parts[0]), let index = Int(parts[1]) else { return nil }
        return (level, index)
    }
}
