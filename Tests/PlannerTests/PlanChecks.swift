import Foundation
import Testing
@testable import Planner
import TestSupport

enum RandomRequests {
    static let prompts = [
        "a red ball bouncing across a green field",
        "a blue square drifting left under a night sky",
        "a yellow triangle growing on a gradient background",
        "a red ball bouncing across a green field",  // repeated on purpose: equal prompts merge
        "a white circle circling in the blue sky",
    ]

    /// Case `number`: duration 0.125 ... 600 s (a third each below 5 s, 5 ... 60 s, 60 ... 600 s),
    /// alternating strategies, every other case a storyboard of 1 ... 8 shots with random transitions.
    static func request(_ number: Int) -> RenderRequest {
        var random = SplitMix64(seed: UInt64(number) &* 7919 &+ 17)
        let duration = switch number % 3 {
        case 0: Double.random(in: 0.125 ... 5, using: &random)
        case 1: Double.random(in: 5 ... 60, using: &random)
        default: Double.random(in: 60 ... 600, using: &random)
        }
        let strategy: Strategy = number % 2 == 0 ? .hierarchical : .sequential
        let seed = random.next()
        guard (number / 2) % 2 == 1 else {
            return RenderRequest(prompt: prompts[Int.random(in: 0 ..< prompts.count, using: &random)],
                                 duration: duration, seed: seed, strategy: strategy)
        }
        // Shot ends: sorted random cut points at least one frame (0.125 s) apart.
        let shotCount = min(Int.random(in: 1 ... 8, using: &random), max(1, Int(duration / 0.25)))
        var cuts: [Double] = []
        while cuts.count < shotCount - 1 {
            let cut = Double.random(in: 0.125 ... duration - 0.125, using: &random)
            if ([0, duration] + cuts).allSatisfy({ abs($0 - cut) >= 0.125 }) { cuts.append(cut) }
        }
        let ends = cuts.sorted() + [duration]
        var shots: [Shot] = []
        for (index, end) in ends.enumerated() {
            shots.append(Shot(prompt: prompts[Int.random(in: 0 ..< prompts.count, using: &random)],
                              start: index == 0 ? 0 : ends[index - 1], end: end,
                              transition: Bool.random(using: &random) ? .cut : .smooth))
        }
        return RenderRequest(storyboard: Storyboard(title: "case \(number)", shots: shots), duration: duration,
                             seed: seed, strategy: strategy)
    }
}

/// Checks every invariant of a plan against straightforward recomputations (no planner internals).
enum PlanChecks {
    static func all(_ plan: SegmentPlan, sourceLocation: SourceLocation = #_sourceLocation) {
        let geometry = plan.geometry
        let window = geometry.windowFrames
        let totalFrames = plan.totalFrames
        #expect(totalFrames == max(1, Int((plan.request.duration * Double(geometry.fps)).rounded())),
                sourceLocation: sourceLocation)
        #expect(plan.levels >= 1 && plan.finalLevel == plan.levels - 1, sourceLocation: sourceLocation)

