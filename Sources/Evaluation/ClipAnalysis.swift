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

/// Finds the subject in frames of the reel-tiny world and judges colour, shape and motion.
///
/// Segmentation: backgrounds are vertical gradients, so each row's per-channel median is that
/// row's background colour while the subject covers less than half the row. Pixels farther than
/// `threshold` (RGB distance) from their row's background are the subject; palette colours are
/// ≥ 100 from every background, so 50 sits at the anti-aliased edge. Frames are first reduced to
/// 64×64 by box averaging when larger.
public struct ClipAnalysis: Sendable {
    public static let analysisSize = 64
    public var threshold: Double = 50
    /// Core pixels for the colour estimate are farther than this from the background.
    public var coreThreshold: Double = 80
    /// Fewer subject pixels than this means no subject in the frame.
    public var minimumArea = 6

    public init() {}

    /// The subject in one frame, or nil when none stands out.
    public func observe(_ frame: RGBFrame) -> SubjectObservation? {
        let size = Self.analysisSize
        let pixels = Self.downsampled(frame, to: size)
        var mask = [Bool](repeating: false, count: size * size)
        var sumX = 0.0, sumY = 0.0, area = 0
        var minX = size, maxX = -1, minY = size, maxY = -1
        var colour = [0.0, 0.0, 0.0], core = 0
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
                if d > threshold {
                    mask[y * size + x] = true
                    area += 1
                    sumX += Double(x) + 0.5; sumY += Double(y) + 0.5
                    minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
                }
                if d > coreThreshold {
                    for c in 0..<3 { colour[c] += pixels[i + c] }
                    core += 1
                }
            }
        }
        guard area >= minimumArea else { return nil }
        let box = Double((maxX - minX + 1) * (maxY - minY + 1))
        return SubjectObservation(
            centreX: sumX / Double(area), centreY: sumY / Double(area), area: area, fill: Double(area) / box,
            colour: core > 0 ? colour.map { $0 / Double(core) } : colour,
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

    /// Shape from the median fill ratio of unclipped observations.
    public static func shape(fill: Double) -> String {
        if fill >= 0.89 { return "square" }
        if fill >= 0.64 { return "circle" }
        return "triangle"
    }

    /// Motion from the subject's track (one observation per frame, nil where not found), frames
    /// `stride` output frames apart.
    ///
    /// Steps between consecutive sightings use the centre, or, when the subject runs past one side of
    /// the frame, the box edge on the other side (which still moves at the true speed). Steps larger
    /// than a wrap-around (30 px, or a single-step area change over e^0.5) are dropped. Net
    /// displacement and growth are sums of steps, so pixel quantisation cancels out.
    public static func motion(_ track: [SubjectObservation?], stride: Int = 1) -> String? {
        let seen = track.enumerated().compactMap { i, o in o.map { (frame: i, o: $0) } }
        guard seen.count >= 3 else { return nil }
        var netX = 0.0, netY = 0.0, pathX = 0.0, pathY = 0.0, growth = 0.0
        for (a, b) in zip(seen, seen.dropFirst()) {
            if let step = Self.step(a.o, b.o, horizontal: true), abs(step) < 30 { netX += step; pathX += abs(step) }
            if let step = Self.step(a.o, b.o, horizontal: false), abs(step) < 30 { netY += step; pathY += abs(step) }
            if !a.o.clipped && !b.o.clipped {
                let change = log(Double(b.o.area) / Double(a.o.area))
                if abs(change) < 0.5 { growth += change }
            }
        }
        let whole = seen.filter { !$0.o.clipped }
        let centres = whole.count >= 3 ? whole : seen
        let xs = centres.map(\.o.centreX), ys = centres.map(\.o.centreY)
        let xRange = xs.max()! - xs.min()!, yRange = ys.max()! - ys.min()!
        // The world's straight motions cover 1 px per output frame.
        let straight = 0.35 * Double(seen.last!.frame - seen.first!.frame) * Double(stride)

        if abs(growth) > 0.3 && pathX < 6 && pathY < 6 { return growth > 0 ? "grow" : "shrink" }
        if pathX < 3 && pathY < 3 && abs(growth) < 0.15 { return "still" }
        if xRange > 6 && yRange > 6 && pathX > 8 && pathY > 8 { return "circle" }
        if pathY > 4 && abs(netY) < 0.6 * pathY && xRange < 5 { return "bounce" }
        if abs(netX) > straight && abs(netX) > 2 * abs(netY) { return netX < 0 ? "left" : "right" }
        if abs(netY) > straight && abs(netY) > 2 * abs(netX) { return netY < 0 ? "up" : "down" }
        if abs(growth) > 0.3 { return growth > 0 ? "grow" : "shrink" }
        return "still"
    }

    /// Movement between two sightings along one axis, from the centre or an unclipped box edge.
    static func step(_ a: SubjectObservation, _ b: SubjectObservation, horizontal: Bool) -> Double? {
        let (lowClipped, highClipped) = horizontal
            ? (a.clippedLeft || b.clippedLeft, a.clippedRight || b.clippedRight)
            : (a.clippedTop || b.clippedTop, a.clippedBottom || b.clippedBottom)
        let (aLow, aHigh, bLow, bHigh) = horizontal ? (a.minX, a.maxX, b.minX, b.maxX) : (a.minY, a.maxY, b.minY, b.maxY)
        switch (lowClipped, highClipped) {
        case (false, false): return horizontal ? b.centreX - a.centreX : b.centreY - a.centreY
        case (true, false): return bHigh - aHigh
        case (false, true): return bLow - aLow
        case (true, true): return nil
        }
    }
}
