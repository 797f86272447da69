import Foundation
import Synchronization
import Tensors

/// Finished segment latents on disk, addressed by the SHA-256 of their bytes.
///
/// A blob is `DIR/ab/abcdef…` (first two hex digits fan out the folder). Writes go to a temporary
/// file that is renamed into place, so a blob is either absent or complete under its name; reads
/// re-hash the bytes, so a damaged blob is reported, never used.
///
/// When the bytes reach the disk is the `durability`: `.immediate` flushes the file and its folder
/// before `put` returns; `.background` (the coordinator) hands them to a `BlobSyncer` thread that
/// flushes them moments later, off the scheduler's critical path. That matches the journal, which
/// commits in WAL mode with `synchronous = NORMAL` (a commit survives a process crash at once and a
/// power loss after the next checkpoint): a blob is safe against a process crash as soon as `put`
/// returns, and after a power loss a journaled blob whose bytes did not reach the disk fails its
/// re-hash on restart and its segment is rendered again — nothing wrong is ever used.
public struct SegmentStore: Sendable {
    public enum Durability: Sendable {
        case immediate
        case background(BlobSyncer)
    }

    public let directory: URL
    public let durability: Durability
    private let root: DirectoryHandle

    public init(directory: URL, durability: Durability = .immediate) throws {
        self.directory = directory
        self.durability = durability
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        root = try DirectoryHandle(path: directory.path)
        // The 256 fan-out folders up front: creating a folder costs an ext4 inode and block, which
        // would otherwise land on the first results' critical path.
        for prefix in 0..<256 {
            let name = String(format: "%02x", prefix)
            if mkdirat(root.descriptor, name, 0o755) != 0 && errno != EEXIST { throw lastPOSIXError() }
        }
    }

    public static func digest(_ bytes: [UInt8]) -> String { SHA256.hex(bytes) }

    private func url(of digest: String) -> URL {
        directory.appendingPathComponent(String(digest.prefix(2))).appendingPathComponent(digest)
    }

    public func contains(_ digest: String) -> Bool { FileManager.default.fileExists(atPath: url(of: digest).path) }

    /// Stores `bytes` (whose digest the caller has checked) and returns the digest. Idempotent.
    @discardableResult
    public func put(_ bytes: [UInt8]) throws -> String {
        try put(bytes, digest: Self.digest(bytes))
    }

    /// Stores `bytes` under `digest`, which the caller has just computed from them (the scheduler
    /// verifies every result's checksum, so hashing again here would be wasted work). Paths are
    /// resolved from an open handle on the store's folder, and a blob already there is simply
    /// replaced by the same bytes, so the common case is three system calls: open, write, rename.
    @discardableResult
    public func put(_ bytes: [UInt8], digest: String) throws -> String {
        let folder = String(digest.prefix(2))
        let name = folder + "/" + digest
        let temporary = folder + "/." + digest + ".partial-\(UInt32.random(in: 0...UInt32.max))"
        let immediate: Bool
        if case .immediate = durability { immediate = true } else { immediate = false }
        do {
            try writeFile(temporary, folder: folder, bytes, flush: immediate)
            guard renameat(root.descriptor, temporary, root.descriptor, name) == 0 else { throw lastPOSIXError() }
        } catch {
            unlinkat(root.descriptor, temporary, 0)
            throw error
        }
        let folderPath = directory.path + "/" + folder
        switch durability {
        case .immediate: Self.flush(folder: folderPath)
        case .background(let syncer): syncer.enqueue(file: folderPath + "/" + digest, folder: folderPath)
        }
        return digest
    }

    /// The blob's bytes, re-hashed against its name.
    public func get(_ digest: String) throws(SegmentStoreError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url(of: digest).path) else { throw .missing(digest) }
        let bytes = [UInt8](data)
        guard Self.digest(bytes) == digest else { throw .corrupt(digest) }
        return bytes
    }

    /// Writes `bytes` to the new file `path` (relative to the store), creating its fan-out folder
    /// again if someone removed it.
    private func writeFile(_ path: String, folder: String, _ bytes: [UInt8], flush: Bool) throws {
        var fd = openat(root.descriptor, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            if mkdirat(root.descriptor, folder, 0o755) != 0 && errno != EEXIST { throw lastPOSIXError() }
            fd = openat(root.descriptor, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw lastPOSIXError() }
        defer { close(fd) }
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw lastPOSIXError()
                }
                offset += n
            }
        }
        if flush && fsync(fd) != 0 { throw lastPOSIXError() }
    }

    /// Makes a rename inside `folder` durable.
    static func flush(folder: String) {
        let fd = open(folder, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// `errno` as a thrown error.
private func lastPOSIXError() -> POSIXError { POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }

/// An open folder, for `openat`/`renameat` relative to it; closed with its last reference.
final class DirectoryHandle: Sendable {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw lastPOSIXError() }
    }

    deinit { close(descriptor) }
}

/// Flushes blobs to disk on its own thread, oldest first, so the scheduler's loop never waits
/// for the disk. `waitUntilFlushed()` returns once everything queued so far is on disk.
public final class BlobSyncer: Sendable {
    private struct State {
        var pending: [(file: String, folder: String)] = []
        var queued = 0
        var flushed = 0
        var stopping = false
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let progress = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    public init() {
        let thread = Thread { [self] in run() }
        thread.name = "reel-blob-sync"
        thread.start()
    }

    func enqueue(file: String, folder: String) {
        state.withLock { $0.pending.append((file, folder)); $0.queued += 1 }
        wake.signal()
    }

    /// Blocks until every blob queued before the call is flushed.
    public func waitUntilFlushed() {
        let target = state.withLock { $0.queued }
        while state.withLock({ $0.flushed }) < target { _ = progress.wait(timeout: .now() + .milliseconds(50)) }
    }

    /// Flushes what is queued, then ends the thread.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }

    private func run() {
        while true {
            wake.wait()
            let (batch, stopping) = state.withLock { s in defer { s.pending.removeAll() }; return (s.pending, s.stopping) }
            var folders: Set<String> = []
            for item in batch {
                let fd = open(item.file, O_RDONLY | O_CLOEXEC)
                if fd >= 0 { fsync(fd); close(fd) }
                folders.insert(item.folder)
            }
            for folder in folders { SegmentStore.flush(folder: folder) }
            state.withLock { $0.flushed += batch.count }
            progress.signal()
            if stopping && state.withLock({ $0.pending.isEmpty }) { break }
        }
        finished.signal()
    }
}

public enum SegmentStoreError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case corrupt(String)
    public var description: String {
        switch self {
        case .missing(let d): return "segment blob \(d.prefix(12))… is missing from the store; the segment will be rendered again"
        case .corrupt(let d): return "segment blob \(d.prefix(12))… does not match its checksum; the segment will be rendered again"
        }
    }
}
