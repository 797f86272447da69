import ArgumentParser
import Coordinator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Tensors

/// Where the coordinator's HTTP API is; shared by submit, status and cancel.
struct CoordinatorAddress: ParsableArguments {
    @Option(help: "The coordinator's HTTP API (also $REEL_COORDINATOR).")
    var coordinator = ProcessInfo.processInfo.environment["REEL_COORDINATOR"] ?? "http://127.0.0.1:8080"

    func validate() throws {
        guard let url = URL(string: coordinator), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--coordinator takes an http:// URL, e.g. http://127.0.0.1:8080")
        }
    }

    var base: URL { URL(string: coordinator.hasSuffix("/") ? String(coordinator.dropLast()) : coordinator)! }
}

/// A small JSON client for the coordinator's API. Connection failures are retried with backoff
/// when `patient` (a coordinator restart is ridden through), else reported as one sentence.
struct FarmClient {
    let base: URL
    var patience: TimeInterval = 0

    enum Reply { case ok(Data), failed(status: Int, message: String) }

    func call(_ method: String, _ path: String, body: Data? = nil) async throws -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        request.timeoutInterval = 30
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let deadline = Date().addingTimeInterval(patience)
        var backoff = 0.25
        while true {
            do {
                let (data, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return .ok(data) }
                if status >= 500 && Date() < deadline { try await Task.sleep(for: .seconds(backoff)); backoff = min(backoff * 2, 5); continue }
                let message = (try? JSONDecoder().decode([String: String].self, from: data))?["error"] ?? String(decoding: data.prefix(300), as: UTF8.self)
                return .failed(status: status, message: message)
            } catch let error as URLError {
                guard Date() < deadline else {
                    throw UserError("Could not reach the coordinator at \(base.absoluteString) (\(error.localizedDescription)). Check that `reel coordinator` runs there, or pass --coordinator.")
                }
                FileHandle.standardError.write(Data("coordinator unreachable; retrying in \(String(format: "%.1f", backoff)) s\n".utf8))
                try await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ reply: Reply) throws -> T {
        switch reply {
        case .ok(let data):
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            do { return try decoder.decode(T.self, from: data) } catch {
                throw UserError("The coordinator answered with something this reel does not understand (\(error)); are both the same version?")
            }
        case .failed(_, let message): throw UserError(message)
        }
    }
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a film to a coordinator; with --wait, follow it and download the result.",
        discussion: """
              reel submit --coordinator http://farm:8080 "a blue square drifts left at night" --duration 60 --wait --out film.mp4
            --wait rides through coordinator restarts: it retries with backoff and follows the same job.
            """
    )

    @OptionGroup var address: CoordinatorAddress
    @OptionGroup var film: FilmOptions
    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var encoder: EncoderOptions

    @Flag(help: "Wait for the film, showing progress, then download it to --out.")
    var wait = false

    @Option(name: .shortAndLong, help: "Where --wait saves the film.")
    var out = "film.mp4"

    @Flag(help: "Print the job as JSON.")
    var json = false

