import COpenBLAS
import Dispatch
import Synchronization

/// The BLAS backend every matrix product in Reel goes through (OpenBLAS `cblas_sgemm`).
public enum BLAS {
    /// Threads OpenBLAS uses for one call. Process-wide. While `splitAcrossThreads` regions run
    /// (OpenBLAS pinned to one thread), this reads and sets the count restored after them.
    public static var threadCount: Int {
        get { region.withLock { $0.depth > 0 ? $0.saved : Int(openblas_get_num_threads()) } }
        set {
            region.withLock { state in
                if state.depth > 0 { state.saved = max(1, newValue) } else { openblas_set_num_threads(Int32(max(1, newValue))) }
            }
        }
    }

    /// The OpenBLAS build string (core type, threading model).
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }

    /// C = alpha · op(A) · op(B) + beta · C on row-major matrices; `op` transposes when asked.
    /// A is m×k after op, B is k×n after op, C is m×n; leading dimensions are row strides.
    @inline(__always)
    static func sgemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }
}

extension BLAS {
    /// Nesting depth of `splitAcrossThreads` regions and the thread count to restore after them.
    private static let region = Mutex<(depth: Int, saved: Int)>((0, 1))

    /// Runs `body` on contiguous chunks of `0..<count`, one chunk per BLAS thread, each chunk on a
    /// thread of its own with single-threaded BLAS, and returns the chunks' results in order.
    ///
    /// For work that splits into independent items (frames through the VAE, the two guidance
    /// passes of the DiT): the small GEMMs of one item scale badly across OpenBLAS's threads (they
    /// spin on hand-offs), whole items on separate cores do not. Results are deterministic for a
    /// given thread count; where every GEMM is per item anyway (the VAE's convolutions) they are
    /// bit-identical to a one-thread run, otherwise (GEMMs over a batch's rows) they can differ in
    /// the last bits, as OpenBLAS's blocking depends on the row count. With one BLAS thread (or one
    /// item) `body` runs once, here, on `0..<count`.
    ///
    /// Concurrent callers (a worker's render and decode threads, a stitcher decoding beside its
    /// remote batches) share one region: OpenBLAS is pinned to one thread from the first entry to
    /// the last exit, and each caller splits by the configured count. Before, a caller that started
    /// while another's region had lowered the count ran unsplit and could see OpenBLAS switch back
    /// to several threads mid-call, which changed the last bits of its pictures from run to run.
    public static func splitAcrossThreads<T: Sendable>(_ count: Int, _ body: @Sendable (Range<Int>) -> T) -> [T] {
        // Decide the split and join the region in one step, from the configured count (not the
        // pinned one another caller's region set): how a batch is split never depends on what else
        // runs, and OpenBLAS stays at one thread until every caller in the region has finished.
        let split: Int? = region.withLock { state in
            let configured = state.depth > 0 ? state.saved : Int(openblas_get_num_threads())
            // One item with several BLAS threads: OpenBLAS threads that call itself.
            if count <= 1 && configured > 1 { return nil }
            if state.depth == 0 {
                state.saved = configured
                openblas_set_num_threads(1)
            }
            state.depth += 1
            return max(1, min(configured, count))
        }
        guard let threads = split else { return [body(0..<count)] }
        defer {
            region.withLock { state in
                state.depth -= 1
                if state.depth == 0 { openblas_set_num_threads(Int32(state.saved)) }
            }
        }
        guard threads > 1 else { return [body(0..<count)] }
        let results = Mutex<[T?]>(Array(repeating: nil, count: threads))
        DispatchQueue.concurrentPerform(iterations: threads) { chunk in
            let range = (count * chunk / threads)..<(count * (chunk + 1) / threads)
            let value = body(range)
            results.withLock { $0[chunk] = value }
        }
        return results.withLock { $0.map { $0! } }
    }
}
