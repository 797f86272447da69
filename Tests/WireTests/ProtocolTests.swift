import Foundation
import Testing
@testable import Wire
import TestSupport

// REEL/1 codec (docs/protocol.md): round trips, one test per rejection rule, and a mutation fuzz.

// MARK: Fixtures

/// Fixed valid messages the rejection tests break one field at a time.
enum WireSample {
    static let ready = Ready(worker: "node-7.farm", models: ["reel-tiny", "reel-small"], maxWindowFrames: 16, threads: 2, credit: 2,
                             heartbeatMilliseconds: 1000)
    static let task = TaskAssignment(
        attempt: "j0001-00ab.L1-0003.2", job: "j0001-00ab", segment: "L1-0003", leaseMilliseconds: 300_000, model: "reel-tiny",
        text: [PromptWeight(prompt: "a red ball bounces", weight: 0.75), PromptWeight(prompt: "a blue cube", weight: 0.25)],
        seed: 42, level: 1, startFrame: 8, stride: 2, frames: 4, frameShape: [2, 3, 3], anchorSlots: [0, 3],
        sampler: SamplerParameters(steps: 20, guidance: 4.5, shift: 3, method: "euler"))
    static let anchors: [Float] = (0..<36).map { Float($0) * 0.25 - 3 }
    static let result = SegmentResult(attempt: "j0001-00ab.L1-0003.2", job: "j0001-00ab", segment: "L1-0003", frames: 4, frameShape: [2, 3, 3],
                                      sha256: String(repeating: "0123456789abcdef", count: 4), computeMilliseconds: 1234)
    static let latents: [Float] = (0..<72).map { Float($0) / 7 - 5 }
    static let progress = Progress(attempt: "j0001-00ab.L1-0003.2", step: 5, steps: 20)
    static let failure = Failure(attempt: "j0001-00ab.L1-0003.2", error: "model reel-huge is not loaded", retryable: false)
    static let heartbeat = Heartbeat(activeAttempts: ["a.1", "b.2"])
    static let disconnect = Disconnect(reason: "SIGTERM", draining: true)
    static let decode = DecodeRequest(decode: "j0001-00ab.d7", model: "reel-tiny", frames: 4, frameShape: [2, 3, 3])
    static let frames = DecodedFrames(decode: "j0001-00ab.d7", frames: 2, width: 4, height: 3)
    static let pixels: [UInt8] = (0..<72).map { UInt8($0 * 3) }

    static func message(_ type: MessageType) -> WireMessage {
        switch type {
        case .ready: .ready(ready)
        case .task: .task(task, anchors: anchors)
        case .progress: .progress(progress)
        case .result: .result(result, latents: latents)
        case .failed: .failed(failure)
        case .heartbeat: .heartbeat(heartbeat)
        case .disconnect: .disconnect(disconnect)
        case .decode: .decode(decode, latents: latents)
        case .frames: .frames(frames, pixels: pixels)
        }
    }
}

/// Random valid messages of every type.
struct RandomMessages {
    var rng: SplitMix64

    static let identifierCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    static let nameCharacters = identifierCharacters + Array(":@+/")
    /// Prompt/error characters: ASCII, JSON specials, multi-byte UTF-8, and the allowed controls.
    static let textCharacters: [Character] = Array("abc XYZ 019 .,;:!?'") + ["\"", "\\", "/", "[", "{", "}", "]", "é", "ß", "漢", "字", "🎬", "👩‍🚀", "\n", "\t", "\r", "~"]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func bool() -> Bool { Bool.random(using: &rng) }

    mutating func string(from characters: [Character], length: ClosedRange<Int>) -> String {
        String((0..<int(length)).map { _ in characters.randomElement(using: &rng)! })
    }

    mutating func identifier() -> String { string(from: Self.identifierCharacters, length: 1...64) }
    mutating func name() -> String { string(from: Self.nameCharacters, length: 1...128) }

    mutating func text(maxBytes: Int, minCharacters: Int = 0) -> String {
        var s = string(from: Self.textCharacters, length: minCharacters...200)
        while s.utf8.count > maxBytes { s.removeLast() }
        return s
    }

    mutating func finiteFloats(_ count: Int) -> [Float] {
        (0..<count).map { _ in
            while true {
                let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
                if f.isFinite { return f }
            }
        }
    }

    mutating func frameShape(frames: Int) -> [Int] {
        (0..<int(1...4)).map { _ in int(1...4) }
    }

