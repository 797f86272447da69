import ArgumentParser
import Coordinator
import Denoiser
import Foundation
import Logging
import Models
import ServiceLifecycle
import Tensors
import Wire
import Worker

/// Farm timing options shared by `reel coordinator` and `reel render`.
struct FarmTimingOptions: ParsableArguments {
    @Option(help: "Seconds between heartbeats, both ways.")
    var heartbeat = 1.0

    @Option(help: "Missed heartbeats before a worker is declared dead and its segments requeued.")
    var liveness = 5

    @Option(help: "Seconds an attempt may run before it is taken back and given to another worker.")
    var lease = 300.0

    @Option(help: "Failed attempts of one segment that fail its job (each error is reported).")
    var maxFailures = 3

    @OptionGroup var decode: DecodeOptions

    func validate() throws {
        guard heartbeat >= 0.05, heartbeat <= 60 else { throw ValidationError("--heartbeat must be between 0.05 and 60 seconds") }
        guard (2...100).contains(liveness) else { throw ValidationError("--liveness must be between 2 and 100") }
        guard lease >= 1, lease <= 86_400 else { throw ValidationError("--lease must be between 1 and 86400 seconds") }
        guard (1...100).contains(maxFailures) else { throw ValidationError("--max-failures must be between 1 and 100") }
    }

    var settings: FarmSettings {
        var s = FarmSettings()
        s.heartbeatInterval = heartbeat
        s.liveness = liveness
        s.lease = lease
        s.maxFailures = maxFailures
        s.workerFailureLimit = maxFailures
        decode.apply(to: &s)
        return s
    }
}

/// Where a film's VAE decode runs (`reel coordinator` and `reel render`).
struct DecodeOptions: ParsableArguments {
    enum Site: String, ExpressibleByArgument, CaseIterable { case workers, coordinator }

    @Option(help: ArgumentHelp("Where films are decoded from latents to pictures: workers (batches of 8 frames go to the farm's workers, so the stitcher only blends and encodes) or coordinator (the stitcher decodes them itself).",
                               valueName: "workers|coordinator"))
    var decodeOn: Site = .workers

    @Option(help: "Seconds the stitcher waits for a batch a worker decodes before decoding it itself.")
    var decodeTimeout = 20.0

    func validate() throws {
        guard decodeTimeout >= 0.1, decodeTimeout <= 3600 else { throw ValidationError("--decode-timeout must be between 0.1 and 3600 seconds") }
    }

    func apply(to settings: inout FarmSettings) {
        settings.decodeOnWorkers = decodeOn == .workers
        settings.decodeTimeout = decodeTimeout
    }
}

/// How log lines are written to stderr.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    /// swift-log's default: time, level, label, metadata (job, segment, attempt, worker ids), message.
    case text
    /// One JSON object per line: time, level, label, message and every metadata key as a field.
    case json
}

/// Logs to stderr at a chosen level and format, set up once per process.
enum ReelLogging {
    static func bootstrap(level: Logger.Level, format: LogFormat = .text) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}

/// A swift-log handler writing JSON lines to stderr (for log shippers: Loki, Elasticsearch, journald).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        var object: [String: String] = [:]
        for (key, value) in metadata.merging(extra ?? [:], uniquingKeysWith: { $1 }) { object[key] = "\(value)" }
        object["time"] = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        object["level"] = level.rawValue
        object["label"] = label
        object["message"] = message.description
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        FileHandle.standardError.write(data)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

func loadModel() throws -> ReelTinyModel {
    do { return try ReelTinyModel() } catch { throw UserError(error.description) }
}

/// Runs a blocking function on a thread of its own (never on the cooperative pool).
func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// The coordinator as a service: started with the group, stopped on graceful shutdown.
struct CoordinatorService: Service {
    let coordinator: Coordinator
    func run() async throws {
        try coordinator.start()
        try? await gracefulShutdown()
        coordinator.stop()
    }
}

