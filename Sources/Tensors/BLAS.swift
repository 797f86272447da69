import COpenBLAS

/// The BLAS backend every matrix product in Reel goes through (OpenBLAS `cblas_sgemm`).
public enum BLAS {
    /// Threads OpenBLAS uses for one call. Process-wide.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
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
