/// Which key positions a query may attend to.
public enum AttentionMask: Sendable, Equatable {
    /// Every query sees every key.
    case none
    /// `valid[b][j] == false` hides key `j` of batch item `b` (padding). Shape `[batch][keys]`.
    case keyPadding([[Bool]])
    /// Query `i` sees keys `0...i` only (requires as many queries as keys).
    case causal
    /// Added to the scaled scores before softmax: `[queries, keys]` shared by all items and heads,
    /// or `[batch, queries, keys]`. Use `-Float.infinity` to hide a position.
    case additive(Tensor)
}

extension Tensor {
    /// Scaled dot-product attention with `heads` heads, in the packed layout transformers use:
    /// `query [b, lq, heads·d]`, `key [b, lk, heads·d]`, `value [b, lk, heads·dv]` → `[b, lq, heads·dv]`.
    ///
    /// Heads are read in place through GEMM leading dimensions (no transposes or copies): per batch
    /// item and head, one `sgemm` for `Q·Kᵀ` and one for `P·V`. `scale` defaults to `1/sqrt(d)`.
    /// A query whose keys are all masked gets a zero output.
    public static func multiHeadAttention(
        query: Tensor, key: Tensor, value: Tensor, heads: Int,
        mask: AttentionMask = .none, scale: Float? = nil
    ) -> Tensor {
        precondition(query.rank == 3 && key.rank == 3 && value.rank == 3,
                     "attention needs [batch, length, features] tensors")
        let batch = query.shape[0], lq = query.shape[1], lk = key.shape[1]
        precondition(key.shape[0] == batch && value.shape[0] == batch && value.shape[1] == lk,
                     "query \(query.shape), key \(key.shape) and value \(value.shape) disagree")
        precondition(heads > 0 && query.shape[2] % heads == 0 && value.shape[2] % heads == 0,
                     "features do not split into \(heads) heads")
        precondition(key.shape[2] == query.shape[2], "query and key feature sizes differ")
        let qkWidth = query.shape[2], vWidth = value.shape[2]
        let d = qkWidth / heads, dv = vWidth / heads
        let alpha = scale ?? 1 / Float(d).squareRoot()

        switch mask {
        case .none: break
        case .keyPadding(let valid):
            precondition(valid.count == batch && valid.allSatisfy { $0.count == lk },
                         "key padding mask must be [\(batch)][\(lk)]")
        case .causal:
            precondition(lq == lk, "a causal mask needs as many queries as keys")
        case .additive(let bias):
            precondition(bias.shape == [lq, lk] || bias.shape == [batch, lq, lk],
                         "additive mask must be [\(lq), \(lk)] or [\(batch), \(lq), \(lk)], got \(bias.shape)")
        }

        var out = [Float](repeating: 0, count: batch * lq * vWidth)
        if out.isEmpty || lk == 0 { return Tensor(shape: [batch, lq, vWidth], scalars: out) }
        var scores = [Float](repeating: 0, count: lq * lk)
        let additive: Tensor? = if case .additive(let bias) = mask { bias } else { nil }

        query.scalars.withUnsafeBufferPointer { q in
        key.scalars.withUnsafeBufferPointer { k in
        value.scalars.withUnsafeBufferPointer { v in
        out.withUnsafeMutableBufferPointer { o in
        scores.withUnsafeMutableBufferPointer { s in
            let sp = s.baseAddress!
            for b in 0..<batch {
                for h in 0..<heads {
                    BLAS.sgemm(transposeA: false, transposeB: true, m: lq, n: lk, k: d, alpha: alpha,
                               a: q.baseAddress! + b * lq * qkWidth + h * d, lda: qkWidth,
                               b: k.baseAddress! + b * lk * qkWidth + h * d, ldb: qkWidth,
                               c: sp, ldc: lk)
                    switch mask {
                    case .none: break
                    case .keyPadding(let valid):
                        let row = valid[b]
                        for j in 0..<lk where !row[j] {
                            for i in 0..<lq { sp[i * lk + j] = -Float.infinity }
                        }
                    case .causal:
                        for i in 0..<lq { for j in (i + 1)..<lk { sp[i * lk + j] = -Float.infinity } }
                    case .additive:
                        additive!.scalars.withUnsafeBufferPointer { bias in
                            let offset = additive!.rank == 3 ? b * lq * lk : 0
                            for i in 0..<(lq * lk) { sp[i] += bias[offset + i] }
                        }
                    }
                    for i in 0..<lq { VectorMath.softmax(sp + i * lk, count: lk) }
                    BLAS.sgemm(transposeA: false, transposeB: false, m: lq, n: dv, k: lk,
                               a: sp, lda: lk,
                               b: v.baseAddress! + b * lk * vWidth + h * dv, ldb: vWidth,
                               c: o.baseAddress! + b * lq * vWidth + h * dv, ldc: vWidth)
                }
            }
        }
        }
        }
        }
        }
        return Tensor(shape: [batch, lq, vWidth], scalars: out)
    }
}
