/// The rules every prompt (and a storyboard title) must follow.
///
/// A prompt is one line of printable text: at most `maxBytes` bytes of UTF-8, not only whitespace,
/// and free of control characters (U+0000–U+001F, U+007F–U+009F, including tab and newline), line
/// and paragraph separators, Unicode noncharacters and U+FFFD (the mark of a decoding error upstream).
public enum PromptText {
    /// Longest prompt, in UTF-8 bytes.
    public static let maxBytes = 2000

    /// Throws the first rule `text` breaks; `field` names it in the error (e.g. `shots[2].prompt`).
    public static func check(_ text: String, field: String, allowEmpty: Bool = false) throws(PlanError) {
        let bytes = text.utf8.count
        guard bytes <= maxBytes else { throw .textTooLong(field: field, bytes: bytes, limit: maxBytes) }
        var position = 0
        var printable = false
        for scalar in text.unicodeScalars {
            position += 1
            if !isAllowed(scalar) {
                throw .invalidCharacter(field: field, scalar: scalar.value, position: position)
            }
            if !scalar.properties.isWhitespace { printable = true }
        }
        guard printable || allowEmpty else { throw .emptyText(field: field) }
    }

    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator, .surrogate: return false
        default: break
        }
        return scalar.value != 0xFFFD && !scalar.properties.isNoncharacterCodePoint
    }
}
