import Foundation
import GRDB

/// Lifecycle of a job as the journal records it.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, stitching, done, failed, cancelled, paused

    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// Lifecycle of one segment task of a job.
public enum SegmentState: String, Codable, Sendable, CaseIterable {
    /// Waiting for the segments it is anchored on.
    case waiting
    /// Every dependency is done; waiting for a worker.
    case ready
    /// Leased to a worker under an attempt.
    case leased
    case done
    case failed
}

/// How an attempt ended. `leased` is the only open state.
public enum AttemptState: String, Codable, Sendable, CaseIterable {
    case leased
    case succeeded
    /// The worker reported a failure.
    case failed
    /// The lease ran out before a result came (a slow or stuck worker).
    case expired
    /// The worker went silent or disconnected; not the segment's fault.
    case lost
    /// The job was cancelled while the attempt ran.
    case cancelled
}

/// A job row.
public struct JobRecord: Sendable, Equatable {
    public var id: String
    public var seq: Int
    public var spec: JobSpec
    public var state: JobState
    public var error: String?
    public var created: Date
    public var updated: Date
}

/// A segment row.
public struct SegmentRecord: Sendable, Equatable {
    public var job: String
    public var id: String
    public var level: Int
    public var state: SegmentState
    /// SHA-256 of the segment's latents in the store, once done.
    public var digest: String?
    /// Attempts started so far, and the errors of the ones that failed or expired.
    public var attempts: Int
    public var failures: [String]
}

/// An attempt row: one dispatch of a segment to a worker, fenced by its id.
public struct AttemptRecord: Sendable, Equatable {
    public var id: String
    public var job: String
    public var segment: String
    public var worker: String
    public var state: AttemptState
    public var started: Date
    public var leaseUntil: Date
    public var ended: Date?
    public var error: String?
}

/// The coordinator's durable memory: a SQLite file (WAL) of jobs, segments, attempts and events.
///
/// Every state change is one transaction, committed before the coordinator acts on it, so a
/// coordinator killed at any instant restarts from a consistent journal. Only the coordinator's
/// loop thread writes; readers get snapshots from the coordinator, not from here.
public final class Journal: @unchecked Sendable {  // GRDB's DatabaseQueue serialises all access.
    public let url: URL
    private let database: DatabaseQueue

