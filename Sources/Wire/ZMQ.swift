import CZeroMQ
import Glibc

/// A failed libzmq call: the errno it left, libzmq's text for it, and the call.
public struct ZMQError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let message: String
    public let call: String

    public var description: String { "\(call) failed: \(message) (errno \(code))" }

    /// True when the context is shutting down; sockets should close.
    public var isTerminated: Bool { code == reel_zmq_eterm() }
}

/// The one place libzmq return codes become Swift errors.
@inline(__always)
func zmqCheck(_ rc: Int32, _ call: @autoclosure () -> String) throws(ZMQError) {
    if rc == -1 { throw ZMQError.current(call()) }
}

extension ZMQError {
    static func current(_ call: String) -> ZMQError {
        let code = reel_zmq_errno()
        return ZMQError(code: code, message: String(cString: zmq_strerror(code)), call: call)
    }
}

/// libzmq's version as (major, minor, patch).
public var zmqVersion: (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}

/// A libzmq context: the I/O threads behind every socket made from it.
// @unchecked Sendable: libzmq documents contexts as thread-safe; sockets are not and are not Sendable.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.current("zmq_ctx_new") }
        self.handle = handle
        try zmqCheck(zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads)), "zmq_ctx_set(ZMQ_IO_THREADS)")
    }

    /// Terminates the context; blocks until every socket made from it is closed (their lingers apply).
    deinit { zmq_ctx_term(handle) }
}

/// Socket options Reel sets.
public enum ZMQOption: Sendable, Equatable {
    /// Milliseconds unsent messages are kept after close (Reel defaults to 0).
    case linger(Int32)
    /// ROUTER: fail a send to an unknown identity with EHOSTUNREACH instead of dropping it.
    case routerMandatory(Bool)
    /// Most messages queued per peer before sends block or drop.
    case sendHighWaterMark(Int32)
    case receiveHighWaterMark(Int32)
    /// Milliseconds a blocking receive or send waits (−1: forever).
    case receiveTimeout(Int32)
    case sendTimeout(Int32)
    /// Largest inbound message in bytes; a peer sending more is disconnected (−1: no limit).
    case maxMessageSize(Int64)
    /// This socket's identity as a ROUTER peer sees it.
    case routingID([UInt8])
    /// CURVE: this socket is the server side (it has a key pair; clients must know its public key).
    case curveServer(Bool)
    /// CURVE keys, each 40 characters of Z85 (see `CurveKeyPair`).
    case curvePublicKey(String)
    case curveSecretKey(String)
    /// CURVE client: the public key of the server it connects to.
    case curveServerKey(String)
    /// The ZAP domain a server socket's connections are authenticated in.
    case zapDomain(String)
}

/// Socket types Reel uses.
public enum ZMQSocketType: Sendable {
    case router, dealer, pair, req, rep

    var raw: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }
}

/// What a non-blocking receive found.
public enum ZMQReceive: Equatable {
    /// A whole multipart message.
    case message([[UInt8]])
    /// Nothing waiting (EAGAIN), a normal state.
    case wouldBlock
}

/// One libzmq socket, owned by this value and closed when it goes away. Not thread-safe:
/// keep each socket on the one thread that made it (libzmq's rule).
public final class ZMQSocket {
    private var handle: UnsafeMutableRawPointer?
    /// The context must outlive its sockets; holding it here makes that so.
    private let context: ZMQContext

    public init(context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else { throw ZMQError.current("zmq_socket") }
        self.handle = handle
        self.context = context
        try set(.linger(0))
    }

    deinit { if let handle { zmq_close(handle) } }

