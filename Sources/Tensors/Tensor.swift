/// A dense, row-major fp32 tensor.
///
/// `scalars.count` always equals the product of `shape` (an empty shape is a scalar of one
/// element). Storage is a Swift array, so copies are cheap until one side writes.
public struct Tensor: Sendable, Equatable {
    /// Extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order.
    public var scalars: [Float]

    /// A tensor over existing scalars; `scalars.count` must equal the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.elementCount(shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.elementCount(shape)))
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    /// Number of elements.
    public var count: Int { scalars.count }
    /// Number of axes.
    public var rank: Int { shape.count }

    /// The same scalars under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Element count of a shape.
    public static func elementCount(_ shape: [Int]) -> Int {
        shape.reduce(1, *)
    }

    /// The largest absolute difference between two tensors of the same shape.
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shapes differ: \(shape) vs \(other.shape)")
        var worst: Float = 0
        for i in 0..<count { worst = max(worst, abs(scalars[i] - other.scalars[i])) }
        return worst
    }
}

extension Tensor {
    /// Element-wise sum of two tensors of the same shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "cannot add \(lhs.shape) and \(rhs.shape)")
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            rhs.scalars.withUnsafeBufferPointer { r in
                for i in 0..<o.count { o[i] += r[i] }
            }
        }
        return out
    }

    /// Element-wise product of two tensors of the same shape.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.shape == rhs.shape, "cannot multiply \(lhs.shape) and \(rhs.shape)")
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            rhs.scalars.withUnsafeBufferPointer { r in
                for i in 0..<o.count { o[i] *= r[i] }
            }
        }
        return out
    }

    /// Every element times a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        var out = lhs
        out.scalars.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] *= rhs }
        }
        return out
    }

    /// Adds `bias` (shape `[last]`) to every row along the last axis.
    public func addingRowVector(_ bias: Tensor) -> Tensor {
        let width = shape.last ?? 1
        precondition(bias.count == width, "bias of \(bias.count) does not match last axis \(width)")
        var out = self
        out.scalars.withUnsafeMutableBufferPointer { o in
            bias.scalars.withUnsafeBufferPointer { b in
                var base = 0
                while base < o.count {
                    for j in 0..<width { o[base + j] += b[j] }
                    base += width
                }
            }
        }
        return out
    }

    /// Rows `indices` of a 2-D table `[rows, width]`, as `[indices.count, width]` (an embedding lookup).
    public static func gatherRows(_ table: Tensor, indices: [Int]) -> Tensor {
        precondition(table.rank == 2, "gatherRows needs a 2-D table, got \(table.shape)")
        let rows = table.shape[0], width = table.shape[1]
        var out = [Float](repeating: 0, count: indices.count * width)
        out.withUnsafeMutableBufferPointer { o in
            table.scalars.withUnsafeBufferPointer { t in
                for (r, index) in indices.enumerated() {
                    precondition(index >= 0 && index < rows, "row \(index) outside table of \(rows)")
                    for j in 0..<width { o[r * width + j] = t[index * width + j] }
                }
            }
        }
        return Tensor(shape: [indices.count, width], scalars: out)
    }
}
