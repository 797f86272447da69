import Foundation
import Synchronization
import Tensors

/// `BLAS.threadCount` is process-wide, and the test targets run in one process with suites in
/// parallel. A test that changes it (`exclusive`) would otherwise change the rounding of a farm
/// test rendering at the same moment — the DiT splits its batch across BLAS threads — and a
/// determinism check comparing two renders (`shared`) would see two answers. Shared holders run
/// together; an exclusive holder waits for them to finish and keeps new ones out until it is done.
///
/// Both sides wait with `Task.sleep`, never by blocking a thread: tests run on Swift's cooperative
/// pool, which has one thread per core (two on the CI machine). Two exclusive waiters blocking
/// their threads would leave no thread for the shared holder they wait on — a farm render that
/// awaits — and the suite would hang (it did, in CI, until its 90-minute limit).
///
/// The first use of the gate sets one BLAS thread, the count the farm's fixture sets on its first
/// use (a worker's count): that fixture's lazy set, from 2 (all cores) to 1, happened once while a
/// shared holder compared two encodings, and they differed in the last bit. Pinned here first, the
/// fixture's set changes nothing; exclusive holders restore what they found.
public enum BLASThreadGate {
    static let pinned: Void = { BLAS.threadCount = 1 }()

    struct State {
        var shared = 0
        var exclusive = false
        var exclusiveWaiting = 0
    }
    static let state = Mutex(State())

    /// Runs `body` with no shared holder running (for a test that changes the BLAS thread count).
    public static func exclusive<T>(_ body: () throws -> T) async rethrows -> T {
        _ = pinned
        state.withLock { $0.exclusiveWaiting += 1 }
        while !state.withLock({ s in
            guard s.shared == 0 && !s.exclusive else { return false }
            s.exclusive = true
            s.exclusiveWaiting -= 1
            return true
        }) { try? await Task.sleep(nanoseconds: 10_000_000) }
        defer { state.withLock { $0.exclusive = false } }
        return try body()
    }

    /// Runs `body` while no exclusive holder runs or waits (for renders that must be bit-identical).
    public static func shared<T>(_ body: () async throws -> T) async rethrows -> T {
        _ = pinned
        while !state.withLock({ s in
            guard !s.exclusive && s.exclusiveWaiting == 0 else { return false }
            s.shared += 1
            return true
        }) { try? await Task.sleep(nanoseconds: 10_000_000) }
        defer { state.withLock { $0.shared -= 1 } }
        return try await body()
    }
}
