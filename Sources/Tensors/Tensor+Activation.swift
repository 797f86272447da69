import Foundation

extension Tensor {
    /// GELU. `exact` uses the error function (`x · Φ(x)`, BERT's and PyTorch's default; erf
    /// from `VectorMath`, within 1.5e-7); otherwise the tanh approximation.
    public func gelu(exact: Bool = true) -> Tensor {
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            if exact {
                VectorMath.gelu(o)
            } else {
                let c: Float = 0.79788456080286536 // sqrt(2/pi)
                for i in 0..<o.count {
                    let x = o[i]
                    o[i] = 0.5 * x * (1 + tanhf(c * (x + 0.044715 * x * x * x)))
                }
            }
        }
        return out
    }

    /// SiLU (swish): `x · sigmoid(x)`.
    public func silu() -> Tensor {
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            VectorMath.silu(o)
        }
        return out
    }
}
