import Foundation

extension Tensor {
    /// Softmax along the last axis. Rows are shifted by their maximum for stability; a row that is
    /// entirely `-inf` (every position masked) becomes all zeros rather than NaN.
    public func softmaxLastAxis() -> Tensor {
        mappingRows { row, width in VectorMath.softmax(row, count: width) }
    }

    /// A copy with `transform` applied in place to each contiguous row along the last axis.
    @inline(__always)
    func mappingRows(_ transform: (UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        var out = self
        let width = shape.last ?? 1
        guard width > 0 else { return out }
        out.scalars.withUnsafeMutableBufferPointer { o in
            var base = 0
            while base < o.count {
                transform(o.baseAddress! + base, width)
                base += width
            }
        }
        return out
    }

    /// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) · gamma + beta`,
    /// with the biased variance as PyTorch uses. `gamma` and `beta` have the last axis's extent.
    public func layerNorm(gamma: Tensor, beta: Tensor, epsilon: Float = 1e-5) -> Tensor {
        let width = shape.last ?? 1
        precondition(gamma.count == width && beta.count == width,
                     "layerNorm over \(width) features needs gamma and beta of \(width)")
        return layerNorm(epsilon: epsilon).mappingRows { row, width in
            for j in 0..<width { row[j] = row[j] * gamma.scalars[j] + beta.scalars[j] }
        }
    }

    /// Group normalisation of `[n, c, ...]`: channels split into `groups` groups, each group
    /// normalised over its channels and all positions, then per-channel `gamma`/`beta` (shape `[c]`).
    public func groupNorm(groups: Int, gamma: Tensor, beta: Tensor, epsilon: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "groupNorm needs [n, c, ...], got \(shape)")
        let batch = shape[0], channels = shape[1]
        precondition(groups > 0 && channels % groups == 0, "\(channels) channels do not split into \(groups) groups")
        precondition(gamma.count == channels && beta.count == channels, "gamma and beta must have \(channels) entries")
        let positions = shape.dropFirst(2).reduce(1, *)
        let perGroup = channels / groups
        let groupSize = perGroup * positions
        var out = self
        guard groupSize > 0 else { return out }
        out.scalars.withUnsafeMutableBufferPointer { o in
            gamma.scalars.withUnsafeBufferPointer { g in
                beta.scalars.withUnsafeBufferPointer { b in
                    for n in 0..<batch {
                        for group in 0..<groups {
                            let start = (n * channels + group * perGroup) * positions
                            let block = o.baseAddress! + start
                            // Accumulate in Double: a group can hold tens of thousands of values.
                            var sum = 0.0
                            for i in 0..<groupSize { sum += Double(block[i]) }
                            let mean = sum / Double(groupSize)
                            var squares = 0.0
                            for i in 0..<groupSize { let d = Double(block[i]) - mean; squares += d * d }
                            let scale = Float(1 / (squares / Double(groupSize) + Double(epsilon)).squareRoot())
                            let meanF = Float(mean)
                            for c in 0..<perGroup {
                                let channel = group * perGroup + c
                                let row = block + c * positions
                                let gc = g[channel] * scale, bc = b[channel]
                                for p in 0..<positions { row[p] = (row[p] - meanF) * gc + bc }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Each row along the last axis divided by its Euclidean norm (rows of norm < `epsilon` use `epsilon`,
    /// as `torch.nn.functional.normalize` does).
    public func l2NormalizedRows(epsilon: Float = 1e-12) -> Tensor {
        mappingRows { row, width in
            var squares: Float = 0
            for j in 0..<width { squares += row[j] * row[j] }
            let inverse = 1 / max(squares.squareRoot(), epsilon)
            for j in 0..<width { row[j] *= inverse }
        }
    }
}
