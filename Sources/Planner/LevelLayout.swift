/// Where the windows of one level sit and how they are anchored (docs/planning.md).
struct LevelLayout: Equatable {
    enum Anchoring: Equatable {
        /// A single window, or level 0 of a one-window plan: nothing to condition on.
        case none
        /// Window i+1 pins its first quarter on window i's last quarter (a "head" mask).
        case chain
        /// Slots j with j % ratio == 0 are pinned on the parent level's latent at the same global
        /// frame (a "keyframes" mask, every `ratio`-th slot from 0).
        case parentKeyframes(ratio: Int)
    }

    /// Model frames between slots.
    var stride: Int
    /// Global start frame of each window, ascending.
    var starts: [Int]
    var anchoring: Anchoring

    /// Starts `0, hop×stride, 2×hop×stride, ...` up to the first window whose last frame reaches
    /// `totalFrames − 1`.
    static func windowStarts(stride: Int, hopSlots: Int, windowFrames: Int, totalFrames: Int) -> [Int] {
        var starts = [0]
        while let last = starts.last, last + (windowFrames - 1) * stride < totalFrames - 1 {
            starts.append(last + hopSlots * stride)
        }
        return starts
    }

    /// One level-0 chain at stride 1: the whole `sequential` plan.
    static func sequential(totalFrames: Int, geometry: ModelGeometry) -> [LevelLayout] {
        [coarsest(stride: 1, totalFrames: totalFrames, geometry: geometry)]
    }

    /// Level 0 at `stride`: one window when it reaches the last frame, else a chain hopping 3/4 of a window.
    static func coarsest(stride: Int, totalFrames: Int, geometry: ModelGeometry) -> LevelLayout {
        let starts = windowStarts(stride: stride, hopSlots: geometry.chainHop, windowFrames: geometry.windowFrames,
                            totalFrames: totalFrames)
        return LevelLayout(stride: stride, starts: starts, anchoring: starts.count > 1 ? .chain : .none)
    }

    /// The `hierarchical` levels: level 0 as coarse as the rules allow, then strides divided by 4
    /// (by 2 for the last step when 4 does not divide) down to 1.
    ///
    /// - Parameter shortestShot: model frames of the storyboard's shortest shot when it has more than
    ///   one shot: level 0's stride is capped so that a chain hop (12 slots) fits in that shot.
    static func hierarchical(totalFrames: Int, shortestShot: Int?, ladder: [Int],
                             geometry: ModelGeometry) -> [LevelLayout] {
        let reach = geometry.windowFrames - 1
        var top = ladder.first { reach * $0 >= totalFrames - 1 } ?? ladder[ladder.count - 1]
        if let shortestShot {
            let cap = ladder.last { geometry.chainHop * $0 <= shortestShot } ?? 1
            top = min(top, cap)
        }
        var layouts = [coarsest(stride: top, totalFrames: totalFrames, geometry: geometry)]
        var parent = top
        while parent > 1 {
            // The ladder is 1, 2, 4, ... without gaps, so parent / 4 and parent / 2 are both planned strides.
            let child = parent >= 4 ? parent / 4 : parent / 2
            let ratio = parent / child
            // Hop W − ratio slots: a multiple of ratio, so every window starts on a parent frame, and
            // neighbours share one parent keyframe (slot W − ratio of one is slot 0 of the next).
            let starts = windowStarts(stride: child, hopSlots: geometry.windowFrames - ratio,
                                windowFrames: geometry.windowFrames, totalFrames: totalFrames)
            layouts.append(LevelLayout(stride: child, starts: starts, anchoring: .parentKeyframes(ratio: ratio)))
            parent = child
        }
        return layouts
    }
}

/// For every global frame a level renders, the window whose latent children anchor on: where two
/// windows overlap, the one holding the frame nearest its centre slot ((W−1)/2), the lower index on a tie.
struct FrameOwners {
    private let stride: Int
    private var window: [Int]
    private var slot: [Int]

    init(_ layout: LevelLayout, windowFrames: Int) {
        stride = layout.stride
        let positions = (layout.starts.last ?? 0) / layout.stride + windowFrames
        window = Array(repeating: -1, count: positions)
        slot = Array(repeating: 0, count: positions)
        for (index, start) in layout.starts.enumerated() {
            for k in 0 ..< windowFrames {
                let position = start / layout.stride + k
                // Twice the distance to the centre, to stay in integers; strict `<` keeps the lower index on ties.
                let distance = abs(2 * k - (windowFrames - 1))
                if window[position] < 0 || distance < abs(2 * slot[position] - (windowFrames - 1)) {
                    window[position] = index
                    slot[position] = k
                }
            }
        }
    }

    /// (window index, slot) rendering `globalFrame`, or nil when no window of the level covers it.
    func owner(ofGlobalFrame globalFrame: Int) -> (window: Int, slot: Int)? {
        guard globalFrame >= 0, globalFrame % stride == 0 else { return nil }
        let position = globalFrame / stride
        guard position < window.count, window[position] >= 0 else { return nil }
        return (window[position], slot[position])
    }
}