    mutating func message(_ type: MessageType) -> WireMessage {
        switch type {
        case .ready:
            var models: [String] = []
            while models.count < int(1...5) { let n = name(); if !models.contains(n) { models.append(n) } }
            return .ready(Ready(worker: name(), models: models, maxWindowFrames: int(1...4096), threads: int(1...4096), credit: int(1...64),
                                heartbeatMilliseconds: int(10...600_000), decodes: bool()))
        case .task:
            let frames = int(1...8)
            let shape = frameShape(frames: frames)
            let slots = (0..<frames).filter { _ in bool() }
            let raw = (0..<int(1...6)).map { _ in Double.random(in: 0.001...10, using: &rng) }
            let total = raw.reduce(0, +)
            let task = TaskAssignment(
                attempt: identifier(), job: identifier(), segment: identifier(), leaseMilliseconds: int(1...86_400_000), model: name(),
                text: raw.map { PromptWeight(prompt: text(maxBytes: 2000), weight: $0 / total) },
                seed: UInt64.random(in: 0...UInt64.max, using: &rng), level: int(0...64), startFrame: int(0...10_000_000),
                stride: int(1...4096), frames: frames, frameShape: shape, anchorSlots: slots,
                sampler: SamplerParameters(steps: int(1...1000), guidance: Double.random(in: 0...100, using: &rng),
                                           shift: Double.random(in: 0.0001...100, using: &rng), method: bool() ? "euler" : "heun"))
            return .task(task, anchors: finiteFloats(task.anchorValueCount))
        case .progress:
            let steps = int(1...1000)
            return .progress(Progress(attempt: identifier(), step: int(0...steps), steps: steps))
        case .result:
            let frames = int(1...8)
            let shape = frameShape(frames: frames)
            let digest = String((0..<64).map { _ in Array("0123456789abcdef").randomElement(using: &rng)! })
            let result = SegmentResult(attempt: identifier(), job: identifier(), segment: identifier(), frames: frames, frameShape: shape,
                                       sha256: digest, computeMilliseconds: int(0...604_800_000))
            return .result(result, latents: finiteFloats(result.latentValueCount))
        case .failed:
            return .failed(Failure(attempt: identifier(), error: text(maxBytes: 4096, minCharacters: 1), retryable: bool()))
        case .heartbeat:
            var attempts: [String] = []
            while attempts.count < int(0...64) { let a = identifier(); if !attempts.contains(a) { attempts.append(a) } }
            return .heartbeat(Heartbeat(activeAttempts: attempts))
        case .disconnect:
            return .disconnect(Disconnect(reason: text(maxBytes: 4096), draining: bool()))
        case .decode:
            let frames = int(1...8)
            let request = DecodeRequest(decode: identifier(), model: name(), frames: frames, frameShape: frameShape(frames: frames))
            return .decode(request, latents: finiteFloats(request.latentValueCount))
        case .frames:
            let decoded = DecodedFrames(decode: identifier(), frames: int(1...8), width: int(1...16), height: int(1...16))
            return .frames(decoded, pixels: (0..<decoded.pixelByteCount).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
    }
}

/// The header of `frames` as editable JSON.
func headerJSON(_ frames: [[UInt8]]) throws -> [String: JSONValue] {
    try JSONDecoder().decode([String: JSONValue].self, from: Data(frames[2]))
}

/// `message` encoded, with its header rewritten by `edit`.
func edited(_ message: WireMessage, _ edit: (inout [String: JSONValue]) -> Void) throws -> [[UInt8]] {
    var frames = message.encoded()
    var header = try headerJSON(frames)
    edit(&header)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    frames[2] = Array(try encoder.encode(header))
    return frames
}

/// `message` encoded, with its header replaced by raw text.
func withHeader(_ message: WireMessage, _ text: String) -> [[UInt8]] {
    var frames = message.encoded()
    frames[2] = Array(text.utf8)
    return frames
}

/// The error decoding `frames` throws; records an issue when it decodes instead.
func rejection(_ frames: [[UInt8]], limits: ProtocolLimits = .standard, sourceLocation: SourceLocation = #_sourceLocation) -> ProtocolError? {
    switch Result(catching: { () throws(ProtocolError) -> WireMessage in try WireMessage.decode(frames, limits: limits) }) {
    case .success(let message):
        Issue.record("expected a rejection, but it decoded as \(message.type.rawValue)", sourceLocation: sourceLocation)
        return nil
    case .failure(let error): return error
    }
}

extension JSONValue {
    /// This object with `key` set (nil removes it).
    func setting(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var fields) = self else { return self }
        fields[key] = value
        return .object(fields)
    }
}

extension ProtocolError {
    /// The case name alone, to check which rule fired without spelling out the reason text.
    var rule: String {
        switch self {
        case .frameCount: "frameCount"
        case .notReel: "notReel"
        case .unsupportedVersion: "unsupportedVersion"
        case .unknownType: "unknownType"
        case .frameTooLarge: "frameTooLarge"
        case .malformedHeader: "malformedHeader"
        case .missingField: "missingField"
        case .wrongType: "wrongType"
        case .outOfRange: "outOfRange"
        case .count: "count"
        case .invalidString: "invalidString"
        case .invalidValue: "invalidValue"
        case .payloadLength: "payloadLength"
        case .nonFinitePayload: "nonFinitePayload"
        case .pixelPayloadLength: "pixelPayloadLength"
        }
    }
}

/// The sample TASK edited, with a payload of the right size.
func sampleTask(_ edit: (inout TaskAssignment) -> Void) -> WireMessage {
    var t = WireSample.task
    edit(&t)
    return .task(t, anchors: [Float](repeating: 0.5, count: max(0, min(t.anchorValueCount, 1 << 20))))
}

/// The sample RESULT edited, with a payload of the right size.
func sampleResult(_ edit: (inout SegmentResult) -> Void) -> WireMessage {
    var r = WireSample.result
    edit(&r)
    return .result(r, latents: [Float](repeating: 0.5, count: max(0, min(r.latentValueCount, 1 << 20))))
}

// MARK: Round trips

@Suite("REEL/1 codec: round trips")
struct ProtocolRoundTripTests {
    @Test("every message type survives encode → decode with random field values", arguments: MessageType.allCases)
    func roundTrip(type: MessageType) throws {
        var random = RandomMessages(rng: SplitMix64(seed: 0x5EED_0000 + UInt64(MessageType.allCases.firstIndex(of: type)!)))
        for _ in 0..<150 {
            let message = random.message(type)
            try message.validate()
            let frames = message.encoded()
            #expect(frames.count == type.frameCount)
            #expect(frames[0] == Array("REEL/1".utf8))
            #expect(frames[1] == Array(type.rawValue.utf8))
            let decoded = try WireMessage.decode(frames)
            #expect(decoded == message)
            #expect(decoded.encoded() == frames, "encoding is deterministic")
            // Float == treats -0 and +0 alike; the payload must survive bit for bit.
            switch (message, decoded) {
            case (.task(_, let a), .task(_, let b)), (.result(_, let a), .result(_, let b)):
                #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            default: break
            }
        }
    }

    @Test("the header is the Codable JSON of the message struct")
    func headerIsCodable() throws {
        var random = RandomMessages(rng: SplitMix64(seed: 77))
        let decoder = JSONDecoder()
        for _ in 0..<20 {
            for type in MessageType.allCases {
                let message = random.message(type)
                let header = Data(message.encoded()[2])
                switch message {
                case .ready(let m): #expect(try decoder.decode(Ready.self, from: header) == m)
                case .task(let m, _): #expect(try decoder.decode(TaskAssignment.self, from: header) == m)
                case .progress(let m): #expect(try decoder.decode(Progress.self, from: header) == m)
                case .result(let m, _): #expect(try decoder.decode(SegmentResult.self, from: header) == m)
                case .failed(let m): #expect(try decoder.decode(Failure.self, from: header) == m)
                case .heartbeat(let m): #expect(try decoder.decode(Heartbeat.self, from: header) == m)
                case .disconnect(let m): #expect(try decoder.decode(Disconnect.self, from: header) == m)
                case .decode(let m, _): #expect(try decoder.decode(DecodeRequest.self, from: header) == m)
                case .frames(let m, _): #expect(try decoder.decode(DecodedFrames.self, from: header) == m)
                }
            }
        }
    }

    @Test("seed travels as a decimal string, all 64 bits intact", arguments: [UInt64]([0, 1, (1 << 53) + 1, UInt64.max]))
    func seedAsString(seed: UInt64) throws {
        let message = sampleTask { $0.seed = seed }
        let frames = message.encoded()
        #expect(try headerJSON(frames)["seed"] == .string(String(seed)))
        guard case .task(let decoded, _) = try WireMessage.decode(frames) else { Issue.record("not a TASK"); return }
        #expect(decoded.seed == seed)
    }

