import Foundation

// The worker↔coordinator protocol, REEL/1 (docs/protocol.md is the specification).
// A message is 3 or 4 ZeroMQ frames (a ROUTER's identity frame is outside this codec):
//   [0] tag "REEL/1"  [1] type "READY"…  [2] header: UTF-8 JSON object  [3] payload (TASK, RESULT, DECODE, FRAMES)
// This file is pure Swift: frames in, validated messages out, and back. Sockets live in ZMQ.swift.

/// The tag every REEL/1 message starts with (frame 0).
public let protocolTag = "REEL/1"

/// Upper bounds on everything a peer can send. A message over any of them is refused with a
/// `ProtocolError`, before any work proportional to the excess is done.
public struct ProtocolLimits: Sendable, Equatable {
    /// Largest header frame (frame 2), in bytes. Checked before the JSON is parsed.
    public var maxHeaderBytes: Int
    /// Largest payload frame (frame 3), in bytes.
    public var maxPayloadBytes: Int
    /// Longest prompt, in UTF-8 bytes.
    public var maxPromptBytes: Int
    /// Most weighted prompts in one TASK.
    public var maxPrompts: Int
    /// Longest worker or model name, in bytes (names are ASCII).
    public var maxNameBytes: Int
    /// Longest FAILED error text or DISCONNECT reason, in UTF-8 bytes.
    public var maxErrorBytes: Int
    /// Most sampler steps.
    public var maxSteps: Int
    /// Most latent frames in one window (TASK/RESULT `frames`).
    public var maxWindowFrames: Int
    /// Most anchor slots in one TASK.
    public var maxAnchors: Int
    /// Most float32 values in one latent window (`frames × product(frameShape)`).
    public var maxLatentValues: Int
    /// Most tasks one worker holds at once; also bounds HEARTBEAT `activeAttempts`.
    public var maxCredit: Int
    /// Deepest nesting of JSON arrays/objects in a header (the top-level object is depth 1).
    public var maxHeaderDepth: Int
    /// Most model names in READY.
    public var maxModels: Int

    public init(maxHeaderBytes: Int = 65_536, maxPayloadBytes: Int = 64 << 20, maxPromptBytes: Int = 2000, maxPrompts: Int = 64,
                maxNameBytes: Int = 128, maxErrorBytes: Int = 4096, maxSteps: Int = 1000, maxWindowFrames: Int = 64,
                maxAnchors: Int = 64, maxLatentValues: Int = 16 << 20, maxCredit: Int = 64, maxHeaderDepth: Int = 16,
                maxModels: Int = 64) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxPayloadBytes = maxPayloadBytes
        self.maxPromptBytes = maxPromptBytes
        self.maxPrompts = maxPrompts
        self.maxNameBytes = maxNameBytes
        self.maxErrorBytes = maxErrorBytes
        self.maxSteps = maxSteps
        self.maxWindowFrames = maxWindowFrames
        self.maxAnchors = maxAnchors
        self.maxLatentValues = maxLatentValues
        self.maxCredit = maxCredit
        self.maxHeaderDepth = maxHeaderDepth
        self.maxModels = maxModels
    }

    /// The defaults of docs/protocol.md ("Limits").
    public static let standard = ProtocolLimits()
}

/// Frame 1: what a message is.
public enum MessageType: String, Sendable, CaseIterable {
    case ready = "READY", task = "TASK", progress = "PROGRESS", result = "RESULT", failed = "FAILED"
    case heartbeat = "HEARTBEAT", disconnect = "DISCONNECT", decode = "DECODE", frames = "FRAMES"

    /// Whether a payload frame (frame 3) follows the header.
    public var hasPayload: Bool { self == .task || self == .result || self == .decode || self == .frames }

    /// Frames a message of this type has: 4 with a payload, else 3.
    public var frameCount: Int { hasPayload ? 4 : 3 }
}