    public init(url: URL) throws {
        self.url = url
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // NORMAL under WAL: a committed transaction survives a process crash; only a power
            // loss can drop the last transactions, never corrupt the file.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        database = try DatabaseQueue(path: url.path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, spec TEXT NOT NULL, state TEXT NOT NULL,
                    error TEXT, created REAL NOT NULL, updated REAL NOT NULL);
                CREATE TABLE segments (
                    job TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, id TEXT NOT NULL, level INTEGER NOT NULL,
                    state TEXT NOT NULL, digest TEXT, attempts INTEGER NOT NULL DEFAULT 0, failures TEXT NOT NULL DEFAULT '[]',
                    PRIMARY KEY (job, id));
                CREATE TABLE attempts (
                    id TEXT PRIMARY KEY, job TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, segment TEXT NOT NULL,
                    worker TEXT NOT NULL, state TEXT NOT NULL, started REAL NOT NULL, lease_until REAL NOT NULL,
                    ended REAL, error TEXT);
                CREATE INDEX attempts_open ON attempts(state) WHERE state = 'leased';
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, job TEXT, segment TEXT, attempt TEXT,
                    kind TEXT NOT NULL, detail TEXT NOT NULL);
                CREATE INDEX events_job ON events(job, seq);
                """)
        }
        return migrator
    }

    // MARK: Writes (each one transaction)

    /// Records a new job with all its planned segments.
    public func insert(job: JobRecord, segments: [SegmentRecord]) throws {
        let spec = String(decoding: try JSONEncoder().encode(job.spec), as: UTF8.self)
        try database.write { db in
            try db.execute(sql: "INSERT INTO jobs (id, seq, spec, state, error, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [job.id, job.seq, spec, job.state.rawValue, job.error,
                                       job.created.timeIntervalSince1970, job.updated.timeIntervalSince1970])
            for s in segments {
                try db.execute(sql: "INSERT INTO segments (job, id, level, state, digest, attempts, failures) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [s.job, s.id, s.level, s.state.rawValue, s.digest, s.attempts, Self.json(s.failures)])
            }
            try Self.event(db, job: job.id, kind: "submitted", detail: "\(segments.count) segments")
        }
    }

    public func setJobState(_ job: String, _ state: JobState, error: String? = nil) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE jobs SET state = ?, error = ?, updated = ? WHERE id = ?",
                           arguments: [state.rawValue, error, Date().timeIntervalSince1970, job])
            try Self.event(db, job: job, kind: "job-\(state.rawValue)", detail: error ?? "")
        }
    }

    /// Starts an attempt and marks its segment leased, atomically.
    public func begin(_ attempt: AttemptRecord, segmentAttempts: Int) throws {
        try begin([(attempt, segmentAttempts)])
    }

    /// Starts several attempts in one transaction (the scheduler's dispatch of one loop turn).
    public func begin(_ starts: [(attempt: AttemptRecord, segmentAttempts: Int)]) throws {
        guard !starts.isEmpty else { return }
        try hotTransaction { db in
            for (attempt, segmentAttempts) in starts {
                try Self.run(db, "INSERT INTO attempts (id, job, segment, worker, state, started, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [attempt.id, attempt.job, attempt.segment, attempt.worker, attempt.state.rawValue,
                              attempt.started.timeIntervalSince1970, attempt.leaseUntil.timeIntervalSince1970])
                try Self.run(db, "UPDATE segments SET state = 'leased', attempts = ? WHERE job = ? AND id = ?",
                             [segmentAttempts, attempt.job, attempt.segment])
                try Self.event(db, job: attempt.job, segment: attempt.segment, attempt: attempt.id, kind: "dispatched", detail: attempt.worker)
            }
        }
    }

    /// How one attempt ended, for `end(_:)`.
    public struct AttemptEnd: Sendable {
        public var attempt: String
        public var job: String
        public var segment: String
        public var state: AttemptState
        public var error: String?
        public var segmentState: SegmentState
        public var digest: String?
        public var failures: [String]
        public var newlyReady: [String]

        public init(attempt: String, job: String, segment: String, as state: AttemptState, error: String? = nil,
                    segmentState: SegmentState, digest: String? = nil, failures: [String], newlyReady: [String] = []) {
            self.attempt = attempt
            self.job = job
            self.segment = segment
            self.state = state
            self.error = error
            self.segmentState = segmentState
            self.digest = digest
            self.failures = failures
            self.newlyReady = newlyReady
        }
    }

    /// Closes an attempt and moves its segment to `segmentState` (with its digest when done and
    /// its failure list), then marks `newlyReady` segments ready — all in one transaction.
    public func end(attempt: String, job: String, segment: String, as state: AttemptState, error: String? = nil,
                    segmentState: SegmentState, digest: String? = nil, failures: [String], newlyReady: [String] = []) throws {
        try end([AttemptEnd(attempt: attempt, job: job, segment: segment, as: state, error: error, segmentState: segmentState,
                            digest: digest, failures: failures, newlyReady: newlyReady)])
    }

    /// Closes several attempts in one transaction (the results of one loop turn: group commit).
    public func end(_ ends: [AttemptEnd]) throws {
        guard !ends.isEmpty else { return }
        try hotTransaction { db in
            let now = Date().timeIntervalSince1970
            for end in ends {
                try Self.run(db, "UPDATE attempts SET state = ?, ended = ?, error = ? WHERE id = ?",
                             [end.state.rawValue, now, end.error, end.attempt])
                try Self.run(db, "UPDATE segments SET state = ?, digest = ?, failures = ? WHERE job = ? AND id = ?",
                             [end.segmentState.rawValue, end.digest, Self.json(end.failures), end.job, end.segment])
                for id in end.newlyReady {
                    try Self.run(db, "UPDATE segments SET state = 'ready' WHERE job = ? AND id = ? AND state = 'waiting'", [end.job, id])
                }
                try Self.event(db, job: end.job, segment: end.segment, attempt: end.attempt, kind: "attempt-\(end.state.rawValue)",
                               detail: end.error ?? end.digest ?? "")
            }
        }
    }

    /// Moves the leased attempt to a new lease deadline (a reconnected worker re-adopting it).
    public func extendLease(attempt: String, worker: String, until: Date) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE attempts SET worker = ?, lease_until = ? WHERE id = ?",
                           arguments: [worker, until.timeIntervalSince1970, attempt])
        }
    }

    /// Cancels a job: the job, its open attempts and its unfinished segments, in one transaction.
    public func cancel(job: String) throws {
        try database.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE attempts SET state = 'cancelled', ended = ? WHERE job = ? AND state = 'leased'", arguments: [now, job])
            try db.execute(sql: "UPDATE jobs SET state = 'cancelled', updated = ? WHERE id = ?", arguments: [now, job])
            try Self.event(db, job: job, kind: "job-cancelled", detail: "")
        }
    }

    /// A failed job back to running: its failed segments ready again with their failures cleared.
    public func retry(job: String) throws {
        try database.write { db in
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE segments SET state = 'ready', failures = '[]' WHERE job = ? AND state = 'failed'", arguments: [job])
            try db.execute(sql: "UPDATE jobs SET state = 'running', error = NULL, updated = ? WHERE id = ?", arguments: [now, job])
            try Self.event(db, job: job, kind: "job-retried", detail: "")
        }
    }

    public func record(event kind: String, job: String? = nil, segment: String? = nil, attempt: String? = nil, detail: String = "") throws {
        try database.write { db in try Self.event(db, job: job, segment: segment, attempt: attempt, kind: kind, detail: detail) }
    }

    // MARK: Reads (start-up and tests)

    public func jobs() throws -> [JobRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY seq").map { row in
                let specText: String = row["spec"]
                return JobRecord(id: row["id"], seq: row["seq"], spec: try JSONDecoder().decode(JobSpec.self, from: Data(specText.utf8)),
                                 state: JobState(rawValue: row["state"]) ?? .failed, error: row["error"],
                                 created: Date(timeIntervalSince1970: row["created"]), updated: Date(timeIntervalSince1970: row["updated"]))
            }
        }
    }

    public func segments(job: String) throws -> [SegmentRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM segments WHERE job = ? ORDER BY level, id", arguments: [job]).map { row in
                let failures: String = row["failures"]
                return SegmentRecord(job: row["job"], id: row["id"], level: row["level"], state: SegmentState(rawValue: row["state"]) ?? .waiting,
                                     digest: row["digest"], attempts: row["attempts"],
                                     failures: (try? JSONDecoder().decode([String].self, from: Data(failures.utf8))) ?? [])
            }
        }
    }

    public func attempts(job: String? = nil, state: AttemptState? = nil) throws -> [AttemptRecord] {
        try database.read { db in
            var sql = "SELECT * FROM attempts WHERE 1"
            var arguments: StatementArguments = []
            if let job { sql += " AND job = ?"; arguments += [job] }
            if let state { sql += " AND state = ?"; arguments += [state.rawValue] }
            return try Row.fetchAll(db, sql: sql + " ORDER BY started, id", arguments: arguments).map { row in
                let ended: Double? = row["ended"]
                return AttemptRecord(id: row["id"], job: row["job"], segment: row["segment"], worker: row["worker"],
                                     state: AttemptState(rawValue: row["state"]) ?? .lost,
                                     started: Date(timeIntervalSince1970: row["started"]),
                                     leaseUntil: Date(timeIntervalSince1970: row["lease_until"]),
                                     ended: ended.map { Date(timeIntervalSince1970: $0) }, error: row["error"])
            }
        }
    }

    /// Events of a job (or all), oldest first: (time, kind, segment, attempt, detail).
    public func events(job: String? = nil, limit: Int = 1000) throws -> [JournalEvent] {
        try database.read { db in
            let rows = if let job {
                try Row.fetchAll(db, sql: "SELECT * FROM events WHERE job = ? ORDER BY seq DESC LIMIT ?", arguments: [job, limit])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM events ORDER BY seq DESC LIMIT ?", arguments: [limit])
            }
            return rows.reversed().map { row in
                JournalEvent(time: Date(timeIntervalSince1970: row["time"]), job: row["job"], segment: row["segment"],
                             attempt: row["attempt"], kind: row["kind"], detail: row["detail"])
            }
        }
    }

    /// The largest job sequence number so far (0 when empty).
    public func lastJobSeq() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM jobs") ?? 0 }
    }

    /// SQLite's own consistency check: "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try database.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    private static func event(_ db: Database, job: String?, segment: String? = nil, attempt: String? = nil, kind: String, detail: String) throws {
        try run(db, "INSERT INTO events (time, job, segment, attempt, kind, detail) VALUES (?, ?, ?, ?, ?, ?)",
                [Date().timeIntervalSince1970, job, segment, attempt, kind, detail])
    }

    /// One transaction for the scheduler's per-segment writes: BEGIN IMMEDIATE and COMMIT as
    /// prepared statements, which saves GRDB's per-transaction statement parsing (a third of a
    /// commit's time on the coordinator's loop). Rolled back if anything in `body` throws.
    private func hotTransaction(_ body: (Database) throws -> Void) throws {
        try database.writeWithoutTransaction { db in
            try Self.run(db, "BEGIN IMMEDIATE", [])
            do {
                try body(db)
                try Self.run(db, "COMMIT", [])
            } catch {
                if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs one of the hot statements, prepared once per connection (GRDB's statement cache).
    private static func run(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    private static func json(_ strings: [String]) -> String {
        if strings.isEmpty { return "[]" }
        return String(decoding: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
    }
}

/// One line of a job's history.
public struct JournalEvent: Sendable, Equatable, Codable {
    public var time: Date
    public var job: String?
    public var segment: String?
    public var attempt: String?
    public var kind: String
    public var detail: String
}
