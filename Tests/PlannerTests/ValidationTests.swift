import Foundation
import Testing
@testable import Planner
import TestSupport

@Suite("Request and storyboard validation, malformed input")
struct ValidationTests {
    static func parse(_ json: String) throws(PlanError) -> Storyboard { try Storyboard.parse(Data(json.utf8)) }

    /// The error a throwing call raises, or nil when it does not throw.
    static func error(_ body: () throws -> Void) -> PlanError? {
        do {
            try body()
        } catch let error as PlanError {
            return error
        } catch {
            Issue.record("\(error) is not a PlanError")
        }
        return nil
    }

    /// One sentence: a single line ending in a period, no second sentence inside.
    static func isOneSentence(_ text: String) -> Bool {
        guard text.hasSuffix("."), !text.contains(where: \.isNewline), text.count < 400 else { return false }
        let characters = Array(text)
        for index in characters.indices.dropLast(2) where characters[index] == "." && characters[index + 1] == " " {
            if characters[index + 2].isUppercase { return false }
        }
        return true
    }

    static let twoShots = """
        {"title": "t", "shots": [
          {"prompt": "a red ball", "start": 0, "end": 10},
          {"prompt": "a blue square", "start": 10, "end": 20, "transition": "cut"}
        ]}
        """

    @Test("a well-formed storyboard parses, with transition defaulting to smooth")
    func wellFormed() throws {
        let storyboard = try Self.parse(Self.twoShots)
        #expect(storyboard == Storyboard(title: "t", shots: [
            Shot(prompt: "a red ball", start: 0, end: 10),
            Shot(prompt: "a blue square", start: 10, end: 20, transition: .cut),
        ]))
        #expect(storyboard.duration == 20)
        let encoded = try JSONEncoder().encode(storyboard)
        #expect(try Storyboard.parse(encoded) == storyboard)
    }

    @Test("prompts: empty, blank, control characters, too long")
    func prompts() {
        func check(_ prompt: String) -> PlanError? {
            Self.error { try RenderRequest(prompt: prompt, duration: 10, seed: 0).validate() }
        }
        #expect(check("a red ball") == nil)
        #expect(check("") == .emptyText(field: "prompt"))
        #expect(check("   \u{3000} ") == .emptyText(field: "prompt"))
        #expect(check("a red\nball") == .invalidCharacter(field: "prompt", scalar: 0x0A, position: 6))
        #expect(check("\ta red ball") == .invalidCharacter(field: "prompt", scalar: 0x09, position: 1))
        #expect(check("ball\u{0}") == .invalidCharacter(field: "prompt", scalar: 0, position: 5))
        #expect(check("ball\u{7F}") == .invalidCharacter(field: "prompt", scalar: 0x7F, position: 5))
        #expect(check("ball\u{2028}") == .invalidCharacter(field: "prompt", scalar: 0x2028, position: 5))
        #expect(check("ball\u{FFFD}") == .invalidCharacter(field: "prompt", scalar: 0xFFFD, position: 5))
        #expect(check("ball\u{FFFF}") == .invalidCharacter(field: "prompt", scalar: 0xFFFF, position: 5))
        #expect(check("балл 🎈 ボール") == nil)
        // The limit is in UTF-8 bytes: 1000 × "é" is 2000 bytes, 1001 is too many.
        #expect(check(String(repeating: "é", count: 1000)) == nil)
        #expect(check(String(repeating: "é", count: 1001)) == .textTooLong(field: "prompt", bytes: 2002, limit: 2000))
        #expect(check(String(repeating: "x", count: 1_000_000)) == .textTooLong(field: "prompt", bytes: 1_000_000, limit: 2000))
    }

    @Test("durations: NaN, infinite, zero, negative, over an hour")
    func durations() {
        func check(_ duration: Double) -> PlanError? {
            Self.error { try RenderRequest(prompt: "a red ball", duration: duration, seed: 0).validate() }
        }
        #expect(check(.nan) == .durationNotFinite)
        #expect(check(.infinity) == .durationNotFinite)
        #expect(check(-.infinity) == .durationNotFinite)
        #expect(check(0) == .durationNotPositive(seconds: 0))
        #expect(check(-0.0) == .durationNotPositive(seconds: 0))
        #expect(check(-5) == .durationNotPositive(seconds: -5))
        #expect(check(3600.001) == .durationTooLong(seconds: 3600.001, limit: 3600))
        #expect(check(1e300) == .durationTooLong(seconds: 1e300, limit: 3600))
        #expect(check(3600) == nil)
        #expect(check(.leastNonzeroMagnitude) == nil)
        #expect(check(0.125) == nil)
    }

    @Test("exactly one of prompt and storyboard; the duration must match the storyboard")
    func content() throws {
        let storyboard = try Self.parse(Self.twoShots)
        #expect(Self.error { try RenderRequest(duration: 10, seed: 0).validate() } == .missingContent)
        #expect(Self.error { try RenderRequest(prompt: "x", storyboard: storyboard, duration: 20, seed: 0).validate() }
                == .conflictingContent)
        #expect(Self.error { try RenderRequest(storyboard: storyboard, duration: 30, seed: 0).validate() }
                == .durationMismatch(requested: 30, storyboard: 20))
        #expect(Self.error { try RenderRequest(storyboard: storyboard, duration: 20 + 5e-7, seed: .max).validate() } == nil)
        #expect(Self.error { try RenderRequest(storyboard: storyboard, seed: 0).validate() } == nil)
    }

    @Test("storyboards: shot count, order, gaps, overlaps, times, length")
    func storyboards() {
        func check(_ shots: [Shot], title: String? = nil) -> PlanError? {
            Self.error { try Storyboard(title: title, shots: shots).validate() }
        }
        func shot(_ start: Double, _ end: Double, _ prompt: String = "a red ball") -> Shot {
            Shot(prompt: prompt, start: start, end: end)
        }
        #expect(check([]) == .noShots)
        #expect(check((0 ..< 257).map { shot(Double($0), Double($0 + 1)) }) == .tooManyShots(count: 257, limit: 256))
        #expect(check((0 ..< 256).map { shot(Double($0), Double($0 + 1)) }) == nil)
        #expect(check([shot(0.5, 2)]) == .firstShotNotAtZero(start: 0.5))
        #expect(check([shot(-1, 2)]) == .firstShotNotAtZero(start: -1))
        #expect(check([shot(0, 2), shot(1.5, 4)]) == .shotsOverlap(shot: 1, previousEnd: 2, start: 1.5))
        #expect(check([shot(0, 2), shot(2.5, 4)]) == .shotsGap(shot: 1, previousEnd: 2, start: 2.5))
        #expect(check([shot(0, 2), shot(2 + 5e-7, 4)]) == nil, "within the tolerance")
        #expect(check([shot(0, 2), shot(2 + 2e-6, 4)]) == .shotsGap(shot: 1, previousEnd: 2, start: 2 + 2e-6))
        #expect(check([shot(0, 2), shot(2, 2)]) == .shotNotForward(shot: 1, start: 2, end: 2))
        #expect(check([shot(0, 2), shot(2, 1)]) == .shotNotForward(shot: 1, start: 2, end: 1))
        #expect(check([shot(0, .nan)]) == .shotTimeNotFinite(shot: 0))
        #expect(check([shot(0, 2), shot(2, .infinity)]) == .shotTimeNotFinite(shot: 1))
        #expect(check([shot(0, 3000), shot(3000, 3700)]) == .storyboardTooLong(seconds: 3700, limit: 3600))
        #expect(check([shot(0, 2), shot(2, 4, " ")]) == .emptyText(field: "shots[1].prompt"))
        #expect(check([shot(0, 2)], title: "line\nbreak") == .invalidCharacter(field: "title", scalar: 0x0A, position: 5))
        #expect(check([shot(0, 2)], title: "") == nil)
    }

    @Test("JSON: missing fields, wrong types, unknown fields, bad transitions name the field")
    func jsonFields() {
        func check(_ json: String) -> PlanError? { Self.error { _ = try Self.parse(json) } }
        #expect(check("{}") == .missingField("shots"))
        #expect(check(#"{"shots": [{"prompt": "a", "start": 0, "end": 1}, {"prompt": "b", "start": 1}]}"#)
                == .missingField("shots[1].end"))
        #expect(check(#"{"shots": [{"start": 0, "end": 1}]}"#) == .missingField("shots[0].prompt"))
        #expect(check(#"{"shots": [{"prompt": "a", "start": 0, "end": "10"}]}"#)
                == .wrongType(field: "shots[0].end", expected: "a number of seconds"))
        #expect(check(#"{"shots": [{"prompt": "a", "start": 0, "end": 1e999}]}"#)
                == .wrongType(field: "shots[0].end", expected: "a number of seconds"))
        #expect(check(#"{"shots": [{"prompt": null, "start": 0, "end": 1}]}"#)
                == .wrongType(field: "shots[0].prompt", expected: "a string, not null"))
        #expect(check(#"{"shots": {"prompt": "a"}}"#) == .wrongType(field: "shots", expected: "a list ([...])"))
        #expect(check(#"[1, 2]"#) == .wrongType(field: "(document)", expected: "an object ({...})"))
        #expect(check(#""a storyboard""#) == .wrongType(field: "(document)", expected: "an object ({...})"))
        #expect(check(#"{"shots": [{"promt": "a", "prompt": "a", "start": 0, "end": 1}]}"#) == .unknownField("shots[0].promt"))
        #expect(check(#"{"shots": [], "zz": 1, "fps": 8}"#) == .unknownField("fps"), "the first unknown key alphabetically")
        #expect(check(#"{"shots": [{"prompt": "a", "start": 0, "end": 1}, {"prompt": "b", "start": 1, "end": 2, "transition": "fade"}]}"#)
                == .invalidTransition(shot: 1, value: "fade"))
        #expect(check(#"{"shots": []}"#) == .noShots, "parse validates")
        #expect(check(#"{"shots": [{"prompt": "a\u0000b", "start": 0, "end": 1}]}"#)
                == .invalidCharacter(field: "shots[0].prompt", scalar: 0, position: 2))
    }

    @Test("malformed bytes: invalid UTF-8, not JSON, empty, huge, binary, deep nesting", arguments: [
        ("invalid UTF-8", Data([0x7B, 0x22, 0xFF, 0x22, 0x7D])),
        ("truncated sequence", Data("{\"shots\": \"".utf8) + Data([0xE2, 0x82])),
        ("overlong encoding", Data([0xC0, 0xAF])),
        ("UTF-16 surrogate as UTF-8", Data([0xED, 0xA0, 0x80])),
        ("empty", Data()),
        ("whitespace", Data("  \n\t ".utf8)),
        ("not JSON", Data("shots: [a red ball]".utf8)),
        ("truncated JSON", Data(#"{"shots": [{"prompt": "a", "start": 0,"#.utf8)),
        ("NaN literal", Data(#"{"shots": [{"prompt": "a", "start": 0, "end": NaN}]}"#.utf8)),
        ("huge number", Data(#"{"shots": [{"prompt": "a", "start": 0, "end": 1e999}]}"#.utf8)),
        ("lone surrogate escape", Data(#"{"shots": [{"prompt": "a\ud800", "start": 0, "end": 1}]}"#.utf8)),
        ("deep nesting", Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8)),
        ("too large", Data(repeating: 0x20, count: JSONInput.maxBytes + 1)),
        ("binary", Data((0 ..< 4096).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })),
    ] as [(String, Data)])
    func malformedBytes(name: String, data: Data) {
        let error = Self.error { _ = try Storyboard.parse(data) }
        #expect(error != nil, "\(name) must be rejected")
        if let error { #expect(Self.isOneSentence(error.description), "\(name): \(error)") }
    }

    @Test("the first bad UTF-8 byte is located")
    func utf8Offset() {
        #expect(Self.error { _ = try Storyboard.parse(Data([0x7B, 0x22, 0xFF, 0x22, 0x7D])) } == .invalidUTF8(offset: 2))
        #expect(Self.error { _ = try Storyboard.parse(Data("{\"é\":".utf8) + Data([0x80])) } == .invalidUTF8(offset: 6))
        #expect(Self.error { _ = try Storyboard.parse(Data(repeating: 0x20, count: JSONInput.maxBytes + 1)) }
                == .inputTooLarge(bytes: JSONInput.maxBytes + 1, limit: JSONInput.maxBytes))
    }

    @Test("random bytes never crash the parser", arguments: 0 ..< 8)
    func fuzz(number: Int) {
        var random = SplitMix64(seed: UInt64(number))
        let valid = Array(Self.twoShots.utf8)
        for _ in 0 ..< 200 {
            // Mutate a valid document: flip, drop or insert a few bytes.
            var bytes = valid
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) {
                let index = Int.random(in: 0 ..< bytes.count, using: &random)
                switch Int.random(in: 0 ..< 3, using: &random) {
                case 0: bytes[index] = UInt8.random(in: 0 ... 255, using: &random)
                case 1: bytes.remove(at: index)
                default: bytes.insert(UInt8.random(in: 0 ... 255, using: &random), at: index)
                }
            }
            do {
                let storyboard = try Storyboard.parse(Data(bytes))
                #expect(Self.error { try storyboard.validate() } == nil, "parse returns only valid storyboards")
            } catch {
                #expect(Self.isOneSentence(error.description), "\(error)")
            }
        }
    }

    @Test("requests from JSON: duration from the storyboard, strategy default, bad values")
    func requestJSON() throws {
        let request = try RenderRequest.parse(Data(#"{"storyboard": \#(Self.twoShots), "seed": 18446744073709551615}"#.utf8))
        #expect(request.duration == 20 && request.seed == .max && request.strategy == .hierarchical)
        let prompt = try RenderRequest.parse(Data(#"{"prompt": "a red ball", "duration": 60, "seed": 1, "strategy": "sequential"}"#.utf8))
        #expect(prompt == RenderRequest(prompt: "a red ball", duration: 60, seed: 1, strategy: .sequential))
        #expect(try RenderRequest.parse(JSONEncoder().encode(prompt)) == prompt)

        func check(_ json: String) -> PlanError? { Self.error { _ = try RenderRequest.parse(Data(json.utf8)) } }
        #expect(check(#"{"prompt": "a", "seed": 1}"#) == .missingField("duration"))
        #expect(check(#"{"prompt": "a", "duration": 5}"#) == .missingField("seed"))
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": 1, "strategy": "parallel"}"#) == .invalidStrategy("parallel"))
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": 1, "fps": 8}"#) == .unknownField("fps"))
        #expect(check(#"{"prompt": "a", "duration": -5, "seed": 1}"#) == .durationNotPositive(seconds: -5))
        #expect(check(#"{"storyboard": {"shots": [{"prompt": "a", "start": 0, "end": 1, "x": 0}]}, "seed": 1}"#)
                == .unknownField("storyboard.shots[0].x"))
        let seedType = PlanError.wrongType(field: "seed", expected: "a whole number from 0 to 18446744073709551615")
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": -1}"#) == seedType)
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": 1.5}"#) == seedType)
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": "7"}"#) == seedType)
        #expect(check(#"{"prompt": "a", "duration": 5, "seed": 18446744073709551616}"#) == seedType)
        #expect(check(#"{"prompt": "a", "duration": 1e999, "seed": 1}"#)
                == .wrongType(field: "duration", expected: "a number of seconds"))
    }

    @Test("unusable geometries are refused")
    func geometry() {
        let request = RenderRequest(prompt: "a red ball", duration: 10, seed: 0)
        for geometry in [ModelGeometry(windowFrames: 10), ModelGeometry(windowFrames: 0), ModelGeometry(fps: 0),
                         ModelGeometry(strides: [2, 4]), ModelGeometry(strides: [1, 2, 8]), ModelGeometry(strides: [])] {
            let error = Self.error { _ = try Planner.plan(request, geometry: geometry) }
            guard case .invalidGeometry? = error else { Issue.record("\(geometry) was accepted"); continue }
        }
        #expect(ModelGeometry.reelTiny.plannedStrides == [1, 2, 4, 8, 16, 32])
    }

    @Test("every error is one sentence")
    func descriptions() {
        let errors: [PlanError] = [
            .missingContent, .conflictingContent, .durationNotFinite, .durationNotPositive(seconds: -1),
            .durationTooLong(seconds: 4000, limit: 3600), .durationMismatch(requested: 30, storyboard: 20.5),
            .emptyText(field: "prompt"), .textTooLong(field: "prompt", bytes: 2001, limit: 2000),
            .invalidCharacter(field: "prompt", scalar: 10, position: 3), .noShots, .tooManyShots(count: 300, limit: 256),
            .shotTimeNotFinite(shot: 1), .shotNotForward(shot: 1, start: 2, end: 1), .firstShotNotAtZero(start: 0.5),
            .shotsOverlap(shot: 1, previousEnd: 2, start: 1.5), .shotsGap(shot: 1, previousEnd: 2, start: 2.5),
            .storyboardTooLong(seconds: 3700, limit: 3600), .shotTooShort(shot: 0, seconds: 0.05, fps: 8),
            .inputTooLarge(bytes: 5_000_000, limit: 4_194_304), .invalidUTF8(offset: 3), .malformedJSON("unexpected end"),
            .missingField("shots[1].end"), .wrongType(field: "shots", expected: "a list"),
            .invalidValue(field: "seed", detail: "-1 does not fit"), .unknownField("promt"),
            .invalidTransition(shot: 1, value: "fade"), .invalidStrategy("parallel"), .invalidGeometry("windowFrames is 10"),
        ]
        for error in errors { #expect(Self.isOneSentence(error.description), "\(error)") }
        #expect(PlanError.invalidCharacter(field: "prompt", scalar: 10, position: 3).description.contains("U+000A"))
        #expect(PlanError.durationMismatch(requested: 30, storyboard: 20.5).description.contains("20.5"))
    }
}
