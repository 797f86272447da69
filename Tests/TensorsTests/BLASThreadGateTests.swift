import Synchronization
import Testing
import TestSupport

/// The gate the model and farm tests share (TestSupport/BLASThreadGate.swift): exclusive holders
/// never overlap shared ones, and waiting never blocks a thread of the cooperative pool.
@Suite("BLAS thread gate")
struct BLASThreadGateTests {
    @Test("exclusive holders never run beside shared ones, and many exclusive waiters cannot starve an awaiting shared holder")
    func exclusiveAndSharedDoNotOverlap() async {
        // More exclusive waiters than the pool has threads (two on the CI machine): when waiting
        // blocked a thread, the shared holders' sleeps below could never resume and this hung.
        final class Tally: Sendable {
            struct Counts { var shared = 0, exclusive = 0, overlaps = 0, exclusiveRuns = 0, sharedRuns = 0 }
            let counts = Mutex(Counts())
        }
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await BLASThreadGate.shared {
                        tally.counts.withLock { $0.shared += 1; if $0.exclusive > 0 { $0.overlaps += 1 } }
                        for _ in 0..<5 { try? await Task.sleep(nanoseconds: 5_000_000) }
                        tally.counts.withLock { $0.shared -= 1; $0.sharedRuns += 1 }
                    }
                }
            }
            for _ in 0..<6 {
                group.addTask {
                    await BLASThreadGate.exclusive {
                        tally.counts.withLock {
                            if $0.shared > 0 || $0.exclusive > 0 { $0.overlaps += 1 }
                            $0.exclusive += 1
                        }
                        var spin = 0.0
                        for i in 0..<200_000 { spin += Double(i) }
                        tally.counts.withLock { $0.exclusive -= 1; $0.exclusiveRuns += 1 }
                        _ = spin
                    }
                }
            }
        }
        let final = tally.counts.withLock { $0 }
        #expect(final.overlaps == 0)
        #expect(final.exclusiveRuns == 6 && final.sharedRuns == 3)
        #expect(final.shared == 0 && final.exclusive == 0)
    }
}
