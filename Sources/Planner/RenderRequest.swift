import Foundation

/// How the planner splits a film into segments (docs/planning.md).
public enum Strategy: String, Sendable, Codable, CaseIterable {
    /// Keyframes for the whole film first, then finer levels filling the gaps; every segment of a
    /// level runs in parallel, so the critical path is the number of levels. The default.
    case hierarchical
    /// One chain of windows, each conditioned on the end of the previous one: no parallelism.
    /// The baseline hierarchical is measured against.
    case sequential
}

/// What a client asks the planner for: a prompt or a storyboard, a length, a seed and a strategy.
///
/// With a storyboard the film is exactly as long as the storyboard: `duration` must equal the
/// storyboard's end (within `Storyboard.timeTolerance`); in JSON it may be left out and is then
/// taken from the storyboard.
public struct RenderRequest: Sendable, Codable, Equatable {
    /// One prompt for the whole film (`PromptText`'s rules), or nil when `storyboard` is given.
    public var prompt: String?
    /// A timeline of shots, or nil when `prompt` is given.
    public var storyboard: Storyboard?
    /// Length of the film in seconds: finite, > 0, at most `maxDuration`.
    public var duration: Double
    /// Any value; with the request it fixes every noise sample of the film.
    public var seed: UInt64
    public var strategy: Strategy

    /// Longest film, in seconds.
    public static let maxDuration = 3600.0

    /// A request as given; `validate()` (or `Planner.plan`) checks it.
    public init(prompt: String? = nil, storyboard: Storyboard? = nil, duration: Double, seed: UInt64,
                strategy: Strategy = .hierarchical) {
        self.prompt = prompt
        self.storyboard = storyboard
        self.duration = duration
        self.seed = seed
        self.strategy = strategy
    }

    /// A storyboard request whose duration is the storyboard's.
    public init(storyboard: Storyboard, seed: UInt64, strategy: Strategy = .hierarchical) {
        self.init(storyboard: storyboard, duration: storyboard.duration, seed: seed, strategy: strategy)
    }

    /// Throws the first problem: not exactly one of prompt and storyboard, a duration that is not
    /// finite, not positive or too long, an invalid prompt or storyboard, or a duration that differs
    /// from the storyboard's.
    public func validate() throws(PlanError) {
        switch (prompt, storyboard) {
        case (nil, nil): throw .missingContent
        case (.some, .some): throw .conflictingContent
        default: break
        }
        guard duration.isFinite else { throw .durationNotFinite }
        guard duration > 0 else { throw .durationNotPositive(seconds: duration) }
        guard duration <= Self.maxDuration else { throw .durationTooLong(seconds: duration, limit: Self.maxDuration) }
        if let prompt { try PromptText.check(prompt, field: "prompt") }
        if let storyboard {
            try storyboard.validate()
            guard abs(duration - storyboard.duration) <= Storyboard.timeTolerance else {
                throw .durationMismatch(requested: duration, storyboard: storyboard.duration)
            }
        }
    }

    /// Reads a request from JSON (at most `JSONInput.maxBytes`, UTF-8) and validates it.
    /// Fields: `prompt` or `storyboard`, `duration` (optional with a storyboard), `seed`, `strategy`
    /// (optional, default `hierarchical`); unknown fields are rejected.
    public static func parse(_ data: Data) throws(PlanError) -> RenderRequest {
        let request = try JSONInput.decode(RenderRequest.self, from: data)
        try request.validate()
        return request
    }
}

// MARK: - JSON

extension RenderRequest {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case prompt, storyboard, duration, seed, strategy
    }

    /// Decodes a request; `duration` may be left out when a storyboard is given (it is then the
    /// storyboard's), `strategy` defaults to `hierarchical`, and unknown keys are rejected.
    /// Does not validate.
    public init(from decoder: any Decoder) throws {
        try JSONInput.rejectUnknownKeys(in: decoder, known: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try container.decodeIfPresent(String.self, forKey: .prompt)
        storyboard = try container.decodeIfPresent(Storyboard.self, forKey: .storyboard)
        if let duration = try JSONInput.field(Double.self, .duration, in: container, expected: JSONInput.secondsExpectation) {
            self.duration = duration
        } else if let storyboard {
            duration = storyboard.duration
        } else {
            throw PlanError.missingField(JSONInput.path(decoder.codingPath + [CodingKeys.duration]))
        }
        seed = try JSONInput.requiredField(UInt64.self, .seed, in: container, expected: JSONInput.seedExpectation)
        if let raw = try container.decodeIfPresent(String.self, forKey: .strategy) {
            guard let strategy = Strategy(rawValue: raw) else {
                throw PlanError.invalidStrategy(JSONInput.printablePrefix(raw))
            }
            self.strategy = strategy
        } else {
            strategy = .hierarchical
        }
    }
}
