import CZeroMQ
import Foundation

/// A CURVE key pair (Curve25519), each key as 40 characters of Z85, ZeroMQ's text form.
///
/// Key files use ZeroMQ's certificate layout (ZPL, as czmq's `zcert` writes it), so keys made by
/// other ZeroMQ tools work too: a secret file holds `public-key` and `secret-key`, a public file
/// only `public-key`. A public file may also be a single line holding the 40-character key.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) throws(CurveKeyError) {
        guard CurveKeyPair.isZ85Key(publicKey) else { throw CurveKeyError("the public key is not 40 characters of Z85") }
        guard CurveKeyPair.isZ85Key(secretKey) else { throw CurveKeyError("the secret key is not 40 characters of Z85") }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Whether this libzmq was built with CURVE (Debian's is, through libsodium).
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A fresh key pair from libzmq's generator.
    public static func generate() throws(CurveKeyError) -> CurveKeyPair {
        guard isAvailable else { throw CurveKeyError("this libzmq was built without CURVE support; install Debian's libzmq5 (built with libsodium)") }
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw CurveKeyError("zmq_curve_keypair failed: \(String(cString: zmq_strerror(reel_zmq_errno())))")
        }
        return try CurveKeyPair(publicKey: string(publicKey), secretKey: string(secretKey))
    }

    /// The 40-character Z85 form of 32 raw key bytes (how ZAP hands a client's key over).
    public static func z85(_ raw: [UInt8]) -> String? {
        guard raw.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, raw, 32) != nil else { return nil }
        return string(text)
    }

    static func isZ85Key(_ text: String) -> Bool {
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        return text.count == 40 && text.allSatisfy { alphabet.contains($0) }
    }

    private static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Files

    /// Writes `NAME.key` (both keys, mode 0600) and `NAME.pub` (the public key) into `directory`.
    /// Refuses to overwrite an existing key.
    public func write(to directory: URL, name: String) throws(CurveKeyError) -> (secret: URL, public: URL) {
        let secretURL = directory.appendingPathComponent("\(name).key")
        let publicURL = directory.appendingPathComponent("\(name).pub")
        for url in [secretURL, publicURL] where FileManager.default.fileExists(atPath: url.path) {
            throw CurveKeyError("\(url.path) already exists; remove it first or pick another --name (keys are never overwritten)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let header = "#   ZeroMQ CURVE certificate written by Reel (reel keys generate)\n"
            let secretText = header + "#   SECRET: keep this file on the machine that uses it, readable only by its user.\n\n"
                + "metadata\ncurve\n    public-key = \"\(publicKey)\"\n    secret-key = \"\(secretKey)\"\n"
            let publicText = header + "#   Public: give this file to the other side (a worker's to the coordinator's --authorized-keys).\n\n"
                + "metadata\ncurve\n    public-key = \"\(publicKey)\"\n"
            // The secret file is created with 0600 before any byte of the key is written.
            guard FileManager.default.createFile(atPath: secretURL.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CurveKeyError("cannot create \(secretURL.path); check that the folder is writable")
            }
            try Data(secretText.utf8).write(to: secretURL)
            try Data(publicText.utf8).write(to: publicURL, options: .atomic)
        } catch let error as CurveKeyError {
            throw error
        } catch {
            throw CurveKeyError("cannot write keys into \(directory.path): \(error.localizedDescription)")
        }
        return (secretURL, publicURL)
    }

    /// Reads a secret key file (both keys).
    public static func load(secretFile url: URL) throws(CurveKeyError) -> CurveKeyPair {
        let fields = try keyFields(url)
        guard let secret = fields["secret-key"] else {
            throw CurveKeyError("\(url.path) holds no secret-key; pass the .key file from `reel keys generate`, not the .pub")
        }
        guard let publicKey = fields["public-key"] else { throw CurveKeyError("\(url.path) holds no public-key") }
        do { return try CurveKeyPair(publicKey: publicKey, secretKey: secret) } catch {
            throw CurveKeyError("\(url.path): \(error.description)")
        }
    }

    /// Reads a public key file (a `.pub`, a `.key` — only its public half is used — or one bare line).
    public static func loadPublicKey(_ url: URL) throws(CurveKeyError) -> String {
        let fields = try keyFields(url)
        guard let key = fields["public-key"] else { throw CurveKeyError("\(url.path) holds no public key") }
        guard isZ85Key(key) else { throw CurveKeyError("\(url.path): the public key is not 40 characters of Z85") }
        return key
    }

    /// `name = "value"` lines of a ZPL certificate; a file of one bare 40-character line counts as `public-key`.
    private static func keyFields(_ url: URL) throws(CurveKeyError) -> [String: String] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CurveKeyError("the key file \(url.path) does not exist; make one with `reel keys generate`")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CurveKeyError("cannot read the key file \(url.path); check its permissions (run as the user it belongs to)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let meaningful = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        // A bare key first: Z85 text may itself contain '='.
        if meaningful.count == 1, isZ85Key(meaningful[0]) { return ["public-key": meaningful[0]] }
        var fields: [String: String] = [:]
        for line in meaningful {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0 == "-" }) else { continue }
            fields[name] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return fields
    }
}

/// A key that could not be made, read or used, in one sentence.
public struct CurveKeyError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The CURVE set-up of a worker: its own key pair and the coordinator's public key.
public struct CurveClientKeys: Sendable, Equatable {
    public let own: CurveKeyPair
    public let serverPublicKey: String

    public init(own: CurveKeyPair, serverPublicKey: String) {
        self.own = own
        self.serverPublicKey = serverPublicKey
    }

    /// Makes `socket` a CURVE client of the server; call before connect.
    public func apply(to socket: ZMQSocket) throws(ZMQError) {
        try socket.set(.curveServerKey(serverPublicKey))
        try socket.set(.curvePublicKey(own.publicKey))
        try socket.set(.curveSecretKey(own.secretKey))
    }
}

/// Whether an endpoint is reachable only from this machine (plain TCP is fine there).
public func isLoopbackEndpoint(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://") else { return false }
    var host = String(endpoint.dropFirst(6))
    if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
    host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    return host == "localhost" || host == "::1" || host.hasPrefix("127.")
}
