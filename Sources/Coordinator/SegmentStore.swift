import Foundation
import Tensors

/// Finished segment latents on disk, addressed by the SHA-256 of their bytes.
///
/// A blob is `DIR/ab/abcdef…` (first two hex digits fan out the folder). Writes go to a temporary
/// file that is flushed, renamed into place and the folder flushed, so a blob is either absent or
/// complete; reads re-hash the bytes, so a damaged blob is reported, never used.
public struct SegmentStore: Sendable {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public static func digest(_ bytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(bytes)
        return hash.finalizeHex()
    }

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
    /// verifies every result's checksum, so hashing again here would be wasted work).
    @discardableResult
    public func put(_ bytes: [UInt8], digest: String) throws -> String {
        let target = url(of: digest)
        if FileManager.default.fileExists(atPath: target.path) { return digest }
        let folder = target.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(Data(bytes), to: target)
        // Make the rename itself durable.
        let fd = open(folder.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        return digest
    }

    /// The blob's bytes, re-hashed against its name.
    public func get(_ digest: String) throws(SegmentStoreError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url(of: digest).path) else { throw .missing(digest) }
        let bytes = [UInt8](data)
        guard Self.digest(bytes) == digest else { throw .corrupt(digest) }
        return bytes
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
