import Testing
@testable import Tensors
import TestSupport

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

@Suite("SHA-256")
struct SHA256Tests {
    @Test("FIPS 180-4 test vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func vectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
        var portable = SHA256(implementation: .portable)
        portable.update(Array(input.utf8))
        #expect(portable.finalizeHex() == digest)
    }

    @Test("the SHA-extension and portable compressions agree on random data of every tail length")
    func implementationsAgree() {
        var generator = SplitMix64(seed: 0x5eed)
        for length in Array(0...200) + [4096, 32768, 32768 + 17, 100_003] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            var automatic = SHA256()
            automatic.update(bytes)
            var portable = SHA256(implementation: .portable)
            portable.update(bytes)
            #expect(automatic.finalizeHex() == portable.finalizeHex(), "length \(length)")
        }
    }

    @Test("buffer and byte-wise updates agree across block boundaries")
    func bufferPath() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for split in [0, 1, 63, 64, 65, 500, 999] {
            var hasher = SHA256()
            hasher.update(bytes[0..<split])
            bytes[split...].withUnsafeBytes { hasher.update(buffer: $0) }
            #expect(hasher.finalize().count == 32)
            var again = SHA256()
            again.update(bytes[0..<split])
            bytes[split...].withUnsafeBytes { again.update(buffer: $0) }
            #expect(again.finalize() == { var h = SHA256(); h.update(bytes); return h.finalize() }())
            // A sequence without contiguous storage takes the byte-wise path: same digest.
            var bytewise = SHA256()
            bytewise.update(bytes[0..<split].lazy.map { $0 })
            bytewise.update(bytes[split...].lazy.map { $0 })
            #expect(bytewise.finalize() == { var h = SHA256(); h.update(bytes); return h.finalize() }())
        }
        // A million 'a's: the long-message vector.
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        var hasher = SHA256()
        million.withUnsafeBytes { hasher.update(buffer: $0) }
        #expect(hasher.finalize().map { String($0, radix: 16).leftPadded(to: 2) }.joined()
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