/// A worker as a service: on SIGTERM/SIGINT it drains (finishes or hands back its segment), then exits.
struct WorkerService: Service {
    let worker: Worker
    func run() async throws {
        try await withGracefulShutdownHandler {
            try await onThread("reel-worker") { try worker.run() }
        } onGracefulShutdown: {
            worker.drain()
        }
    }
}

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the farm's coordinator: plans jobs, hands segments to workers over ZeroMQ, stitches films.",
        discussion: """
            Workers connect to --bind; clients (reel submit/status/cancel, the browser) use --http. \
            Everything the coordinator knows lives in --state: kill it at any moment and start it \
            again on the same folder, and it carries on without redoing finished segments.
              reel coordinator --bind tcp://0.0.0.0:5555 --http 127.0.0.1:8080 --state /var/lib/reel \\
                  --key keys/coordinator.key --authorized-keys authorized/
            A --bind other than loopback needs CURVE keys (see `reel keys --help`) or --insecure.
            """
    )

    @Option(help: "ZeroMQ endpoint workers connect to.")
    var bind = "tcp://0.0.0.0:5555"

    @Option(help: "HOST:PORT of the HTTP API for clients.")
    var http = "127.0.0.1:8080"

    @Option(help: "State directory: journal (SQLite), segment store, films.")
    var state = "reel-state"

    @OptionGroup var timing: FarmTimingOptions
    @OptionGroup(title: "Authentication (CURVE)") var security: CoordinatorSecurityOptions

    @Option(help: "TOML file of these options (keys are the option names, e.g. heartbeat = 1.0); flags given here override it. See configs/coordinator.toml.")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text, or json (one object per line).")
    var logFormat: LogFormat = .text

    func validate() throws {
        guard HTTPAddress(http) != nil else { throw ValidationError("--http takes HOST:PORT, e.g. 127.0.0.1:8080") }
        _ = try security.curve(bind: bind)
    }

    func run() async throws {
        ReelLogging.bootstrap(level: logLevel, format: logFormat)
        let logger = Logger(label: "reel.coordinator")
        let model = try loadModel()
        // The stitcher decodes on one BLAS thread, as every worker renders: same pixels everywhere.
        BLAS.threadCount = 1
        let address = HTTPAddress(http)!
        let curve = try security.curve(bind: bind)
        if curve == nil && !isLoopbackEndpoint(bind) {
            logger.warning("plain TCP on \(bind) (--insecure): any machine that reaches this port can take and hand in segments")
        }
        let coordinator = Coordinator(configuration: .init(bind: bind, stateDirectory: URL(fileURLWithPath: state), settings: timing.settings, curve: curve),
                                      model: model, logger: logger)
        let api = FarmAPI.application(coordinator: coordinator, host: address.host, port: address.port, logger: Logger(label: "reel.http"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: CoordinatorService(coordinator: coordinator)), .init(service: api)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch let error as CoordinatorError { throw UserError(error.description) }
    }
}

