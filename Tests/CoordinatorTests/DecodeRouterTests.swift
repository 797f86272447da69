import Stitcher
import Testing
import Wire
@testable import Coordinator

@Suite("Decode routing")
struct DecodeRouterTests {
    let a: [UInt8] = [1], b: [UInt8] = [2]

    /// A router with `count` one-frame batches of `job`; returns their waiters.
    func router(batches count: Int, job: String = "j1") -> (DecodeRouter, [PendingFrames]) {
        var router = DecodeRouter(perWorker: 2, giveUpAfter: 10)
        let pending = (0..<count).map { _ in PendingFrames() }
        for p in pending { router.enqueue(job: job, frames: 1, latents: [0, 1], pending: p) }
        return (router, pending)
    }

    /// Dispatches and returns the batch ids each worker was sent.
    func dispatch(_ router: inout DecodeRouter, to workers: [[UInt8]], now: Double = 0, refuse: [UInt8]? = nil) -> [[UInt8]: [String]] {
        var sent: [[UInt8]: [String]] = [:]
        router.dispatch(to: workers, model: "reel-tiny", frameShape: [2], now: now) { identity, message in
            guard identity != refuse, case .decode(let request, _) = message else { return false }
            sent[identity, default: []].append(request.decode)
            return true
        }
        return sent
    }

    func frames(_ id: String) -> DecodedFrames { DecodedFrames(decode: id, frames: 1, width: 1, height: 1) }

    @Test("each worker holds at most two batches; answers free the slots; a wrong sender is refused")
    func boundedAndSettled() {
        var (router, pending) = router(batches: 5)
        let first = dispatch(&router, to: [a, b])
        #expect(first[a] == ["j1.d1", "j1.d2"] && first[b] == ["j1.d3", "j1.d4"])
        #expect(router.waiting == 1 && router.outstanding == 4)
        let fromWrongWorker = router.arrived(frames("j1.d1"), pixels: [9, 9, 9], from: b)
        let fromRightWorker = router.arrived(frames("j1.d1"), pixels: [9, 9, 9], from: a)
        let repeated = router.arrived(frames("j1.d1"), pixels: [9, 9, 9], from: a)
        #expect(!fromWrongWorker && fromRightWorker && !repeated)
        #expect(pending[0].wait(timeout: 0)?.first?.pixels == [9, 9, 9])
        let next = dispatch(&router, to: [a, b])
        #expect(next == [a: ["j1.d5"]])
        let failed = router.failed("j1.d3", from: b), failedAgain = router.failed("j1.d3", from: b)
        #expect(failed && !failedAgain)
        #expect(pending[2].wait(timeout: 0) == nil)
    }

    @Test("a lost worker's batches go back first, in order, and a batch that lost three workers is given up")
    func workerLoss() {
        var (router, pending) = router(batches: 3)
        _ = dispatch(&router, to: [a])
        router.workerLost(a)
        #expect(router.waiting == 3 && router.outstanding == 0)
        let resent = dispatch(&router, to: [b])
        #expect(resent == [b: ["j1.d1", "j1.d2"]])
        router.workerLost(b)
        _ = dispatch(&router, to: [a])
        router.workerLost(a)
        // d1 and d2 have been sent three times: the stitcher decodes them itself.
        #expect(pending[0].wait(timeout: 0) == nil && pending[1].wait(timeout: 0) == nil)
        #expect(router.waiting == 1)
        let last = dispatch(&router, to: [b])
        #expect(last == [b: ["j1.d3"]])
    }

    @Test("a refused send keeps the batch; a dropped job, an old batch and no worker at all release their waiters")
    func dropAndExpire() {
        var (router, pending) = router(batches: 2)
        let refused = dispatch(&router, to: [a], refuse: a)
        #expect(refused.isEmpty)
        #expect(router.waiting == 2)
        _ = dispatch(&router, to: [b], now: 0)
        router.expire(now: 5)
        #expect(router.outstanding == 2)
        router.expire(now: 11)
        #expect(router.outstanding == 0)
        #expect(pending.allSatisfy { $0.wait(timeout: 0) == nil })
        var (other, otherPending) = self.router(batches: 2, job: "j2")
        other.drop(job: "j2")
        #expect(other.waiting == 0 && otherPending.allSatisfy { $0.wait(timeout: 0) == nil })
        var (unserved, unservedPending) = self.router(batches: 2)
        unserved.releaseWaiting()
        #expect(unserved.waiting == 0 && unservedPending.allSatisfy { $0.wait(timeout: 0) == nil })
    }
}
