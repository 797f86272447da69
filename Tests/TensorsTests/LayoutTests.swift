import Testing
@testable import Tensors

@Suite("Layout and adaLN helpers")
struct LayoutTests {
    @Test("permute matches index arithmetic", arguments: [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 3, 1], [1, 0, 3, 2], [2, 0, 1, 3]])
    func permute(axes: [Int]) {
        var rng = TestRandom(seed: 61)
        let shape = [2, 3, 4, 5]
        let x = rng.tensor(shape)
        let y = x.permuted(axes)
        #expect(y.shape == axes.map { shape[$0] })
        for a in 0..<2 { for b in 0..<3 { for c in 0..<4 { for d in 0..<5 {
            let source = [a, b, c, d]
            let target = axes.map { source[$0] }
            let outIndex = ((target[0] * y.shape[1] + target[1]) * y.shape[2] + target[2]) * y.shape[3] + target[3]
            #expect(y.scalars[outIndex] == x.scalars[((a * 3 + b) * 4 + c) * 5 + d])
        }}}}
    }

    @Test("concatenate and chunk are inverses")
    func concatenateAndChunk() {
        var rng = TestRandom(seed: 62)
        let a = rng.tensor([2, 3, 4]), b = rng.tensor([2, 3, 4]), c = rng.tensor([2, 3, 4])
        let joined = Tensor.concatenate([a, b, c], axis: 2)
        #expect(joined.shape == [2, 3, 12])
        #expect(joined.chunkedLastAxis(3) == [a, b, c])
        let middle = Tensor.concatenate([a, rng.tensor([2, 1, 4])], axis: 1)
        #expect(middle.shape == [2, 4, 4])
        #expect(Array(middle.scalars[0..<12]) == Array(a.scalars[0..<12]))
        #expect(Array(middle.scalars[16..<28]) == Array(a.scalars[12..<24]))
        #expect(joined.slicedFirstAxis(1..<2).scalars == Array(joined.scalars[36..<72]))
    }

    @Test("layer norm without affine equals layer norm with ones and zeros")
    func plainLayerNorm() {
        var rng = TestRandom(seed: 63)
        let x = rng.tensor([3, 16], scale: 4)
        let expected = x.layerNorm(gamma: Tensor(repeating: 1, shape: [16]), beta: Tensor(zeros: [16]), epsilon: 1e-6)
        #expect(maxError(x.layerNorm(epsilon: 1e-6), expected) < 1e-6)
    }

    @Test("modulate and gated residual broadcast per item over tokens")
    func adaLN() {
        var rng = TestRandom(seed: 64)
        let x = rng.tensor([2, 3, 4]), u = rng.tensor([2, 3, 4])
        let shift = rng.tensor([2, 4]), scale = rng.tensor([2, 4]), gate = rng.tensor([2, 4])
        let m = x.modulated(shift: shift, scale: scale), g = x.addingGated(u, gate: gate)
        for b in 0..<2 { for t in 0..<3 { for j in 0..<4 {
            let i = (b * 3 + t) * 4 + j
            #expect(abs(m.scalars[i] - (x.scalars[i] * (1 + scale.scalars[b * 4 + j]) + shift.scalars[b * 4 + j])) < 1e-6)
            #expect(abs(g.scalars[i] - (x.scalars[i] + gate.scalars[b * 4 + j] * u.scalars[i])) < 1e-6)
        }}}
    }
}