struct HTTPAddress {
    let host: String
    let port: Int
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        host = String(text[..<colon])
        self.port = port
        if host.isEmpty { return nil }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: renders segments for a coordinator; start and stop workers at any time.",
        discussion: """
            The worker announces itself, renders what it is given, heartbeats, and reconnects with \
            backoff if the coordinator goes away (it carries on with the same job when it is back). \
            SIGTERM (Ctrl-C) drains: it finishes its segment, hands it in, then exits.
              reel worker --connect tcp://coordinator-host:5555 --threads 2 \\
                  --key keys/worker-1.key --coordinator-key keys/coordinator.pub
            A coordinator on another machine needs CURVE keys (see `reel keys --help`) or --insecure.
            """
    )

    @Option(help: "Coordinator endpoint.")
    var connect = "tcp://127.0.0.1:5555"

    @Option(help: "Segments rendered at once, each on one core (default: all cores). One BLAS thread per segment keeps films bit-identical however they are spread over workers.")
    var threads: Int?

    @Option(help: "Worker name shown in status (default: host name and process id).")
    var name: String?

    @Option(help: "Seconds between heartbeats.")
    var heartbeat = 1.0

    @OptionGroup(title: "Authentication (CURVE)") var security: WorkerSecurityOptions

    @Option(help: "TOML file of these options (keys are the option names, e.g. threads = 2); flags given here override it. See configs/worker.toml.")
    var config: String?

    @Option(help: ArgumentHelp("Fault injection only (scripts/chaos): sleep this many seconds before each segment.", visibility: .hidden))
    var faultDelay: Double = 0

    @Option(help: ArgumentHelp("Benchmarking only (reel bench farm): instead of denoising, sleep this many seconds per segment and return constant latents (a value of its own per segment), so many worker processes fit on one machine. The films are meaningless. No model weights are loaded.", valueName: "seconds"))
    var benchmarkLoad: Double = 0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format: text, or json (one object per line).")
    var logFormat: LogFormat = .text

    func validate() throws {
        _ = try security.curve(connect: connect)
        if let threads, !(1...64).contains(threads) { throw ValidationError("--threads must be between 1 and 64") }
        if let name, !name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) || name.isEmpty || name.count > 64 {
            throw ValidationError("--name may use letters, digits, '.', '_' and '-' (at most 64)")
        }
        guard heartbeat >= 0.05, heartbeat <= 60 else { throw ValidationError("--heartbeat must be between 0.05 and 60 seconds") }
        guard (0...3600).contains(benchmarkLoad) else { throw ValidationError("--benchmark-load must be between 0 and 3600 seconds") }
        if benchmarkLoad > 0 && faultDelay > 0 { throw ValidationError("--benchmark-load and --fault-delay do not go together") }
    }

    func run() async throws {
        ReelLogging.bootstrap(level: logLevel, format: logFormat)
        let logger = Logger(label: "reel.worker")
        // Deterministic output needs the same BLAS partitioning everywhere: one thread per segment,
        // parallelism across segments instead.
        BLAS.threadCount = 1
        var config = Worker.Configuration(connect: connect, name: name ?? defaultWorkerName())
        config.credit = threads ?? ProcessInfo.processInfo.activeProcessorCount
        config.threads = config.credit
        config.heartbeatInterval = heartbeat
        config.curve = try security.curve(connect: connect)
        let renderer: any SegmentRenderer
        if benchmarkLoad > 0 {
            let config: ReelTinyConfig
            do { config = try ReelTinyModel.config(folder: ReelTinyModel.locate()) } catch { throw UserError(error.description) }
            renderer = BenchmarkLoadRenderer(seconds: benchmarkLoad, model: config.name, windowFrames: config.video.windowFrames)
        } else {
            let generator = try loadGenerator()
            renderer = faultDelay > 0
                ? FaultDelayRenderer(inner: ReelTinyRenderer(generator: generator), delay: faultDelay)
                : ReelTinyRenderer(generator: generator)
        }
        let worker = Worker(configuration: config, renderer: renderer, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: WorkerService(worker: worker))],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

