import ArgumentParser
import Foundation

/// `--config FILE` for `reel coordinator` and `reel worker`: a TOML file whose keys are the
/// command's long option names (`heartbeat = 1.0`, `authorized-keys = "/etc/reel/authorized"`,
/// `insecure = true`). Precedence: flags on the command line, then the file, then the defaults.
///
/// Top-level keys apply to the command; a file may also hold `[coordinator]` and `[worker]`
/// tables, and each command reads only its own. The TOML read here is the part a flat set of
/// options needs — strings (basic and literal), integers, floats, booleans, one-line arrays,
/// comments and tables — and anything else is refused with its line number. Reference with every
/// key and its default: docs/configuration.md; examples: configs/coordinator.toml, configs/worker.toml.
enum ConfigFile {
    enum Value: Equatable {
        case string(String), integer(Int), float(Double), bool(Bool), array([Value])

        var argument: String? {
            switch self {
            case .string(let s): s
            case .integer(let i): String(i)
            case .float(let d): String(d)
            case .bool, .array: nil
            }
        }
    }

    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// The command line with the file's options put in front of the user's (so the user's win:
    /// for a repeated option the last one counts). Other commands' arguments come back unchanged.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let command = arguments.first, let type = commands[command] else { return arguments }
        var path: String?
        for (i, argument) in arguments.enumerated() {
            if argument == "--config", i + 1 < arguments.count { path = arguments[i + 1] }
            if argument.hasPrefix("--config=") { path = String(argument.dropFirst("--config=".count)) }
        }
        guard let path else { return arguments }
        let options = try read(path: path, section: command)
        let known = optionNames(of: type)
        var inserted: [String] = []
        for (key, value) in options {
            let name = key.replacingOccurrences(of: "_", with: "-")
            guard known.contains(name), name != "config" else {
                throw Error(description: "\(path): \(key) is not an option of reel \(command); the keys are \(known.filter { $0 != "config" }.sorted().joined(separator: ", "))")
            }
            switch value {
            case .bool(true): inserted.append("--\(name)")
            case .bool(false): break
            case .array(let items):
                for item in items {
                    guard let text = item.argument else { throw Error(description: "\(path): \(key) holds an array of arrays or booleans") }
                    inserted += ["--\(name)", text]
                }
            default: inserted += ["--\(name)", value.argument!]
            }
        }
        return [command] + inserted + arguments.dropFirst()
    }

    private static let commands: [String: any ParsableCommand.Type] = [
        "coordinator": CoordinatorCommand.self, "worker": WorkerCommand.self,
    ]

    /// The long option names a command's help lists.
    static func optionNames(of type: any ParsableCommand.Type) -> Set<String> {
        let help = type.helpMessage(includeHidden: false, columns: 10_000)
        let pattern = /--([a-z][a-z0-9-]*)/
        return Set(help.matches(of: pattern).map { String($0.output.1) }).subtracting(["help", "version"])
    }

    /// The key/value pairs for `section` (top-level keys plus `[section]`), in file order.
    static func read(path: String, section: String) throws -> [(String, Value)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(description: "cannot read the config file \(path); check the path and its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Error(description: "\(path) is not UTF-8 text") }
        do { return try parse(text, section: section) } catch let error as Error {
            throw Error(description: "\(path): \(error.description)")
        }
    }

    static func parse(_ text: String, section: String) throws -> [(String, Value)] {
        var result: [(String, Value)] = []
        var seen: Set<String> = []
        var current: String?   // nil = top level
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            var scanner = Scanner(Array(rawLine.unicodeScalars), line: line)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == "[" {
                scanner.advance()
                let name = try scanner.key()
                scanner.skipSpaces()
                guard scanner.peek == "]" else { throw scanner.error("a table header is [name]") }
                scanner.advance()
                try scanner.expectEnd()
                current = name
                continue
            }
            let key = try scanner.key()
            scanner.skipSpaces()
            guard scanner.peek == "=" else { throw scanner.error("expected '=' after \(key)") }
            scanner.advance()
            scanner.skipSpaces()
            let value = try scanner.value()
            try scanner.expectEnd()
            let qualified = (current.map { $0 + "." } ?? "") + key
            guard seen.insert(qualified).inserted else { throw Error(description: "line \(line): \(qualified) is set twice") }
            if current == nil || current == section { result.append((key, value)) }
        }
        return result
    }

    private struct Scanner {
        let chars: [Unicode.Scalar]
        var i = 0
        let line: Int

        init(_ chars: [Unicode.Scalar], line: Int) {
            self.chars = chars
            self.line = line
        }

        var peek: Unicode.Scalar? { i < chars.count ? chars[i] : nil }
        mutating func advance() { i += 1 }
        var atEndOrComment: Bool { peek == nil || peek == "#" || peek == "\r" }

        func error(_ message: String) -> ConfigFile.Error { ConfigFile.Error(description: "line \(line): \(message)") }

        mutating func skipSpaces() { while peek == " " || peek == "\t" { advance() } }

        mutating func expectEnd() throws {
            skipSpaces()
            guard atEndOrComment else { throw error("unexpected text after the value") }
        }

        mutating func key() throws -> String {
            if peek == "\"" { return try basicString() }
            var key = ""
            while let c = peek, ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "-" || c == "_" {
                key.unicodeScalars.append(c)
                advance()
            }
            guard !key.isEmpty else { throw error("expected a key (letters, digits, '-' and '_')") }
            return key
        }

        mutating func value() throws -> Value {
            guard let c = peek else { throw error("a value is missing") }
            switch c {
            case "\"": return .string(try basicString())
            case "'": return .string(try literalString())
            case "[": return try array()
            case "t", "f":
                let word = String(String.UnicodeScalarView(chars[i...].prefix { ("a"..."z").contains($0) }))
                i += word.unicodeScalars.count
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default: throw error("\(word) is not a value (strings need quotes)")
                }
            default: return try number()
            }
        }

        mutating func basicString() throws -> String {
            advance()   // opening quote
            var text = ""
            while let c = peek {
                advance()
                switch c {
                case "\"": return text
                case "\\":
                    guard let e = peek else { throw error("unfinished escape") }
                    advance()
                    switch e {
                    case "\"": text += "\""
                    case "\\": text += "\\"
                    case "n": text += "\n"
                    case "t": text += "\t"
                    case "u", "U":
                        let count = e == "u" ? 4 : 8
                        let hex = String(String.UnicodeScalarView(chars[i..<min(chars.count, i + count)]))
                        guard hex.count == count, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                            throw error("bad \\\(e) escape")
                        }
                        i += count
                        text.unicodeScalars.append(scalar)
                    default: throw error("unknown escape \\\(e)")
                    }
                default: text.unicodeScalars.append(c)
                }
            }
            throw error("a string is not closed with \"")
        }

        mutating func literalString() throws -> String {
            advance()
            var text = ""
            while let c = peek {
                advance()
                if c == "'" { return text }
                text.unicodeScalars.append(c)
            }
            throw error("a string is not closed with '")
        }

        mutating func array() throws -> Value {
            advance()
            var items: [Value] = []
            while true {
                skipSpaces()
                if peek == "]" { advance(); return .array(items) }
                items.append(try value())
                skipSpaces()
                if peek == "," { advance(); continue }
                guard peek == "]" else { throw error("arrays are written [a, b] on one line") }
            }
        }

        mutating func number() throws -> Value {
            var text = ""
            while let c = peek, ("0"..."9").contains(c) || "+-._eE".unicodeScalars.contains(c) {
                if c != "_" { text.unicodeScalars.append(c) }
                advance()
            }
            if let integer = Int(text) { return .integer(integer) }
            if let float = Double(text), float.isFinite, text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float(float) }
            throw error(text.isEmpty ? "expected a value: a \"string\", a number, true/false or an [array]" : "\(text) is not a number")
        }
    }
}
