/// The time geometry of a video model, as far as planning needs it.
///
/// Every segment the model renders is a window of `windowFrames` latent frames at global model-frame
/// positions `startFrame + k × stride` (k = 0 ..< `windowFrames`), at the model's native `fps`.
public struct ModelGeometry: Sendable, Codable, Equatable {
    /// Latent frames in one window (reel-tiny: 16). A multiple of 4, 4 ... 256.
    public var windowFrames: Int
    /// Native frames per second of the model (reel-tiny: 8), 1 ... 120.
    public var fps: Int
    /// Frame strides the model was trained on. The planner uses only the powers of two among them,
    /// which must be 1, 2, 4, ... without gaps.
    public var strides: [Int]

    /// A geometry as given; `Planner.plan` checks that its rules apply (defaults: reel-tiny).
    public init(windowFrames: Int = 16, fps: Int = 8, strides: [Int] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]) {
        self.windowFrames = windowFrames
        self.fps = fps
        self.strides = strides
    }

    /// reel-tiny: 16-frame windows at 8 fps, strides 1 ... 32.
    public static let reelTiny = ModelGeometry()

    /// The strides the planner places windows at: the powers of two in `strides`, ascending, unique.
    public var plannedStrides: [Int] {
        Array(Set(strides.filter { $0 > 0 && $0 & ($0 - 1) == 0 })).sorted()
    }

    /// Slots a chained window advances past the previous one: three quarters of a window (12 of 16),
    /// so consecutive chain windows share a quarter (4 slots).
    var chainHop: Int { windowFrames - windowFrames / 4 }

    /// Slots a chained window anchors on its predecessor: the shared quarter (4 of 16).
    var chainAnchorSlots: Int { windowFrames / 4 }

    /// Checks that the planner's rules apply to this geometry and returns the planned stride ladder.
    func validatedStrides() throws(PlanError) -> [Int] {
        guard windowFrames >= 4, windowFrames <= 256, windowFrames % 4 == 0 else {
            throw .invalidGeometry("windowFrames is \(windowFrames) but must be a multiple of 4 between 4 and 256")
        }
        guard fps >= 1, fps <= 120 else {
            throw .invalidGeometry("fps is \(fps) but must be between 1 and 120")
        }
        let ladder = plannedStrides
        guard !ladder.isEmpty, ladder.enumerated().allSatisfy({ $0.element == 1 << $0.offset }) else {
            throw .invalidGeometry("the power-of-two strides \(ladder) must be 1, 2, 4, ... without gaps")
        }
        return ladder
    }
}