/// One REEL/1 message, decoded and validated.
public enum WireMessage: Sendable, Equatable {
    /// Worker → coordinator: joins (or re-joins) the farm.
    case ready(Ready)
    /// Coordinator → worker: one attempt at one segment; `anchors` holds `anchorSlots.count` latent frames.
    case task(TaskAssignment, anchors: [Float])
    /// Worker → coordinator: sampler progress of an attempt.
    case progress(Progress)
    /// Worker → coordinator: the finished segment; `latents` holds `frames` latent frames.
    case result(SegmentResult, latents: [Float])
    /// Worker → coordinator: the attempt failed.
    case failed(Failure)
    /// Both ways: liveness and the attempts the sender believes are open.
    case heartbeat(Heartbeat)
    /// Both ways: the session ends (or, with `draining`, will end once held work is done).
    case disconnect(Disconnect)
    /// Coordinator → worker: decode `latents` (`frames` latent frames) to pictures.
    case decode(DecodeRequest, latents: [Float])
    /// Worker → coordinator: the pictures of a DECODE, packed 8-bit RGB.
    case frames(DecodedFrames, pixels: [UInt8])

    public var type: MessageType {
        switch self {
        case .ready: .ready
        case .task: .task
        case .progress: .progress
        case .result: .result
        case .failed: .failed
        case .heartbeat: .heartbeat
        case .disconnect: .disconnect
        case .decode: .decode
        case .frames: .frames
        }
    }

    /// The message as frames for one ZeroMQ multipart send. Encoding does not validate: call
    /// `validate(limits:)` first when the values come from outside; the receiver checks anyway.
    public func encoded() -> [[UInt8]] {
        var frames: [[UInt8]] = [Array(protocolTag.utf8), Array(type.rawValue.utf8)]
        switch self {
        case .ready(let m): frames.append(Self.headerBytes(m))
        case .task(let m, let anchors): frames += [Self.headerBytes(m), anchors.littleEndianBytes]
        case .progress(let m): frames.append(Self.headerBytes(m))
        case .result(let m, let latents): frames += [Self.headerBytes(m), latents.littleEndianBytes]
        case .failed(let m): frames.append(Self.headerBytes(m))
        case .heartbeat(let m): frames.append(Self.headerBytes(m))
        case .disconnect(let m): frames.append(Self.headerBytes(m))
        case .decode(let m, let latents): frames += [Self.headerBytes(m), latents.littleEndianBytes]
        case .frames(let m, let pixels): frames += [Self.headerBytes(m), pixels]
        }
        return frames
    }

    /// Parses and validates one message (frames after the ROUTER identity). Bounded: frame sizes are
    /// checked before anything is parsed, and JSON nesting before the JSON parser runs.
    public static func decode(_ frames: [[UInt8]], limits: ProtocolLimits = .standard) throws(ProtocolError) -> WireMessage {
        guard let tag = frames.first else { throw .frameCount(type: nil, actual: 0) }
        try checkTag(tag)
        guard frames.count >= 2 else { throw .frameCount(type: nil, actual: frames.count) }
        let type = try messageType(frames[1])
        guard frames.count == type.frameCount else { throw .frameCount(type: type, actual: frames.count) }
        let headerBytes = frames[2]
        guard headerBytes.count <= limits.maxHeaderBytes else {
            throw .frameTooLarge(frame: 2, bytes: headerBytes.count, limit: limits.maxHeaderBytes)
        }
        if type.hasPayload, frames[3].count > limits.maxPayloadBytes {
            throw .frameTooLarge(frame: 3, bytes: frames[3].count, limit: limits.maxPayloadBytes)
        }
        let header = try HeaderObject.parse(headerBytes, maxDepth: limits.maxHeaderDepth)
        // Fields are read (presence, JSON type), then checked against the limits; the payload last.
        switch type {
        case .ready:
            let m = try Ready(header: header)
            try m.validate(limits: limits)
            return .ready(m)
        case .task:
            let m = try TaskAssignment(header: header)
            try m.validate(limits: limits)
            return .task(m, anchors: try payload(frames[3], values: m.anchorValueCount))
        case .progress:
            let m = try Progress(header: header)
            try m.validate(limits: limits)
            return .progress(m)
        case .result:
            let m = try SegmentResult(header: header)
            try m.validate(limits: limits)
            return .result(m, latents: try payload(frames[3], values: m.latentValueCount))
        case .failed:
            let m = try Failure(header: header)
            try m.validate(limits: limits)
            return .failed(m)
        case .heartbeat:
            let m = try Heartbeat(header: header)
            try m.validate(limits: limits)
            return .heartbeat(m)
        case .disconnect:
            let m = try Disconnect(header: header)
            try m.validate(limits: limits)
            return .disconnect(m)
        case .decode:
            let m = try DecodeRequest(header: header)
            try m.validate(limits: limits)
            return .decode(m, latents: try payload(frames[3], values: m.latentValueCount))
        case .frames:
            let m = try DecodedFrames(header: header)
            try m.validate(limits: limits)
            guard frames[3].count == m.pixelByteCount else {
                throw .pixelPayloadLength(actualBytes: frames[3].count, expectedBytes: m.pixelByteCount)
            }
            return .frames(m, pixels: frames[3])
        }
    }

