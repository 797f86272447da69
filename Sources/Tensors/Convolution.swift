extension Tensor {
    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `input [n, c, h, w]` with
    /// `weight [o, c, kh, kw]` and optional `bias [o]`, zero padding, equal stride on both axes.
    /// Output `[n, o, (h + 2·padding - kh)/stride + 1, (w + 2·padding - kw)/stride + 1]`.
    ///
    /// im2col then one `sgemm` per image: `[o, c·kh·kw] · [c·kh·kw, oh·ow]`. A 1×1 convolution with
    /// stride 1 skips im2col and multiplies the input directly.
    public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(input.rank == 4 && weight.rank == 4, "conv2d needs input [n,c,h,w] and weight [o,c,kh,kw]")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (o, wc, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        precondition(wc == c, "weight expects \(wc) input channels, input has \(c)")
        precondition(stride >= 1 && padding >= 0, "stride must be ≥ 1 and padding ≥ 0")
        if let bias { precondition(bias.count == o, "bias of \(bias.count) for \(o) output channels") }
        let oh = (h + 2 * padding - kh) / stride + 1
        let ow = (w + 2 * padding - kw) / stride + 1
        precondition(oh > 0 && ow > 0, "kernel \(kh)×\(kw) larger than padded input \(h)×\(w)")
        let patch = c * kh * kw, positions = oh * ow
        var out = [Float](repeating: 0, count: n * o * positions)
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        var columns = [Float](repeating: 0, count: direct ? 0 : patch * positions)

        input.scalars.withUnsafeBufferPointer { x in
        weight.scalars.withUnsafeBufferPointer { wt in
        out.withUnsafeMutableBufferPointer { y in
        columns.withUnsafeMutableBufferPointer { col in
            for image in 0..<n {
                let src = x.baseAddress! + image * c * h * w
                let dst = y.baseAddress! + image * o * positions
                if let bias {
                    for oc in 0..<o {
                        let value = bias.scalars[oc]
                        for p in 0..<positions { dst[oc * positions + p] = value }
                    }
                }
                let right: UnsafePointer<Float>
                if direct {
                    right = src
                } else {
                    // Row (ch, ky, kx) of the column matrix holds that tap for every output position.
                    let colBase = col.baseAddress!
                    for ch in 0..<c {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let row = colBase + ((ch * kh + ky) * kw + kx) * positions
                                for oy in 0..<oh {
                                    let iy = oy * stride - padding + ky
                                    let line = row + oy * ow
                                    if iy < 0 || iy >= h {
                                        for ox in 0..<ow { line[ox] = 0 }
                                        continue
                                    }
                                    let srcLine = src + (ch * h + iy) * w
                                    // Output columns whose tap ix = ox·stride − padding + kx falls
                                    // inside the row: lo ..< hi; zeros on either side.
                                    let lo = min(ow, max(0, (padding - kx + stride - 1) / stride))
                                    let last = w - 1 + padding - kx
                                    let hi = last < 0 ? lo : max(lo, min(ow, last / stride + 1))
                                    for ox in 0..<lo { line[ox] = 0 }
                                    if stride == 1 {
                                        (line + lo).update(from: srcLine + (lo - padding + kx), count: hi - lo)
                                    } else {
                                        for ox in lo..<hi { line[ox] = srcLine[ox * stride - padding + kx] }
                                    }
                                    for ox in hi..<ow { line[ox] = 0 }
                                }
                            }
                        }
                    }
                    right = UnsafePointer(colBase)
                }
                BLAS.sgemm(transposeA: false, transposeB: false, m: o, n: positions, k: patch,
                           a: wt.baseAddress!, lda: patch, b: right, ldb: positions,
                           beta: bias == nil ? 0 : 1, c: dst, ldc: positions)
            }
        }
        }
        }
        }
        return Tensor(shape: [n, o, oh, ow], scalars: out)
    }
}
