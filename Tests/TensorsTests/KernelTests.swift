import Foundation
import Testing
@testable import Tensors

@Suite("Kernels against straightforward references")
struct KernelTests {
    @Test("matmul, all transpose combinations", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul(transposes: (Bool, Bool)) {
        var rng = TestRandom(seed: 1)
        let (m, k, n) = (13, 29, 7)
        let a = rng.tensor(transposes.0 ? [k, m] : [m, k])
        let b = rng.tensor(transposes.1 ? [n, k] : [k, n])
        let aPlain = transposes.0 ? Naive.transpose(a.doubles, rows: k, cols: m) : a.doubles
        let bPlain = transposes.1 ? Naive.transpose(b.doubles, rows: n, cols: k) : b.doubles
        let expected = Tensor(shape: [m, n], doubles: Naive.matmul(aPlain, bPlain, m: m, k: k, n: n))
        let got = Tensor.matmul(a, b, transposeA: transposes.0, transposeB: transposes.1)
        #expect(got.shape == [m, n])
        #expect(maxError(got, expected) < 1e-5)
    }

    @Test("batched matmul, per-item and shared right side")
    func batchedMatmul() {
        var rng = TestRandom(seed: 2)
        let a = rng.tensor([3, 5, 8])
        let b = rng.tensor([3, 8, 4])
        let shared = rng.tensor([8, 4])
        let perItem = Tensor.matmul(a, b)
        let withShared = Tensor.matmul(a, shared)
        for i in 0..<3 {
            let ai = Array(a.doubles[(i * 40)..<((i + 1) * 40)])
            let bi = Array(b.doubles[(i * 32)..<((i + 1) * 32)])
            let expected = Naive.matmul(ai, bi, m: 5, k: 8, n: 4)
            let expectedShared = Naive.matmul(ai, shared.doubles, m: 5, k: 8, n: 4)
            for j in 0..<20 {
                #expect(abs(Double(perItem.scalars[i * 20 + j]) - expected[j]) < 1e-5)
                #expect(abs(Double(withShared.scalars[i * 20 + j]) - expectedShared[j]) < 1e-5)
            }
        }
    }

    @Test("linear folds leading axes and adds the bias")
    func linear() {
        var rng = TestRandom(seed: 3)
        let x = rng.tensor([2, 3, 6])
        let w = rng.tensor([5, 6])
        let bias = rng.tensor([5])
        let got = Tensor.linear(x, weight: w, bias: bias)
        let noBias = Tensor.linear(x, weight: w, bias: nil)
        #expect(got.shape == [2, 3, 5])
        let plain = Naive.matmul(x.doubles, Naive.transpose(w.doubles, rows: 5, cols: 6), m: 6, k: 6, n: 5)
        for r in 0..<6 {
            for j in 0..<5 {
                #expect(abs(Double(got.scalars[r * 5 + j]) - (plain[r * 5 + j] + Double(bias.scalars[j]))) < 1e-5)
                #expect(abs(Double(noBias.scalars[r * 5 + j]) - plain[r * 5 + j]) < 1e-5)
            }
        }
    }

    @Test("softmax over the last axis; fully masked rows become zeros")
    func softmax() {
        var rng = TestRandom(seed: 4)
        var x = rng.tensor([4, 9], scale: 20)
        for j in 0..<9 { x.scalars[2 * 9 + j] = -.infinity }
        x.scalars[1 * 9 + 3] = -.infinity
        let got = x.softmaxLastAxis()
        for r in 0..<4 {
            let expected = Naive.softmax(Array(x.doubles[(r * 9)..<((r + 1) * 9)]))
            for j in 0..<9 { #expect(abs(Double(got.scalars[r * 9 + j]) - expected[j]) < 1e-6) }
        }
        #expect(got.scalars[(2 * 9)..<(3 * 9)].allSatisfy { $0 == 0 })
        #expect(got.scalars[1 * 9 + 3] == 0)
    }

    @Test("layer norm")
    func layerNorm() {
        var rng = TestRandom(seed: 5)
        let x = rng.tensor([3, 4, 10], scale: 5)
        let gamma = rng.tensor([10]), beta = rng.tensor([10])
        let got = x.layerNorm(gamma: gamma, beta: beta, epsilon: 1e-5)
        for r in 0..<12 {
            let expected = Naive.layerNorm(Array(x.doubles[(r * 10)..<((r + 1) * 10)]),
                                           gamma: gamma.doubles, beta: beta.doubles, eps: 1e-5)
            for j in 0..<10 { #expect(abs(Double(got.scalars[r * 10 + j]) - expected[j]) < 1e-5) }
        }
    }

    @Test("group norm matches a per-group loop and PyTorch")
    func groupNorm() throws {
        var rng = TestRandom(seed: 6)
        let x = rng.tensor([2, 6, 3, 5], scale: 4)
        let gamma = rng.tensor([6]), beta = rng.tensor([6])
        let got = x.groupNorm(groups: 3, gamma: gamma, beta: beta)
        let positions = 15, perGroup = 2
        for n in 0..<2 {
            for g in 0..<3 {
                let start = (n * 6 + g * perGroup) * positions
                let block = Array(x.doubles[start..<(start + perGroup * positions)])
                let mean = block.reduce(0, +) / Double(block.count)
                let variance = block.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(block.count)
                for i in 0..<block.count {
                    let channel = g * perGroup + i / positions
                    let expected = (block[i] - mean) / (variance + 1e-5).squareRoot() * Double(gamma.scalars[channel]) + Double(beta.scalars[channel])
                    #expect(abs(Double(got.scalars[start + i]) - expected) < 1e-5)
                }
            }
        }
        let torch = try SafetensorsFile(contentsOf: fixtureURL("kernels.safetensors"))
        let input = try torch.tensor("group_norm_input")
        let ones = Tensor(repeating: 1, shape: [6]), zeros = Tensor(zeros: [6])
        #expect(maxError(input.groupNorm(groups: 3, gamma: ones, beta: zeros), try torch.tensor("group_norm_3")) < 1e-5)
    }

    @Test("GELU (exact and tanh) and SiLU against formulas and PyTorch")
    func activations() throws {
        var rng = TestRandom(seed: 7)
        let x = rng.tensor([200], scale: 6)
        let exact = x.gelu(), approx = x.gelu(exact: false), silu = x.silu()
        for i in 0..<x.count {
            let v = Double(x.scalars[i])
            #expect(abs(Double(exact.scalars[i]) - 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))) < 1e-5)
            let inner = (2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)
            #expect(abs(Double(approx.scalars[i]) - 0.5 * v * (1 + Foundation.tanh(inner))) < 1e-5)
            #expect(abs(Double(silu.scalars[i]) - v / (1 + Foundation.exp(-v))) < 1e-5)
        }
        let torch = try SafetensorsFile(contentsOf: fixtureURL("kernels.safetensors"))
        let input = try torch.tensor("gelu_input")
        #expect(maxError(input.gelu(), try torch.tensor("gelu_exact")) < 1e-6)
        #expect(maxError(input.gelu(exact: false), try torch.tensor("gelu_tanh")) < 1e-6)
        #expect(maxError(input.silu(), try torch.tensor("silu")) < 1e-6)
    }

    @Test("element-wise helpers and embedding lookup")
    func elementwise() {
        var rng = TestRandom(seed: 8)
        let a = rng.tensor([4, 3]), b = rng.tensor([4, 3]), row = rng.tensor([3])
        let sum = a + b, product = a * b, scaled = a * 2.5, biased = a.addingRowVector(row)
        for i in 0..<12 {
            #expect(sum.scalars[i] == a.scalars[i] + b.scalars[i])
            #expect(product.scalars[i] == a.scalars[i] * b.scalars[i])
            #expect(scaled.scalars[i] == a.scalars[i] * 2.5)
            #expect(biased.scalars[i] == a.scalars[i] + row.scalars[i % 3])
        }
        let picked = Tensor.gatherRows(a, indices: [3, 0, 3])
        #expect(picked.shape == [3, 3])
        #expect(Array(picked.scalars[0..<3]) == Array(a.scalars[9..<12]))
        #expect(Array(picked.scalars[3..<6]) == Array(a.scalars[0..<3]))
        let normalized = a.l2NormalizedRows()
        for r in 0..<4 {
            let norm = (0..<3).map { Double(normalized.scalars[r * 3 + $0]) }.map { $0 * $0 }.reduce(0, +)
            #expect(abs(norm - 1) < 1e-6)
        }
    }
}
