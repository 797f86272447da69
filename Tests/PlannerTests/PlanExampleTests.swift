import Foundation
import Testing
@testable import Planner

/// Plans worked out by hand (docs/planning.md has the 60-second one step by step).
@Suite("Planner worked examples")
struct PlanExampleTests {
    func counts(_ plan: SegmentPlan) -> [Int] { (0 ..< plan.levels).map { plan.segments(atLevel: $0).count } }

    /// 60 s at 8 fps: F = 480 frames, last frame 479.
    /// - Level 0: 15 × 16 = 240 < 479 ≤ 15 × 32 = 480, so stride 32 and one window: frames 0, 32, ..., 480.
    /// - Level 1: stride 32 / 4 = 8, hop 12 slots = 96 frames; window i ends at 96i + 120 ≥ 479 first for
    ///   i = 4 (504), so 5 windows.
    /// - Level 2: stride 2, hop 24 frames; 24i + 30 ≥ 479 first for i = 19 (486): 20 windows.
    /// - Level 3: 2 / 4 is not whole, so stride 1 (ratio 2), hop 14; 14i + 15 ≥ 479 first for i = 34 (491): 35 windows.
    /// 1 + 5 + 20 + 35 = 61 segments; each level waits only for the one before: critical path 4.
    @Test("60 s hierarchical: strides 32/8/2/1, 1 + 5 + 20 + 35 = 61 segments, critical path 4")
    func sixtySecondsHierarchical() throws {
        let plan = try Planner.plan(RenderRequest(prompt: "a red ball bouncing", duration: 60, seed: 7))
        PlanChecks.all(plan)
        #expect(plan.totalFrames == 480)
        #expect(plan.levels == 4 && plan.finalLevel == 3)
        #expect(plan.levelStrides == [32, 8, 2, 1])
        #expect(counts(plan) == [1, 5, 20, 35])
        #expect(plan.segments.count == 61)
        #expect(plan.criticalPath == 4)
        #expect(plan.segments(atLevel: 1).map(\.startFrame) == [0, 96, 192, 288, 384])
        #expect(plan.segments(atLevel: 3).last?.startFrame == 476)

        // L1-0001 starts at 96: slots 0, 4, 8, 12 are frames 96, 128, 160, 192 = level-0 slots 3, 4, 5, 6.
        let l1 = try #require(plan.segment("L1-0001"))
        #expect(l1.anchors == [
            AnchorRef(slot: 0, globalFrame: 96, source: "L0-0000", sourceSlot: 3),
            AnchorRef(slot: 4, globalFrame: 128, source: "L0-0000", sourceSlot: 4),
            AnchorRef(slot: 8, globalFrame: 160, source: "L0-0000", sourceSlot: 5),
            AnchorRef(slot: 12, globalFrame: 192, source: "L0-0000", sourceSlot: 6),
        ])
        #expect(l1.dependencies == ["L0-0000"])

        // L3-0001 covers 14 ... 29 and pins the even slots. Level 2 windows 0 (frames 0 ... 30) and
        // 1 (24 ... 54) overlap on 24 ... 30: frame 24 is slot 12 of L2-0000 (4.5 from the centre 7.5)
        // or slot 0 of L2-0001 (7.5), so L2-0000; frame 28 is slot 14 (6.5) or slot 2 (5.5), so L2-0001.
        let l3 = try #require(plan.segment("L3-0001"))
        #expect(l3.anchors.map(\.slot) == [0, 2, 4, 6, 8, 10, 12, 14])
        #expect(l3.anchors.map(\.source) == ["L2-0000", "L2-0000", "L2-0000", "L2-0000", "L2-0000", "L2-0000",
                                             "L2-0000", "L2-0001"])
        #expect(l3.anchors.map(\.sourceSlot) == [7, 8, 9, 10, 11, 12, 13, 2])
        #expect(l3.dependencies == ["L2-0000", "L2-0001"])

        // The last final window (476 ... 491) pins 476 ... 486; 488 and 490 lie past level 2's last frame
        // (486) and past the film, so they are left free.
        let tail = try #require(plan.segment("L3-0034"))
        #expect(tail.anchors.map(\.globalFrame) == [476, 478, 480, 482, 484, 486])

        // Final windows start at 14i (i = 1 ... 34) and end at 14i + 16 (i = 0 ... 33): 68 seams.
        #expect(plan.seams.count == 68)
        #expect(Array(plan.seams.prefix(6)) == [14, 16, 28, 30, 42, 44])
        #expect(plan.seams.last == 478)
        #expect(plan.stitchSpans["L3-0034"] == 476 ..< 492)
    }

    /// Sequential 60 s: stride-1 windows hopping 12; 12i + 15 ≥ 479 first for i = 39: 40 windows in one chain.
    @Test("60 s sequential: 40 stride-1 windows, critical path 40")
    func sixtySecondsSequential() throws {
        let plan = try Planner.plan(RenderRequest(prompt: "a red ball bouncing", duration: 60, seed: 7, strategy: .sequential))
        PlanChecks.all(plan)
        #expect(plan.levels == 1 && plan.levelStrides == [1])
        #expect(plan.segments.count == 40)
        #expect(plan.criticalPath == 40)
        #expect(plan.segments[0].anchors.isEmpty)
        let fifth = plan.segments[5]
        #expect(fifth.startFrame == 60)
        #expect(fifth.anchors == (0 ..< 4).map {
            AnchorRef(slot: $0, globalFrame: 60 + $0, source: "L0-0004", sourceSlot: 12 + $0)
        })
        #expect(fifth.dependencies == ["L0-0004"])
        // Starts 12i (i = 1 ... 39) and ends 12i + 16 (i = 0 ... 38): 78 seams.
        #expect(plan.seams.count == 78)
    }

    /// 600 s: F = 4800 > 481, so level 0 is a stride-32 chain hopping 384 frames: 384k + 480 ≥ 4799 first
    /// for k = 12, 13 windows. Level 1: 96i + 120 ≥ 4799 → 50 windows; level 2: 24i + 30 → 200; level 3:
    /// 14i + 15 → 343. The chain is 13 deep and three levels follow: critical path 16 (sequential: 400).
    @Test("600 s hierarchical: a 13-window level-0 chain, 606 segments, critical path 16")
    func tenMinutes() throws {
        let plan = try Planner.plan(RenderRequest(prompt: "a red ball bouncing", duration: 600, seed: 1))
        PlanChecks.all(plan)
        #expect(plan.levelStrides == [32, 8, 2, 1])
        #expect(counts(plan) == [13, 50, 200, 343])
        #expect(plan.criticalPath == 16)
        let chained = try #require(plan.segment("L0-0001"))
        #expect(chained.anchors == (0 ..< 4).map {
            AnchorRef(slot: $0, globalFrame: 384 + 32 * $0, source: "L0-0000", sourceSlot: 12 + $0)
        })
        let sequential = try Planner.plan(RenderRequest(prompt: "a red ball", duration: 600, seed: 1, strategy: .sequential))
        #expect(sequential.segments.count == 400 && sequential.criticalPath == 400)
    }

    @Test("the longest film plans: 3600 s, 28 800 frames")
    func oneHour() throws {
        let plan = try Planner.plan(RenderRequest(prompt: "a red ball", duration: 3600, seed: 1))
        #expect(plan.totalFrames == 28_800)
        // Level 0: 384k + 480 ≥ 28 799 → k = 74, 75 windows; then 96i + 120 → 300, 24i + 30 → 1200, 14i + 15 → 2057.
        #expect(counts(plan) == [75, 300, 1200, 2057])
        #expect(plan.criticalPath == 78)
        #expect(plan.segments.last?.id == "L3-2056")
    }

    /// The table in docs/planning.md ("Plan sizes"): windows per level and critical path, hierarchical,
    /// and the number of sequential windows (= its critical path).
    @Test("plan sizes as documented", arguments: [
        (5.0, [1, 3], 2, 3), (10.0, [1, 4, 6], 3, 7), (30.0, [1, 5, 20], 3, 20), (60.0, [1, 5, 20, 35], 4, 40),
        (120.0, [3, 10, 40, 69], 6, 80), (300.0, [6, 25, 100, 172], 9, 200), (1800.0, [38, 150, 600, 1029], 41, 1200),
    ] as [(Double, [Int], Int, Int)])
    func documentedSizes(duration: Double, windows: [Int], criticalPath: Int, sequential: Int) throws {
        let plan = try Planner.plan(RenderRequest(prompt: "a red ball", duration: duration, seed: 9))
        #expect(counts(plan) == windows)
        #expect(plan.criticalPath == criticalPath)
        let chain = try Planner.plan(RenderRequest(prompt: "a red ball", duration: duration, seed: 9, strategy: .sequential))
        #expect(chain.segments.count == sequential && chain.criticalPath == sequential)
    }

    /// Shots of 10 s and 50 s: the shortest is 80 frames, and 12 × 4 = 48 ≤ 80 < 12 × 8, so level 0 is capped
    /// at stride 4: a chain hopping 48 frames, 48k + 60 ≥ 479 → 10 windows; level 1 (stride 1, ratio 4,
    /// hop 12) has 40 windows. Critical path: 10 chained windows and one more level = 11.
    @Test("a storyboard's shortest shot caps the level-0 stride")
    func shotCap() throws {
        let storyboard = Storyboard(shots: [
            Shot(prompt: "a red ball on a green field", start: 0, end: 10),
            Shot(prompt: "a blue square in the night sky", start: 10, end: 60, transition: .cut),
        ])
        let plan = try Planner.plan(RenderRequest(storyboard: storyboard, seed: 3))
        PlanChecks.all(plan)
        #expect(plan.levelStrides == [4, 1])
        #expect(counts(plan) == [10, 40])
        #expect(plan.criticalPath == 11)

        // One shot: no cap, the 60 s plan above.
        let single = try Planner.plan(RenderRequest(storyboard: Storyboard(shots: [Shot(prompt: "a red ball", start: 0, end: 60)]),
                                                    seed: 3))
        #expect(single.levelStrides == [32, 8, 2, 1])

        // A 1.5 s shot (12 frames) caps level 0 at stride 1: the plan has the sequential structure.
        let short = Storyboard(shots: [Shot(prompt: "a red ball", start: 0, end: 1.5),
                                       Shot(prompt: "a blue square", start: 1.5, end: 60)])
        let capped = try Planner.plan(RenderRequest(storyboard: short, seed: 3))
        let sequential = try Planner.plan(RenderRequest(storyboard: short, seed: 3, strategy: .sequential))
        #expect(capped.levels == 1)
        #expect(capped.segments == sequential.segments)
    }

    @Test("tiny films: one frame, one window")
    func tiny() throws {
        for duration in [0.01, 0.0625, 0.125, 1.0, 2.0] {
            for strategy in Strategy.allCases {
                let plan = try Planner.plan(RenderRequest(prompt: "a dot", duration: duration, seed: 0, strategy: strategy))
                PlanChecks.all(plan)
                #expect(plan.segments.count == 1 && plan.levels == 1 && plan.criticalPath == 1)
                #expect(plan.seams.isEmpty)
            }
        }
        // 2.125 s = 17 frames: 15 × 2 ≥ 16, so level 0 has stride 2 and one stride-1 level (hop 14) follows.
        let plan = try Planner.plan(RenderRequest(prompt: "a dot", duration: 2.125, seed: 0))
        #expect(plan.levelStrides == [2, 1] && counts(plan) == [1, 2])
        #expect(plan.seams == [14, 16])
        #expect(plan.segments.map(\.id) == ["L0-0000", "L1-0000", "L1-0001"])
    }

    // MARK: Conditioning

    /// Two-second storyboards: F = 16 frames, one stride-1 window over frames 0 ... 15.
    func weights(_ shots: [Shot]) throws -> [TextWeight] {
        let plan = try Planner.plan(RenderRequest(storyboard: Storyboard(shots: shots), seed: 0))
        #expect(plan.segments.count == 1)
        return plan.segments[0].text
    }

    @Test("smooth boundaries mix prompts by frame share; cuts take the majority")
    func conditioning() throws {
        // 1.25 s = 10 frames of A, 6 of B.
        #expect(try weights([Shot(prompt: "A", start: 0, end: 1.25), Shot(prompt: "B", start: 1.25, end: 2)])
                == [TextWeight(prompt: "A", weight: 0.625), TextWeight(prompt: "B", weight: 0.375)])
        #expect(try weights([Shot(prompt: "A", start: 0, end: 1.25), Shot(prompt: "B", start: 1.25, end: 2, transition: .cut)])
                == [TextWeight(prompt: "A", weight: 1)])
        #expect(try weights([Shot(prompt: "A", start: 0, end: 0.75), Shot(prompt: "B", start: 0.75, end: 2, transition: .cut)])
                == [TextWeight(prompt: "B", weight: 1)])
        // 8 frames each across a cut: the earlier side wins the tie.
        #expect(try weights([Shot(prompt: "A", start: 0, end: 1), Shot(prompt: "B", start: 1, end: 2, transition: .cut)])
                == [TextWeight(prompt: "A", weight: 1)])
        // Equal prompts merge, in the order of their first shot: A 4 + 4 frames, B 8.
        #expect(try weights([Shot(prompt: "A", start: 0, end: 0.5), Shot(prompt: "B", start: 0.5, end: 1.5),
                             Shot(prompt: "A", start: 1.5, end: 2)])
                == [TextWeight(prompt: "A", weight: 0.5), TextWeight(prompt: "B", weight: 0.5)])
        // A (4) and B (6) are one scene joined smoothly; C (6) follows a cut; the A+B scene has 10 frames.
        #expect(try weights([Shot(prompt: "A", start: 0, end: 0.5), Shot(prompt: "B", start: 0.5, end: 1.25),
                             Shot(prompt: "C", start: 1.25, end: 2, transition: .cut)])
                == [TextWeight(prompt: "A", weight: 0.4), TextWeight(prompt: "B", weight: 0.6)])
    }

    @Test("frames past the end of the film do not count")
    func pastTheEnd() throws {
        // 1 s = 8 frames; the window reaches frame 15, but only 0 ... 7 count: 4 of A, 4 of B.
        let plan = try Planner.plan(RenderRequest(storyboard: Storyboard(shots: [
            Shot(prompt: "A", start: 0, end: 0.5), Shot(prompt: "B", start: 0.5, end: 1),
        ]), seed: 0))
        #expect(plan.segments[0].text == [TextWeight(prompt: "A", weight: 0.5), TextWeight(prompt: "B", weight: 0.5)])
    }

    @Test("shot boundaries round to the nearest frame, halves up")
    func rounding() throws {
        // 0.0625 s is half a frame: A gets frame 0, B frames 1 ... 15.
        #expect(try weights([Shot(prompt: "A", start: 0, end: 0.0625), Shot(prompt: "B", start: 0.0625, end: 2)])
                == [TextWeight(prompt: "A", weight: 1.0 / 16), TextWeight(prompt: "B", weight: 15.0 / 16)])
        // 0.05 s rounds to frame 0: A has no frame at all.
        #expect(throws: PlanError.shotTooShort(shot: 0, seconds: 0.05, fps: 8)) {
            try Planner.plan(RenderRequest(storyboard: Storyboard(shots: [
                Shot(prompt: "A", start: 0, end: 0.05), Shot(prompt: "B", start: 0.05, end: 2),
            ]), seed: 0))
        }
    }

    @Test("the example storyboards in configs/storyboards parse and plan")
    func examples() throws {
        let folder = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/storyboards")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files.count >= 2)
        for file in files {
            let storyboard = try Storyboard.parse(Data(contentsOf: folder.appendingPathComponent(file)))
            for strategy in Strategy.allCases {
                PlanChecks.all(try Planner.plan(RenderRequest(storyboard: storyboard, seed: 42, strategy: strategy)))
            }
        }
        // docs/storyboard.md: ball-day's shortest shot (10 s = 80 frames) caps level 0 at stride 4.
        let ballDay = try Storyboard.parse(Data(contentsOf: folder.appendingPathComponent("ball-day.json")))
        let plan = try Planner.plan(RenderRequest(storyboard: ballDay, seed: 42))
        #expect(plan.levelStrides == [4, 1] && counts(plan) == [10, 40] && plan.criticalPath == 11)
        // Frames 144 ... 204 of L0-0003 straddle the smooth boundary at 20 s (frame 160): 4 frames before, 12 after.
        #expect(plan.segment("L0-0003")?.text.map(\.weight) == [0.25, 0.75])
        // L0-0005 (240 ... 300) straddles the cut at 35 s (frame 280) with 10 frames before: it keeps shot 1 only.
        #expect(plan.segment("L0-0005")?.text.map(\.prompt) == [ballDay.shots[1].prompt])
    }
}
