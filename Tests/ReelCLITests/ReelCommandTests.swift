import Foundation
import Testing

/// Runs the built `reel` executable (next to this test bundle in the build folder).
func runReel(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let binary = ProcessInfo.processInfo.environment["REEL_BINARY"].map { URL(fileURLWithPath: $0) }
        ?? buildFolder.appendingPathComponent("reel")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite("The reel command line")
struct ReelCommandTests {
    @Test("reel embed --json prints a unit-length 384-d vector and the token ids")
    func embedJSON() throws {
        let result = try runReel(["embed", "a red ball bounces", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let vector = (object["embedding"] as! [Double])
        #expect(vector.count == 384)
        #expect(abs(vector.map { $0 * $0 }.reduce(0, +) - 1) < 1e-4)
        #expect((object["token_ids"] as! [Int]).first == 101)
    }

    @Test("reel embed prints 384 numbers in plain mode")
    func embedPlain() throws {
        let result = try runReel(["embed", "night sky"])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: " ").count == 384)
    }

    @Test("missing weights: one sentence naming the setup script, non-zero exit")
    func missingWeights() throws {
        let result = try runReel(["embed", "x"], environment: ["REEL_MINILM_DIR": "/nonexistent/minilm"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("scripts/setup.sh"))
        #expect(!result.stderr.contains("Fatal error"))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("bench kernels validates its options")
    func benchValidation() throws {
        let result = try runReel(["bench", "kernels", "--rounds", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--rounds"))
    }

    @Test("--help explains the commands")
    func help() throws {
        let result = try runReel(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("embed"))
        #expect(result.stdout.contains("bench"))
    }
}