    /// Checks every field and the payload against `limits`, exactly as `decode` does on receipt.
    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        switch self {
        case .ready(let m): try m.validate(limits: limits)
        case .task(let m, let anchors):
            try m.validate(limits: limits)
            try Self.checkPayload(anchors, expected: m.anchorValueCount)
        case .progress(let m): try m.validate(limits: limits)
        case .result(let m, let latents):
            try m.validate(limits: limits)
            try Self.checkPayload(latents, expected: m.latentValueCount)
        case .failed(let m): try m.validate(limits: limits)
        case .heartbeat(let m): try m.validate(limits: limits)
        case .disconnect(let m): try m.validate(limits: limits)
        case .decode(let m, let latents):
            try m.validate(limits: limits)
            try Self.checkPayload(latents, expected: m.latentValueCount)
        case .frames(let m, let pixels):
            try m.validate(limits: limits)
            guard pixels.count == m.pixelByteCount else { throw .pixelPayloadLength(actualBytes: pixels.count, expectedBytes: m.pixelByteCount) }
        }
    }

    // MARK: Framing

    private static func checkTag(_ tag: [UInt8]) throws(ProtocolError) {
        if tag.elementsEqual(protocolTag.utf8) { return }
        // Any other "REEL/…" is a different version: the coordinator answers it with DISCONNECT.
        if tag.count <= 32, tag.starts(with: "REEL/".utf8), tag.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) {
            throw .unsupportedVersion(String(decoding: tag, as: UTF8.self))
        }
        throw .notReel(printable(tag))
    }

    private static func messageType(_ frame: [UInt8]) throws(ProtocolError) -> MessageType {
        guard frame.count <= 16, let text = String(validating: frame, as: UTF8.self), let type = MessageType(rawValue: text) else {
            throw .unknownType(printable(frame))
        }
        return type
    }

    /// A payload frame as floats: exact length, every value finite.
    private static func payload(_ bytes: [UInt8], values: Int) throws(ProtocolError) -> [Float] {
        guard bytes.count == values * 4 else { throw .payloadLength(actualBytes: bytes.count, expectedBytes: values * 4) }
        let floats = [Float](littleEndianBytes: bytes[...])
        try checkPayload(floats, expected: values)
        return floats
    }

    private static func checkPayload(_ values: [Float], expected: Int) throws(ProtocolError) {
        guard values.count == expected else { throw .payloadLength(actualBytes: values.count * 4, expectedBytes: expected * 4) }
        if let index = values.firstIndex(where: { !$0.isFinite }) { throw .nonFinitePayload(index: index) }
    }

    private static func headerBytes(_ value: some HeaderFields) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        JSONValue.object(value.headerFields).write(into: &bytes)
        return bytes
    }
}

/// Why a message was refused. `description` is one sentence naming the frame or field and the rule.
public enum ProtocolError: Error, Equatable, CustomStringConvertible {
    /// Too few or too many frames for the type (`type` is nil when frame 1 was not reached).
    case frameCount(type: MessageType?, actual: Int)
    /// Frame 0 is not a REEL tag at all (shown sanitised, at most 40 characters).
    case notReel(String)
    /// Frame 0 is a REEL tag of another version, e.g. "REEL/2"; answer with DISCONNECT.
    case unsupportedVersion(String)
    /// Frame 1 is not one of `MessageType` (shown sanitised).
    case unknownType(String)
    /// Frame `frame` (2 header, 3 payload) is larger than its limit.
    case frameTooLarge(frame: Int, bytes: Int, limit: Int)
    /// The header is not UTF-8 JSON, not an object, or nested deeper than the limit.
    case malformedHeader(String)
    /// A required field is absent (`field` is a path such as "sampler.steps").
    case missingField(String)
    /// A field has the wrong JSON type (or is null); `expected` says what it must be.
    case wrongType(field: String, expected: String)
    /// A number is outside its bounds.
    case outOfRange(field: String, value: String, allowed: String)
    /// An array has too few or too many entries.
    case count(field: String, actual: Int, allowed: ClosedRange<Int>)
    /// A string breaks its length or character rules.
    case invalidString(field: String, reason: String)
    /// A value breaks a rule that spans more than one number (sorted, unique, sums, formats).
    case invalidValue(field: String, reason: String)
    /// The payload does not hold exactly the float32 values the header describes.
    case payloadLength(actualBytes: Int, expectedBytes: Int)
    /// Payload value `index` is NaN or infinite.
    case nonFinitePayload(index: Int)
    /// A FRAMES payload does not hold exactly the pictures its header describes.
    case pixelPayloadLength(actualBytes: Int, expectedBytes: Int)

