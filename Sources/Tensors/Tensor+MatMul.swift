extension Tensor {
    /// Matrix product. Rank 2: `[m, k] · [k, n] → [m, n]`. Rank 3 (batched): `[b, m, k] · [b, k, n]`,
    /// or `[b, m, k] · [k, n]` with the right side shared. Transposes swap the last two axes.
    /// One `cblas_sgemm` per batch item, or one call in all when the right side is shared.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 || a.rank == 3, "matmul needs rank 2 or 3 on the left, got \(a.shape)")
        precondition(b.rank == 2 || b.rank == 3, "matmul needs rank 2 or 3 on the right, got \(b.shape)")
        let batch = a.rank == 3 ? a.shape[0] : 1
        if b.rank == 3 { precondition(a.rank == 3 && b.shape[0] == batch, "batch sizes differ: \(a.shape) vs \(b.shape)") }
        let aRows = a.shape[a.rank - 2], aCols = a.shape[a.rank - 1]
        let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
        let m = transposeA ? aCols : aRows
        let k = transposeA ? aRows : aCols
        let kB = transposeB ? bCols : bRows
        let n = transposeB ? bRows : bCols
        precondition(k == kB, "inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")

        let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
        var out = [Float](repeating: 0, count: batch * m * n)
        if out.isEmpty || k == 0 { return Tensor(shape: outShape, scalars: out) }
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    if b.rank == 2 && !transposeA && batch > 1 {
                        // Shared right side: the batch folds into the rows of one GEMM.
                        BLAS.sgemm(transposeA: false, transposeB: transposeB, m: batch * m, n: n, k: k,
                                   a: pa.baseAddress!, lda: aCols, b: pb.baseAddress!, ldb: bCols,
                                   c: pc.baseAddress!, ldc: n)
                        return
                    }
                    for i in 0..<batch {
                        let bOffset = b.rank == 3 ? i * bRows * bCols : 0
                        BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                   a: pa.baseAddress! + i * aRows * aCols, lda: aCols,
                                   b: pb.baseAddress! + bOffset, ldb: bCols,
                                   c: pc.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// A fully connected layer in PyTorch's layout: `x [..., in] · weightᵀ + bias`, with
    /// `weight [out, in]` and `bias [out]`. All leading axes fold into one GEMM.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        precondition(x.shape.last == inFeatures, "input \(x.shape) does not end in \(inFeatures) features")
        let rows = inFeatures == 0 ? 0 : x.count / inFeatures
        var shape = x.shape
        shape[shape.count - 1] = outFeatures
        if rows * outFeatures == 0 { return Tensor(shape: shape, scalars: []) }
        if let bias { precondition(bias.count == outFeatures, "bias of \(bias.count) for \(outFeatures) outputs") }
        // C starts as the bias on every row (the GEMM adds onto it, beta = 1), or zeros: one pass.
        var out = [Float](unsafeUninitializedCapacity: rows * outFeatures) { o, initialized in
            if let bias {
                bias.scalars.withUnsafeBufferPointer { b in
                    for r in 0..<rows { (o.baseAddress! + r * outFeatures).initialize(from: b.baseAddress!, count: outFeatures) }
                }
            } else {
                o.initialize(repeating: 0)
            }
            initialized = rows * outFeatures
        }
        x.scalars.withUnsafeBufferPointer { px in
            weight.scalars.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    BLAS.sgemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                               a: px.baseAddress!, lda: inFeatures, b: pw.baseAddress!, ldb: inFeatures,
                               beta: bias == nil ? 0 : 1, c: po.baseAddress!, ldc: outFeatures)
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }
}