    func run() async throws {
        let spec = try film.spec(sampler: sampler, encoder: encoder)
        let client = FarmClient(base: address.base, patience: wait ? 3600 : 0)
        struct Created: Decodable { let id: String }
        let created = try client.decode(Created.self, try await client.call("POST", "v1/jobs", body: try JSONEncoder().encode(spec)))
        if json && !wait { print(#"{"id":"\#(created.id)"}"#) } else { print("submitted job \(created.id)") }
        guard wait else { return }
        let view = JobProgressView()
        while true {
            let status = try client.decode(JobStatus.self, try await client.call("GET", "v1/jobs/\(created.id)"))
            view.show(status, workers: nil)
            if status.state == .done && status.filmReady { break }
            if status.state == .failed || status.state == .cancelled {
                view.end()
                throw UserError("Job \(created.id) \(status.state.rawValue): \(status.error ?? "no reason recorded").")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        view.end()
        guard case .ok(let data) = try await client.call("GET", "v1/jobs/\(created.id)/film") else {
            throw UserError("The coordinator reports job \(created.id) done but did not send its film; try `reel status \(created.id)`.")
        }
        do { try AtomicFile.write(data, to: URL(fileURLWithPath: out)) } catch {
            throw UserError("Could not write \(out): \(error.localizedDescription). Check the folder exists and is writable.")
        }
        print("wrote \(out)")
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show jobs and workers, or one job's segments.",
        discussion: "  reel status            # all jobs and workers\n  reel status JOB --json # one job, every segment"
    )

    @OptionGroup var address: CoordinatorAddress

    @Argument(help: "A job id (default: all jobs).")
    var job: String?

    @Flag(help: "Print JSON for scripts.")
    var json = false

    @Flag(help: "Keep refreshing every second until interrupted.")
    var watch = false

    func run() async throws {
        let client = FarmClient(base: address.base, patience: watch ? 3600 : 0)
        repeat {
            if let job {
                let reply = try await client.call("GET", "v1/jobs/\(job)")
                if json, case .ok(let data) = reply { print(String(decoding: data, as: UTF8.self)) } else {
                    let status = try client.decode(JobStatus.self, reply)
                    print(describe(status))
                    for s in status.segments {
                        let step = s.step.map { " step \($0)/\(s.steps ?? 0)" } ?? ""
                        print("  \(s.id)  level \(s.level) stride \(s.stride) frame \(s.startFrame)  \(s.state.rawValue)  attempts \(s.attempts)\(s.worker.map { "  on \($0)" } ?? "")\(step)")
                        for f in s.failures { print("      failed: \(f)") }
                    }
                }
            } else {
                let reply = try await client.call("GET", "v1/farm")
                if json, case .ok(let data) = reply { print(String(decoding: data, as: UTF8.self)) } else {
                    let farm = try client.decode(FarmSnapshot.self, reply)
                    if farm.jobs.isEmpty { print("no jobs") }
                    for status in farm.jobs { print(describe(status)) }
                    print("workers: \(farm.workers.count)")
                    for w in farm.workers {
                        print(String(format: "  %@  threads %d  credit %d  heartbeat %.1fs ago  done %d  %@", w.name, w.threads, w.credit, w.heartbeatAge,
                                     w.segmentsDone, w.attempts.isEmpty ? "idle" : "on \(w.attempts.joined(separator: ","))"))
                    }
                }
            }
            if watch { try await Task.sleep(for: .seconds(1)); print("") }
        } while watch
    }

    func describe(_ s: JobStatus) -> String {
        let levels = s.levels.map { "L\($0.level) \($0.done)/\($0.total)" }.joined(separator: " ")
        let eta = s.etaSeconds.map { String(format: ", ETA %.0fs", $0) } ?? ""
        return "\(s.id)  \(s.state.rawValue)  \(s.segmentsDone)/\(s.segmentsTotal) segments [\(levels)]  frames \(s.framesWritten)/\(s.framesTotal)\(eta)  \"\(s.summary.prefix(60))\""
            + (s.error.map { "\n  error: \($0)" } ?? "")
    }
}

/// The job id argument and the POST that `reel cancel` and `reel retry` share.
struct JobAction: ParsableArguments {
    @OptionGroup var address: CoordinatorAddress

    @Argument(help: "The job id.")
    var job: String

    @Flag(help: "Print the coordinator's JSON answer instead of a sentence.")
    var json = false

    /// POSTs the action and prints `sentence` (or the JSON answer with --json).
    func post(_ action: String, sentence: String) async throws {
        let client = FarmClient(base: address.base)
        let answer = try client.decode([String: String].self, try await client.call("POST", "v1/jobs/\(job)/\(action)"))
        if json {
            let data = try JSONSerialization.data(withJSONObject: answer.merging(["action": action]) { a, _ in a }, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(sentence)
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job; segments in flight are fenced off.")

    @OptionGroup var target: JobAction

    func run() async throws {
        try await target.post("cancel", sentence: "cancelled \(target.job)")
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Run a failed job again: its failed segments are requeued, finished ones kept.")

    @OptionGroup var target: JobAction

    func run() async throws {
        try await target.post("retry", sentence: "retrying \(target.job)")
    }
}
