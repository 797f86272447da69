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

/// The small random-weight reel-tiny used for parity (a real model file, untrained): enough to
/// exercise the whole generate pipeline quickly.
let parityModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../ModelsTests/Fixtures/reel-tiny-parity").standardized.path

func scratchFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reel-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("reel generate and reel eval")
struct GenerateCommandTests {
    @Test("generate writes an MP4 with the requested frames; the same seed gives the same bytes")
    func generate() throws {
        let dir = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["REEL_MODEL_DIR": parityModel]
        var outputs: [Data] = []
        for (name, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
            let out = dir.appendingPathComponent("\(name).mp4").path
            let result = try runReel(["generate", "a red ball bounces", "--frames", "3", "--steps", "3", "--seed", seed, "--out", out], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(outputs[0] == outputs[1], "same seed, same file")
        #expect(outputs[0] != outputs[2], "another seed, another clip")
        let probe = try runFFprobe(dir.appendingPathComponent("a.mp4").path)
        #expect(probe.contains("nb_read_frames=3"))
        #expect(probe.contains("TAG:reel_seed=5"))
        #expect(probe.contains("TAG:ai_generated=true"))
    }

    @Test("bad requests: one clear sentence and a non-zero exit", arguments: [
        (["generate", "   "], "prompt is empty"),
        (["generate", "a red ball", "--frames", "5"], "outside what the model renders"),
        (["generate", "a red ball", "--stride", "3"], "stride 3"),
        (["generate", "a red ball", "--steps", "0"], "--steps"),
        (["generate", "a red ball", "--size", "255x256"], "--size"),
        (["generate", "a red ball", "--out", "/nonexistent-dir/x.mp4"], "Could not write"),
    ])
    func badRequests(arguments: [String], phrase: String) throws {
        let result = try runReel(arguments, environment: ["REEL_MODEL_DIR": parityModel])
        #expect(result.status != 0)
        #expect(result.stderr.contains(phrase), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("corrupt or missing weights are refused with the fix")
    func badWeights() throws {
        let dir = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(atPath: parityModel, toPath: model.path)
        let weights = model.appendingPathComponent("vae.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[100] ^= 1
        try bytes.write(to: weights)
        let corrupt = try runReel(["generate", "a red ball"], environment: ["REEL_MODEL_DIR": model.path])
        #expect(corrupt.status != 0)
        #expect(corrupt.stderr.contains("corrupt"))
        let missing = try runReel(["generate", "a red ball"], environment: ["REEL_MODEL_DIR": dir.appendingPathComponent("none").path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("missing"))
    }

    @Test("eval reads a video back and reports JSON; a missing file is a clear error")
    func eval() throws {
        let dir = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("clip.mp4").path
        _ = try runReel(["generate", "a red ball", "--frames", "4", "--steps", "2", "--out", out], environment: ["REEL_MODEL_DIR": parityModel])
        let result = try runReel(["eval", out, "--prompt", "a crimson ball rolls to the left", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let output = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let report = output["adherence"] as! [String: Any]
        #expect(report["frames"] as? Int == 4)
        let expected = report["expected"] as! [String: Any]
        #expect(expected["colour"] as? String == "red" && expected["motion"] as? String == "left")
        let missing = try runReel(["eval", dir.appendingPathComponent("nope.mp4").path, "--prompt", "x"])
        #expect(missing.status != 0 && missing.stderr.contains("No file"))
    }
}

func runFFprobe(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
