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
/// offsets that place the centre to a fraction of a pixel, and the radius in latent pixels.
/// Keep in sync with `layout_channels` in scripts/train/layout.py.
public struct SubjectLayout: Sendable, Equatable {
    /// Channels per latent pixel (`LAYOUT_CHANNELS` in layout.py).
    public static let channelCount = 4

    /// `(x, y, r)` of each frame in pixels, frame after frame: 3 values per frame.
    public let track: [Float]

    public init(track: [Float]) {
        precondition(!track.isEmpty && track.count % 3 == 0, "a track is (x, y, r) per frame, got \(track.count) values")
        self.track = track
    }

    /// Frames of the track.
    public var frames: Int { track.count / 3 }

    /// The DiT's layout input `[T, 4, latentSize, latentSize]` for frames of `imageSize` pixels square.
    public func channels(latentSize: Int, imageSize: Int = 64) -> Tensor {
        let cell = Float(imageSize) / Float(latentSize)
        let plane = latentSize * latentSize
        let centres = (0..<latentSize).map { (Float($0) + 0.5) * cell }
        var out = [Float](repeating: 0, count: frames * Self.channelCount * plane)
        for t in 0..<frames {
            let (x, y, r) = (track[3 * t], track[3 * t + 1], track[3 * t + 2])
            let base = t * Self.channelCount * plane
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
        }
        return Tensor(shape: [frames, Self.channelCount, latentSize, latentSize], scalars: out)
    }
}
