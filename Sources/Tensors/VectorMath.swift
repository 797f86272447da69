import CKernels

/// Vectorised element-wise math for the activations (the C kernels in `CKernels`): `exp` and `erf`
/// as plain arithmetic in loops the compiler turns into SIMD code, instead of a libm call per
/// element. Profiling the DiT forward showed libm's scalar `erff` and `expf` taking about a third
/// of its time outside the GEMMs (BENCHMARKS.md, "Performance changes").
///
/// Accuracy: `exp` within 3 ulp on [−87.3, 88] (0 below it, e^88 above); `erf` within 6e-7
/// absolute (Abramowitz & Stegun 7.1.26, 1.5e-7, plus float rounding). Both far inside the 1e-4 parity tolerance with PyTorch (tests: `VectorMathTests`,
/// `ReelTinyParityTests`, `MiniLMTests`).
enum VectorMath {
    /// `exp` of every element, in place.
    static func exp(_ buffer: UnsafeMutableBufferPointer<Float>) { apply(reel_exp, buffer) }

    /// `erf` of every element, in place.
    static func erf(_ buffer: UnsafeMutableBufferPointer<Float>) { apply(reel_erf, buffer) }

    /// `x · sigmoid(x)` in place.
    static func silu(_ buffer: UnsafeMutableBufferPointer<Float>) { apply(reel_silu, buffer) }

    /// `0.5 · x · (1 + erf(x/√2))` in place.
    static func gelu(_ buffer: UnsafeMutableBufferPointer<Float>) { apply(reel_gelu, buffer) }

    /// Softmax of `count` values in place; a row of −∞ (all masked) becomes zeros.
    static func softmax(_ row: UnsafeMutablePointer<Float>, count: Int) {
        reel_softmax_row(row, count)
    }

    private static func apply(_ kernel: (UnsafeMutablePointer<Float>?, Int) -> Void, _ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress else { return }
        kernel(base, buffer.count)
    }
}
