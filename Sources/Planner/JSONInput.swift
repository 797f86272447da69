import Foundation

/// Reading the planner's JSON documents (storyboards, requests) with errors a person can act on.
///
/// The input is checked for size and UTF-8 before it reaches `JSONDecoder`; decoding errors become
/// `PlanError`s naming the field by its JSON path (`shots[2].end`).
public enum JSONInput {
    /// Largest accepted document, in bytes (256 shots of 2000-byte prompts fit even when escaped).
    public static let maxBytes = 4 << 20

    static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws(PlanError) -> Value {
        guard data.count <= maxBytes else { throw .inputTooLarge(bytes: data.count, limit: maxBytes) }
        if let offset = firstInvalidUTF8Offset(in: data) { throw .invalidUTF8(offset: offset) }
        guard data.contains(where: { !Self.isJSONWhitespace($0) }) else { throw .malformedJSON("the input is empty") }
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch let error as PlanError {
            throw error
        } catch let error as DecodingError {
            throw planError(for: error)
        } catch {
            throw .malformedJSON(oneLine(String(describing: error)))
        }
    }

    /// Byte offset of the first byte that is not part of well-formed UTF-8, or nil when all is.
    static func firstInvalidUTF8Offset(in data: Data) -> Int? {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    static func planError(for error: DecodingError) -> PlanError {
        switch error {
        case .keyNotFound(let key, let context):
            return .missingField(path(context.codingPath + [key]))
        case .typeMismatch(let type, let context):
            return .wrongType(field: path(context.codingPath), expected: expectation(for: type))
        case .valueNotFound(let type, let context):
            return .wrongType(field: path(context.codingPath), expected: expectation(for: type) + ", not null")
        case .dataCorrupted(let context):
            var detail = context.debugDescription
            if let underlying = context.underlyingError { detail += " " + String(describing: underlying) }
            if context.codingPath.isEmpty { return .malformedJSON(oneLine(detail)) }
            return .invalidValue(field: path(context.codingPath), detail: oneLine(detail))
        @unknown default:
            return .malformedJSON(oneLine(String(describing: error)))
        }
    }

    /// A coding path as JSON path: `storyboard.shots[2].prompt`; the empty path is "(document)".
    static func path(_ codingPath: [any CodingKey]) -> String {
        var text = ""
        for key in codingPath {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "(document)" : text
    }

    static func expectation(for type: Any.Type) -> String {
        let name = String(describing: type)
        if name.contains("Dictionary") || name.hasPrefix("[String") { return "an object ({...})" }
        if name.contains("Array") || name.hasPrefix("[") { return "a list ([...])" }
        if name.contains("String") { return "a string" }
        if name.contains("Double") || name.contains("Float") { return "a number" }
        if name.contains("UInt") { return "a whole number from 0 to \(UInt64.max)" }
        if name.contains("Int") { return "a whole number" }
        if name.contains("Bool") { return "true or false" }
        return "a \(name)"
    }

    /// Decoder messages can span lines and sentences and quote whole documents: keep one short
    /// clause that fits inside the error's one sentence.
    static func oneLine(_ text: String) -> String {
        var flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
            .replacingOccurrences(of: ". ", with: "; ")
        while flat.hasSuffix(".") || flat.hasSuffix(" ") { flat.removeLast() }
        return flat.count > 200 ? String(flat.prefix(200)) + "…" : flat
    }

    /// Decodes one scalar field (nil when absent or null), reporting any value that does not fit —
    /// a string for a number, a negative or fractional seed, a number beyond Double's range — as the
    /// wrong type for this field. (Foundation on Linux reports unrepresentable numbers as "not valid
    /// JSON", without a path.)
    static func field<Value: Decodable, Key: CodingKey>(_ type: Value.Type, _ key: Key,
                                                        in container: KeyedDecodingContainer<Key>,
                                                        expected: String) throws -> Value? {
        do {
            return try container.decodeIfPresent(Value.self, forKey: key)
        } catch {
            throw PlanError.wrongType(field: path(container.codingPath + [key]), expected: expected)
        }
    }

    /// `field`, for a field that must be present.
    static func requiredField<Value: Decodable, Key: CodingKey>(_ type: Value.Type, _ key: Key,
                                                                in container: KeyedDecodingContainer<Key>,
                                                                expected: String) throws -> Value {
        guard let value = try field(type, key, in: container, expected: expected) else {
            throw PlanError.missingField(path(container.codingPath + [key]))
        }
        return value
    }

    static let secondsExpectation = "a number of seconds"
    static let seedExpectation = "a whole number from 0 to \(UInt64.max)"

    /// At most 40 characters of a user's value, with anything unprintable shown as `?`, for messages.
    static func printablePrefix(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(40).map { PromptText.isAllowed($0) ? $0 : "?" }))
    }

    /// Rejects keys of the object at `decoder`'s position that are not in `known`; the first unknown
    /// key in alphabetical order is reported, so the error does not depend on hashing order.
    static func rejectUnknownKeys(in decoder: any Decoder, known: [String]) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        if let first = unknown.first {
            throw PlanError.unknownField(path(decoder.codingPath + [AnyCodingKey(stringValue: first)]))
        }
    }
}

/// Any key of a JSON object.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