    @Test("float payloads are little-endian IEEE-754 float32")
    func floatBytes() {
        let values: [Float] = [1, -2, 0.5, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let bytes: [UInt8] = [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0x80,
                              0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x7F, 0x7F]
        #expect(values.littleEndianBytes == bytes)
        #expect([Float](littleEndianBytes: bytes).map(\.bitPattern) == values.map(\.bitPattern))
        // A slice at an odd offset (unaligned source), with a trailing partial value that is ignored.
        let shifted: [UInt8] = [0xEE] + bytes + [0x01, 0x02]
        #expect([Float](littleEndianBytes: shifted[1...]).map(\.bitPattern) == values.map(\.bitPattern))
        #expect([Float](littleEndianBytes: [UInt8]()).isEmpty)
        var random = RandomMessages(rng: SplitMix64(seed: 3))
        let many = random.finiteFloats(10_000)
        #expect([Float](littleEndianBytes: many.littleEndianBytes).map(\.bitPattern) == many.map(\.bitPattern))
    }

    @Test("unknown header keys are ignored", arguments: MessageType.allCases)
    func unknownKeysIgnored(type: MessageType) throws {
        let message = WireSample.message(type)
        let frames = try edited(message) {
            $0["futureField"] = .string("v2 feature")
            $0["futureObject"] = .object(["nested": .array([.integer(1), .null, .object(["deep": .bool(true)])])])
        }
        #expect(frames[2] != message.encoded()[2])
        #expect(try WireMessage.decode(frames) == message)
    }

    @Test("integers may be written with an integral fraction or exponent; whitespace is allowed")
    func integralNumbers() throws {
        let frames = withHeader(.progress(WireSample.progress), #" { "attempt" : "a.1", "step" : 5.0, "steps" : 2e1 } "#)
        #expect(try WireMessage.decode(frames) == .progress(Progress(attempt: "a.1", step: 5, steps: 20)))
    }

    @Test("brackets inside strings do not count toward the nesting limit")
    func bracketsInStrings() throws {
        let prompt = String(repeating: "[{", count: 500)
        let message = sampleTask { $0.text = [PromptWeight(prompt: prompt, weight: 1)] }
        #expect(try WireMessage.decode(message.encoded()) == message)
    }

    @Test("values at their bounds are accepted")
    func boundsInclusive() throws {
        let limits = ProtocolLimits.standard
        let edge = sampleTask {
            $0.text = [PromptWeight(prompt: String(repeating: "é", count: 1000), weight: 0.5 + 0.9e-6), PromptWeight(prompt: "", weight: 0.5)]
            $0.level = 64; $0.startFrame = 10_000_000; $0.stride = 4096; $0.frames = 64; $0.frameShape = [1, 1, 1, 4096]
            $0.anchorSlots = Array(0..<64); $0.leaseMilliseconds = 86_400_000
            $0.sampler = SamplerParameters(steps: 1000, guidance: 100, shift: 100, method: "heun")
            $0.attempt = String(repeating: "x", count: 64)
        }
        #expect(try WireMessage.decode(edge.encoded(), limits: limits) == edge)
        let ready = WireMessage.ready(Ready(worker: String(repeating: "w", count: 128), models: ["m"], maxWindowFrames: 4096, threads: 4096,
                                            credit: 64, heartbeatMilliseconds: 10))
        #expect(try WireMessage.decode(ready.encoded()) == ready)
        let progress = WireMessage.progress(Progress(attempt: "a", step: 0, steps: 1))
        #expect(try WireMessage.decode(progress.encoded()) == progress)
        let failure = WireMessage.failed(Failure(attempt: "a", error: String(repeating: "e", count: 4096), retryable: true))
        #expect(try WireMessage.decode(failure.encoded()) == failure)
        let empty = WireMessage.task(WireSample.task.with { $0.anchorSlots = [] }, anchors: [])
        #expect(try WireMessage.decode(empty.encoded()) == empty)
    }
}

extension TaskAssignment {
    func with(_ edit: (inout TaskAssignment) -> Void) -> TaskAssignment {
        var copy = self
        edit(&copy)
        return copy
    }
}

// MARK: Framing rejections

@Suite("REEL/1 codec: framing rejections")
struct ProtocolFramingTests {
    @Test("an empty message is refused")
    func empty() {
        #expect(rejection([]) == .frameCount(type: nil, actual: 0))
    }

    @Test("a message with only a tag is refused")
    func tagOnly() {
        #expect(rejection([Array("REEL/1".utf8)]) == .frameCount(type: nil, actual: 1))
    }

    @Test("frame 0 that is not a REEL tag is refused", arguments: ["HTTP/1.1", "", "reel/1", "REEL1", "REEL/1 ", "REEL/\u{1}"])
    func notReel(tag: String) {
        var frames = WireSample.message(.heartbeat).encoded()
        frames[0] = Array(tag.utf8)
        #expect(rejection(frames)?.rule == "notReel")
    }

    @Test("another REEL version gets its own error", arguments: ["REEL/2", "REEL/0", "REEL/1.1", "REEL/10"])
    func unsupportedVersion(tag: String) {
        var frames = WireSample.message(.ready).encoded()
        frames[0] = Array(tag.utf8)
        #expect(rejection(frames) == .unsupportedVersion(tag))
        // Whatever the rest looks like: the version is checked first.
        #expect(rejection([Array(tag.utf8)]) == .unsupportedVersion(tag))
    }

    @Test("an unknown message type is refused", arguments: ["HELLO", "ready", "", "TASK ", "READY\0"])
    func unknownType(type: String) {
        var frames = WireSample.message(.progress).encoded()
        frames[1] = Array(type.utf8)
        #expect(rejection(frames)?.rule == "unknownType")
    }

    @Test("each type has exactly its frame count", arguments: MessageType.allCases)
    func frameCount(type: MessageType) {
        let frames = WireSample.message(type).encoded()
        #expect(rejection(Array(frames.prefix(2))) == .frameCount(type: type, actual: 2))
        if type.hasPayload {
            #expect(rejection(Array(frames.prefix(3))) == .frameCount(type: type, actual: 3))
            #expect(rejection(frames + [[]]) == .frameCount(type: type, actual: 5))
        } else {
            #expect(rejection(frames + [[]]) == .frameCount(type: type, actual: 4))
        }
    }

    @Test("an oversized header is refused before it is parsed")
    func oversizedHeader() throws {
        let limits = ProtocolLimits.standard
        // Valid JSON padded to exactly the limit decodes; one byte more is refused by size alone.
        let base = WireSample.message(.progress).encoded()
        var frames = base
        frames[2] = base[2] + [UInt8](repeating: 0x20, count: limits.maxHeaderBytes - base[2].count)
        #expect(try WireMessage.decode(frames) == WireSample.message(.progress))
        frames[2].append(0x20)
        #expect(rejection(frames) == .frameTooLarge(frame: 2, bytes: limits.maxHeaderBytes + 1, limit: limits.maxHeaderBytes))
        // A megabyte of '[' would make a recursive parser dig a million levels deep.
        frames[2] = [UInt8](repeating: UInt8(ascii: "["), count: 1 << 20)
        #expect(rejection(frames) == .frameTooLarge(frame: 2, bytes: 1 << 20, limit: limits.maxHeaderBytes))
    }

    @Test("an oversized payload is refused before it is read")
    func oversizedPayload() {
        var frames = WireSample.message(.result).encoded()
        frames[3] = [UInt8](repeating: 0, count: (64 << 20) + 4)
        #expect(rejection(frames) == .frameTooLarge(frame: 3, bytes: (64 << 20) + 4, limit: 64 << 20))
        let small = ProtocolLimits(maxPayloadBytes: 100)
        #expect(rejection(WireSample.message(.task).encoded(), limits: small) == .frameTooLarge(frame: 3, bytes: 144, limit: 100))
    }

    @Test("a payload that does not match the header's shape is refused")
    func payloadLength() {
        var frames = WireSample.message(.task).encoded()
        frames[3].removeLast(4)
        #expect(rejection(frames) == .payloadLength(actualBytes: 140, expectedBytes: 144))
        frames = WireSample.message(.result).encoded()
        frames[3] += [0, 0, 0, 0]
        #expect(rejection(frames) == .payloadLength(actualBytes: 292, expectedBytes: 288))
        frames[3].removeLast(3)
        #expect(rejection(frames) == .payloadLength(actualBytes: 289, expectedBytes: 288))
        frames = sampleTask { $0.anchorSlots = [] }.encoded()
        frames[3] = [0, 0, 0x80, 0x3F]
        #expect(rejection(frames) == .payloadLength(actualBytes: 4, expectedBytes: 0))
    }

    @Test("NaN or infinity in a TASK or RESULT payload is refused",
          arguments: [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7FA0_0001) /* signalling NaN */])
    func nonFinitePayload(bad: Float) {
        var anchors = WireSample.anchors
        anchors[17] = bad
        #expect(rejection(WireMessage.task(WireSample.task, anchors: anchors).encoded()) == .nonFinitePayload(index: 17))
        var latents = WireSample.latents
        latents[71] = bad
        #expect(rejection(WireMessage.result(WireSample.result, latents: latents).encoded()) == .nonFinitePayload(index: 71))
    }
}

// MARK: Header rejections

@Suite("REEL/1 codec: header rejections")
struct ProtocolHeaderTests {
    @Test("a header that is not JSON is refused", arguments: ["", "   ", "{", "{\"attempt\": }", "not json", "{\"a\":1} trailing", "{'a': 1}"])
    func notJSON(text: String) {
        #expect(rejection(withHeader(WireSample.message(.heartbeat), text))?.rule == "malformedHeader")
    }

