import Foundation
@testable import Tensors
import TestSupport

/// Deterministic pseudo-random numbers for test inputs (SplitMix64), never zeros.
struct TestRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [-scale, scale).
    mutating func uniform(_ scale: Float = 1) -> Float {
        (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in uniform(scale) })
    }
}

/// Largest |a - b| / max(1, |b|): relative for large values, absolute near zero.
func maxError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count {
        worst = max(worst, abs(a.scalars[i] - b.scalars[i]) / max(1, abs(b.scalars[i])))
    }
    return worst
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!
}

/// Straightforward reference kernels: plain loops in Double, no BLAS.
enum Naive {
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { var s = 0.0; for p in 0..<k { s += a[i * k + p] * b[p * n + j] }; c[i * n + j] = s } }
        return c
    }

    static func transpose(_ x: [Double], rows: Int, cols: Int) -> [Double] {
        var t = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = x[i * cols + j] } }
        return t
    }

    static func softmax(_ row: [Double]) -> [Double] {
        let peak = row.max()!
        if peak == -.infinity { return row.map { _ in 0 } }
        let e = row.map { Foundation.exp($0 - peak) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func layerNorm(_ row: [Double], gamma: [Double], beta: [Double], eps: Double) -> [Double] {
        let mean = row.reduce(0, +) / Double(row.count)
        let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(row.count)
        return row.indices.map { (row[$0] - mean) / (variance + eps).squareRoot() * gamma[$0] + beta[$0] }
    }
}

extension Tensor {
    var doubles: [Double] { scalars.map(Double.init) }
    init(shape: [Int], doubles: [Double]) { self.init(shape: shape, scalars: doubles.map(Float.init)) }
}
