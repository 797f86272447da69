import Foundation
import Testing
@testable import Wire

@Suite("ZeroMQ sockets (real libzmq)")
struct ZMQSocketTests {
    @Test("libzmq is 4.3 or newer")
    func version() {
        let v = zmqVersion
        #expect(v.major > 4 || (v.major == 4 && v.minor >= 3))
    }

    @Test("ROUTER and DEALER exchange multipart messages", arguments: ["inproc://reel-test-\(UUID().uuidString)", "tcp://127.0.0.1:*"])
    func routerDealer(endpoint: String) throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.set(.routerMandatory(true))
        try router.bind(endpoint)
        let bound = try router.lastEndpoint()
        #expect(!bound.hasSuffix("*"))

        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.set(.routingID(Array("worker-1".utf8)))
        try dealer.connect(bound)

        let payload: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try dealer.send([Array("READY".utf8), [], payload])
        #expect(try router.pollIn(timeoutMilliseconds: 5000))
        guard case .message(let frames) = try router.receive() else { Issue.record("no message"); return }
        #expect(frames.count == 4)
        #expect(frames[0] == Array("worker-1".utf8), "ROUTER prefixes the sender's identity")
        #expect(frames[1] == Array("READY".utf8))
        #expect(frames[2].isEmpty)
        #expect(frames[3] == payload)

        try router.send([frames[0], Array("TASK".utf8)])
        #expect(try dealer.pollIn(timeoutMilliseconds: 5000))
        #expect(try dealer.receive() == .message([Array("TASK".utf8)]))
    }

    @Test("an empty queue is a state, not an error")
    func wouldBlock() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.bind("inproc://reel-empty-\(UUID().uuidString)")
        #expect(try socket.receive(dontWait: true) == .wouldBlock)
        #expect(try socket.pollIn(timeoutMilliseconds: 10) == false)
    }

    @Test("a doorbell rung from another thread wakes a poll on the socket, and clears")
    func doorbell() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        defer { socket.close() }
        try socket.bind("inproc://reel-doorbell-\(UUID().uuidString)")
        let bell = try Doorbell()
        #expect(try socket.pollIn(timeoutMilliseconds: 0, orReadable: bell.readDescriptor) == (false, false))
        let ringer = Thread { bell.ring() }
        ringer.start()
        // No timeout: only the bell can end this wait.
        #expect(try socket.pollIn(timeoutMilliseconds: -1, orReadable: bell.readDescriptor) == (false, true))
        bell.clear()
        #expect(try socket.pollIn(timeoutMilliseconds: 0, orReadable: bell.readDescriptor) == (false, false))
    }

    @Test("ROUTER_MANDATORY turns a send to an unknown peer into EHOSTUNREACH")
    func unroutable() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.set(.routerMandatory(true))
        try router.bind("inproc://reel-mandatory-\(UUID().uuidString)")
        let error = #expect(throws: ZMQError.self) { try router.send([Array("ghost".utf8), [1]]) }
        #expect(error?.call == "zmq_send")
        #expect(error?.message.isEmpty == false)
    }

    @Test("a bad endpoint fails with the call and libzmq's reason")
    func badEndpoint() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .router)
        let error = #expect(throws: ZMQError.self) { try socket.bind("nonsense://x") }
        #expect(error?.description.contains("zmq_bind(nonsense://x)") == true)
        socket.close()
        #expect(throws: ZMQError.self) { try socket.bind("inproc://after-close") }
    }

    @Test("oversized messages are dropped by ZMQ_MAXMSGSIZE")
    func maxMessageSize() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.set(.maxMessageSize(1024))
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect(try router.lastEndpoint())
        try dealer.send([[UInt8](repeating: 7, count: 4096)])
        try dealer.send([Array("small".utf8)])
        // The big message kills that connection; the small one may or may not survive the reconnect,
        // but the 4 KiB frame must never arrive.
        while try router.pollIn(timeoutMilliseconds: 300) {
            guard case .message(let frames) = try router.receive() else { break }
            #expect(frames.last!.count <= 1024)
        }
    }
}