    @Test("a header that is JSON but not an object is refused", arguments: ["[]", "\"READY\"", "42", "null", "true"])
    func notObject(text: String) {
        #expect(rejection(withHeader(WireSample.message(.heartbeat), text))?.rule == "malformedHeader")
    }

    @Test("a header that is not UTF-8 is refused")
    func notUTF8() {
        var frames = WireSample.message(.failed).encoded()
        frames[2] = Array(#"{"attempt":"a","retryable":true,"error":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(rejection(frames)?.rule == "malformedHeader")
    }

    @Test("a header nested deeper than the limit is refused before parsing")
    func tooDeep() throws {
        let okay = "{\"activeAttempts\":[],\"x\":" + String(repeating: "[", count: 15) + String(repeating: "]", count: 15) + "}"
        #expect(try WireMessage.decode(withHeader(WireSample.message(.heartbeat), okay)) == .heartbeat(Heartbeat(activeAttempts: [])))
        let deep = "{\"activeAttempts\":[],\"x\":" + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "}"
        #expect(rejection(withHeader(WireSample.message(.heartbeat), deep)) == .malformedHeader("it nests arrays and objects deeper than 16 levels"))
        // 60 000 levels inside the size limit: refused by the linear scan, the parser never recurses.
        let hostile = "{\"x\":" + String(repeating: "[", count: 60_000)
        #expect(rejection(withHeader(WireSample.message(.heartbeat), hostile))?.rule == "malformedHeader")
    }

    @Test("every required field of every type is required", arguments: MessageType.allCases)
    func missingField(type: MessageType) throws {
        let message = WireSample.message(type)
        // Optional fields (defaults apply when absent): READY's activeAttempts and decodes, FAILED's refused.
        let optional: Set<String> = type == .ready ? ["activeAttempts", "decodes"] : type == .failed ? ["refused"] : []
        let keys = try headerJSON(message.encoded()).keys.sorted()
        #expect(!keys.isEmpty)
        for key in keys where !optional.contains(key) {
            #expect(rejection(try edited(message) { $0[key] = nil }) == .missingField(key), "removing \(key)")
        }
        for key in optional {
            #expect(keys.contains(key))
            let frames = try edited(message) { $0[key] = nil }
            #expect(throws: Never.self, "removing optional \(key)") { _ = try WireMessage.decode(frames) }
        }
    }

    @Test("nested required fields are required")
    func missingNestedField() throws {
        let message = WireSample.message(.task)
        #expect(rejection(try edited(message) { $0["sampler"] = $0["sampler"]!.setting("steps", nil) }) == .missingField("sampler.steps"))
        #expect(rejection(try edited(message) { $0["text"] = .array([.object(["prompt": .string("x")])]) }) == .missingField("text[0].weight"))
    }

    @Test("a field of the wrong JSON type is refused")
    func wrongType() throws {
        let task = WireSample.message(.task)
        let cases: [(WireMessage, String, JSONValue, ProtocolError)] = [
            (task, "frames", .string("4"), .wrongType(field: "frames", expected: "an integer")),
            (task, "frames", .bool(true), .wrongType(field: "frames", expected: "an integer")),
            (task, "frames", .null, .wrongType(field: "frames", expected: "an integer")),
            (task, "frames", .number(1.5), .wrongType(field: "frames", expected: "an integer")),
            (task, "frames", .number(1e30), .wrongType(field: "frames", expected: "an integer")),
            (task, "attempt", .integer(5), .wrongType(field: "attempt", expected: "a string")),
            (task, "frameShape", .array([.integer(2), .string("3"), .integer(3)]), .wrongType(field: "frameShape[1]", expected: "an integer")),
            (task, "frameShape", .integer(18), .wrongType(field: "frameShape", expected: "an array")),
            (task, "text", .object([:]), .wrongType(field: "text", expected: "an array")),
            (task, "text", .array([.string("a red ball")]), .wrongType(field: "text[0]", expected: "an object")),
            (task, "sampler", .string("euler"), .wrongType(field: "sampler", expected: "an object")),
            (.failed(WireSample.failure), "retryable", .integer(1), .wrongType(field: "retryable", expected: "true or false")),
            (.heartbeat(WireSample.heartbeat), "activeAttempts", .array([.integer(1)]), .wrongType(field: "activeAttempts[0]", expected: "a string")),
            (.ready(WireSample.ready), "models", .string("reel-tiny"), .wrongType(field: "models", expected: "an array")),
        ]
        for (message, key, value, expected) in cases {
            #expect(rejection(try edited(message) { $0[key] = value }) == expected, "\(key) = \(value)")
        }
        let weight = try edited(task) { $0["text"] = .array([.object(["prompt": .string("x"), "weight": .string("1")])]) }
        #expect(rejection(weight) == .wrongType(field: "text[0].weight", expected: "a number"))
    }

    @Test("the seed must be a decimal string")
    func seedFormat() throws {
        let task = WireSample.message(.task)
        #expect(rejection(try edited(task) { $0["seed"] = .integer(42) }) == .wrongType(field: "seed", expected: "a decimal string such as \"42\""))
        for bad in ["", "-1", "+1", "01", " 1", "1 ", "1e3", "0x10", "18446744073709551616", "99999999999999999999999"] {
            let error = rejection(try edited(task) { $0["seed"] = .string(bad) })
            #expect(error?.rule == "invalidValue" && error?.field == "seed", "seed \"\(bad)\"")
        }
    }

    @Test("attempt, job and segment ids are 1 to 64 characters of [A-Za-z0-9._-]")
    func identifiers() {
        for bad in ["", String(repeating: "a", count: 65), "a b", "é", "a/b", "a:b", "a\nb"] {
            for (message, field) in [(sampleTask { $0.attempt = bad }, "attempt"), (sampleTask { $0.job = bad }, "job"), (sampleTask { $0.segment = bad }, "segment"),
                                     (sampleResult { $0.attempt = bad }, "attempt"), (.progress(Progress(attempt: bad, step: 0, steps: 1)), "attempt"),
                                     (.failed(Failure(attempt: bad, error: "x", retryable: true)), "attempt"),
                                     (.heartbeat(Heartbeat(activeAttempts: ["ok", bad])), "activeAttempts[1]")] {
                let error = rejection(message.encoded())
                #expect(error?.rule == "invalidString" && error?.field == field, "\(field) = \"\(bad)\"")
            }
        }
    }

    @Test("worker and model names are 1 to maxNameBytes characters of [A-Za-z0-9._:@+/-]")
    func names() {
        for bad in ["", String(repeating: "n", count: 129), "node 7", "nöde", "a\"b"] {
            var ready = WireSample.ready
            ready.worker = bad
            #expect(rejection(WireMessage.ready(ready).encoded())?.field == "worker", "worker \"\(bad)\"")
            ready = WireSample.ready
            ready.models = ["reel-tiny", bad]
            #expect(rejection(WireMessage.ready(ready).encoded())?.field == "models[1]", "model \"\(bad)\"")
            let error = rejection(sampleTask { $0.model = bad }.encoded())
            #expect(error?.rule == "invalidString" && error?.field == "model")
        }
    }

    @Test("READY lists 1 to maxModels distinct models")
    func modelList() {
        var ready = WireSample.ready
        ready.models = []
        #expect(rejection(WireMessage.ready(ready).encoded()) == .count(field: "models", actual: 0, allowed: 1...64))
        ready.models = (0..<65).map { "m\($0)" }
        #expect(rejection(WireMessage.ready(ready).encoded()) == .count(field: "models", actual: 65, allowed: 1...64))
        ready.models = ["reel-tiny", "reel-tiny"]
        #expect(rejection(WireMessage.ready(ready).encoded())?.rule == "invalidValue")
    }

    @Test("READY numbers are in bounds")
    func readyBounds() {
        let cases: [(WritableKeyPath<Ready, Int>, Int, String, String)] = [
            (\.credit, 0, "credit", "range 1...64"), (\.credit, 65, "credit", "range 1...64"),
            (\.threads, 0, "threads", "range 1...4096"), (\.maxWindowFrames, 0, "maxWindowFrames", "range 1...4096"),
            (\.heartbeatMilliseconds, 9, "heartbeatMilliseconds", "range 10...600000"),
            (\.heartbeatMilliseconds, 600_001, "heartbeatMilliseconds", "range 10...600000"),
        ]
        for (path, value, field, allowed) in cases {
            var ready = WireSample.ready
            ready[keyPath: path] = value
            #expect(rejection(WireMessage.ready(ready).encoded()) == .outOfRange(field: field, value: "\(value)", allowed: allowed))
        }
    }

    @Test("prompts are at most maxPromptBytes UTF-8 bytes without control characters")
    func prompts() throws {
        // 1001 characters but 2001 bytes: the limit counts bytes.
        let long = String(repeating: "é", count: 1000) + "x"
        let error = rejection(sampleTask { $0.text = [PromptWeight(prompt: long, weight: 1)] }.encoded())
        #expect(error?.rule == "invalidString" && error?.field == "text[0].prompt")
        let control = rejection(sampleTask { $0.text[1].prompt = "red\u{1B}[31m ball" }.encoded())
        #expect(control?.rule == "invalidString" && control?.field == "text[1].prompt")
        #expect(control?.description.contains("U+001B") == true)
        let nul = rejection(sampleTask { $0.text[1].prompt = "a\0b" }.encoded())
        #expect(nul?.field == "text[1].prompt")
        let fine = sampleTask { $0.text[1].prompt = "line one\nline\ttwo\r\n" }
        #expect(try WireMessage.decode(fine.encoded()) == fine, "newlines and tabs are allowed")
    }

    @Test("a TASK has 1 to maxPrompts prompts")
    func promptCount() {
        #expect(rejection(sampleTask { $0.text = [] }.encoded()) == .count(field: "text", actual: 0, allowed: 1...64))
        let many = (0..<65).map { PromptWeight(prompt: "p\($0)", weight: 1.0 / 65) }
        #expect(rejection(sampleTask { $0.text = many }.encoded()) == .count(field: "text", actual: 65, allowed: 1...64))
        let three = (0..<3).map { PromptWeight(prompt: "p\($0)", weight: 1.0 / 3) }
        #expect(rejection(sampleTask { $0.text = three }.encoded(), limits: ProtocolLimits(maxPrompts: 2)) == .count(field: "text", actual: 3, allowed: 1...2))
    }

    @Test("prompt weights are finite, non-negative and sum to 1")
    func weights() {
        let negative = rejection(sampleTask { $0.text = [PromptWeight(prompt: "a", weight: 1.5), PromptWeight(prompt: "b", weight: -0.5)] }.encoded())
        #expect(negative?.rule == "outOfRange" && negative?.field == "text[1].weight")
        let short = rejection(sampleTask { $0.text[0].weight = 0.65 }.encoded())
        #expect(short?.rule == "invalidValue" && short?.field == "text")
        let slightlyOff = rejection(sampleTask { $0.text[0].weight = 0.75 + 3e-6 }.encoded())
        #expect(slightlyOff?.rule == "invalidValue", "2 prompts allow ±2e-6, not 3e-6")
        let nan = WireMessage.task(WireSample.task.with { $0.text[0].weight = .nan }, anchors: WireSample.anchors)
        #expect(Result { () throws(ProtocolError) in try nan.validate() }.thrownError?.field == "text[0].weight")
        // JSON cannot carry NaN: the encoder writes it as a string, which the decoder refuses by type.
        #expect(rejection(nan.encoded()) == .wrongType(field: "text[0].weight", expected: "a number"))
    }

    @Test("window placement numbers are in bounds")
    func placementBounds() {
        let cases: [(WritableKeyPath<TaskAssignment, Int>, Int, String, String)] = [
            (\.frames, 0, "frames", "range 1...64"), (\.frames, 65, "frames", "range 1...64"),
            (\.stride, 0, "stride", "range 1...4096"), (\.stride, 4097, "stride", "range 1...4096"),
            (\.startFrame, -1, "startFrame", "range 0...10000000"), (\.startFrame, 10_000_001, "startFrame", "range 0...10000000"),
            (\.level, -1, "level", "range 0...64"), (\.level, 65, "level", "range 0...64"),
            (\.leaseMilliseconds, 0, "leaseMilliseconds", "range 1...86400000"),
            (\.leaseMilliseconds, 86_400_001, "leaseMilliseconds", "range 1...86400000"),
        ]
        for (path, value, field, allowed) in cases {
            #expect(rejection(sampleTask { $0[keyPath: path] = value }.encoded()) == .outOfRange(field: field, value: "\(value)", allowed: allowed))
        }
    }

    @Test("frameShape has 1 to 4 dimensions of 1 to 4096, within maxLatentValues")
    func frameShape() {
        #expect(rejection(sampleTask { $0.frameShape = [] }.encoded()) == .count(field: "frameShape", actual: 0, allowed: 1...4))
        #expect(rejection(sampleTask { $0.frameShape = [1, 1, 1, 1, 1] }.encoded()) == .count(field: "frameShape", actual: 5, allowed: 1...4))
        #expect(rejection(sampleTask { $0.frameShape = [2, 0, 3] }.encoded()) == .outOfRange(field: "frameShape[1]", value: "0", allowed: "range 1...4096"))
        #expect(rejection(sampleResult { $0.frameShape = [4097] }.encoded()) == .outOfRange(field: "frameShape[0]", value: "4097", allowed: "range 1...4096"))
        // 64 frames × 4096 × 4096 values is far over 16 Mi values; refused before any payload is expected.
        var frames = sampleTask { $0.frames = 64; $0.frameShape = [4096, 4096]; $0.anchorSlots = [] }.encoded()
        frames[3] = []
        #expect(rejection(frames)?.rule == "invalidValue")
        #expect(rejection(sampleResult { $0.frameShape = [4096, 2048] }.encoded())?.field == "frameShape")
    }

    @Test("anchorSlots are strictly increasing slots inside the window, at most maxAnchors")
    func anchorSlots() {
        #expect(rejection(sampleTask { $0.anchorSlots = [3, 0] }.encoded())?.rule == "invalidValue")
        #expect(rejection(sampleTask { $0.anchorSlots = [1, 1] }.encoded())?.rule == "invalidValue")
        #expect(rejection(sampleTask { $0.anchorSlots = [0, 4] }.encoded()) == .outOfRange(field: "anchorSlots[1]", value: "4", allowed: "range 0...3"))
        #expect(rejection(sampleTask { $0.anchorSlots = [-1] }.encoded()) == .outOfRange(field: "anchorSlots[0]", value: "-1", allowed: "range 0...3"))
        #expect(rejection(WireSample.message(.task).encoded(), limits: ProtocolLimits(maxAnchors: 1)) == .count(field: "anchorSlots", actual: 2, allowed: 0...1))
    }

    @Test("sampler parameters are in bounds")
    func sampler() {
        func with(_ edit: (inout SamplerParameters) -> Void) -> WireMessage { sampleTask { edit(&$0.sampler) } }
        #expect(rejection(with { $0.steps = 0 }.encoded()) == .outOfRange(field: "sampler.steps", value: "0", allowed: "range 1...1000"))
        #expect(rejection(with { $0.steps = 1001 }.encoded()) == .outOfRange(field: "sampler.steps", value: "1001", allowed: "range 1...1000"))
        #expect(rejection(with { $0.guidance = -0.5 }.encoded())?.field == "sampler.guidance")
        #expect(rejection(with { $0.guidance = 100.5 }.encoded())?.field == "sampler.guidance")
        #expect(rejection(with { $0.shift = 0 }.encoded())?.field == "sampler.shift")
        #expect(rejection(with { $0.shift = 101 }.encoded())?.field == "sampler.shift")
        #expect(rejection(with { $0.method = "rk4" }.encoded())?.rule == "invalidValue")
        #expect(rejection(with { $0.method = "Euler" }.encoded())?.field == "sampler.method")
        #expect(rejection(with { $0.steps = 30 }.encoded(), limits: ProtocolLimits(maxSteps: 25))?.field == "sampler.steps")
    }

    @Test("PROGRESS has 1 to maxSteps steps and 0 to steps done")
    func progress() {
        #expect(rejection(WireMessage.progress(Progress(attempt: "a", step: 21, steps: 20)).encoded()) == .outOfRange(field: "step", value: "21", allowed: "range 0...20"))
        #expect(rejection(WireMessage.progress(Progress(attempt: "a", step: -1, steps: 20)).encoded())?.field == "step")
        #expect(rejection(WireMessage.progress(Progress(attempt: "a", step: 0, steps: 0)).encoded())?.field == "steps")
        #expect(rejection(WireMessage.progress(Progress(attempt: "a", step: 0, steps: 1001)).encoded())?.field == "steps")
    }

    @Test("RESULT carries a lowercase hex SHA-256 and a non-negative compute time")
    func resultFields() {
        for bad in [String(repeating: "A", count: 64), String(repeating: "a", count: 63), String(repeating: "a", count: 65),
                    String(repeating: "g", count: 64), ""] {
            let error = rejection(sampleResult { $0.sha256 = bad }.encoded())
            #expect(error?.rule == "invalidString" && error?.field == "sha256", "sha256 \(bad)")
        }
        #expect(rejection(sampleResult { $0.computeMilliseconds = -1 }.encoded())?.field == "computeMilliseconds")
        #expect(rejection(sampleResult { $0.frames = 0 }.encoded()) == .outOfRange(field: "frames", value: "0", allowed: "range 1...64"))
    }

    @Test("FAILED errors and DISCONNECT reasons are bounded text")
    func freeText() throws {
        let longError = try edited(.failed(WireSample.failure)) { $0["error"] = .string(String(repeating: "e", count: 4097)) }
        #expect(rejection(longError)?.field == "error")
        let emptyError = try edited(.failed(WireSample.failure)) { $0["error"] = .string("") }
        #expect(rejection(emptyError)?.rule == "invalidString")
        let nulError = try edited(.failed(WireSample.failure)) { $0["error"] = .string("a\0b") }
        #expect(rejection(nulError)?.field == "error")
        let longReason = try edited(.disconnect(WireSample.disconnect)) { $0["reason"] = .string(String(repeating: "r", count: 4097)) }
        #expect(rejection(longReason)?.field == "reason")
        let emptyReason = try edited(.disconnect(WireSample.disconnect)) { $0["reason"] = .string("") }
        #expect(try WireMessage.decode(emptyReason) == .disconnect(Disconnect(reason: "", draining: true)))
    }

    @Test("HEARTBEAT lists at most maxCredit distinct attempts")
    func heartbeat() {
        let many = Heartbeat(activeAttempts: (0..<65).map { "a\($0)" })
        #expect(rejection(WireMessage.heartbeat(many).encoded()) == .count(field: "activeAttempts", actual: 65, allowed: 0...64))
        #expect(rejection(WireMessage.heartbeat(Heartbeat(activeAttempts: ["a", "b", "a"])).encoded())?.rule == "invalidValue")
    }
}

// MARK: Senders

@Suite("REEL/1 codec: senders")
struct ProtocolSenderTests {
    @Test("validate() applies the decoder's rules to a message built in Swift")
    func validateBeforeSending() {
        func failure(_ message: WireMessage) -> ProtocolError? { Result { () throws(ProtocolError) in try message.validate() }.thrownError }
        #expect(failure(.task(WireSample.task, anchors: Array(WireSample.anchors.dropLast()))) == .payloadLength(actualBytes: 140, expectedBytes: 144))
        var latents = WireSample.latents
        latents[3] = .nan
        #expect(failure(.result(WireSample.result, latents: latents)) == .nonFinitePayload(index: 3))
        #expect(failure(.heartbeat(Heartbeat(activeAttempts: ["bad id"])))?.field == "activeAttempts[0]")
        #expect(failure(WireSample.message(.task)) == nil)
    }