        // Order, ids, geometry of every window.
        var position: [String: Int] = [:]
        for (offset, segment) in plan.segments.enumerated() {
            #expect(position[segment.id] == nil, "duplicate id \(segment.id)", sourceLocation: sourceLocation)
            position[segment.id] = offset
            if offset > 0 {
                let previous = plan.segments[offset - 1]
                let expectedIndex = previous.level == segment.level ? previous.index + 1 : 0
                #expect(segment.level == previous.level || segment.level == previous.level + 1, sourceLocation: sourceLocation)
                #expect(segment.index == expectedIndex, "\(segment.id) out of order", sourceLocation: sourceLocation)
            } else {
                #expect(segment.level == 0 && segment.index == 0, sourceLocation: sourceLocation)
            }
            #expect(segment.id == String(format: "L%d-%04d", segment.level, segment.index), sourceLocation: sourceLocation)
            #expect(segment.frames == window, sourceLocation: sourceLocation)
            #expect(geometry.strides.contains(segment.stride) && segment.stride & (segment.stride - 1) == 0,
                    sourceLocation: sourceLocation)
            #expect(segment.startFrame >= 0 && segment.startFrame < totalFrames, "\(segment.id) starts outside the film",
                    sourceLocation: sourceLocation)
            #expect(segment.startFrame % segment.stride == 0, sourceLocation: sourceLocation)
            #expect(segment.globalFrames == (0 ..< window).map { segment.startFrame + $0 * segment.stride },
                    sourceLocation: sourceLocation)
        }
        #expect(plan.segments.last?.level == plan.finalLevel, sourceLocation: sourceLocation)

        // Each level: one stride, windows without gaps reaching the last frame, and no window too many.
        var strides: [Int] = []
        for level in 0 ..< plan.levels {
            let row = plan.segments.filter { $0.level == level }
            #expect(!row.isEmpty, sourceLocation: sourceLocation)
            guard let stride = row.first?.stride else { continue }
            strides.append(stride)
            #expect(row.allSatisfy { $0.stride == stride }, sourceLocation: sourceLocation)
            for (left, right) in zip(row, row.dropFirst()) {
                #expect(right.startFrame > left.startFrame && right.startFrame <= left.lastFrame,
                        "\(left.id) and \(right.id) leave a gap", sourceLocation: sourceLocation)
            }
            #expect((row.last?.lastFrame ?? 0) >= totalFrames - 1, sourceLocation: sourceLocation)
            if row.count > 1 { #expect(row[row.count - 2].lastFrame < totalFrames - 1, sourceLocation: sourceLocation) }
        }
        #expect(strides.last == 1, "the final level must have stride 1", sourceLocation: sourceLocation)
        #expect(zip(strides, strides.dropFirst()).allSatisfy { $0 > $1 }, sourceLocation: sourceLocation)

        // Every output frame is rendered by a final-level segment.
        var covered = [Bool](repeating: false, count: totalFrames)
        for segment in plan.segments where segment.level == plan.finalLevel {
            for frame in segment.globalFrames where frame < totalFrames { covered[frame] = true }
        }
        #expect(covered.allSatisfy { $0 }, "frame \(covered.firstIndex(of: false) ?? -1) is not covered",
                sourceLocation: sourceLocation)

        checkAnchors(plan, position: position, sourceLocation: sourceLocation)

        // Critical path by peeling: each round removes every segment whose dependencies are done.
        var done = Set<String>()
        var rounds = 0
        while done.count < plan.segments.count {
            let ready = plan.segments.filter { !done.contains($0.id) && $0.dependencies.allSatisfy(done.contains) }
            guard !ready.isEmpty else { Issue.record("dependency cycle", sourceLocation: sourceLocation); break }
            done.formUnion(ready.map(\.id))
            rounds += 1
        }
        #expect(plan.criticalPath == rounds, sourceLocation: sourceLocation)
        if plan.request.strategy == .sequential {
            #expect(plan.criticalPath == plan.segments.count, sourceLocation: sourceLocation)
        }

        // Seams against the covering sets frame by frame.
        let finals = plan.segments.filter { $0.level == plan.finalLevel }
        func coveringSet(_ frame: Int) -> Set<String> {
            Set(finals.filter { $0.startFrame <= frame && frame < $0.startFrame + $0.frames }.map(\.id))
        }
        var seams: [Int] = []
        var previousSet = coveringSet(0)
        for frame in Swift.stride(from: 1, to: totalFrames, by: 1) {
            let set = coveringSet(frame)
            if set != previousSet { seams.append(frame) }
            previousSet = set
        }
        #expect(plan.seams == seams, sourceLocation: sourceLocation)
        #expect(plan.stitchSpans.count == finals.count, sourceLocation: sourceLocation)
        for segment in finals {
            #expect(plan.stitchSpans[segment.id] == segment.startFrame ..< segment.startFrame + window,
                    sourceLocation: sourceLocation)
        }
        #expect(plan.segments.allSatisfy { plan.segment($0.id) == $0 }, sourceLocation: sourceLocation)
        #expect(plan.segment("L\(plan.levels)-0000") == nil && plan.segment("L0-") == nil && plan.segment("") == nil,
                sourceLocation: sourceLocation)

        checkText(plan, sourceLocation: sourceLocation)
    }

    static func checkAnchors(_ plan: SegmentPlan, position: [String: Int], sourceLocation: SourceLocation) {
        let window = plan.geometry.windowFrames
        let centre = Double(window - 1) / 2
        // (level of the anchored segment, global frame) → the latent every parent anchor there uses.
        var sharedAnchor: [[Int]: AnchorRef] = [:]
        let byLevel = (0 ..< plan.levels).map { level in plan.segments.filter { $0.level == level } }
        for segment in plan.segments {
            #expect(segment.anchors.map(\.slot) == segment.anchors.map(\.slot).sorted() &&
                    Set(segment.anchors.map(\.slot)).count == segment.anchors.count, sourceLocation: sourceLocation)
            #expect(segment.dependencies == Set(segment.anchors.map(\.source)).sorted(), sourceLocation: sourceLocation)
            for dependency in segment.dependencies {
                #expect((position[dependency] ?? .max) < (position[segment.id] ?? -1),
                        "\(segment.id) depends on the later \(dependency)", sourceLocation: sourceLocation)
            }
            for anchor in segment.anchors {
                #expect(anchor.slot >= 0 && anchor.slot < window, sourceLocation: sourceLocation)
                #expect(anchor.globalFrame == segment.startFrame + anchor.slot * segment.stride, sourceLocation: sourceLocation)
                guard let source = plan.segment(anchor.source) else {
                    Issue.record("\(segment.id): unknown source \(anchor.source)", sourceLocation: sourceLocation)
                    continue
                }
                #expect(source.id == anchor.source, sourceLocation: sourceLocation)
                let chained = source.level == segment.level && source.index == segment.index - 1
                #expect(source.level == segment.level - 1 || chained, sourceLocation: sourceLocation)
                #expect(anchor.sourceSlot >= 0 && anchor.sourceSlot < window
                        && source.globalFrames[anchor.sourceSlot] == anchor.globalFrame,
                        "\(segment.id) slot \(anchor.slot) is not at \(anchor.source) slot \(anchor.sourceSlot)",
                        sourceLocation: sourceLocation)
                guard !chained else { continue }
                // Parent anchors: the source is the covering parent window with the slot nearest the centre.
                let candidates = byLevel[source.level].compactMap { parent in
                    parent.slot(ofGlobalFrame: anchor.globalFrame).map { (parent, abs(Double($0) - centre)) }
                }
                let best = candidates.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0.index < $1.0.index) }
                #expect(best?.0.id == anchor.source, "\(segment.id) slot \(anchor.slot)", sourceLocation: sourceLocation)
                let key = [segment.level, anchor.globalFrame]
                if let shared = sharedAnchor[key] {
                    #expect(shared.source == anchor.source && shared.sourceSlot == anchor.sourceSlot,
                            "neighbours disagree on the anchor at frame \(anchor.globalFrame)", sourceLocation: sourceLocation)
                } else {
                    sharedAnchor[key] = anchor
                }
            }
            checkMask(segment, plan: plan, parents: segment.level > 0 ? byLevel[segment.level - 1] : [],
                      sourceLocation: sourceLocation)
        }
    }

    /// Anchor slots form a mask reel-tiny was trained on: none, a head of W/4 slots on the previous
    /// chain window, or keyframes every r-th slot from 0 (r = parent stride / stride), cut short only
    /// where no parent window reaches — which happens only past the end of the film.
    static func checkMask(_ segment: SegmentTask, plan: SegmentPlan, parents: [SegmentTask],
                          sourceLocation: SourceLocation) {
        let window = plan.geometry.windowFrames
        let slots = segment.anchors.map(\.slot)
        guard let first = segment.anchors.first, let source = plan.segment(first.source) else { return }
        if source.level == segment.level {
            #expect(slots == Array(0 ..< window / 4), sourceLocation: sourceLocation)
            #expect(segment.anchors.map(\.sourceSlot) == Array(window - window / 4 ..< window), sourceLocation: sourceLocation)
            return
        }
        let ratio = source.stride / segment.stride
        #expect(ratio == 2 || ratio == 4, sourceLocation: sourceLocation)
        let keyframes = Array(Swift.stride(from: 0, to: window, by: ratio))
        let reachable = keyframes.filter { slot in
            parents.contains { $0.slot(ofGlobalFrame: segment.startFrame + slot * segment.stride) != nil }
        }
        #expect(slots == reachable, "\(segment.id) misses a reachable keyframe", sourceLocation: sourceLocation)
        for slot in keyframes where !reachable.contains(slot) {
            #expect(segment.startFrame + slot * segment.stride >= plan.totalFrames, sourceLocation: sourceLocation)
        }
        #expect(slots.first == 0, "every child window starts on a parent frame", sourceLocation: sourceLocation)
    }

    /// Text weights against a recount: frames per shot from `round(time × fps)`, cut → majority scene.
    static func checkText(_ plan: SegmentPlan, sourceLocation: SourceLocation) {
        let fps = Double(plan.geometry.fps)
        for segment in plan.segments {
            #expect(!segment.text.isEmpty, sourceLocation: sourceLocation)
            #expect(abs(segment.text.map(\.weight).reduce(0, +) - 1) < 1e-12, sourceLocation: sourceLocation)
            #expect(segment.text.allSatisfy { $0.weight > 0 && $0.weight <= 1 }, sourceLocation: sourceLocation)
            #expect(Set(segment.text.map(\.prompt)).count == segment.text.count, sourceLocation: sourceLocation)
            guard let storyboard = plan.request.storyboard else {
                #expect(segment.text == [TextWeight(prompt: plan.request.prompt ?? "?", weight: 1)], sourceLocation: sourceLocation)
                continue
            }
            let shots = storyboard.shots
            var shotOf: [Int: Int] = [:]
            for frame in segment.globalFrames where frame < plan.totalFrames {
                shotOf[frame] = shots.indices.last { Int((shots[$0].start * fps).rounded()) <= frame }
            }
            var sceneOf: [Int] = []
            for (index, shot) in shots.enumerated() {
                sceneOf.append(index == 0 ? 0 : sceneOf[index - 1] + (shot.transition == .cut ? 1 : 0))
            }
            var framesPerScene: [Int: Int] = [:]
            for shot in shotOf.values { framesPerScene[sceneOf[shot], default: 0] += 1 }
            let most = framesPerScene.values.max() ?? 0
            let scene = framesPerScene.filter { $0.value == most }.keys.min() ?? 0
            let kept = shotOf.values.filter { sceneOf[$0] == scene }
            var expected: [TextWeight] = []
            for shot in Set(kept).sorted() {
                let prompt = shots[shot].prompt
                let share = Double(kept.filter { shots[$0].prompt == prompt }.count) / Double(kept.count)
                if !expected.contains(where: { $0.prompt == prompt }) { expected.append(TextWeight(prompt: prompt, weight: share)) }
            }
            #expect(segment.text.map(\.prompt) == expected.map(\.prompt), "\(segment.id)", sourceLocation: sourceLocation)
            #expect(zip(segment.text, expected).allSatisfy { abs($0.weight - $1.weight) < 1e-12 }, sourceLocation: sourceLocation)
        }
    }
}
