extension Tensor {
    /// Axes reordered: output axis `i` is input axis `axes[i]` (PyTorch's `permute`), made contiguous.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "\(axes) is not a permutation of \(rank) axes")
        let outShape = axes.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = axes.map { inStrides[$0] }
        var out = [Float](repeating: 0, count: count)
        if count == 0 { return Tensor(shape: outShape, scalars: out) }
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // Walk the output in order with an odometer over its index, tracking the source offset.
                var index = [Int](repeating: 0, count: rank)
                var offset = 0
                let inner = outShape[rank - 1], innerStride = strides[rank - 1]
                var written = 0
                while written < dst.count {
                    var o = offset
                    for i in 0..<inner { dst[written + i] = src[o]; o += innerStride }
                    written += inner
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < outShape[axis] { break }
                        offset -= strides[axis] * outShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }

    /// Tensors joined along `axis`; all other extents must agree.
    public static func concatenate(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "nothing to concatenate")
        let first = parts[0]
        precondition(axis >= 0 && axis < first.rank, "axis \(axis) outside rank \(first.rank)")
        if parts.count == 1 { return first }
        for p in parts {
            precondition(p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == axis || p.shape[$0] == first.shape[$0] },
                         "cannot concatenate \(p.shape) with \(first.shape) along axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        let innerOf = { (t: Tensor) in t.shape[axis...].reduce(1, *) }
        var shape = first.shape
        shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
        var out: [Float] = []
        out.reserveCapacity(Tensor.elementCount(shape))
        for o in 0..<outer {
            for p in parts {
                let inner = innerOf(p)
                out.append(contentsOf: p.scalars[(o * inner)..<((o + 1) * inner)])
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Equal pieces along the last axis (PyTorch's `chunk(parts, dim=-1)`).
    public func chunkedLastAxis(_ parts: Int) -> [Tensor] {
        let width = shape.last ?? 0
        precondition(parts > 0 && width % parts == 0, "last axis \(width) does not split into \(parts)")
        let piece = width / parts
        let rows = width == 0 ? 0 : count / width
        var outShape = shape
        outShape[rank - 1] = piece
        return (0..<parts).map { part in
            var out = [Float](repeating: 0, count: rows * piece)
            scalars.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<rows {
                        let from = src.baseAddress! + r * width + part * piece
                        (dst.baseAddress! + r * piece).update(from: from, count: piece)
                    }
                }
            }
            return Tensor(shape: outShape, scalars: out)
        }
    }

    /// Layer normalisation over the last axis without a learned affine (`elementwise_affine=False`).
    public func layerNorm(epsilon: Float) -> Tensor {
        mappingRows { row, width in
            var mean: Float = 0
            for j in 0..<width { mean += row[j] }
            mean /= Float(width)
            var variance: Float = 0
            for j in 0..<width { let d = row[j] - mean; variance += d * d }
            variance /= Float(width)
            let scale = 1 / (variance + epsilon).squareRoot()
            for j in 0..<width { row[j] = (row[j] - mean) * scale }
        }
    }

    /// adaLN modulation of `[n, tokens, d]` by per-item `shift` and `scale` of shape `[n, d]`:
    /// `x · (1 + scale) + shift`, broadcast over tokens.
    public func modulated(shift: Tensor, scale: Tensor) -> Tensor {
        precondition(rank == 3 && shift.shape == [shape[0], shape[2]] && scale.shape == shift.shape,
                     "modulate needs x [n, l, d] with shift and scale [n, d]")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            shift.scalars.withUnsafeBufferPointer { sh in
                scale.scalars.withUnsafeBufferPointer { sc in
                    for b in 0..<n {
                        for t in 0..<l {
                            let row = o.baseAddress! + (b * l + t) * d
                            for j in 0..<d { row[j] = row[j] * (1 + sc[b * d + j]) + sh[b * d + j] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// `self + gate · update` for `[n, tokens, d]` tensors with a per-item `gate [n, d]` (adaLN-zero residual).
    public func addingGated(_ update: Tensor, gate: Tensor) -> Tensor {
        precondition(rank == 3 && update.shape == shape && gate.shape == [shape[0], shape[2]],
                     "gated residual needs x and update [n, l, d] and gate [n, d]")
        let (n, l, d) = (shape[0], shape[1], shape[2])
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            update.scalars.withUnsafeBufferPointer { u in
                gate.scalars.withUnsafeBufferPointer { g in
                    for b in 0..<n {
                        for t in 0..<l {
                            let base = (b * l + t) * d
                            for j in 0..<d { o[base + j] += g[b * d + j] * u[base + j] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Rows `range` of the first axis (the tensor itself, uncopied, when `range` is all of them).
    public func slicedFirstAxis(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "slice \(range) outside \(shape)")
        if range.count == shape[0] { return self }
        let inner = shape.dropFirst().reduce(1, *)
        var outShape = shape
        outShape[0] = range.count
        return Tensor(shape: outShape, scalars: Array(scalars[(range.lowerBound * inner)..<(range.upperBound * inner)]))
    }
}