    @Test("Failure and Disconnect make any error text sendable")
    func sendableText() throws {
        let long = String(repeating: "€", count: 2000)  // 6000 bytes
        let clipped = Failure(attempt: "a", error: long + "\u{1B}[0m", retryable: true)
        #expect(clipped.error.utf8.count <= 4096 && clipped.error.utf8.count > 4090)
        #expect(clipped.error.allSatisfy { $0 == "€" })
        #expect(Failure(attempt: "a", error: "", retryable: true).error == "unspecified error")
        #expect(Failure(attempt: "a", error: "bad\u{0}byte\u{7}", retryable: true).error == "bad byte ")
        #expect(Disconnect(reason: String(repeating: "x", count: 5000), draining: false).reason.utf8.count == 4096)
        for message in [WireMessage.failed(clipped), .failed(Failure(attempt: "a", error: "\u{1}", retryable: false))] {
            #expect(try WireMessage.decode(message.encoded()) == message)
        }
    }

    @Test("every error is one sentence naming what is wrong")
    func descriptions() throws {
        var errors: [ProtocolError] = [
            .frameCount(type: nil, actual: 1), .frameCount(type: .task, actual: 3), .notReel("HTTP/1.1"), .unsupportedVersion("REEL/2"),
            .unknownType("HELLO"), .frameTooLarge(frame: 2, bytes: 70_000, limit: 65_536), .nonFinitePayload(index: 3),
            .payloadLength(actualBytes: 4, expectedBytes: 8),
        ]
        for frames in [try edited(.task(WireSample.task, anchors: WireSample.anchors)) { $0["seed"] = .string("-1") },
                       sampleTask { $0.frames = 0 }.encoded(), sampleTask { $0.attempt = "a b" }.encoded(), sampleTask { $0.text = [] }.encoded(),
                       try edited(.progress(WireSample.progress)) { $0["steps"] = nil }, withHeader(.progress(WireSample.progress), "[")] {
            if let error = rejection(frames) { errors.append(error) }
        }
        #expect(errors.count == 14)
        for error in errors {
            let text = error.description
            #expect(text.first?.isUppercase == true && text.hasSuffix(".") && !text.contains("\n"), "\(text)")
            if let field = error.field { #expect(text.contains("`\(field)`")) }
        }
        #expect(ProtocolError.unsupportedVersion("REEL/2").description.contains("REEL/2"))
    }
}

extension Result {
    /// The error, when this is a failure.
    var thrownError: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

// MARK: Fuzz

@Suite("REEL/1 codec: fuzz")
struct ProtocolFuzzTests {
    /// Small payload limit so "oversize" mutations stay cheap; everything else standard.
    static let limits = ProtocolLimits(maxPayloadBytes: 1 << 16)

