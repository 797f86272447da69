import Foundation

/// How a shot begins, relative to the shot before it.
public enum Transition: String, Sendable, Codable {
    /// Segments straddling the boundary are conditioned on a blend of both prompts, weighted by how
    /// many of their frames fall in each shot: the scene morphs.
    case smooth
    /// Segments straddling the boundary take only the side holding most of their frames: a hard switch.
    case cut
}

/// One shot of a storyboard: a prompt held over a time range of the film.
public struct Shot: Sendable, Codable, Equatable {
    /// What the shot shows; follows `PromptText`'s rules.
    public var prompt: String
    /// Seconds from the start of the film; the first shot starts at 0.
    public var start: Double
    /// Seconds from the start of the film; later than `start`, and the next shot's `start`.
    public var end: Double
    /// How this shot begins after the previous one (ignored for the first shot). Default `smooth`.
    public var transition: Transition

    /// A shot as given; `Storyboard.validate()` checks it.
    public init(prompt: String, start: Double, end: Double, transition: Transition = .smooth) {
        self.prompt = prompt
        self.start = start
        self.end = end
        self.transition = transition
    }
}

/// A timeline of shots covering the film from 0 to `duration` without gaps or overlaps.
///
/// The file format (JSON) is described in docs/storyboard.md; `parse` reads and validates it.
public struct Storyboard: Sendable, Codable, Equatable {
    /// Optional name of the film (metadata only; may be empty, otherwise a prompt's rules apply).
    public var title: String?
    /// The shots in time order: 1 ... `maxShots`.
    public var shots: [Shot]

    /// Most shots in one storyboard.
    public static let maxShots = 256
    /// Longest storyboard, in seconds.
    public static let maxDuration = 3600.0
    /// How far (seconds) a shot's start may be from the previous shot's end, and the first start from 0.
    public static let timeTolerance = 1e-6

    /// A storyboard as given; `validate()` checks it.
    public init(title: String? = nil, shots: [Shot]) {
        self.title = title
        self.shots = shots
    }

    /// Length of the film in seconds: the last shot's end (0 without shots).
    public var duration: Double { shots.last?.end ?? 0 }

    /// Reads a storyboard from JSON (at most `JSONInput.maxBytes`, UTF-8) and validates it.
    public static func parse(_ data: Data) throws(PlanError) -> Storyboard {
        let storyboard = try JSONInput.decode(Storyboard.self, from: data)
        try storyboard.validate()
        return storyboard
    }

    /// Throws the first problem: shot count, a prompt or title, times that are not finite, a shot
    /// that does not move forward, a first shot not at 0, a gap or an overlap between neighbours
    /// (beyond `timeTolerance`), or a film longer than `maxDuration`.
    public func validate() throws(PlanError) {
        guard !shots.isEmpty else { throw .noShots }
        guard shots.count <= Self.maxShots else { throw .tooManyShots(count: shots.count, limit: Self.maxShots) }
        if let title { try PromptText.check(title, field: "title", allowEmpty: true) }
        for (index, shot) in shots.enumerated() {
            try PromptText.check(shot.prompt, field: "shots[\(index)].prompt")
            guard shot.start.isFinite, shot.end.isFinite else { throw .shotTimeNotFinite(shot: index) }
            guard shot.start < shot.end else { throw .shotNotForward(shot: index, start: shot.start, end: shot.end) }
            if index == 0 {
                guard abs(shot.start) <= Self.timeTolerance else { throw .firstShotNotAtZero(start: shot.start) }
            } else {
                let previousEnd = shots[index - 1].end
                if shot.start < previousEnd - Self.timeTolerance {
                    throw .shotsOverlap(shot: index, previousEnd: previousEnd, start: shot.start)
                }
                if shot.start > previousEnd + Self.timeTolerance {
                    throw .shotsGap(shot: index, previousEnd: previousEnd, start: shot.start)
                }
            }
        }
        guard duration <= Self.maxDuration else { throw .storyboardTooLong(seconds: duration, limit: Self.maxDuration) }
    }

    /// The model frames each shot covers, in shot order: they partition `0 ..< totalFrames`.
    ///
    /// Boundaries come from the shot ends only (so the tolerated jitter between one shot's end and the
    /// next one's start cannot open a gap): shot i covers `b(i) ..< b(i+1)` where `b(0) = 0`,
    /// `b(i) = round(shots[i-1].end × fps)` (clamped to be non-decreasing and at most `totalFrames`)
    /// and the last boundary is `totalFrames`. A shot shorter than one frame can come out empty.
    public func frameRanges(fps: Int, totalFrames: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(shots.count)
        var lower = 0
        for (index, shot) in shots.enumerated() {
            let upper = index == shots.count - 1
                ? max(lower, totalFrames)
                : min(totalFrames, max(lower, Self.frame(atSeconds: shot.end, fps: fps)))
            ranges.append(lower ..< upper)
            lower = upper
        }
        return ranges
    }

    /// The model frame nearest to a time: `round(seconds × fps)`, halves away from zero.
    static func frame(atSeconds seconds: Double, fps: Int) -> Int {
        let frames = (seconds * Double(fps)).rounded()
        guard frames.isFinite else { return 0 }
        return Int(max(-1e15, min(1e15, frames)))
    }
}

// MARK: - JSON

extension Shot {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case prompt, start, end, transition
    }

    /// Decodes one shot; `transition` is optional (default `smooth`) and unknown keys are rejected.
    public init(from decoder: any Decoder) throws {
        try JSONInput.rejectUnknownKeys(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try container.decode(String.self, forKey: .prompt)
        start = try JSONInput.requiredField(Double.self, .start, in: container, expected: JSONInput.secondsExpectation)
        end = try JSONInput.requiredField(Double.self, .end, in: container, expected: JSONInput.secondsExpectation)
        if let raw = try container.decodeIfPresent(String.self, forKey: .transition) {
            guard let transition = Transition(rawValue: raw) else {
                throw PlanError.invalidTransition(shot: decoder.codingPath.last?.intValue ?? 0,
                                                  value: JSONInput.printablePrefix(raw))
            }
            self.transition = transition
        } else {
            transition = .smooth
        }
    }
}

extension Storyboard {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case title, shots
    }

    /// Decodes `title` (optional) and `shots`; unknown keys are rejected. Does not validate.
    public init(from decoder: any Decoder) throws {
        try JSONInput.rejectUnknownKeys(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        title = try container.decodeIfPresent(String.self, forKey: .title)
        shots = try container.decode([Shot].self, forKey: .shots)
    }
}
