import Foundation
import Testing
@testable import Tensors

@Suite("Vectorised exp and erf against Double libm")
struct VectorMathTests {
    /// `count` points spread evenly over `range`, and the edges.
    func grid(_ range: ClosedRange<Float>, _ count: Int) -> [Float] {
        (0..<count).map { range.lowerBound + (range.upperBound - range.lowerBound) * Float($0) / Float(count - 1) }
    }

    @Test("exp: relative error ≤ 3 ulp on [−87.3, 88], 0 below it and for −∞")
    func exponential() {
        var values = grid(-87.3...88, 200_003) + [0, -0.0, 1, -1, 1e-8, -1e-8]
        let inputs = values
        values.withUnsafeMutableBufferPointer { VectorMath.exp($0) }
        var worst: Double = 0
        for (x, y) in zip(inputs, values) {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - exact) / exact)
        }
        #expect(worst <= 3 * Double(Float.ulpOfOne), "worst relative error \(worst)")
        var below: [Float] = [-90, -200, -.infinity, -87.4]
        below.withUnsafeMutableBufferPointer { VectorMath.exp($0) }
        #expect(below == [0, 0, 0, 0])
    }

    @Test("erf: absolute error ≤ 6e-7, odd, and ±1 in the tails")
    func errorFunction() {
        let inputs = grid(-6...6, 120_001)
        var values = inputs
        values.withUnsafeMutableBufferPointer { VectorMath.erf($0) }
        var worst: Double = 0
        for (x, y) in zip(inputs, values) { worst = max(worst, abs(Double(y) - Foundation.erf(Double(x)))) }
        #expect(worst <= 6e-7, "worst absolute error \(worst)")
        // Odd: erf(−x) = −erf(x) exactly (the sign is applied last).
        var positive: [Float] = [0.1, 0.5, 1, 2.5], negative = positive.map { -$0 }
        positive.withUnsafeMutableBufferPointer { VectorMath.erf($0) }
        negative.withUnsafeMutableBufferPointer { VectorMath.erf($0) }
        #expect(negative == positive.map { -$0 })
        #expect(abs(values.first! + 1) < 1e-7 && abs(values.last! - 1) < 1e-7)
    }

    @Test("short buffers and buffers that are not a multiple of the vector width")
    func tails() {
        for count in [1, 15, 16, 17, 33] {
            var values = (0..<count).map { Float($0) / 7 - 1 }
            let inputs = values
            values.withUnsafeMutableBufferPointer { VectorMath.exp($0) }
            for (x, y) in zip(inputs, values) { #expect(abs(Double(y) / Foundation.exp(Double(x)) - 1) <= 4e-7) }
        }
    }
}
