import Foundation

/// BERT's uncased tokenizer: basic clean-up and splitting, then greedy longest-match WordPiece.
///
/// Matches Hugging Face's `BertTokenizer`/`BertNormalizer` as configured for all-MiniLM-L6-v2:
/// control characters dropped, whitespace unified, CJK ideographs split out, lower-cased, accents
/// stripped (NFD, combining marks removed), punctuation split into its own tokens, words of more
/// than 100 characters or with no WordPiece cover become `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int]
    public let unknownID: Int
    public let classID: Int
    public let separatorID: Int
    public let paddingID: Int
    /// Longest word WordPiece will try to split.
    public let maxCharactersPerWord = 100

    /// Reads `vocab.txt` (one token a line; the line number is the id).
    public init(vocabularyFile url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var vocabulary: [String: Int] = [:]
        var index = 0
        text.enumerateLines { line, _ in
            if vocabulary[line] == nil { vocabulary[line] = index }
            index += 1
        }
        try self.init(vocabulary: vocabulary)
    }

    public init(vocabulary: [String: Int]) throws {
        func id(_ token: String) throws -> Int {
            guard let value = vocabulary[token] else { throw TextEncoderError.badVocabulary("it has no \(token) token") }
            return value
        }
        self.vocabulary = vocabulary
        self.unknownID = try id("[UNK]")
        self.classID = try id("[CLS]")
        self.separatorID = try id("[SEP]")
        self.paddingID = try id("[PAD]")
    }

    /// Token ids with `[CLS]` first and `[SEP]` last, at most `maxLength` in all (the text's tokens
    /// are truncated to `maxLength - 2`).
    public func encode(_ text: String, maxLength: Int) -> [Int] {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        var ids = [classID]
        for word in Self.basicTokens(text) {
            ids.append(contentsOf: wordPieces(word))
            if ids.count >= maxLength - 1 { break }
        }
        if ids.count > maxLength - 1 { ids.removeLast(ids.count - (maxLength - 1)) }
        ids.append(separatorID)
        return ids
    }

    /// Greedy longest-match-first split of one basic token; `[UNK]` when any part has no match.
    func wordPieces(_ word: String) -> [Int] {
        let characters = Array(word.unicodeScalars)
        if characters.count > maxCharactersPerWord { return [unknownID] }
        var pieces: [Int] = []
        var start = 0
        while start < characters.count {
            var end = characters.count
            var match: Int?
            while start < end {
                var candidate = String(String.UnicodeScalarView(characters[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if let id = vocabulary[candidate] { match = id; break }
                end -= 1
            }
            guard let found = match else { return [unknownID] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    /// Cleaning, lower-casing, accent stripping and whitespace/punctuation splitting.
    static func basicTokens(_ text: String) -> [String] {
        var spaced = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value == 0 || value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                spaced.append(" ")
            } else if isCJK(value) {
                spaced.append(" "); spaced.append(scalar); spaced.append(" ")
            } else {
                spaced.append(scalar)
            }
        }
        // BertNormalizer strips accents then lower-cases (strip_accents follows lowercase).
        let decomposed = String(spaced).decomposedStringWithCanonicalMapping
        var stripped = String.UnicodeScalarView()
        for scalar in decomposed.unicodeScalars where scalar.properties.generalCategory != .nonspacingMark {
            stripped.append(scalar)
        }
        let lowered = String(stripped).lowercased()

        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func flush() { if !current.isEmpty { tokens.append(String(current)); current = String.UnicodeScalarView() } }
        for scalar in lowered.unicodeScalars {
            if isWhitespace(scalar) {
                flush()
            } else if isPunctuation(scalar) {
                flush()
                tokens.append(String(scalar))
            } else {
                current.append(scalar)
            }
        }
        flush()
        return tokens
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case " ", "\t", "\n", "\r": return true
        default: return s.properties.generalCategory == .spaceSeparator
        }
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s {
        case "\t", "\n", "\r": return false
        default:
            let category = s.properties.generalCategory
            return category == .control || category == .format
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        // All non-letter/number ASCII printables count, as in BERT ("$", "^", "`" ...).
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
