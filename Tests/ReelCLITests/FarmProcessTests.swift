import Coordinator
import Foundation
import Testing

/// A `reel` process running in the background.
final class ReelProcess {
    let process = Process()
    let log: URL

    init(_ arguments: [String], log name: String, in folder: URL) throws {
        let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        process.executableURL = ProcessInfo.processInfo.environment["REEL_BINARY"].map { URL(fileURLWithPath: $0) }
            ?? buildFolder.appendingPathComponent("reel")
        process.arguments = arguments
        log = folder.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func kill9() { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    func terminate() { if process.isRunning { process.terminate(); process.waitUntilExit() } }
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
}

func freePort() -> Int { Int.random(in: 20_000...60_000) }

func waitFor(_ what: String, timeout: Double = 120, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? condition()) == true { return }
        Thread.sleep(forTimeInterval: 0.1)
    }
    throw CLIError("timed out waiting for \(what)")
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

@Suite("The farm as separate processes", .serialized)
struct FarmProcessTests {
    let prompt = "a blue square drifts right across the blue sky"

    @Test("reel render writes a film of the requested length")
    func renderLocally() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reel-cli-render-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("film.mp4").path
        let result = try runReel(["render", prompt, "--duration", "4", "--steps", "2", "--fps", "16", "--size", "128x128", "--preset", "ultrafast", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let probe = try runTool("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                                     "stream=nb_read_frames,r_frame_rate,avg_frame_rate,width,height", "-of", "default=nw=1", out])
        #expect(probe.contains("nb_read_frames=64"), "\(probe)")
        #expect(probe.contains("r_frame_rate=16/1"))
        #expect(probe.contains("avg_frame_rate=16/1"))
        #expect(probe.contains("width=128"))
    }

    @Test("a storyboard renders through the same front door, its shots in the film's metadata")
    func renderStoryboard() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reel-cli-board-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let board = folder.appendingPathComponent("board.json")
        try Data(#"{"title": "two shots", "shots": [{"prompt": "a red ball rolls left on green grass", "start": 0, "end": 2}, {"prompt": "a yellow triangle rises at night", "start": 2, "end": 4, "transition": "cut"}]}"#.utf8).write(to: board)
        let out = folder.appendingPathComponent("story.mp4").path
        let result = try runReel(["render", "--storyboard", board.path, "--steps", "2", "--preset", "ultrafast", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let probe = try runTool("/usr/bin/ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames:format_tags=reel_storyboard",
                                                     "-of", "default=nw=1", out])
        #expect(probe.contains("nb_read_frames=32"), "\(probe)")
        #expect(probe.contains("a yellow triangle rises at night"), "\(probe)")

        // A malformed storyboard: one sentence, no film.
        try Data(#"{"shots": [{"prompt": "x", "start": 0, "end": 2}, {"prompt": "y", "start": 3, "end": 4}]}"#.utf8).write(to: board)
        let bad = try runReel(["render", "--storyboard", board.path, "--out", folder.appendingPathComponent("bad.mp4").path])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("storyboard"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("bad.mp4").path))
    }

    /// The benchmark's machinery, not its speed: real worker processes with the benchmark load
    /// finish every planned segment, and the figures it derives are consistent with each other.
    @Test("reel bench farm drives benchmark-load worker processes through a whole plan")
    func farmBenchmark() throws {
        let result = try runReel(["bench", "farm", "--workers", "1,3", "--duration", "6", "--load", "0.02",
                                  "--strategies", "hierarchical,sequential", "--round-trips", "20", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        let runs = rows.filter { $0["figure"] as? String == "farm" }
        #expect(runs.count == 4)
        for run in runs {
            let segments = try #require(run["segments"] as? Int), chain = try #require(run["critical_path"] as? Int)
            let wall = try #require(run["wall_s"] as? Double), bound = try #require(run["bound_s"] as? Double)
            #expect(segments >= chain && chain >= 1)
            // No schedule beats the bound; the measured wall time includes real work.
            #expect(wall >= bound * 0.99, "\(run)")
            #expect((run["efficiency_bound"] as? Double).map { $0 > 0 && $0 <= 1.01 } == true)
            if run["workers"] as? Int == 1 { #expect(run["added_latency_ms_per_segment"] is Double) }
        }
        let zmq = try #require(rows.first { $0["figure"] as? String == "zmq_round_trip" })
        #expect((zmq["small_us"] as? Double).map { $0 > 0 } == true)
    }

    @Test("bad requests to reel render get one sentence and no file")
    func renderRejectsBadInput() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UInt32.random(in: 0...UInt32.max)).mp4").path
        // Hostile storyboards: invalid UTF-8, and 5 MB of binary junk (over the 4 MiB limit).
        let scratch = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let invalidUTF8 = scratch.appendingPathComponent("latin1.json")
        try Data(#"{"shots":[{"prompt":"a "#.utf8 + [0xFF, 0xFE] + #" red ball","start":0,"end":2}]}"#.utf8).write(to: invalidUTF8)
        let huge = scratch.appendingPathComponent("huge.json")
        try Data((0..<5_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }).write(to: huge)
        for (arguments, phrase) in [(["render", String(repeating: "a", count: 100_000), "--out", out], "2000 bytes"),
                                    (["render", "a red \u{01} ball", "--out", out], "not printable"),
                                    (["render", "--storyboard", invalidUTF8.path, "--out", out], "UTF-8"),
                                    (["render", "--storyboard", huge.path, "--out", out], "limit")] {
            let result = try runReel(arguments)
            #expect(result.status != 0)
            #expect(result.stderr.contains(phrase), "\(result.stderr.prefix(300))")
            #expect(result.stderr.split(separator: "\n").count <= 2, "\(result.stderr.prefix(300))")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        for arguments in [["render", "--duration", "4", "--out", out],
                          ["render", prompt, "--duration", "-3", "--out", out],
                          ["render", prompt, "--fps", "12", "--out", out],
                          ["render", "--storyboard", "/nonexistent/board.json", "--out", out],
                          ["render", prompt, "--audio", "/nonexistent/song.m4a", "--out", out]] {
            let result = try runReel(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(!result.stderr.contains("Fatal error"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("kill -9 a worker and the coordinator mid-job: submit --wait still gets the same film, nothing rendered twice")
    func survivesKills() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reel-cli-farm-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state").path
        let (zmqPort, httpPort) = (freePort(), freePort())
        let coordinatorArguments = ["coordinator", "--bind", "tcp://127.0.0.1:\(zmqPort)", "--http", "127.0.0.1:\(httpPort)", "--state", state,
                                    "--heartbeat", "0.2", "--liveness", "5"]
        var coordinator = try ReelProcess(coordinatorArguments, log: "coordinator-1", in: folder)
        defer { coordinator.terminate() }
        let workers = try (0..<2).map { i in
            try ReelProcess(["worker", "--connect", "tcp://127.0.0.1:\(zmqPort)", "--threads", "1", "--name", "w\(i)", "--heartbeat", "0.2"],
                            log: "worker-\(i)", in: folder)
        }
        defer { workers.forEach { $0.terminate() } }
        let url = "http://127.0.0.1:\(httpPort)"
        try waitFor("the coordinator's HTTP API", timeout: 60) { try runReel(["status", "--coordinator", url]).status == 0 }
        let film = folder.appendingPathComponent("film.mp4").path
        let submit = try ReelProcess(["submit", "--coordinator", url, prompt, "--duration", "8", "--steps", "6", "--seed", "5",
                                      "--preset", "ultrafast", "--wait", "--out", film], log: "submit", in: folder)
        defer { submit.terminate() }

        func status() throws -> [String: Any] {
            let result = try runReel(["status", "--coordinator", url, "--json"])
            guard result.status == 0 else { throw CLIError(result.stderr) }
            return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        }
        func segmentsDone() throws -> Int { ((try status()["jobs"] as? [[String: Any]])?.first?["segmentsDone"] as? Int) ?? 0 }

        try waitFor("the first segment") { try segmentsDone() >= 1 }
        workers[0].kill9()
        try waitFor("two more segments") { try segmentsDone() >= 3 }
        coordinator.kill9()
        Thread.sleep(forTimeInterval: 0.5)
        coordinator = try ReelProcess(coordinatorArguments, log: "coordinator-2", in: folder)
        submit.process.waitUntilExit()
        #expect(submit.process.terminationStatus == 0, "\(submit.output)\n--- coordinator 1+2:\n\(coordinator.output)")
        #expect(FileManager.default.fileExists(atPath: film))

        // Every segment succeeded exactly once across both coordinator runs.
        coordinator.terminate()
        let journal = try Journal(url: URL(fileURLWithPath: state).appendingPathComponent("journal.sqlite"))
        let job = try #require(try journal.jobs().first)
        #expect(job.state == .done)
        let segments = try journal.segments(job: job.id)
        let succeeded = try journal.attempts(job: job.id, state: .succeeded).map(\.segment)
        #expect(succeeded.count == segments.count)
        #expect(Set(succeeded).count == succeeded.count)
        #expect(try journal.integrityCheck() == "ok")

        // The same request rendered in one process without faults gives the same latents.
        let referenceState = folder.appendingPathComponent("reference").path
        let reference = try runReel(["render", prompt, "--duration", "8", "--steps", "6", "--seed", "5", "--preset", "ultrafast",
                                     "--state", referenceState, "--out", folder.appendingPathComponent("reference.mp4").path])
        #expect(reference.status == 0, "\(reference.stderr)")
        let referenceJournal = try Journal(url: URL(fileURLWithPath: referenceState).appendingPathComponent("journal.sqlite"))
        let referenceJob = try #require(try referenceJournal.jobs().first)
        let digests = Dictionary(uniqueKeysWithValues: segments.map { ($0.id, $0.digest) })
        let referenceDigests = Dictionary(uniqueKeysWithValues: try referenceJournal.segments(job: referenceJob.id).map { ($0.id, $0.digest) })
        #expect(digests == referenceDigests)
        // And the same pictures: every decoded frame's MD5 matches.
        let frames = try runTool("/usr/bin/ffmpeg", ["-v", "error", "-i", film, "-f", "framemd5", "-"])
        let referenceFrames = try runTool("/usr/bin/ffmpeg", ["-v", "error", "-i", folder.appendingPathComponent("reference.mp4").path, "-f", "framemd5", "-"])
        #expect(frames.split(separator: "\n").filter { !$0.hasPrefix("#") }.count == 64)
        #expect(frames == referenceFrames)
    }
}

func runTool(_ path: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
