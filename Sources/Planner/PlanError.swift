/// Why a request, storyboard or storyboard file cannot be planned.
///
/// Every case is something a user can cause and fix; `description` is one sentence that names the
/// problem and the fix. Field names are JSON paths such as `shots[2].prompt`.
public enum PlanError: Error, Equatable, CustomStringConvertible {
    // Request
    case missingContent
    case conflictingContent
    case durationNotFinite
    case durationNotPositive(seconds: Double)
    case durationTooLong(seconds: Double, limit: Double)
    case durationMismatch(requested: Double, storyboard: Double)

    // Prompts and titles
    case emptyText(field: String)
    case textTooLong(field: String, bytes: Int, limit: Int)
    /// `position` counts Unicode scalars from 1.
    case invalidCharacter(field: String, scalar: UInt32, position: Int)

    // Storyboard
    case noShots
    case tooManyShots(count: Int, limit: Int)
    case shotTimeNotFinite(shot: Int)
    case shotNotForward(shot: Int, start: Double, end: Double)
    case firstShotNotAtZero(start: Double)
    case shotsOverlap(shot: Int, previousEnd: Double, start: Double)
    case shotsGap(shot: Int, previousEnd: Double, start: Double)
    case storyboardTooLong(seconds: Double, limit: Double)
    /// The shot rounds to no model frame at all (found at planning time, when fps is known).
    case shotTooShort(shot: Int, seconds: Double, fps: Int)

    // JSON input
    case inputTooLarge(bytes: Int, limit: Int)
    case invalidUTF8(offset: Int)
    case malformedJSON(String)
    case missingField(String)
    case wrongType(field: String, expected: String)
    case invalidValue(field: String, detail: String)
    case unknownField(String)
    case invalidTransition(shot: Int, value: String)
    case invalidStrategy(String)

    // Model
    case invalidGeometry(String)

    public var description: String {
        switch self {
        case .missingContent:
            return "The request has neither a prompt nor a storyboard; give exactly one of them."
        case .conflictingContent:
            return "The request has both a prompt and a storyboard; give only one of them "
                + "(a one-shot storyboard says the same as a prompt)."
        case .durationNotFinite:
            return "The duration is not a finite number; give the film's length in seconds, for example 60."
        case .durationNotPositive(let seconds):
            return "The duration is \(Self.format(seconds)) s; give a length greater than 0 seconds."
        case .durationTooLong(let seconds, let limit):
            return "The duration is \(Self.format(seconds)) s, more than the limit of \(Self.format(limit)) s; "
                + "split the film into several jobs."
        case .durationMismatch(let requested, let storyboard):
            return "The duration is \(Self.format(requested)) s but the storyboard ends at \(Self.format(storyboard)) s; "
                + "set the duration to \(Self.format(storyboard)) or leave it out so it is taken from the storyboard."
        case .emptyText(let field):
            return "\(field) is empty; describe the scene in words, for example \"a red ball bouncing across a green field\"."
        case .textTooLong(let field, let bytes, let limit):
            return "\(field) is \(bytes) bytes long in UTF-8; shorten it to at most \(limit) bytes."
        case .invalidCharacter(let field, let scalar, let position):
            return "\(field) contains the character \(Self.codePoint(scalar)) at position \(position), which is not "
                + "printable text; remove it (a prompt is one line of text without control characters)."
        case .noShots:
            return "The storyboard has no shots; add at least one shot with a prompt, a start and an end."
        case .tooManyShots(let count, let limit):
            return "The storyboard has \(count) shots, more than the limit of \(limit); merge shots or split the film into several jobs."
        case .shotTimeNotFinite(let shot):
            return "shots[\(shot)] has a start or end that is not a finite number; give both times in seconds."
        case .shotNotForward(let shot, let start, let end):
            return "shots[\(shot)] starts at \(Self.format(start)) s and ends at \(Self.format(end)) s; its end must be later than its start."
        case .firstShotNotAtZero(let start):
            return "shots[0] starts at \(Self.format(start)) s; set its start to 0, where the film begins."
        case .shotsOverlap(let shot, let previousEnd, let start):
            return "shots[\(shot)] starts at \(Self.format(start)) s, before shots[\(shot - 1)] ends at "
                + "\(Self.format(previousEnd)) s; set shots[\(shot)].start to \(Self.format(previousEnd)) so the shots follow each other."
        case .shotsGap(let shot, let previousEnd, let start):
            return "shots[\(shot)] starts at \(Self.format(start)) s, leaving a gap after shots[\(shot - 1)] ends at "
                + "\(Self.format(previousEnd)) s; set shots[\(shot)].start to \(Self.format(previousEnd)) so the shots follow each other."
        case .storyboardTooLong(let seconds, let limit):
            return "The storyboard ends at \(Self.format(seconds)) s, more than the limit of \(Self.format(limit)) s; "
                + "shorten it or split it into several jobs."
        case .shotTooShort(let shot, let seconds, let fps):
            return "shots[\(shot)] lasts \(Self.format(seconds)) s, less than one frame at the model's \(fps) fps; "
                + "make it at least \(Self.format(1 / Double(fps))) s long or merge it into a neighbouring shot."
        case .inputTooLarge(let bytes, let limit):
            return "The JSON document is \(bytes) bytes, more than the limit of \(limit) bytes; shorten the prompts or split the film."
        case .invalidUTF8(let offset):
            return "The input is not valid UTF-8 text (the first bad byte is at offset \(offset)); save the file as UTF-8."
        case .malformedJSON(let detail):
            return "The input is not valid JSON (\(detail)); fix the syntax, for example with a JSON validator."
        case .missingField(let field):
            return "The required field \"\(field)\" is missing; add it (see docs/storyboard.md)."
        case .wrongType(let field, let expected):
            return "The field \"\(field)\" has the wrong type; it must be \(expected)."
        case .invalidValue(let field, let detail):
            return "The field \"\(field)\" has an invalid value (\(detail)); correct it (see docs/storyboard.md)."
        case .unknownField(let field):
            return "The field \"\(field)\" is not part of the format; remove it or fix its spelling (see docs/storyboard.md)."
        case .invalidTransition(let shot, let value):
            return "shots[\(shot)].transition is \"\(value)\"; use \"smooth\" (blend the prompts) or \"cut\" (switch hard)."
        case .invalidStrategy(let value):
            return "The strategy \"\(value)\" is not known; use \"hierarchical\" (parallel, the default) or \"sequential\"."
        case .invalidGeometry(let reason):
            return "The model's geometry cannot be planned for: \(reason); fix the model's configuration."
        }
    }

    /// Seconds as a person would write them: `60`, `9.5`, `0.125`.
    static func format(_ seconds: Double) -> String {
        if seconds.isFinite, seconds == seconds.rounded(), abs(seconds) < 1e15 { return String(Int(seconds)) }
        return String(seconds)
    }

    static func codePoint(_ scalar: UInt32) -> String {
        let hex = String(scalar, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