    struct Mutator {
        var rng: SplitMix64
        let limits: ProtocolLimits

        mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }

        mutating func garbage(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) } }

        /// A frame index to hit, biased toward the header, where most of the rules live.
        mutating func target(_ frames: [[UInt8]]) -> Int {
            if frames.count > 2, int(0...9) < 8 { return 2 }
            return int(0...(frames.count - 1))
        }

        mutating func mutate(_ original: [[UInt8]]) -> [[UInt8]] {
            var frames = original
            for _ in 0..<int(1...3) {
                if frames.isEmpty { frames = [garbage(int(0...8))] }
                let i = target(frames)
                // Byte-level mutations (0-6, 11) and structure-aware ones (7-9, 12) equally often.
                let kinds = [0, 1, 2, 3, 4, 5, 6, 11, 10, 7, 7, 7, 8, 8, 8, 9, 9, 12, 12]
                switch kinds.randomElement(using: &rng)! {
                case 0: frames[i] = Array(frames[i].prefix(int(0...frames[i].count)))
                case 1:
                    for _ in 0..<int(1...4) where !frames[i].isEmpty {
                        frames[i][int(0...(frames[i].count - 1))] = UInt8.random(in: 0...255, using: &rng)
                    }
                case 2: frames[i].insert(contentsOf: garbage(int(1...16)), at: int(0...frames[i].count))
                case 3: frames.insert(frames[i], at: int(0...frames.count))
                case 4: frames.remove(at: i)
                case 5: frames.swapAt(i, int(0...(frames.count - 1)))
                case 6:
                    // Oversize the header or the payload by a little.
                    if frames.count > 3, int(0...1) == 0 {
                        frames[3] += [UInt8](repeating: 0, count: max(0, limits.maxPayloadBytes - frames[3].count) + int(1...8))
                    } else if frames.count > 2 {
                        frames[2] += [UInt8](repeating: 0x20, count: max(0, limits.maxHeaderBytes - frames[2].count) + int(1...8))
                    }
                case 7: frames[i] = replacingNumber(in: frames[i])
                case 8: frames[i] = replacingString(in: frames[i])
                case 9: frames[i] = droppingKey(in: frames[i])
                case 12: frames[i] = replacingArray(in: frames[i])
                case 10:
                    let choices = ["REEL/1", "REEL/2", "REEL/1 ", "", "reel/1"] + MessageType.allCases.map(\.rawValue)
                    frames[int(0...min(1, frames.count - 1))] = Array(choices.randomElement(using: &rng)!.utf8)
                default:
                    // Flip one payload bit, or plant a NaN/infinity at a value boundary.
                    guard frames.count > 3, frames[3].count >= 4 else { break }
                    if int(0...1) == 0 {
                        frames[3][int(0...(frames[3].count - 1))] ^= UInt8(1) << UInt8(int(0...7))
                    } else {
                        let at = int(0...(frames[3].count / 4 - 1)) * 4
                        frames[3].replaceSubrange(at..<(at + 4), with: int(0...1) == 0 ? [0x00, 0x00, 0xC0, 0x7F] : [0x00, 0x00, 0x80, 0xFF])
                    }
                }
            }
            return frames
        }