    /// Closes the socket now; later calls fail with ENOTSOCK.
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }

    private var live: UnsafeMutableRawPointer {
        get throws(ZMQError) {
            guard let handle else { throw ZMQError(code: reel_zmq_enotsock(), message: "socket is closed", call: "use of a closed socket") }
            return handle
        }
    }

    func rawHandle() throws(ZMQError) -> UnsafeMutableRawPointer { try live }

    /// Applies a socket option.
    public func set(_ option: ZMQOption) throws(ZMQError) {
        switch option {
        case .linger(let ms): try setInt32(ZMQ_LINGER, ms, "ZMQ_LINGER")
        case .routerMandatory(let on): try setInt32(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .sendHighWaterMark(let n): try setInt32(ZMQ_SNDHWM, n, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let n): try setInt32(ZMQ_RCVHWM, n, "ZMQ_RCVHWM")
        case .receiveTimeout(let ms): try setInt32(ZMQ_RCVTIMEO, ms, "ZMQ_RCVTIMEO")
        case .sendTimeout(let ms): try setInt32(ZMQ_SNDTIMEO, ms, "ZMQ_SNDTIMEO")
        case .maxMessageSize(let bytes):
            var v = bytes
            try zmqCheck(zmq_setsockopt(try live, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size), "zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        case .routingID(let id):
            let socket = try live
            let rc = id.withUnsafeBytes { zmq_setsockopt(socket, ZMQ_ROUTING_ID, $0.baseAddress, $0.count) }
            try zmqCheck(rc, "zmq_setsockopt(ZMQ_ROUTING_ID)")
        case .curveServer(let on): try setInt32(ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let key): try setString(ZMQ_CURVE_PUBLICKEY, key, terminated: true, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let key): try setString(ZMQ_CURVE_SECRETKEY, key, terminated: true, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let key): try setString(ZMQ_CURVE_SERVERKEY, key, terminated: true, "ZMQ_CURVE_SERVERKEY")
        case .zapDomain(let domain): try setString(ZMQ_ZAP_DOMAIN, domain, terminated: false, "ZMQ_ZAP_DOMAIN")
        }
    }

    /// A string option. CURVE keys go in as 40 Z85 characters plus the terminating zero (libzmq
    /// tells Z85 from 32 raw bytes by that length); other strings without it.
    private func setString(_ option: Int32, _ value: String, terminated: Bool, _ name: String) throws(ZMQError) {
        let socket = try live
        let bytes: [UInt8] = Array(value.utf8) + (terminated ? [0] : [])
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        try zmqCheck(rc, "zmq_setsockopt(\(name))")
    }

    private func setInt32(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        var v = value
        try zmqCheck(zmq_setsockopt(try live, option, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(\(name))")
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        try zmqCheck(zmq_bind(try live, endpoint), "zmq_bind(\(endpoint))")
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCheck(zmq_connect(try live, endpoint), "zmq_connect(\(endpoint))")
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to its port).
    public func lastEndpoint() throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        try zmqCheck(zmq_getsockopt(try live, ZMQ_LAST_ENDPOINT, &buffer, &size), "zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends all frames as one multipart message. Blocks while the high-water mark is reached unless
    /// `dontWait`, in which case EAGAIN is returned as `false`.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        let socket = try live
        precondition(!frames.isEmpty, "a message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            let rc = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            if rc == -1 {
                if reel_zmq_errno() == reel_zmq_eagain() && index == 0 { return false }
                throw ZMQError.current("zmq_send")
            }
        }
        return true
    }

    /// Receives one whole multipart message; with `dontWait`, `.wouldBlock` when none is queued.
    /// A receive timeout (ZMQ_RCVTIMEO) also ends as `.wouldBlock`.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> ZMQReceive {
        let socket = try live
        var frames: [[UInt8]] = []
        var first = true
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let rc = zmq_msg_recv(&message, socket, (dontWait && first) ? ZMQ_DONTWAIT : 0)
            if rc == -1 {
                if first && reel_zmq_errno() == reel_zmq_eagain() { return .wouldBlock }
                throw ZMQError.current("zmq_msg_recv")
            }
            first = false
            let size = zmq_msg_size(&message)
            let data = zmq_msg_data(&message)
            frames.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
            if zmq_msg_more(&message) == 0 { return .message(frames) }
        }
    }

    /// Waits up to `timeoutMilliseconds` (−1: forever) for a message to read; true when one is ready.
    public func pollIn(timeoutMilliseconds: Int) throws(ZMQError) -> Bool {
        try poll([zmq_pollitem_t(socket: try live, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)], timeoutMilliseconds)[0]
    }

    /// Like `pollIn(timeoutMilliseconds:)`, but also wakes when the file descriptor `fd` becomes
    /// readable (a `Doorbell` rung by another thread). Returns which of the two is ready.
    public func pollIn(timeoutMilliseconds: Int, orReadable fd: Int32) throws(ZMQError) -> (socket: Bool, fd: Bool) {
        let ready = try poll([zmq_pollitem_t(socket: try live, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0),
                              zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)], timeoutMilliseconds)
        return (ready[0], ready[1])
    }

    /// `zmq_poll` on `items`: whether each became readable (none when a signal interrupted the wait).
    private func poll(_ items: [zmq_pollitem_t], _ timeoutMilliseconds: Int) throws(ZMQError) -> [Bool] {
        var items = items
        if zmq_poll(&items, Int32(items.count), timeoutMilliseconds) == -1 {
            if reel_zmq_errno() == reel_zmq_eintr() { return items.map { _ in false } }
            throw ZMQError.current("zmq_poll")
        }
        return items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    }
}

