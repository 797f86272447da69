import Foundation
import Synchronization

/// Answers libzmq's authentication requests (ZAP, ZeroMQ RFC 27) for CURVE server sockets made
/// from one context: a client whose public key is in the authorized-keys folder is let in, any
/// other is refused (libzmq then drops the connection before a single message gets through).
///
/// The handler is a REP socket bound to `inproc://zeromq.zap.01` on its own thread; it must be
/// started before a CURVE server socket of the same context binds, and stopped before the
/// context goes. The folder holds one public key per file (`reel keys generate` writes `.pub`
/// files); it is read again when an unknown key knocks (at most once a second), so a key added
/// while the coordinator runs is honoured without a restart.
public final class ZAPHandler: Sendable {
    /// What happened to one connection attempt: the peer's address, its key (Z85), and for an
    /// accepted one the key file's name.
    public enum Decision: Sendable, Equatable {
        case accepted(address: String, key: String, name: String)
        case refused(address: String, key: String, reason: String)
    }

    public let directory: URL
    private let onDecision: @Sendable (Decision) -> Void
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let refusedCount = Atomic<Int>(0)
    /// Authorized keys (Z85 → file name) and when the folder was last read.
    private let keys: Mutex<(byKey: [String: String], readAt: Date)>

    /// Reads the folder, binds the ZAP endpoint on `context` and starts answering.
    /// Throws one sentence when the folder cannot be read or the endpoint is taken.
    public init(context: ZMQContext, authorizedKeys directory: URL, onDecision: @escaping @Sendable (Decision) -> Void) throws(CurveKeyError) {
        self.directory = directory
        self.onDecision = onDecision
        keys = Mutex((try ZAPHandler.readKeys(directory), Date()))
        let bound = DispatchSemaphore(value: 0)
        let bindError = Mutex<CurveKeyError?>(nil)
        let thread = Thread { [self] in
            let socket: ZMQSocket
            do {
                socket = try ZMQSocket(context: context, type: .rep)
                try socket.bind("inproc://zeromq.zap.01")
            } catch {
                bindError.withLock { $0 = CurveKeyError("cannot start the authentication handler: \(error)") }
                bound.signal()
                finished.signal()
                return
            }
            bound.signal()
            serve(socket)
            socket.close()
            finished.signal()
        }
        thread.name = "reel-zap"
        thread.start()
        bound.wait()
        if let error = bindError.withLock({ $0 }) { throw error }
    }

    /// Connections refused since start.
    public var refusals: Int { refusedCount.load(ordering: .relaxed) }

    /// Public keys currently authorized.
    public var authorizedKeyCount: Int { keys.withLock { $0.byKey.count } }

    /// Stops answering and closes the socket; waits for the thread. Safe to call twice.
    public func stop() {
        guard running.exchange(false, ordering: .sequentiallyConsistent) else { return }
        finished.wait()
    }

    private func serve(_ socket: ZMQSocket) {
        while running.load(ordering: .relaxed) {
            guard (try? socket.pollIn(timeoutMilliseconds: 100)) == true,
                  case .message(let frames)? = try? socket.receive(dontWait: true) else { continue }
            _ = try? socket.send(answer(frames))
        }
    }

    /// The reply to one request: version, request id, status code, status text, user id, metadata.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        // version, request id, domain, address, routing id, mechanism, credentials...
        guard frames.count >= 6, String(decoding: frames[0], as: UTF8.self) == "1.0" else {
            let id = frames.count > 1 ? frames[1] : []
            return reply(id, "500", "malformed ZAP request", user: "")
        }
        let requestID = frames[1]
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard mechanism == "CURVE", frames.count >= 7, let key = CurveKeyPair.z85(frames[6]) else {
            refusedCount.add(1, ordering: .relaxed)
            onDecision(.refused(address: address, key: "", reason: "mechanism \(mechanism) is not accepted; workers must use CURVE"))
            return reply(requestID, "400", "CURVE required", user: "")
        }
        if let name = lookUp(key) {
            onDecision(.accepted(address: address, key: key, name: name))
            return reply(requestID, "200", "OK", user: name)
        }
        refusedCount.add(1, ordering: .relaxed)
        onDecision(.refused(address: address, key: key, reason: "its public key is not in \(directory.path)"))
        return reply(requestID, "400", "key not authorized", user: "")
    }

    /// The key's file name; re-reads the folder (at most once a second) for an unknown key.
    private func lookUp(_ key: String) -> String? {
        keys.withLock { state in
            if let name = state.byKey[key] { return name }
            guard Date().timeIntervalSince(state.readAt) >= 1 else { return nil }
            state.readAt = Date()
            if let fresh = try? ZAPHandler.readKeys(directory) { state.byKey = fresh }
            return state.byKey[key]
        }
    }

    private func reply(_ id: [UInt8], _ code: String, _ text: String, user: String) -> [[UInt8]] {
        [Array("1.0".utf8), id, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
    }

    /// Every readable public key in the folder (hidden files skipped), keyed by its Z85 text.
    static func readKeys(_ directory: URL) throws(CurveKeyError) -> [String: String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw CurveKeyError("cannot read the authorized-keys folder \(directory.path): \(error.localizedDescription); create it and put each worker's .pub file in it")
        }
        var keys: [String: String] = [:]
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if let key = try? CurveKeyPair.loadPublicKey(url) { keys[key] = name }
        }
        return keys
    }
}