    /// The header field the error is about, when there is one.
    public var field: String? {
        switch self {
        case .missingField(let f): f
        case .wrongType(let f, _), .outOfRange(let f, _, _), .count(let f, _, _), .invalidString(let f, _), .invalidValue(let f, _): f
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .frameCount(nil, let actual):
            "A REEL/1 message has 3 or 4 frames (tag, type, header, payload for TASK, RESULT, DECODE and FRAMES), but this one has \(actual)."
        case .frameCount(let type?, let actual):
            "A \(type.rawValue) message has \(type.frameCount) frames (tag, type, header\(type.hasPayload ? ", payload" : "")), but this one has \(actual)."
        case .notReel(let tag): "Frame 0 is \"\(tag)\", not the protocol tag \"\(protocolTag)\"."
        case .unsupportedVersion(let tag): "The peer speaks \(tag), but this side speaks only \(protocolTag)."
        case .unknownType(let type):
            "Message type \"\(type)\" is unknown; it must be one of \(MessageType.allCases.map(\.rawValue).joined(separator: ", "))."
        case .frameTooLarge(let frame, let bytes, let limit):
            "The \(frame == 2 ? "header" : "payload") frame is \(bytes) bytes, over the limit of \(limit) bytes."
        case .malformedHeader(let reason): "The header is not valid: \(reason)."
        case .missingField(let field): "The header lacks the required field `\(field)`."
        case .wrongType(let field, let expected): "Field `\(field)` must be \(expected)."
        case .outOfRange(let field, let value, let allowed): "Field `\(field)` is \(value), outside the allowed \(allowed)."
        case .count(let field, let actual, let allowed):
            "Field `\(field)` has \(actual) entries; it must have \(allowed.lowerBound) to \(allowed.upperBound)."
        case .invalidString(let field, let reason), .invalidValue(let field, let reason): "Field `\(field)` \(reason)."
        case .payloadLength(let actual, let expected):
            "The payload is \(actual) bytes, but the header describes \(expected) bytes (\(expected / 4) float32 values)."
        case .nonFinitePayload(let index): "Payload value \(index) is NaN or infinite; latents must be finite."
        case .pixelPayloadLength(let actual, let expected):
            "The payload is \(actual) bytes, but the header describes \(expected) bytes of 8-bit RGB pictures."
        }
    }
}

/// Bytes shown in an error: printable ASCII kept, anything else as "?", at most 40 characters.
func printable(_ bytes: some Collection<UInt8>) -> String {
    let shown = bytes.prefix(40).map { $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") ? Character(UnicodeScalar($0)) : "?" }
    return String(shown) + (bytes.count > 40 ? "…" : "")
}

// MARK: Float payloads

extension Array where Element == Float {
    /// Values from little-endian IEEE-754 float32 bytes. A trailing partial value (count % 4 bytes)
    /// is ignored; `WireMessage.decode` refuses such payloads before calling this.
    public init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        let count = bytes.count / 4
        self.init(unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<(count * 4)]))
            }
            #if _endian(big)
            for i in 0..<count { buffer[i] = Float(bitPattern: UInt32(littleEndian: buffer[i].bitPattern)) }
            #endif
            initialized = count
        }
    }

    /// Values from little-endian IEEE-754 float32 bytes (see the `ArraySlice` overload).
    public init(littleEndianBytes bytes: [UInt8]) {
        self.init(littleEndianBytes: bytes[...])
    }

    /// The values as little-endian IEEE-754 float32 bytes, 4 per value.
    public var littleEndianBytes: [UInt8] {
        #if _endian(little)
        return withUnsafeBytes { [UInt8]($0) }
        #else
        var bytes = [UInt8](repeating: 0, count: count * 4)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return bytes
        #endif
    }
}

// MARK: Header JSON

