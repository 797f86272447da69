import Foundation
import Tensors

/// Where the subject is, and how big, in every frame of a window: its track, `(x, y, r)` per frame
/// (centre and radius in pixels of the video frame, the world's own coordinates), and the input
/// channels a DiT with `layout_channels` reads it as.
///
/// Per frame and latent pixel (row i, column j), with `cell = imageSize / latentSize` pixels, the
/// pixel's centre `(u_j, v_i) = ((j + 0.5)·cell, (i + 0.5)·cell)`, `dx = (x − u_j) / cell`,
/// `dy = (y − v_i) / cell` and `g = exp(−(dx² + dy²) / 2)`, the channels are, in order,
/// `g`, `g·dx`, `g·dy`, `g·r / cell`: a bump one latent pixel wide around the centre, with the
/// offsets that place the centre to a fraction of a pixel, and the radius in latent pixels. A
/// five-channel layout adds the coverage: the mean over the latent pixel's `cell × cell` image
/// pixels p of `clamp(r + 0.5 − |p − (x, y)|, 0, 1)`, the world's anti-aliased circle at latent
/// resolution, which shows the subject's size the way the subject itself will. For a DiT whose
/// coverage follows the subject's shape (`dit.layout_coverage` "shape") the layout carries the shape
/// the planner named, and the coverage is `clamp(0.5 − d, 0, 1)` with `d` the world's signed
/// distance to that shape (`SubjectShape`); a circle's is the disc's.
/// Keep in sync with `layout_channels` in scripts/train/layout.py.
public struct SubjectLayout: Sendable, Equatable {
    /// The channel counts a layout comes in: the four of the bump, and those plus the coverage.
    public static let channelCounts = [4, 5]

    /// `(x, y, r)` of each frame in pixels, frame after frame: 3 values per frame.
    public let track: [Float]
    /// The subject's shape, which the coverage channel draws.
    public let shape: SubjectShape

    public init(track: [Float], shape: SubjectShape = .circle) {
        precondition(!track.isEmpty && track.count % 3 == 0, "a track is (x, y, r) per frame, got \(track.count) values")
        self.track = track
        self.shape = shape
    }

    /// Frames of the track.
    public var frames: Int { track.count / 3 }

    /// The DiT's layout input `[T, count, latentSize, latentSize]` (count 4 or 5) for frames of
    /// `imageSize` pixels square.
    public func channels(latentSize: Int, imageSize: Int = 64, count: Int = 4) -> Tensor {
        precondition(Self.channelCounts.contains(count), "a layout has 4 or 5 channels, not \(count)")
        let cell = Float(imageSize) / Float(latentSize)
        let plane = latentSize * latentSize
        let centres = (0..<latentSize).map { (Float($0) + 0.5) * cell }
        var out = [Float](repeating: 0, count: frames * count * plane)
        for t in 0..<frames {
            let (x, y, r) = (track[3 * t], track[3 * t + 1], track[3 * t + 2])
            let base = t * count * plane
            for i in 0..<latentSize {
                let dy = (y - centres[i]) / cell
                for j in 0..<latentSize {
                    let dx = (x - centres[j]) / cell
                    let g = expf(-0.5 * (dx * dx + dy * dy))
                    let pixel = base + i * latentSize + j
                    out[pixel] = g
                    out[pixel + plane] = g * dx
                    out[pixel + 2 * plane] = g * dy
                    out[pixel + 3 * plane] = g * (r / cell)
                }
            }
            if count == 5 { coverage(x: x, y: y, r: r, latentSize: latentSize, imageSize: imageSize, into: &out, at: base + 4 * plane) }
        }
        return Tensor(shape: [frames, count, latentSize, latentSize], scalars: out)
    }

    /// Adds the coverage plane of the subject (its shape at `(x, y)`, radius `r`) to `out` from `offset`.
    private func coverage(x: Float, y: Float, r: Float, latentSize: Int, imageSize: Int, into out: inout [Float], at offset: Int) {
        let cell = imageSize / latentSize
        let share = 1 / Float(cell * cell)
        for row in 0..<imageSize {
            let py = Float(row) + 0.5 - y
            for column in 0..<imageSize {
                let px = Float(column) + 0.5 - x
                let alpha = min(max(0.5 - shape.signedDistance(dx: px, dy: py, r: r), 0), 1)
                out[offset + (row / cell) * latentSize + column / cell] += alpha * share
            }
        }
    }
}

/// The subject's shapes in the world (docs/world.md): each fits a `2r × 2r` box around its centre.
public enum SubjectShape: String, Sendable, CaseIterable {
    /// A disc of radius r.
    case circle
    /// A square of half-side r.
    case square
    /// Apex `(0, −r)`, base from `(−r, r)` to `(r, r)` (y down).
    case triangle

    /// Signed distance in pixels (negative inside) from the offset `(dx, dy)` to the shape of
    /// radius `r`: exact inside and for the circle, the largest edge distance outside a corner
    /// (`signed_distance` in scripts/train/world.py).
    func signedDistance(dx: Float, dy: Float, r: Float) -> Float {
        switch self {
        case .circle:
            return (dx * dx + dy * dy).squareRoot() - r
        case .square:
            return max(abs(dx), abs(dy)) - r
        case .triangle:
            let inverse = 1 / Float(5).squareRoot()
            let left = (-2 * dx - (dy + r)) * inverse
            let right = (2 * dx - (dy + r)) * inverse
            return max(max(left, right), dy - r)
        }
    }
}
