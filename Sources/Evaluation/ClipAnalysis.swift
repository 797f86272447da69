import Foundation
import Stitcher

/// The subject found in one frame: its pixels set apart from the background.
public struct SubjectObservation: Sendable, Equatable, Codable {
    public let centreX: Double
    public let centreY: Double
    /// Pixels covered (at the analysed resolution).
    public let area: Int
    /// Area over bounding-box area: circle ≈ 0.79, square ≈ 1, triangle ≈ 0.5.
    public let fill: Double
    /// Mean colour of the clearly-subject pixels, RGB 0–255.
    public let colour: [Double]
    /// Bounding box edges in pixels (inclusive pixel indices).
    public let minX: Double, maxX: Double, minY: Double, maxY: Double
    /// Which sides of the box touch the frame edge (the subject runs past them).
    public let clippedLeft: Bool, clippedRight: Bool, clippedTop: Bool, clippedBottom: Bool

    /// The box touches a frame edge: the subject is partly outside.
    public var clipped: Bool { clippedLeft || clippedRight || clippedTop || clippedBottom }
}

/// Finds the subject in frames of the reel-tiny world and judges colour, shape and motion,
/// following the "Checks" section of docs/world.md (the same rules as scripts/train/clip_analysis.py).
///
/// Per frame: each row's per-channel median is that row's background; pixels farther than 50
/// (RGB distance) from it form the mask; the largest 4-connected component (≥ 12 pixels) is the
/// subject. Frames larger than 64×64 are first box-averaged to 64×64.
public struct ClipAnalysis: Sendable {
    public static let analysisSize = 64
    public var threshold: Double = 50
    /// Smaller components mean no subject in the frame.
    public var minimumArea = 12

    public init() {}

    /// The subject in one frame, or nil when none stands out.
    public func observe(_ frame: RGBFrame) -> SubjectObservation? {
        let size = Self.analysisSize
        let pixels = Self.downsampled(frame, to: size)
        var mask = [Bool](repeating: false, count: size * size)
        for y in 0..<size {
            var background = [0.0, 0.0, 0.0]
            for c in 0..<3 {
                let row = (0..<size).map { pixels[(y * size + $0) * 3 + c] }.sorted()
                background[c] = (row[size / 2 - 1] + row[size / 2]) / 2
            }
            for x in 0..<size {
                let i = (y * size + x) * 3
                let d = ((pixels[i] - background[0]) * (pixels[i] - background[0])
                         + (pixels[i + 1] - background[1]) * (pixels[i + 1] - background[1])
                         + (pixels[i + 2] - background[2]) * (pixels[i + 2] - background[2])).squareRoot()
                mask[y * size + x] = d > threshold
            }
        }
        // Largest 4-connected component; ties go to the one found first in scan order.
        var label = [Int](repeating: -1, count: size * size)
        var best: [Int] = []
        for seed in 0..<(size * size) where mask[seed] && label[seed] < 0 {
            var component = [seed], head = 0
            label[seed] = seed
            while head < component.count {
                let p = component[head]; head += 1
                let (y, x) = (p / size, p % size)
                for (ny, nx) in [(y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)] where ny >= 0 && ny < size && nx >= 0 && nx < size {
                    let q = ny * size + nx
                    if mask[q] && label[q] < 0 { label[q] = seed; component.append(q) }
                }
            }
            if component.count > best.count { best = component }
        }
        guard best.count >= minimumArea else { return nil }
        var sumX = 0.0, sumY = 0.0
        var minX = size, maxX = -1, minY = size, maxY = -1
        var channels: [[Double]] = [[], [], []]
        for p in best {
            let (y, x) = (p / size, p % size)
            sumX += Double(x) + 0.5; sumY += Double(y) + 0.5
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            for c in 0..<3 { channels[c].append(pixels[p * 3 + c]) }
        }
        let median = channels.map { values -> Double in
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let box = Double((maxX - minX + 1) * (maxY - minY + 1))
        return SubjectObservation(
            centreX: sumX / Double(best.count), centreY: sumY / Double(best.count), area: best.count, fill: Double(best.count) / box,
            colour: median,
            minX: Double(minX), maxX: Double(maxX), minY: Double(minY), maxY: Double(maxY),
            clippedLeft: minX == 0, clippedRight: maxX == size - 1, clippedTop: minY == 0, clippedBottom: maxY == size - 1)
    }

    /// Box-average to `size`×`size` (no-op at that size), as Double RGB.
    static func downsampled(_ frame: RGBFrame, to size: Int) -> [Double] {
        if frame.width == size && frame.height == size { return frame.pixels.map(Double.init) }
        var out = [Double](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            let y0 = y * frame.height / size, y1 = max(y0 + 1, (y + 1) * frame.height / size)
            for x in 0..<size {
                let x0 = x * frame.width / size, x1 = max(x0 + 1, (x + 1) * frame.width / size)
                var sum = [0.0, 0.0, 0.0]
                for sy in y0..<y1 { for sx in x0..<x1 { for c in 0..<3 { sum[c] += Double(frame.pixels[(sy * frame.width + sx) * 3 + c]) } } }
                let n = Double((y1 - y0) * (x1 - x0))
                for c in 0..<3 { out[(y * size + x) * 3 + c] = sum[c] / n }
            }
        }
        return out
    }

    /// The palette colour nearest to `rgb`.
    public static func nearestColour(_ rgb: [Double]) -> String {
        World.colours.min { a, b in
            distance(rgb, [a.rgb.0, a.rgb.1, a.rgb.2]) < distance(rgb, [b.rgb.0, b.rgb.1, b.rgb.2])
        }!.name
    }

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
    }

