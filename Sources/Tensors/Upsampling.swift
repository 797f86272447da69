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
        var x0 = [Int](repeating: 0, count: outW), x1 = x0, y0 = [Int](repeating: 0, count: outH), y1 = y0
        var fx = [Float](repeating: 0, count: outW), fy = [Float](repeating: 0, count: outH)
        for ox in 0..<outW {
            switch mode {
            case .nearest:
                x0[ox] = min(Int((Float(ox) * scaleX).rounded(.down)), w - 1)
            case .bilinear:
                let src = max((Float(ox) + 0.5) * scaleX - 0.5, 0)
                x0[ox] = min(Int(src), w - 1); x1[ox] = min(x0[ox] + 1, w - 1); fx[ox] = src - Float(x0[ox])
            }
        }
        for oy in 0..<outH {
            switch mode {
            case .nearest:
                y0[oy] = min(Int((Float(oy) * scaleY).rounded(.down)), h - 1)
            case .bilinear:
                let src = max((Float(oy) + 0.5) * scaleY - 0.5, 0)
                y0[oy] = min(Int(src), h - 1); y1[oy] = min(y0[oy] + 1, h - 1); fy[oy] = src - Float(y0[oy])
            }
        }
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

    /// Resizes `[n, c, h, w]` by an integer factor on both spatial axes.
    public func upsampled(scale: Int, mode: UpsamplingMode) -> Tensor {
        precondition(scale >= 1, "scale must be ≥ 1")
        return upsampled(height: shape[2] * scale, width: shape[3] * scale, mode: mode)
    }
}