        /// Replaces one run of digits (with its sign and fraction) by a hostile number.
        mutating func replacingNumber(in bytes: [UInt8]) -> [UInt8] {
            let starts = bytes.indices.filter { (bytes[$0] >= 0x30 && bytes[$0] <= 0x39) && ($0 == 0 || !(bytes[$0 - 1] >= 0x30 && bytes[$0 - 1] <= 0x39)) }
            guard let start = starts.randomElement(using: &rng) else { return bytes }
            var end = start
            while end < bytes.count, (bytes[end] >= 0x30 && bytes[end] <= 0x39) || bytes[end] == UInt8(ascii: ".") { end += 1 }
            let replacement = ["-1", "0", "1e999", "99999999999999999999", "1.5", "-0", "4097", "65", "1001", "10000001", "1e-400", "3", "\"7\"", "null", "true"]
            return Array(bytes[..<start]) + Array(replacement.randomElement(using: &rng)!.utf8) + Array(bytes[end...])
        }

        /// Replaces the contents of one JSON string (key or value) by a hostile one.
        mutating func replacingString(in bytes: [UInt8]) -> [UInt8] {
            let quotes = bytes.indices.filter { bytes[$0] == UInt8(ascii: "\"") && ($0 == 0 || bytes[$0 - 1] != UInt8(ascii: "\\")) }
            guard quotes.count >= 2 else { return bytes }
            let pair = int(0...(quotes.count / 2 - 1)) * 2
            let (open, close) = (quotes[pair], quotes[pair + 1])
            let replacement = ["", " ", "é", String(repeating: "x", count: 2001), "\\u0001", "\\u0000", "REEL", "[[[[", "a b", "\\ud800", "euler", "heun",
                               String(repeating: "f", count: 64), "18446744073709551615", "18446744073709551616"]
            return Array(bytes[...open]) + Array(replacement.randomElement(using: &rng)!.utf8) + Array(bytes[close...])
        }

