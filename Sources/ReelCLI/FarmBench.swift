import ArgumentParser
import Coordinator
import Foundation
import Logging
import Models
import Planner
import Synchronization
import Wire

/// `reel bench farm`: the farm's own cost. A real coordinator (ZeroMQ on loopback, SQLite journal,
/// segment store) drives real `reel worker` processes whose denoising is replaced by a fixed-time
/// load (`--benchmark-load`), so the ideal wall time of every run is known exactly.
struct FarmBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm",
        abstract: "Coordinator overhead per segment and parallel efficiency with up to 256 worker processes on loopback.",
        discussion: """
            For each strategy and worker count the bench starts a coordinator in this process (film \
            assembly off: only the scheduler, journal, store and sockets are measured), spawns that \
            many `reel worker --threads 1 --benchmark-load SECONDS` processes, waits until all have \
            joined, submits one film and times it to the moment its last segment is stored.

            Reported per run: wall time; the ideal (segments × load / workers); the critical-path \
            bound (the larger of the ideal and the longest dependency chain × load — no schedule can \
            beat it); efficiency against both; the coordinator process's CPU time per segment (every \
            thread: the loop, libzmq's I/O, the blob flusher) and its loop thread's alone; the \
            coordinator's turnaround (a RESULT's arrival on its loop to the dispatch after its \
            journal commit: its own share of a segment's latency); and, for one worker, the \
            latency the farm adds to each segment beyond the load (turnaround, the network both \
            ways and the worker's own handling). The ZeroMQ \
            round trip on loopback is measured first, in the same process, as the reference for the \
            added latency.
            """
    )

    @Option(help: "Worker process counts, comma-separated.")
    var workers = "1,4,16,64,256"

    @Option(help: "Seconds of benchmark load per segment (stands in for denoising).")
    var load = 0.25

    @Option(help: "Film length in seconds for the runs (the plan's size grows with it).")
    var duration: Double = 300

    @Option(help: "Strategies to measure, comma-separated: hierarchical, sequential.")
    var strategies = "hierarchical,sequential"

    @Option(help: "Round trips timed for the ZeroMQ reference.")
    var roundTrips = 2000

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard workerCounts != nil else { throw ValidationError("--workers takes counts from 1 to 512 like 1,4,16") }
        guard load > 0, load <= 60 else { throw ValidationError("--load must be between 0 and 60 seconds") }
        guard duration >= 2, duration <= 7200 else { throw ValidationError("--duration must be between 2 and 7200 seconds") }
        guard strategyList != nil else { throw ValidationError("--strategies takes hierarchical and/or sequential") }
        guard roundTrips >= 10 else { throw ValidationError("--round-trips must be at least 10") }
    }

    var workerCounts: [Int]? {
        let values = workers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ (1...512).contains($0 ?? 0) }) else { return nil }
        return values.map { $0! }
    }

    var strategyList: [Strategy]? {
        let values = strategies.split(separator: ",").map { Strategy(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else { return nil }
        return values.map { $0! }
    }

    func run() async throws {
        ReelLogging.bootstrap(level: .warning)
        let modelFolder: URL
        let model: ReelTinyModel
        do {
            modelFolder = try ReelTinyModel.locate()
            model = try ReelTinyModel(folder: modelFolder)
        } catch { throw UserError(error.description) }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let neededFiles = 4 * (workerCounts!.max()! + 16)
        let fileLimit = openFileLimit(raisingTo: neededFiles)
        if fileLimit < neededFiles {
            throw UserError("\(workerCounts!.max()!) workers need about \(neededFiles) open files but the limit is \(fileLimit); raise it with `ulimit -n \(neededFiles)` or use fewer --workers")
        }

        let roundTrip = try zmqRoundTrip(resultBytes: model.dit.windowFrames * model.dit.frameShape.reduce(1, *) * MemoryLayout<Float>.size)
        var rows: [[String: Any]] = [["figure": "zmq_round_trip", "small_us": roundTrip.small * 1e6, "result_us": roundTrip.result * 1e6,
                                      "result_bytes": roundTrip.resultBytes]]
        if !json {
            print("ZeroMQ round trip on loopback (DEALER → ROUTER → DEALER, median of \(roundTrips)): "
                  + String(format: "%.1f µs for 16 bytes, %.1f µs for one segment's latents (%d KiB)",
                           roundTrip.small * 1e6, roundTrip.result * 1e6, roundTrip.resultBytes / 1024))
            print(String(format: "load %.3f s per segment, %.0f s film, coordinator in this process, workers as separate processes\n", load, duration))
            print("strategy      workers segments chain   wall s  ideal s  bound s eff/ideal eff/bound CPU ms/seg loop ms/seg turnaround ms added ms/seg")
        }
        for strategy in strategyList! {
            let request = RenderRequest(prompt: "a red ball bounces on green grass", duration: duration, seed: 1, strategy: strategy)
            let plan: SegmentPlan
            do { plan = try Planner.plan(request, geometry: .reelTiny) } catch { throw UserError("\(error)") }
            for count in workerCounts! {
                let run = try await measure(request: request, plan: plan, workers: count, model: model, modelFolder: modelFolder, executable: executable)
                let segments = Double(plan.segments.count)
                let ideal = segments * load / Double(count)
                let bound = max(ideal, Double(plan.criticalPath) * load)
                // With one worker every segment runs back to back: what is left beyond the load is the farm's.
                let added = count == 1 ? (run.wall - segments * load) / segments : nil
                var row: [String: Any] = ["figure": "farm", "strategy": strategy.rawValue, "workers": count, "segments": plan.segments.count,
                                          "critical_path": plan.criticalPath, "load_s": load, "wall_s": run.wall, "ideal_s": ideal,
                                          "bound_s": bound, "efficiency_ideal": ideal / run.wall, "efficiency_bound": bound / run.wall,
                                          "coordinator_cpu_ms_per_segment": run.cpu / segments * 1000, "join_s": run.join,
                                          "coordinator_turnaround_ms_mean": run.turnaround.meanSeconds * 1000,
                                          "coordinator_loop_cpu_ms_per_segment": run.loopCPU / segments * 1000,
                                          "coordinator_turnaround_ms_max": run.turnaround.maxSeconds * 1000]
                if let added { row["added_latency_ms_per_segment"] = added * 1000 }
                rows.append(row)
                if !json {
                    print(column(strategy.rawValue, width: 13)
                          + String(format: "%8d%9d%6d%9.2f%9.2f%9.2f%9.1f%%%9.1f%%%11.2f", count, plan.segments.count, plan.criticalPath,
                                   run.wall, ideal, bound, 100 * ideal / run.wall, 100 * bound / run.wall, run.cpu / segments * 1000)
                          + String(format: "%12.2f%14.2f", run.loopCPU / segments * 1000, run.turnaround.meanSeconds * 1000)
                          + (added.map { String(format: "%13.2f", $0 * 1000) } ?? String(repeating: " ", count: 12) + "—"))
                }
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    struct Run {
        var wall: Double
        /// Coordinator process CPU (user + system) from submit to the last segment stored.
        var cpu: Double
        /// Seconds until every worker process had joined (not part of the wall time).
        var join: Double
        /// The coordinator's own share of each segment's latency (RESULT in → next TASKs out).
        var turnaround: ResultTurnaround
        /// CPU of the coordinator's loop thread over the run (published ≤ 0.3 s after the end).
        var loopCPU: Double
    }

    /// One film with `workers` benchmark-load worker processes.
    func measure(request: RenderRequest, plan: SegmentPlan, workers: Int, model: ReelTinyModel, modelFolder: URL, executable: URL) async throws -> Run {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("reel-bench-farm-\(getpid())-\(workers)-\(request.strategy.rawValue)")
        try? FileManager.default.removeItem(at: state)
        defer { try? FileManager.default.removeItem(at: state) }
        let finished = Mutex<UInt64?>(nil)
        let done = DispatchSemaphore(value: 0)
        var configuration = Coordinator.Configuration(bind: "tcp://127.0.0.1:*", stateDirectory: state)
        configuration.assemblesFilms = false
        configuration.onSegmentsComplete = { _ in
            finished.withLock { $0 = DispatchTime.now().uptimeNanoseconds }
            done.signal()
        }
        let coordinator = Coordinator(configuration: configuration, model: model, logger: Logger(label: "reel.bench"))
        do { try coordinator.start() } catch let error as CoordinatorError { throw UserError(error.description) }
        defer { coordinator.stop() }
        guard let endpoint = coordinator.boundEndpoint else { throw UserError("the coordinator did not report its endpoint") }

        var processes: [Process] = []
        defer {
            for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            for process in processes { process.waitUntilExit() }
        }
        let joinStart = DispatchTime.now().uptimeNanoseconds
        var environment = ProcessInfo.processInfo.environment
        environment[ReelTinyModel.environmentVariable] = modelFolder.path
        for i in 0..<workers {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["worker", "--connect", endpoint, "--threads", "1", "--benchmark-load", "\(load)",
                                 "--name", "bench-\(i + 1)", "--log-level", "error"]
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch {
                throw UserError("could not start worker process \(i + 1) of \(workers) (\(error.localizedDescription)); use fewer --workers")
            }
            processes.append(process)
        }
        while coordinator.snapshot.workers.count < workers {
            if processes.contains(where: { !$0.isRunning }) { throw UserError("a benchmark worker exited before joining; run `reel worker --benchmark-load \(load) --connect \(endpoint)` by hand to see why") }
            if Double(DispatchTime.now().uptimeNanoseconds - joinStart) / 1e9 > 180 {
                throw UserError("only \(coordinator.snapshot.workers.count) of \(workers) workers joined within 180 s; use fewer --workers")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let join = Double(DispatchTime.now().uptimeNanoseconds - joinStart) / 1e9

        let cpuBefore = processCPUSeconds()
        let loopBefore = coordinator.snapshot.loopCPUSeconds ?? 0
        let start = DispatchTime.now().uptimeNanoseconds
        let spec = JobSpec(request: request)
        do { _ = try await coordinator.submit(spec) } catch { throw UserError("\(error)") }
        let limit = Double(plan.segments.count) * load * 3 + 120
        let waited = await onThreadWait(done, seconds: limit)
        let cpuAfter = processCPUSeconds()
        guard waited, let end = finished.withLock({ $0 }) else {
            throw UserError("the benchmark film did not finish within \(Int(limit)) s with \(workers) workers")
        }
        for process in processes { kill(process.processIdentifier, SIGTERM) }
        // The last results' turnaround is recorded at the loop's next dispatch and published
        // within 0.25 s.
        try await Task.sleep(for: .milliseconds(400))
        let after = coordinator.snapshot
        return Run(wall: Double(end - start) / 1e9, cpu: cpuAfter - cpuBefore, join: join,
                   turnaround: after.turnaround ?? ResultTurnaround(), loopCPU: (after.loopCPUSeconds ?? 0) - loopBefore)
    }

    /// Median seconds of a DEALER → ROUTER → DEALER round trip on loopback TCP, for a 16-byte
    /// message and for one segment's latents (the size of a RESULT).
    func zmqRoundTrip(resultBytes: Int) throws -> (small: Double, result: Double, resultBytes: Int) {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        defer { dealer.close(); router.close() }
        try router.bind("tcp://127.0.0.1:*")
        try dealer.connect(try router.lastEndpoint())
        func median(bytes: Int) throws -> Double {
            let payload = [UInt8](repeating: 7, count: bytes)
            var times: [Double] = []
            for i in 0..<(roundTrips + 50) {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try dealer.send([payload])
                guard case .message(let frames) = try router.receive() else { throw UserError("ROUTER received nothing") }
                _ = try router.send([frames[0], [1]])
                guard case .message = try dealer.receive() else { throw UserError("DEALER received nothing") }
                if i >= 50 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
            return times.sorted()[times.count / 2]
        }
        return (try median(bytes: 16), try median(bytes: resultBytes), resultBytes)
    }
}

/// Waits on a semaphore from a thread of its own (never blocking the cooperative pool).
private func onThreadWait(_ semaphore: DispatchSemaphore, seconds: Double) async -> Bool {
    (try? await onThread("reel-bench-wait") { semaphore.wait(timeout: .now() + seconds) == .success }) ?? false
}

/// User + system CPU seconds of this process so far (every thread: the coordinator's loop, libzmq's I/O).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The open-file limit after raising the soft limit toward `wanted` (as far as the hard limit allows).
func openFileLimit(raisingTo wanted: Int) -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < rlim_t(wanted) {
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}