/// Wakes a thread blocked in `ZMQSocket.pollIn(timeoutMilliseconds:orReadable:)` from another
/// thread (ZeroMQ sockets belong to one thread, so other threads cannot send on them): a
/// non-blocking pipe; `ring` writes a byte, the polling thread `clear`s it after waking.
public final class Doorbell: Sendable {
    public let readDescriptor: Int32
    private let writeDescriptor: Int32

    public init() throws(ZMQError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ZMQError(code: errno, message: String(cString: strerror(errno)), call: "pipe")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Wakes the poller. A full pipe already holds a wake-up, so a failed write loses nothing.
    public func ring() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Empties the pipe after a wake-up.
    public func clear() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }
}

/// A connection event libzmq reported for a monitored socket.
public enum ZMQConnectionEvent: Sendable, Equatable {
    case connected
    case disconnected
    case handshakeSucceeded
    /// The peer's authenticator refused us; the value is the ZAP status code (300, 400, 500).
    case authenticationRefused(status: Int)
    /// The security handshake failed (wrong server key, mechanism mismatch, …).
    case handshakeFailed
    case other(Int)
}

/// Reports a socket's connection events (zmq_socket_monitor) through a PAIR socket on the same
/// context; read it on the thread that owns the monitored socket.
public final class ZMQMonitor {
    private let events: ZMQSocket

    /// Starts monitoring `socket` (before it connects, so no event is missed).
    public init(_ socket: ZMQSocket, context: ZMQContext) throws(ZMQError) {
        let endpoint = "inproc://reel-monitor-\(UInt64.random(in: 0...UInt64.max))"
        let wanted = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        try socket.startMonitor(endpoint, events: wanted)
        events = try ZMQSocket(context: context, type: .pair)
        try events.connect(endpoint)
    }

    deinit { events.close() }

    /// The events reported since the last call, oldest first; never blocks.
    public func poll() -> [ZMQConnectionEvent] {
        var found: [ZMQConnectionEvent] = []
        while case .message(let frames)? = try? events.receive(dontWait: true) {
            guard let first = frames.first, first.count >= 6 else { continue }
            let code = Int32(first[0]) | Int32(first[1]) << 8
            let value = Int(UInt32(first[2]) | UInt32(first[3]) << 8 | UInt32(first[4]) << 16 | UInt32(first[5]) << 24)
            switch code {
            case ZMQ_EVENT_CONNECTED: found.append(.connected)
            case ZMQ_EVENT_DISCONNECTED: found.append(.disconnected)
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: found.append(.handshakeSucceeded)
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: found.append(.authenticationRefused(status: value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: found.append(.handshakeFailed)
            default: found.append(.other(Int(code)))
            }
        }
        return found
    }
}

extension ZMQSocket {
    func startMonitor(_ endpoint: String, events: Int32) throws(ZMQError) {
        try zmqCheck(zmq_socket_monitor(try rawHandle(), endpoint, events), "zmq_socket_monitor")
    }
}
