import Foundation
import Stitcher

/// A clip of the reel-tiny world, rendered exactly as scripts/train/world.py renders it
/// (docs/world.md): ground truth for checking the evaluator, and for benchmarks.
public struct WorldClip: Sendable, Equatable {
    public var background: String
    public var colour: String
    public var shape: String
    public var size: String
    public var motion: String
    /// Start position in pixels (see docs/world.md for its meaning per motion).
    public var anchor: (x: Double, y: Double)
    /// Fraction of a period added at t = 0 (bounce, circle, grow, shrink).
    public var phase: Double

    public static func == (a: WorldClip, b: WorldClip) -> Bool {
        a.background == b.background && a.colour == b.colour && a.shape == b.shape && a.size == b.size
            && a.motion == b.motion && a.anchor == b.anchor && a.phase == b.phase
    }

    public init(background: String, colour: String, shape: String, size: String, motion: String, anchor: (x: Double, y: Double), phase: Double) {
        self.background = background
        self.colour = colour
        self.shape = shape
        self.size = size
        self.motion = motion
        self.anchor = anchor
        self.phase = phase
    }
}

public enum WorldRenderer {
    public static let size = 64
    static let backgrounds: [String: ((Double, Double, Double), (Double, Double, Double))] = [
        "grass": ((96, 140, 64), (64, 108, 44)), "sky": ((110, 165, 225), (175, 210, 240)),
        "night": ((12, 14, 38), (34, 40, 82)), "sand": ((226, 204, 156), (200, 170, 118)),
        "grey": ((128, 128, 128), (128, 128, 128)), "teal": ((30, 80, 90), (90, 140, 140)),
        "snow": ((236, 238, 242), (236, 238, 242)),
    ]
    public static var backgroundNames: [String] { backgrounds.keys.sorted() }
    static let radii = ["small": 6.0, "big": 10.0]
    static let speed = 8.0, bouncePeriod = 1.5, bounceHeight = 14.0, circlePeriod = 3.0, circleRadius = 12.0
    static let growPeriod = 3.0, growRange = (0.6, 1.4), margin = 2.0

    /// Subject centre and radius at time `t` seconds.
    static func state(_ clip: WorldClip, at t: Double) -> (x: Double, y: Double, r: Double) {
        let r0 = radii[clip.size]!
        var (x, y, r) = (clip.anchor.x, clip.anchor.y, r0)
        // Looping track: at one edge the subject jumps to the other, always whole, `margin` px clear.
        func wrap(_ p0: Double, _ v: Double) -> Double {
            let lo = r0 + margin, length = Double(size) - 2 * (r0 + margin)
            let p = (p0 - lo + v * t).truncatingRemainder(dividingBy: length)
            return lo + (p < 0 ? p + length : p)
        }
        switch clip.motion {
        case "left": x = wrap(clip.anchor.x, -speed)
        case "right": x = wrap(clip.anchor.x, speed)
        case "up": y = wrap(clip.anchor.y, -speed)
        case "down": y = wrap(clip.anchor.y, speed)
        case "bounce": y = clip.anchor.y - bounceHeight * abs(sin(Double.pi * (t / bouncePeriod + clip.phase)))
        case "circle":
            let angle = 2 * Double.pi * (t / circlePeriod + clip.phase)
            x = clip.anchor.x + circleRadius * cos(angle)
            y = clip.anchor.y + circleRadius * sin(angle)
        case "grow", "shrink":
            var ramp = (t / growPeriod + clip.phase).truncatingRemainder(dividingBy: 1)
            if clip.motion == "shrink" { ramp = 1 - ramp }
            r = r0 * (growRange.0 + (growRange.1 - growRange.0) * ramp)
        default: break
        }
        return (x, y, r)
    }

    /// Signed distance (negative inside) from offset (dx, dy) to the shape of radius r.
    static func signedDistance(_ shape: String, _ dx: Double, _ dy: Double, _ r: Double) -> Double {
        switch shape {
        case "square": return max(abs(dx), abs(dy)) - r
        case "triangle":
            let inv = 1 / 5.0.squareRoot()
            return max(max((-2 * dx - (dy + r)) * inv, (2 * dx - (dy + r)) * inv), dy - r)
        default: return (dx * dx + dy * dy).squareRoot() - r
        }
    }

    /// Frames `start, start + stride, …` of a clip, RGB 8-bit (rounded from the float image).
    public static func render(_ clip: WorldClip, start: Int = 0, count: Int, stride: Int = 1) -> [RGBFrame] {
        let (top, bottom) = backgrounds[clip.background]!
        let colour = World.colours.first { $0.name == clip.colour }!.rgb
        return (0..<count).map { k in
            let t = Double(start + k * stride) / Double(World.framesPerSecond)
            let s = state(clip, at: t)
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for row in 0..<size {
                let f = Double(row) / Double(size - 1)
                let bg = (top.0 + (bottom.0 - top.0) * f, top.1 + (bottom.1 - top.1) * f, top.2 + (bottom.2 - top.2) * f)
                for column in 0..<size {
                    let d = signedDistance(clip.shape, Double(column) + 0.5 - s.x, Double(row) + 0.5 - s.y, s.r)
                    let alpha = min(max(0.5 - d, 0), 1)
                    let i = (row * size + column) * 3
                    pixels[i] = UInt8((bg.0 * (1 - alpha) + colour.0 * alpha).rounded())
                    pixels[i + 1] = UInt8((bg.1 * (1 - alpha) + colour.1 * alpha).rounded())
                    pixels[i + 2] = UInt8((bg.2 * (1 - alpha) + colour.2 * alpha).rounded())
                }
            }
            return RGBFrame(width: size, height: size, pixels: pixels)
        }
    }
}
