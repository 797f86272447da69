import Foundation
import Stitcher

/// How visible the seams between segments are.
public struct SeamReport: Sendable, Codable, Equatable {
    public struct Seam: Sendable, Codable, Equatable {
        /// The transition from frame `frame − 1` to `frame`.
        public let frame: Int
        /// Change at this transition over the mean change inside segments (1 = invisible).
        public let ratio: Double
    }
    /// Mean change across seams over mean change inside segments: 1.0 = invisible seams.
    public let ratio: Double
    /// Mean absolute per-pixel change (0–255) between consecutive frames inside segments.
    public let insideChange: Double
    /// The same across seams.
    public let seamChange: Double
    public let seams: [Seam]
}

public enum SeamMetric {
    /// Mean absolute per-channel difference between two frames, 0–255.
    static func change(_ a: RGBFrame, _ b: RGBFrame) -> Double {
        var total = 0
        for i in 0..<a.pixels.count { total += abs(Int(a.pixels[i]) - Int(b.pixels[i])) }
        return Double(total) / Double(a.pixels.count)
    }

    /// Compares frame-to-frame change at the `seams` (each the index of the first frame after a
    /// seam) with the change at every other transition. Nil when there are no seams or no inside
    /// transitions to compare with.
    public static func measure(frames: [RGBFrame], seams: [Int]) -> SeamReport? {
        let seamSet = Set(seams.filter { $0 >= 1 && $0 < frames.count })
        guard !seamSet.isEmpty, frames.count - 1 > seamSet.count else { return nil }
        var inside: [Double] = [], across: [SeamReport.Seam] = []
        var seamChanges: [Double] = []
        for t in 1..<frames.count {
            let c = change(frames[t - 1], frames[t])
            if seamSet.contains(t) { seamChanges.append(c); across.append(SeamReport.Seam(frame: t, ratio: c)) } else { inside.append(c) }
        }
        let insideMean = inside.reduce(0, +) / Double(inside.count)
        let seamMean = seamChanges.reduce(0, +) / Double(seamChanges.count)
        let scale = insideMean > 0 ? insideMean : 1
        return SeamReport(ratio: seamMean / scale, insideChange: insideMean, seamChange: seamMean,
                          seams: across.map { SeamReport.Seam(frame: $0.frame, ratio: $0.ratio / scale) })
    }
}
