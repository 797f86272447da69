import Foundation

/// A strict RFC 8259 parser for header frames, straight from the bytes to `JSONValue`.
///
/// Foundation's `JSONDecoder` decoding `[String: JSONValue]` tried each JSON type in turn per value
/// (a thrown error for every miss) and was half of the coordinator's time per RESULT. This parser
/// reads each value once. Nesting is bounded by `HeaderObject.checkNesting` before it runs.
/// Numbers keep the decoder's reading: an integral value within Int64 (`3`, `3.0`, `3e0`) is an
/// integer; anything else finite is a double; a number too large for a double is refused.
/// Duplicate keys: the first one wins (as with the decoder).
struct HeaderJSONParser {
    struct Failure: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The top-level object of `data`, or `Failure` for anything that is not exactly one JSON
    /// object (with optional whitespace around it) in UTF-8.
    static func object(_ data: [UInt8]) throws(Failure) -> [String: JSONValue] {
        let result: Result<[String: JSONValue], Failure> = data.withUnsafeBufferPointer { buffer in
            var parser = HeaderJSONParser(bytes: buffer)
            do throws(Failure) {
                parser.skipWhitespace()
                guard case .object(let fields) = try parser.value() else { throw Failure() }
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw Failure() }
                return .success(fields)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0a || bytes[index] == 0x0d || bytes[index] == 0x09 {
            index += 1
        }
    }

    private mutating func expect(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Failure() }
        for i in 0..<count where bytes[index + i] != literal.utf8Start[i] { throw Failure() }
        index += count
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard let byte = current else { throw Failure() }
        switch byte {
        case UInt8(ascii: "{"): return .object(try object())
        case UInt8(ascii: "["): return .array(try array())
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw Failure()
        }
    }

    private mutating func object() throws(Failure) -> [String: JSONValue] {
        index += 1  // {
        var fields: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return fields }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw Failure() }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw Failure() }
            index += 1
            skipWhitespace()
            let value = try value()
            if fields[key] == nil { fields[key] = value }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return fields
            default: throw Failure()
            }
        }
    }

    private mutating func array() throws(Failure) -> [JSONValue] {
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return elements }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return elements
            default: throw Failure()
            }
        }
    }

    /// A string; the bytes between the quotes must be valid UTF-8 with no raw control characters.
    private mutating func string() throws(Failure) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                guard let text else { throw Failure() }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw Failure() }
            index += 1
        }
        var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let byte = current else { throw Failure() }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: scalars, as: UTF8.self) else { throw Failure() }
                return text
            case UInt8(ascii: "\\"):
                guard let escape = current else { throw Failure() }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0c)
                case UInt8(ascii: "n"): scalars.append(0x0a)
                case UInt8(ascii: "r"): scalars.append(0x0d)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800...0xDBFF).contains(code) {
                        // A high surrogate must be followed by an escaped low one.
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw Failure() }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw Failure()
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw Failure() }
                    scalars.append(contentsOf: String(Character(scalar)).utf8)
                default: throw Failure()
                }
            default:
                if byte < 0x20 { throw Failure() }
                scalars.append(byte)
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Failure() }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw Failure()
            }
            code = code << 4 | digit
            index += 1
        }
        return code
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        var integral = true
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw Failure() }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if current == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard skipDigits() > 0 else { throw Failure() }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() > 0 else { throw Failure() }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int64(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw Failure() }
        if value == value.rounded(), let exact = Int64(exactly: value) { return .integer(exact) }
        return .number(value)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index - start
    }
}

// MARK: Writing

/// A message header as the JSON object the wire carries. Each type lists its fields by hand
/// (the same keys and forms its Codable conformance writes); `JSONValue.write` serialises them
/// with sorted keys, several times faster than JSONEncoder on the coordinator's hot path.
protocol HeaderFields {
    var headerFields: [String: JSONValue] { get }
}

