import Foundation

extension Tensor {
    /// GELU. `exact` uses the error function (`x · Φ(x)`, BERT's and PyTorch's default);
    /// otherwise the tanh approximation.
    public func gelu(exact: Bool = true) -> Tensor {
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            if exact {
                let invSqrt2: Float = 0.70710678118654752
                for i in 0..<o.count { let x = o[i]; o[i] = 0.5 * x * (1 + erff(x * invSqrt2)) }
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
            for i in 0..<o.count { let x = o[i]; o[i] = x / (1 + expf(-x)) }
        }
        return out
    }
}
