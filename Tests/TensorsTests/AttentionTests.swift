import Foundation
import Testing
@testable import Tensors

@Suite("Multi-head attention")
struct AttentionTests {
    /// Per batch item and head: softmax(Q Kᵀ · scale + bias) V, in Double.
    static func reference(q: Tensor, k: Tensor, v: Tensor, heads: Int, bias: (Int, Int, Int) -> Double) -> Tensor {
        let (batch, lq, lk) = (q.shape[0], q.shape[1], k.shape[1])
        let d = q.shape[2] / heads, dv = v.shape[2] / heads
        var out = [Double](repeating: 0, count: batch * lq * heads * dv)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<lq {
                    var scores = [Double](repeating: 0, count: lk)
                    for j in 0..<lk {
                        var s = 0.0
                        for c in 0..<d {
                            s += Double(q.scalars[(b * lq + i) * heads * d + h * d + c]) * Double(k.scalars[(b * lk + j) * heads * d + h * d + c])
                        }
                        scores[j] = s / Double(d).squareRoot() + bias(b, i, j)
                    }
                    let p = Naive.softmax(scores)
                    for c in 0..<dv {
                        var s = 0.0
                        for j in 0..<lk { s += p[j] * Double(v.scalars[(b * lk + j) * heads * dv + h * dv + c]) }
                        out[(b * lq + i) * heads * dv + h * dv + c] = s
                    }
                }
            }
        }
        return Tensor(shape: [batch, lq, heads * dv], doubles: out)
    }

    let heads = 3
    var rng = TestRandom(seed: 21)

    @Test("no mask, queries and keys of different lengths")
    mutating func unmasked() {
        let q = rng.tensor([2, 5, 12], scale: 2), k = rng.tensor([2, 7, 12], scale: 2), v = rng.tensor([2, 7, 9])
        let got = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads)
        #expect(maxError(got, Self.reference(q: q, k: k, v: v, heads: heads) { _, _, _ in 0 }) < 1e-5)
    }

    @Test("key padding hides keys per batch item")
    mutating func keyPadding() {
        let q = rng.tensor([2, 4, 12]), k = rng.tensor([2, 6, 12]), v = rng.tensor([2, 6, 12])
        let valid = [[true, true, true, false, false, false], [true, true, true, true, true, false]]
        let got = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: .keyPadding(valid))
        let expected = Self.reference(q: q, k: k, v: v, heads: heads) { b, _, j in valid[b][j] ? 0 : -.infinity }
        #expect(maxError(got, expected) < 1e-5)
        // Changing a hidden value must not change the output.
        var v2 = v
        v2.scalars[(0 * 6 + 4) * 12 + 1] += 100
        #expect(Tensor.multiHeadAttention(query: q, key: k, value: v2, heads: heads, mask: .keyPadding(valid)) == got)
    }

    @Test("causal mask")
    mutating func causal() {
        let q = rng.tensor([1, 6, 12]), k = rng.tensor([1, 6, 12]), v = rng.tensor([1, 6, 6])
        let got = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: .causal)
        #expect(maxError(got, Self.reference(q: q, k: k, v: v, heads: heads) { _, i, j in j > i ? -.infinity : 0 }) < 1e-5)
    }

    @Test("additive masks, shared and per item")
    mutating func additive() {
        let q = rng.tensor([2, 3, 12]), k = rng.tensor([2, 4, 12]), v = rng.tensor([2, 4, 12])
        let shared = rng.tensor([3, 4], scale: 3)
        var perItem = rng.tensor([2, 3, 4], scale: 3)
        perItem.scalars[5] = -.infinity
        let gotShared = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: .additive(shared))
        let gotPerItem = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: .additive(perItem))
        #expect(maxError(gotShared, Self.reference(q: q, k: k, v: v, heads: heads) { _, i, j in Double(shared.scalars[i * 4 + j]) }) < 1e-5)
        #expect(maxError(gotPerItem, Self.reference(q: q, k: k, v: v, heads: heads) { b, i, j in Double(perItem.scalars[(b * 3 + i) * 4 + j]) }) < 1e-5)
    }

    @Test("a query with every key masked outputs zeros")
    mutating func allMasked() {
        let q = rng.tensor([1, 2, 12]), k = rng.tensor([1, 3, 12]), v = rng.tensor([1, 3, 12])
        let got = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: .keyPadding([[false, false, false]]))
        #expect(got.scalars.allSatisfy { $0 == 0 })
    }
}
