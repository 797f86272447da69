/// One prompt of a segment's conditioning and its share; a segment's weights sum to 1.
public struct TextWeight: Sendable, Codable, Equatable, Hashable {
    public var prompt: String
    /// Share of the conditioning, in (0, 1].
    public var weight: Double

    public init(prompt: String, weight: Double) {
        self.prompt = prompt
        self.weight = weight
    }
}

/// A clean latent frame a segment conditions on: slot `slot` of this segment is pinned to the
/// latent that segment `source` produced at its slot `sourceSlot`; both sit at `globalFrame`.
public struct AnchorRef: Sendable, Codable, Equatable, Hashable {
    /// Position in the anchored segment's window, 0 ..< windowFrames.
    public var slot: Int
    /// Global model frame of that slot (and of the source's slot).
    public var globalFrame: Int
    /// Id of the segment that renders the anchor latent.
    public var source: String
    /// Position of the anchor latent in the source's window.
    public var sourceSlot: Int

    public init(slot: Int, globalFrame: Int, source: String, sourceSlot: Int) {
        self.slot = slot
        self.globalFrame = globalFrame
        self.source = source
        self.sourceSlot = sourceSlot
    }
}

/// One unit of work: a window of `frames` latent frames at global model frames
/// `startFrame + k × stride`, conditioned on `text` and pinned to `anchors`.
///
/// Its initial noise at global frame f is a pure function of (seed, f, `level`), so two segments of
/// one level that share a frame start from the same noise there.
public struct SegmentTask: Sendable, Codable, Equatable, Identifiable {
    /// Stable id `L<level>-<index>`, the index zero-padded to 4 digits (more when a level has more
    /// than 10 000 segments, then for every id of the plan), e.g. "L0-0000", "L2-0013".
    public var id: String
    /// 0 for the coarsest keyframes; the plan's `finalLevel` is stride 1.
    public var level: Int
    /// Position within the level, in time order from 0.
    public var index: Int
    /// Global model frame of slot 0.
    public var startFrame: Int
    /// Model frames between consecutive slots: a power of two.
    public var stride: Int
    /// Slots in the window: the model's `windowFrames`.
    public var frames: Int
    /// Anchored slots, sorted by slot, at most one per slot.
    public var anchors: [AnchorRef]
    /// Ids of the segments that must finish first (the anchors' sources), sorted, unique.
    public var dependencies: [String]
    /// Conditioning prompts in storyboard order, weights summing to 1.
    public var text: [TextWeight]

    public init(id: String, level: Int, index: Int, startFrame: Int, stride: Int, frames: Int,
                anchors: [AnchorRef], dependencies: [String], text: [TextWeight]) {
        self.id = id
        self.level = level
        self.index = index
        self.startFrame = startFrame
        self.stride = stride
        self.frames = frames
        self.anchors = anchors
        self.dependencies = dependencies
        self.text = text
    }

    /// Global model frame of every slot: `startFrame + k × stride`, k = 0 ..< frames.
    public var globalFrames: [Int] { (0 ..< frames).map { startFrame + $0 * stride } }

    /// Global model frame of the last slot.
    public var lastFrame: Int { startFrame + (frames - 1) * stride }

    /// The slot that sits at `globalFrame`, or nil when the window does not contain that frame.
    public func slot(ofGlobalFrame globalFrame: Int) -> Int? {
        let offset = globalFrame - startFrame
        guard offset >= 0, offset % stride == 0, offset / stride < frames else { return nil }
        return offset / stride
    }
}
