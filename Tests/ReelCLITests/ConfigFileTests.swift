import Foundation
import Testing

@Suite("--config files", .serialized)
struct ConfigFileTests {
    @Test("the file sets options, flags override it, and the coordinator runs with the result")
    func precedence() throws {
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (filePort, flagPort) = (freePort(), freePort())
        let state = folder.appendingPathComponent("state-from-file")
        let config = folder.appendingPathComponent("coordinator.toml")
        try Data("""
            # a coordinator on loopback
            bind = "tcp://127.0.0.1:\(freePort())"
            http = "127.0.0.1:\(filePort)"   # overridden on the command line
            state = '\(state.path)'
            heartbeat = 0.5
            liveness = 4
            insecure = false

            [worker]
            threads = 3   # another command's table: ignored here
            """.utf8).write(to: config)
        let coordinator = try ReelProcess(["coordinator", "--config", config.path, "--http", "127.0.0.1:\(flagPort)"], log: "coordinator", in: folder)
        defer { coordinator.terminate() }
        try waitFor("the coordinator on the flag's port", timeout: 60) {
            try runReel(["status", "--coordinator", "http://127.0.0.1:\(flagPort)"]).status == 0
        }
        #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent("journal.sqlite").path))
        #expect(try runReel(["status", "--coordinator", "http://127.0.0.1:\(filePort)"]).status != 0)
    }

    @Test("bad files get one sentence naming the file and the line", arguments: [
        ("bogus = 1\n", "bogus is not an option of reel coordinator"),
        ("heartbeat = fast\n", "line 1"),
        ("bind = \"tcp://127.0.0.1:1\nhttp = 2\n", "not closed"),
        ("lease = 3\nlease = 4\n", "set twice"),
        ("lease == 4\n", "line 1"),
    ])
    func badFiles(text: String, phrase: String) throws {
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("bad.toml")
        try Data(text.utf8).write(to: config)
        let result = try runReel(["coordinator", "--config", config.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains(phrase), "\(result.stderr)")
        #expect(result.stderr.contains("bad.toml"), "\(result.stderr)")
        let missing = try runReel(["worker", "--config", folder.appendingPathComponent("none.toml").path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read the config file"))
    }
}
