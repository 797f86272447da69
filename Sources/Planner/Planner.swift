/// Turns a render request into a DAG of segment tasks (docs/planning.md).
///
/// Pure: no I/O, no randomness, no clock; the same request and geometry always give an equal plan
/// with the same ids. The seed is carried in the request and does not change the plan's structure.
public enum Planner {
    /// Validates the request and plans it for `geometry`.
    ///
    /// - `hierarchical`: level 0 spans the film at a coarse stride (one window, or a chain of windows
    ///   when even the largest stride cannot reach the end); each further level divides the stride by
    ///   4 (or 2) and pins every 4th (2nd) slot on the parent's latent at that frame; the last level
    ///   has stride 1.
    /// - `sequential`: one chain of stride-1 windows, each pinned on the previous window's end.
    public static func plan(_ request: RenderRequest, geometry: ModelGeometry = .reelTiny) throws(PlanError) -> SegmentPlan {
        let ladder = try geometry.validatedStrides()
        try request.validate()
        let totalFrames = max(1, Storyboard.frame(atSeconds: request.duration, fps: geometry.fps))
        let conditioning = try TextConditioning(request: request, fps: geometry.fps, totalFrames: totalFrames)

        let layouts = switch request.strategy {
        case .sequential:
            LevelLayout.sequential(totalFrames: totalFrames, geometry: geometry)
        case .hierarchical:
            LevelLayout.hierarchical(totalFrames: totalFrames, shortestShot: conditioning.shortestShot,
                                     ladder: ladder, geometry: geometry)
        }
        let segments = assemble(layouts, geometry: geometry, conditioning: conditioning)
        return SegmentPlan(request: request, geometry: geometry, totalFrames: totalFrames, segments: segments,
                           levels: layouts.count, finalLevel: layouts.count - 1)
    }

    /// Ids, anchors, dependencies and text for every window of every level, in topological order.
    static func assemble(_ layouts: [LevelLayout], geometry: ModelGeometry,
                         conditioning: TextConditioning) -> [SegmentTask] {
        let windowFrames = geometry.windowFrames
        let largestLevel = layouts.map(\.starts.count).max() ?? 1
        let indexDigits = max(4, String(largestLevel - 1).count)
        var segments: [SegmentTask] = []
        var parentIDs: [String] = []
        var parentOwners: FrameOwners?

        for (level, layout) in layouts.enumerated() {
            let ids = layout.starts.indices.map { segmentID(level: level, index: $0, digits: indexDigits) }
            let step = layout.stride
            for (index, start) in layout.starts.enumerated() {
                var anchors: [AnchorRef] = []
                switch layout.anchoring {
                case .none:
                    break
                case .chain:
                    // The first window of a chain has no predecessor to continue.
                    guard index > 0 else { break }
                    for slot in 0 ..< geometry.chainAnchorSlots {
                        anchors.append(AnchorRef(slot: slot, globalFrame: start + slot * step, source: ids[index - 1],
                                                 sourceSlot: geometry.chainHop + slot))
                    }
                case .parentKeyframes(let ratio):
                    for slot in Swift.stride(from: 0, to: windowFrames, by: ratio) {
                        let frame = start + slot * step
                        // Past the parent level's last window there is nothing to pin (only frames ≥ totalFrames).
                        guard let owner = parentOwners?.owner(ofGlobalFrame: frame) else { continue }
                        anchors.append(AnchorRef(slot: slot, globalFrame: frame, source: parentIDs[owner.window],
                                                 sourceSlot: owner.slot))
                    }
                }
                let frames = (0 ..< windowFrames).map { start + $0 * step }
                segments.append(SegmentTask(
                    id: ids[index], level: level, index: index, startFrame: start, stride: step, frames: windowFrames,
                    anchors: anchors,
                    // One level's ids share a prefix and an index width, so string order is index order.
                    dependencies: Set(anchors.map(\.source)).sorted(),
                    text: conditioning.text(forFrames: frames)))
            }
            parentIDs = ids
            parentOwners = FrameOwners(layout, windowFrames: windowFrames)
        }
        return segments
    }

    /// `L<level>-<index>`, the index zero-padded to `digits`.
    static func segmentID(level: Int, index: Int, digits: Int) -> String {
        let number = String(index)
        return "L\(level)-" + String(repeating: "0", count: max(0, digits - number.count)) + number
    }
}