func defaultWorkerName() -> String {
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
    let clean = String(host.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }.prefix(40))
    return "\(clean.isEmpty ? "worker" : clean)-\(getpid())"
}

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a film on this machine: a coordinator and local workers in one process, over real ZeroMQ sockets.",
        discussion: """
            The same code path as a farm, on one machine. Examples:
              reel render "a red ball bounces on green grass" --duration 60 --out film.mp4
              reel render --storyboard configs/storyboards/two-shots.json --out story.mp4 --size 256x256
            With --state DIR the render can be interrupted and resumed: run the same command again.
            """
    )

    @OptionGroup var film: FilmOptions
    @OptionGroup var sampler: SamplerOptions
    @OptionGroup var encoder: EncoderOptions

    @Option(name: .shortAndLong, help: "Output MP4 path.")
    var out = "film.mp4"

    @Option(help: "Local workers (default: one per core).")
    var workers: Int?

    @Option(help: "State directory to keep (and resume from); default: a temporary one, removed afterwards.")
    var state: String?

    @OptionGroup var decode: DecodeOptions

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .warning

    @Option(help: "Log format: text, or json (one object per line).")
    var logFormat: LogFormat = .text

    func validate() throws {
        if let workers, !(1...64).contains(workers) { throw ValidationError("--workers must be between 1 and 64") }
        if sampler.threads != nil {
            throw ValidationError("reel render runs each worker on one core; use --workers to choose how many")
        }
    }

    func run() async throws {
        ReelLogging.bootstrap(level: logLevel, format: logFormat)
        let spec = try film.spec(sampler: sampler, encoder: encoder)
        let outURL = URL(fileURLWithPath: out)
        let folder = outURL.deletingLastPathComponent().path
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw UserError("Could not write \(out): the folder \(folder) does not exist or is not writable. Create it or choose another --out.")
        }
        let generator = try loadGenerator()
        let workerCount = workers ?? ProcessInfo.processInfo.activeProcessorCount
        // Each worker renders on one BLAS thread (the same partitioning as any farm worker, so the
        // film is bit-identical to a farm's); the workers share the cores.
        BLAS.threadCount = 1
        let temporary = state == nil
        let stateURL = state.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("reel-render-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { if temporary { try? FileManager.default.removeItem(at: stateURL) } }
        var settings = FarmSettings()
        decode.apply(to: &settings)
        let coordinator = Coordinator(configuration: .init(bind: "tcp://127.0.0.1:*", stateDirectory: stateURL, settings: settings),
                                      model: generator.model, logger: Logger(label: "reel.coordinator"))
        do { try coordinator.start() } catch let error as CoordinatorError { throw UserError(error.description) }
        defer { coordinator.stop() }
        guard let endpoint = coordinator.boundEndpoint else { throw UserError("the coordinator did not report its endpoint") }
        let renderer = ReelTinyRenderer(generator: generator)
        let farm = (0..<workerCount).map { i in
            var config = Worker.Configuration(connect: endpoint, name: "local-\(i + 1)")
            config.threads = BLAS.threadCount
            return Worker(configuration: config, renderer: renderer, logger: Logger(label: "reel.worker"))
        }
        for worker in farm {
            let thread = Thread { try? worker.run() }
            thread.name = "reel-worker"
            thread.stackSize = 8 << 20
            thread.start()
        }
        defer { for worker in farm { worker.stop() } }

        // Resume: the same request in the same state dir is the same job.
        let existing = coordinator.snapshot.jobs.last { !$0.state.isFinal || $0.state == .done }
        let job: String
        if let existing, state != nil, existing.summary == spec.summary, existing.seed == spec.request.seed {
            job = existing.id
            FileHandle.standardError.write(Data("resuming job \(job) from \(stateURL.path)\n".utf8))
        } else {
            do { job = try await coordinator.submit(spec) } catch { throw UserError("\(error)") }
        }
        let view = JobProgressView()
        while true {
            try await Task.sleep(for: .milliseconds(200))
            let snapshot = coordinator.snapshot
            guard let status = snapshot.jobs.first(where: { $0.id == job }) else { continue }
            view.show(status, workers: snapshot.workers.count)
            if status.state == .done && status.filmReady { break }
            if status.state == .failed || status.state == .cancelled {
                view.end()
                throw UserError("The render \(status.state.rawValue): \(status.error ?? "no reason recorded").")
            }
        }
        view.end()
        guard let film = coordinator.film(of: job) else { throw UserError("the film of job \(job) is missing") }
        try? FileManager.default.removeItem(at: outURL)
        do { try FileManager.default.copyItem(at: film, to: outURL) } catch {
            throw UserError("Could not write \(out): \(error.localizedDescription).")
        }
        print("wrote \(out)")
    }
}
