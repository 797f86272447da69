import Foundation
import Tensors

/// The initial noise of the whole film as a pure function of (seed, global frame, level, element).
///
/// Counter-based: each element's two uniforms come from hashing its coordinates (SplitMix64
/// finaliser), then Box–Muller gives a standard normal. No state, so any machine computes the same
/// noise for a frame in any order, and overlapping segments start from identical noise.
///
/// With a shared fraction f > 0 (the model's `noise.shared_fraction`), a frame's noise is
/// `sqrt(f)·shared + sqrt(1 − f)·own`, where `shared` is one draw per (seed, level) for the whole
/// film: still unit variance per element and still a pure function of the coordinates, but frames
/// are correlated the way the DiT saw in training, so the noise does not suggest a different
/// subject position in every frame.
///
/// The track planner's initial noise (`track(count:)`) is a stream of its own, keyed by the seed
/// alone, apart from every frame's and level's.
public struct NoiseField: Sendable, Equatable {
    public let seed: UInt64
    public let sharedFraction: Float

    public init(seed: UInt64, sharedFraction: Float = 0) {
        precondition((0..<1).contains(sharedFraction), "the shared fraction of the noise must be in [0, 1)")
        self.seed = seed
        self.sharedFraction = sharedFraction
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Standard-normal noise for one latent frame: `count` values for global frame `frame` at `level`.
    public func frame(_ frame: Int, level: Int, count: Int) -> [Float] {
        mixed(own(frame, level: level, count: count), shared: sharedFraction > 0 ? shared(level: level, count: count) : nil)
    }

    /// The frame's own (independent) part.
    private func own(_ frame: Int, level: Int, count: Int) -> [Float] {
        Self.normals(key: Self.mix(Self.mix(seed ^ 0x5EED_5EED) ^ UInt64(bitPattern: Int64(frame)) &* 0xD1B5_4A32_D192_ED03
                                   ^ UInt64(level) &* 0x8CB9_2BA7_2F3D_8DD7), count: count)
    }

    /// The part every frame of `level` shares.
    private func shared(level: Int, count: Int) -> [Float] {
        Self.normals(key: Self.mix(Self.mix(seed ^ 0x5A4E_D000) ^ UInt64(level) &* 0x8CB9_2BA7_2F3D_8DD7), count: count)
    }

    /// The track planner's initial noise for this seed: `count` standard normals, independent of the
    /// frames' noise and of the shared fraction.
    public func track(count: Int) -> [Float] {
        Self.normals(key: Self.mix(Self.mix(seed ^ 0x7AC4_7AC4)), count: count)
    }

    /// `sqrt(f)·shared + sqrt(1 − f)·own`, or `own` alone without a shared part.
    private func mixed(_ own: [Float], shared: [Float]?) -> [Float] {
        guard let shared else { return own }
        let a = sharedFraction.squareRoot(), b = (1 - sharedFraction).squareRoot()
        return zip(shared, own).map { a * $0 + b * $1 }
    }

    /// `count` standard normals from a counter-based stream keyed by `key`.
    private static func normals(key: UInt64, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var i = 0
        var counter: UInt64 = 0
        while i < count {
            let bits = mix(key ^ mix(counter))
            counter += 1
            // Two 26-bit uniforms in (0, 1] and [0, 1).
            let u1 = (Double(bits >> 38) + 1) / Double(1 << 26)
            let u2 = Double((bits >> 12) & ((1 << 26) - 1)) / Double(1 << 26)
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            out[i] = Float(radius * Foundation.cos(2 * Double.pi * u2))
            if i + 1 < count { out[i + 1] = Float(radius * Foundation.sin(2 * Double.pi * u2)) }
            i += 2
        }
        return out
    }

    /// Noise for frames `frames` (global indices), stacked: `[frames.count] + frameShape`.
    public func window(frames: [Int], level: Int, frameShape: [Int]) -> Tensor {
        let perFrame = Tensor.elementCount(frameShape)
        // The shared part is drawn once for the window, not once per frame.
        let common = sharedFraction > 0 ? shared(level: level, count: perFrame) : nil
        return Tensor(shape: [frames.count] + frameShape,
                      scalars: frames.flatMap { mixed(own($0, level: level, count: perFrame), shared: common) })
    }
}