        /// Replaces the contents of one innermost JSON array by too few or too many entries.
        mutating func replacingArray(in bytes: [UInt8]) -> [UInt8] {
            let opens = bytes.indices.filter { bytes[$0] == UInt8(ascii: "[") }
            guard let open = opens.randomElement(using: &rng), let close = bytes[open...].firstIndex(of: UInt8(ascii: "]")) else { return bytes }
            let replacement = ["", "1,1,1,1,1", "0", "3,1", "2,2", String(repeating: "\"a\",", count: 65) + "\"a\"", "\"x\",\"x\""]
            return Array(bytes[...open]) + Array(replacement.randomElement(using: &rng)!.utf8) + Array(bytes[close...])
        }

        /// Removes one `"key":value` pair by cutting from a quote to the next comma.
        mutating func droppingKey(in bytes: [UInt8]) -> [UInt8] {
            let commas = bytes.indices.filter { bytes[$0] == UInt8(ascii: ",") }
            guard let comma = commas.randomElement(using: &rng), let next = bytes[(comma + 1)...].firstIndex(of: UInt8(ascii: ",")) else { return bytes }
            return Array(bytes[..<comma]) + Array(bytes[next...])
        }
    }

    @Test("20 000 mutated messages never crash: each decodes to a valid message or throws ProtocolError")
    func mutations() throws {
        var random = RandomMessages(rng: SplitMix64(seed: 2024))
        var corpus: [[[UInt8]]] = []
        for type in MessageType.allCases {
            for _ in 0..<6 { corpus.append(random.message(type).encoded()) }
        }
        var mutator = Mutator(rng: SplitMix64(seed: 99), limits: Self.limits)
        var accepted = 0
        var rules: [String: Int] = [:]
        for _ in 0..<20_000 {
            let frames = mutator.mutate(corpus.randomElement(using: &mutator.rng)!)
            switch Result(catching: { () throws(ProtocolError) -> WireMessage in try WireMessage.decode(frames, limits: Self.limits) }) {
            case .success(let message):
                accepted += 1
                // Whatever got through is a valid message that survives its own round trip.
                #expect(Result { () throws(ProtocolError) in try message.validate(limits: Self.limits) }.thrownError == nil)
                #expect(try WireMessage.decode(message.encoded(), limits: Self.limits) == message)
            case .failure(let error):
                rules[error.rule, default: 0] += 1
                #expect(error.description.hasSuffix("."))
            }
        }
        // The mutations must reach both outcomes and most of the rules, or the fuzz proves little.
        #expect(accepted > 100, "accepted \(accepted)")
        #expect(rules.values.reduce(0, +) > 10_000)
        #expect(rules.count == 15, "every rejection rule is reached; hit: \(rules)")
    }
}

@Suite("REEL/1 codec: the header parser")
struct HeaderParserTests {
    /// The parser Foundation's JSONDecoder used to be for headers, as the reference.
    static func reference(_ bytes: [UInt8]) -> [String: JSONValue]? {
        try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
    }

    static func parsed(_ bytes: [UInt8]) -> [String: JSONValue]? {
        try? HeaderJSONParser.object(bytes)
    }

    @Test("reads the same values as JSONDecoder", arguments: [
        #"{}"#, #" { "a" : 1 } "#, #"{"a":-0,"b":1.0,"c":3e0,"d":1.5,"e":-2.25e-3,"f":99999999999999999999}"#,
        #"{"s":"é\u00e9\n\t\"\\\/","t":"\ud83d\ude00","n":null,"b":[true,false,[],{}]}"#,
        #"{"a":1,"a":2}"#, #"{"big":9223372036854775807,"small":-9223372036854775808}"#,
        #"{"x":[1,2,3],"y":{"z":[{"w":"v"}]}}"#,
    ])
    func sameValues(text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.parsed(bytes) != nil, "\(text)")
        #expect(Self.parsed(bytes) == Self.reference(bytes), "\(text)")
    }

    @Test("refuses what is not one JSON object", arguments: [
        "", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}", "[1]", "\"s\"", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
        "{\"a\":1e}", "{\"a\":+1}", "{\"a\":1e999}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"raw\ttab\"}", "{'a':1}", "{\"a\":1} x", "{\"a\":1}}", "{\"a\" 1}", "{\"a\":[1 2]}", "{\"a\":NaN}",
    ])
    func refuses(text: String) {
        #expect(Self.parsed(Array(text.utf8)) == nil, "\(text)")
    }

    @Test("the header writer writes what JSONEncoder wrote, for random messages of every type")
    func writerMatchesJSONEncoder() throws {
        var random = RandomMessages(rng: SplitMix64(seed: 5))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for type in MessageType.allCases {
            for _ in 0..<50 {
                let message = random.message(type)
                let written = message.encoded()[2]
                let reference: Data
                switch message {
                case .ready(let m): reference = try encoder.encode(m)
                case .task(let m, _): reference = try encoder.encode(m)
                case .progress(let m): reference = try encoder.encode(m)
                case .result(let m, _): reference = try encoder.encode(m)
                case .failed(let m): reference = try encoder.encode(m)
                case .heartbeat(let m): reference = try encoder.encode(m)
                case .disconnect(let m): reference = try encoder.encode(m)
                case .decode(let m, _): reference = try encoder.encode(m)
                case .frames(let m, _): reference = try encoder.encode(m)
                }
                #expect(Self.parsed(written) != nil)
                #expect(Self.parsed(written) == Self.reference(Array(reference)), "\(type)")
                #expect(try WireMessage.decode(message.encoded()) == message)
            }
        }
    }

    @Test("agrees with JSONDecoder on 20 000 mutated headers")
    func agreesOnMutations() {
        var random = RandomMessages(rng: SplitMix64(seed: 7))
        var corpus: [[[UInt8]]] = []
        for type in MessageType.allCases {
            for _ in 0..<6 { corpus.append(random.message(type).encoded()) }
        }
        var mutator = ProtocolFuzzTests.Mutator(rng: SplitMix64(seed: 11), limits: ProtocolFuzzTests.limits)
        var (both, neither) = (0, 0)
        for _ in 0..<20_000 {
            let frames = mutator.mutate(corpus.randomElement(using: &mutator.rng)!)
            guard frames.count > 2 else { continue }
            let header = frames[2]
            let mine = Self.parsed(header), theirs = Self.reference(header)
            #expect(mine == theirs, "\(String(decoding: header, as: UTF8.self))")
            if mine != nil { both += 1 } else { neither += 1 }
        }
        #expect(both > 1000 && neither > 1000, "accepted \(both), refused \(neither)")
    }
}