/// A JSON value as the header parser sees it: integers kept apart from fractional numbers.
/// (Encodable too, so tests and tools can rewrite a header field by field.)
indirect enum JSONValue: Codable, Equatable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let v = try? c.decode(Bool.self) { self = .bool(v); return }
        if let v = try? c.decode(Int64.self) { self = .integer(v); return }
        if let v = try? c.decode(Double.self) { self = .number(v); return }
        if let v = try? c.decode(String.self) { self = .string(v); return }
        if let v = try? c.decode([JSONValue].self) { self = .array(v); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .integer(let v): try c.encode(v)
        case .number(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }
}

/// One JSON object of a header, with typed, path-aware accessors.
struct HeaderObject {
    let fields: [String: JSONValue]
    /// Where this object sits in the header ("" for the top level, "sampler", "text[2]").
    let path: String

    /// Parses a header frame (its size already checked) into its top-level object.
    static func parse(_ bytes: [UInt8], maxDepth: Int) throws(ProtocolError) -> HeaderObject {
        guard let first = bytes.first(where: { !isJSONWhitespace($0) }) else { throw .malformedHeader("it is empty; it must be a JSON object") }
        guard first == UInt8(ascii: "{") else { throw .malformedHeader("it must be a JSON object, starting with '{'") }
        try checkNesting(bytes, maxDepth: maxDepth)
        do {
            return HeaderObject(fields: try HeaderJSONParser.object(bytes), path: "")
        } catch {
            throw .malformedHeader("it is not a well-formed UTF-8 JSON object")
        }
    }

    /// Rejects nesting deeper than `maxDepth` in one linear pass, so the recursive parser never sees it.
    static func checkNesting(_ bytes: [UInt8], maxDepth: Int) throws(ProtocolError) {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > maxDepth { throw .malformedHeader("it nests arrays and objects deeper than \(maxDepth) levels") }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
    }

    private static func isJSONWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) throws(ProtocolError) -> JSONValue {
        guard let value = fields[key] else { throw .missingField(name(key)) }
        return value
    }

    func int(_ key: String) throws(ProtocolError) -> Int { try Self.int(try value(key), field: name(key)) }

    func double(_ key: String) throws(ProtocolError) -> Double {
        switch try value(key) {
        case .integer(let v): return Double(v)
        case .number(let v): return v
        default: throw .wrongType(field: name(key), expected: "a number")
        }
    }

    func bool(_ key: String) throws(ProtocolError) -> Bool {
        guard case .bool(let v) = try value(key) else { throw .wrongType(field: name(key), expected: "true or false") }
        return v
    }

    func string(_ key: String) throws(ProtocolError) -> String {
        guard case .string(let v) = try value(key) else { throw .wrongType(field: name(key), expected: "a string") }
        return v
    }

    func array(_ key: String) throws(ProtocolError) -> [JSONValue] {
        guard case .array(let v) = try value(key) else { throw .wrongType(field: name(key), expected: "an array") }
        return v
    }

    func object(_ key: String) throws(ProtocolError) -> HeaderObject {
        guard case .object(let v) = try value(key) else { throw .wrongType(field: name(key), expected: "an object") }
        return HeaderObject(fields: v, path: name(key))
    }

    func ints(_ key: String) throws(ProtocolError) -> [Int] {
        var result: [Int] = []
        for (i, element) in try array(key).enumerated() { result.append(try Self.int(element, field: "\(name(key))[\(i)]")) }
        return result
    }

    func strings(_ key: String) throws(ProtocolError) -> [String] {
        var result: [String] = []
        for (i, element) in try array(key).enumerated() {
            guard case .string(let s) = element else { throw .wrongType(field: "\(name(key))[\(i)]", expected: "a string") }
            result.append(s)
        }
        return result
    }

    func objects(_ key: String) throws(ProtocolError) -> [HeaderObject] {
        var result: [HeaderObject] = []
        for (i, element) in try array(key).enumerated() {
            guard case .object(let o) = element else { throw .wrongType(field: "\(name(key))[\(i)]", expected: "an object") }
            result.append(HeaderObject(fields: o, path: "\(name(key))[\(i)]"))
        }
        return result
    }

    private static func int(_ value: JSONValue, field: String) throws(ProtocolError) -> Int {
        // Integral JSON numbers only ("3" or "3.0"); fractions and values beyond 64 bits are refused.
        guard case .integer(let v) = value, let i = Int(exactly: v) else { throw .wrongType(field: field, expected: "an integer") }
        return i
    }
}
