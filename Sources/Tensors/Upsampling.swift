/// How `upsample` fills new pixels.
public enum UpsamplingMode: String, Sendable, CaseIterable {
    /// Each output pixel copies the input pixel it falls in (PyTorch `mode="nearest"`).
    case nearest
    /// Linear interpolation on both axes with half-pixel centres (PyTorch `mode="bilinear"`,
    /// `align_corners=False`).
    case bilinear
}

extension Tensor {
    /// Resizes the two spatial axes of `[n, c, h, w]` to `[n, c, height, width]`.
    public func upsampled(height outH: Int, width outW: Int, mode: UpsamplingMode) -> Tensor {
        precondition(rank == 4, "upsampling needs [n, c, h, w], got \(shape)")
        precondition(outH > 0 && outW > 0, "target size must be positive")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let scaleY = Float(h) / Float(outH), scaleX = Float(w) / Float(outW)
        var out = [Float](repeating: 0, count: planes * outH * outW)

        // Per output column/row: source indices and weights, computed once for all planes.
        let (x0, x1, fx) = Self.sourceTaps(outputs: outW, inputs: w, scale: scaleX, mode: mode)
        let (y0, y1, fy) = Self.sourceTaps(outputs: outH, inputs: h, scale: scaleY, mode: mode)
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for plane in 0..<planes {
                    let s = src.baseAddress! + plane * h * w
                    let d = dst.baseAddress! + plane * outH * outW
                    for oy in 0..<outH {
                        for ox in 0..<outW {
                            switch mode {
                            case .nearest:
                                d[oy * outW + ox] = s[y0[oy] * w + x0[ox]]
                            case .bilinear:
                                let top = s[y0[oy] * w + x0[ox]] * (1 - fx[ox]) + s[y0[oy] * w + x1[ox]] * fx[ox]
                                let bottom = s[y1[oy] * w + x0[ox]] * (1 - fx[ox]) + s[y1[oy] * w + x1[ox]] * fx[ox]
                                d[oy * outW + ox] = top * (1 - fy[oy]) + bottom * fy[oy]
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [shape[0], shape[1], outH, outW], scalars: out)
    }

    /// For each output index along one axis: the first and second source index and the weight of
    /// the second (nearest uses only the first).
    static func sourceTaps(outputs: Int, inputs: Int, scale: Float, mode: UpsamplingMode) -> ([Int], [Int], [Float]) {
        var first = [Int](repeating: 0, count: outputs), second = first
        var weight = [Float](repeating: 0, count: outputs)
        for o in 0..<outputs {
            switch mode {
            case .nearest:
                first[o] = min(Int((Float(o) * scale).rounded(.down)), inputs - 1)
            case .bilinear:
                let src = max((Float(o) + 0.5) * scale - 0.5, 0)
                first[o] = min(Int(src), inputs - 1)
                second[o] = min(first[o] + 1, inputs - 1)
                weight[o] = src - Float(first[o])
            }
        }
        return (first, second, weight)
    }

    /// Resizes `[n, c, h, w]` by an integer factor on both spatial axes.
    public func upsampled(scale: Int, mode: UpsamplingMode) -> Tensor {
        precondition(scale >= 1, "scale must be ≥ 1")
        return upsampled(height: shape[2] * scale, width: shape[3] * scale, mode: mode)
    }
}
