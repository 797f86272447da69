import Foundation
import Testing

@Suite("reel keys and the CURVE gate")
struct KeysCommandTests {
    @Test("keys generate writes a 0600 secret and a public key that keys show reads back; never overwrites")
    func generateAndShow() throws {
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try runReel(["keys", "generate", "--name", "w1", "--out", folder.path])
        #expect(made.status == 0, "\(made.stderr)")
        let secret = folder.appendingPathComponent("w1.key").path
        let mode = try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let shown = try runReel(["keys", "show", folder.appendingPathComponent("w1.pub").path])
        #expect(shown.status == 0)
        let key = shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count == 40)
        #expect(made.stdout.contains(key))
        let again = try runReel(["keys", "generate", "--name", "w1", "--out", folder.path])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"))
    }

    @Test("a non-loopback coordinator or worker without keys is refused with the fix", arguments: [
        ["coordinator", "--bind", "tcp://0.0.0.0:5599"],
        ["worker", "--connect", "tcp://render-7.example:5555"],
        ["coordinator", "--bind", "tcp://0.0.0.0:5599", "--key", "/nonexistent/c.key"],
        ["worker", "--connect", "tcp://10.0.0.1:5555", "--key", "/nonexistent/w.key", "--coordinator-key", "/nonexistent/c.pub"],
    ])
    func curveGate(arguments: [String]) throws {
        let result = try runReel(arguments)
        #expect(result.status != 0)
        let text = result.stderr
        #expect(text.contains("--key") || text.contains("key file"), "\(text)")
        #expect(!text.contains("Fatal error"))
    }
}
