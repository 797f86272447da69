import Foundation
import Testing
import Wire
@testable import Coordinator
@testable import Worker

/// CURVE key files, and the coordinator's ZAP handler with real sockets: only authorized
/// workers get work, and a worker with the wrong coordinator key never connects.
@Suite(.serialized) struct CurveTests {
    @Test func keyFilesRoundTripAndRefuseToBeOverwritten() throws {
        let folder = temporaryDirectory("keys")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey != pair.secretKey)
        let files = try pair.write(to: folder, name: "w1")
        #expect(try CurveKeyPair.load(secretFile: files.secret) == pair)
        #expect(try CurveKeyPair.loadPublicKey(files.public) == pair.publicKey)
        #expect(try CurveKeyPair.loadPublicKey(files.secret) == pair.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: files.secret.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // A public file is not a secret key; existing keys are never overwritten.
        #expect(throws: CurveKeyError.self) { try CurveKeyPair.load(secretFile: files.public) }
        #expect(throws: CurveKeyError.self) { try pair.write(to: folder, name: "w1") }
        // A bare one-line key is a public key too; junk is not.
        let bare = folder.appendingPathComponent("bare.pub")
        try Data("\(pair.publicKey)\n".utf8).write(to: bare)
        #expect(try CurveKeyPair.loadPublicKey(bare) == pair.publicKey)
        // Z85 keys may contain '=' (and other punctuation): every form must still read back.
        for n in 0..<64 {
            let other = try CurveKeyPair.generate()
            let files = try other.write(to: folder, name: "k\(n)")
            #expect(try CurveKeyPair.load(secretFile: files.secret) == other)
            let line = folder.appendingPathComponent("k\(n).line")
            try Data(other.publicKey.utf8).write(to: line)
            #expect(try CurveKeyPair.loadPublicKey(line) == other.publicKey)
        }
        let junk = folder.appendingPathComponent("junk.pub")
        try Data("not a key".utf8).write(to: junk)
        #expect(throws: CurveKeyError.self) { try CurveKeyPair.loadPublicKey(junk) }
        #expect(throws: CurveKeyError.self) { try CurveKeyPair.loadPublicKey(folder.appendingPathComponent("missing.pub")) }
    }

    @Test func loopbackEndpointsAreRecognised() {
        #expect(isLoopbackEndpoint("tcp://127.0.0.1:5555"))
        #expect(isLoopbackEndpoint("tcp://localhost:*"))
        #expect(isLoopbackEndpoint("tcp://[::1]:5555"))
        #expect(isLoopbackEndpoint("ipc:///tmp/reel.sock"))
        #expect(!isLoopbackEndpoint("tcp://0.0.0.0:5555"))
        #expect(!isLoopbackEndpoint("tcp://10.1.2.3:5555"))
        #expect(!isLoopbackEndpoint("tcp://render-7:5555"))
    }

    @Test func onlyAuthorizedWorkersGetWorkAndAWrongCoordinatorKeyCannotConnect() async throws {
        let root = temporaryDirectory("curve-farm")
        defer { try? FileManager.default.removeItem(at: root) }
        let authorized = root.appendingPathComponent("authorized")
        let server = try CurveKeyPair.generate()
        let member = try CurveKeyPair.generate()
        let stranger = try CurveKeyPair.generate()
        _ = try member.write(to: authorized, name: "member")
        let impostor = try CurveKeyPair.generate()   // poses as the coordinator

        var configuration = Coordinator.Configuration(bind: "tcp://127.0.0.1:*", stateDirectory: root.appendingPathComponent("state"),
                                                      settings: FarmFixture.settings(),
                                                      curve: .init(keys: server, authorizedKeys: authorized))
        configuration.settings.lease = 30
        let coordinator = Coordinator(configuration: configuration, model: FarmFixture.generator.model)
        try coordinator.start()
        defer { coordinator.stop() }
        let endpoint = try #require(coordinator.boundEndpoint)

        func worker(_ name: String, keys: CurveKeyPair, serverKey: String) -> Worker {
            var config = Worker.Configuration(connect: endpoint, name: name)
            config.heartbeatInterval = 0.1
            config.liveness = 4
            config.maxBackoff = 0.5
            config.curve = CurveClientKeys(own: keys, serverPublicKey: serverKey)
            let worker = Worker(configuration: config, renderer: ReelTinyRenderer(generator: FarmFixture.generator))
            let thread = Thread { try? worker.run() }
            thread.stackSize = 8 << 20
            thread.start()
            return worker
        }

        let job = try await coordinator.submit(FarmFixture.spec())
        let intruder = worker("intruder", keys: stranger, serverKey: server.publicKey)
        let lost = worker("lost", keys: member, serverKey: impostor.publicKey)
        defer { intruder.stop(); lost.stop() }
        // Give both several reconnection rounds: neither may ever be seen as a worker.
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            #expect(coordinator.snapshot.workers.isEmpty, "\(coordinator.snapshot.workers.map(\.name))")
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(coordinator.authenticationRefusals >= 1)
        #expect(intruder.authenticationFailures >= 1)
        #expect(lost.authenticationFailures >= 1)
        #expect(intruder.segmentsFinished == 0 && lost.segmentsFinished == 0)
        let waiting = try #require(coordinator.snapshot.jobs.first { $0.id == job })
        #expect(waiting.segmentsDone == 0)

        // The authorized worker joins and renders the whole job.
        let good = worker("member", keys: member, serverKey: server.publicKey)
        defer { good.stop() }
        let status = try await FarmFixture.wait(coordinator, job: job) { $0.state.isFinal }
        #expect(status.state == .done, "\(status.error ?? "")")
        let journal = try Journal(url: root.appendingPathComponent("state/journal.sqlite"))
        let renderers = Set(try journal.attempts(job: job, state: .succeeded).map(\.worker))
        #expect(renderers == ["member"])
        #expect(good.authenticationFailures == 0)
    }

    @Test func aMissingAuthorizedKeysFolderIsOneClearError() throws {
        let root = temporaryDirectory("curve-missing")
        defer { try? FileManager.default.removeItem(at: root) }
        let configuration = Coordinator.Configuration(bind: "tcp://127.0.0.1:*", stateDirectory: root.appendingPathComponent("state"),
                                                      curve: .init(keys: try CurveKeyPair.generate(), authorizedKeys: root.appendingPathComponent("nowhere")))
        let coordinator = Coordinator(configuration: configuration, model: FarmFixture.generator.model)
        do {
            try coordinator.start()
            coordinator.stop()
            Issue.record("started without its authorized-keys folder")
        } catch {
            #expect("\(error)".contains("authorized-keys folder"))
        }
    }
}