extension JSONValue {
    init(_ strings: [String]) { self = .array(strings.map { .string($0) }) }
    init(_ ints: [Int]) { self = .array(ints.map { .integer(Int64($0)) }) }

    /// Appends the value as compact JSON: object keys sorted, strings escaped per RFC 8259
    /// (quote, backslash and control characters; everything else as UTF-8), doubles in their
    /// shortest round-trip form, non-finite doubles as the strings "NaN", "Infinity" and
    /// "-Infinity" (which the receiver refuses, as with JSONEncoder's setting).
    func write(into out: inout [UInt8]) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let v): out += (v ? "true" : "false").utf8
        case .integer(let v): out += String(v).utf8
        case .number(let v):
            if v.isNaN { Self.writeString("NaN", into: &out) } else if v.isInfinite {
                Self.writeString(v > 0 ? "Infinity" : "-Infinity", into: &out)
            } else {
                out += v.description.utf8
            }
        case .string(let v): Self.writeString(v, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                fields[key]!.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += #"\""#.utf8
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0x0a: out += #"\n"#.utf8
            case 0x0d: out += #"\r"#.utf8
            case 0x09: out += #"\t"#.utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += #"\u00"#.utf8
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xf)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension Ready: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["worker": .string(worker), "models": JSONValue(models), "maxWindowFrames": .integer(Int64(maxWindowFrames)),
         "threads": .integer(Int64(threads)), "credit": .integer(Int64(credit)),
         "heartbeatMilliseconds": .integer(Int64(heartbeatMilliseconds)), "activeAttempts": JSONValue(activeAttempts),
         "decodes": .bool(decodes)]
    }
}

extension TaskAssignment: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["attempt": .string(attempt), "job": .string(job), "segment": .string(segment),
         "leaseMilliseconds": .integer(Int64(leaseMilliseconds)), "model": .string(model),
         "text": .array(text.map { .object(["prompt": .string($0.prompt), "weight": .number($0.weight)]) }),
         // A string: JSON numbers lose precision above 2^53 in JavaScript and other double-based readers.
         "seed": .string(String(seed)), "level": .integer(Int64(level)), "startFrame": .integer(Int64(startFrame)),
         "stride": .integer(Int64(stride)), "frames": .integer(Int64(frames)), "frameShape": JSONValue(frameShape),
         "anchorSlots": JSONValue(anchorSlots),
         "sampler": .object(["steps": .integer(Int64(sampler.steps)), "guidance": .number(sampler.guidance),
                             "shift": .number(sampler.shift), "method": .string(sampler.method)])]
    }
}

extension Progress: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["attempt": .string(attempt), "step": .integer(Int64(step)), "steps": .integer(Int64(steps))]
    }
}

extension SegmentResult: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["attempt": .string(attempt), "job": .string(job), "segment": .string(segment), "frames": .integer(Int64(frames)),
         "frameShape": JSONValue(frameShape), "sha256": .string(sha256), "computeMilliseconds": .integer(Int64(computeMilliseconds))]
    }
}

extension DecodeRequest: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["decode": .string(decode), "model": .string(model), "frames": .integer(Int64(frames)),
         "frameShape": .array(frameShape.map { .integer(Int64($0)) })]
    }
}

extension DecodedFrames: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["decode": .string(decode), "frames": .integer(Int64(frames)), "width": .integer(Int64(width)), "height": .integer(Int64(height))]
    }
}

extension Failure: HeaderFields {
    var headerFields: [String: JSONValue] {
        ["attempt": .string(attempt), "error": .string(error), "retryable": .bool(retryable), "refused": .bool(refused)]
    }
}

extension Heartbeat: HeaderFields {
    var headerFields: [String: JSONValue] { ["activeAttempts": JSONValue(activeAttempts)] }
}

extension Disconnect: HeaderFields {
    var headerFields: [String: JSONValue] { ["reason": .string(reason), "draining": .bool(draining)] }
}