    /// Shape of one interior frame from its fill ratio.
    public static func shape(fill: Double) -> String {
        if fill >= 0.88 { return "square" }
        if fill >= 0.66 { return "circle" }
        return "triangle"
    }

    /// The most frequent answer; ties go to the one that occurred first.
    static func majority(_ answers: [String]) -> String? {
        var counts: [String: Int] = [:]
        for a in answers { counts[a, default: 0] += 1 }
        var best: String?
        for a in answers where best == nil || counts[a]! > counts[best!]! { best = a }
        return best
    }

    /// The clip's colour: per visible frame the nearest palette colour, then the majority.
    public static func colour(_ track: [SubjectObservation?]) -> String? {
        majority(track.compactMap { $0.map { nearestColour($0.colour) } })
    }

    /// The clip's shape: per interior frame at least 6×6 pixels, then the majority.
    public static func shape(_ track: [SubjectObservation?]) -> String? {
        majority(track.compactMap { o in
            guard let o, !o.clipped, o.maxX - o.minX + 1 >= 6, o.maxY - o.minY + 1 >= 6 else { return nil }
            return shape(fill: o.fill)
        })
    }

    /// Motion from the subject's track (one observation per frame, nil where not visible), by the
    /// rules of docs/world.md; nil is "unknown" (fewer than 3 usable steps).
    public static func motion(_ track: [SubjectObservation?], stride: Int = 1) -> String? {
        var dx: [Double] = [], dy: [Double] = [], growth: [Double] = []
        for k in 0..<max(0, track.count - 1) {
            guard let a = track[k], let b = track[k + 1] else { continue }
            let sx = b.centreX - a.centreX, sy = b.centreY - a.centreY
            if (sx * sx + sy * sy).squareRoot() <= 20 { dx.append(sx); dy.append(sy) }
            if !a.clipped && !b.clipped {
                let g = log(Double(b.area) / Double(a.area))
                if abs(g) <= 0.5 { growth.append(g) }
            }
        }
        guard dx.count >= 3 else { return nil }
        if growth.count >= 3 {
            let mean = growth.reduce(0, +) / Double(growth.count)
            let opposite = growth.filter { $0 * mean < 0 }.count
            if abs(mean) >= 0.025 && Double(opposite) <= 0.25 * Double(growth.count) { return mean > 0 ? "grow" : "shrink" }
        }
        var x = 0.0, y = 0.0, minX = 0.0, maxX = 0.0, minY = 0.0, maxY = 0.0
        for (sx, sy) in zip(dx, dy) {
            x += sx; y += sy
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
        }
        if maxX - minX < 3 && maxY - minY < 3 { return "still" }
        let travelX = dx.map(abs).reduce(0, +), travelY = dy.map(abs).reduce(0, +)
        let netX = dx.reduce(0, +), netY = dy.reduce(0, +)
        if travelX >= travelY {
            if abs(netX) >= 0.8 * travelX && travelY <= 0.5 * travelX { return netX > 0 ? "right" : "left" }
        } else {
            if abs(netY) >= 0.8 * travelY && travelX <= 0.5 * travelY { return netY > 0 ? "down" : "up" }
        }
        if travelY >= 2 * travelX { return "bounce" }
        return "circle"
    }
}
