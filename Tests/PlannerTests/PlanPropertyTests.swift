import Foundation
import Testing
@testable import Planner

@Suite("Planner properties on random requests")
struct PlanPropertyTests {
    /// Level strides and window counts by the rules of docs/planning.md, in closed form.
    static func expectedLevels(_ request: RenderRequest, geometry: ModelGeometry = .reelTiny) -> [(stride: Int, windows: Int)] {
        let window = geometry.windowFrames
        let last = max(1, Int((request.duration * Double(geometry.fps)).rounded())) - 1
        func windows(stride: Int, hop: Int) -> Int {
            last <= (window - 1) * stride ? 1 : (last - (window - 1) * stride + hop * stride - 1) / (hop * stride) + 1
        }
        let chainHop = window - window / 4
        guard request.strategy == .hierarchical else { return [(1, windows(stride: 1, hop: chainHop))] }
        let largest = geometry.strides.filter { $0 & ($0 - 1) == 0 }.max() ?? 1
        var top = 1
        while top < largest && (window - 1) * top < last { top *= 2 }
        if let shots = request.storyboard?.shots, shots.count > 1 {
            let fps = Double(geometry.fps)
            let lengths = shots.indices.map { index in
                (index == shots.count - 1 ? last + 1 : Int((shots[index].end * fps).rounded()))
                    - Int((shots[index].start * fps).rounded())
            }
            var cap = 1
            while cap * 2 <= largest && chainHop * cap * 2 <= lengths.min() ?? 0 { cap *= 2 }
            top = min(top, cap)
        }
        var levels = [(top, windows(stride: top, hop: chainHop))]
        var stride = top
        while stride > 1 {
            let child = stride % 4 == 0 ? stride / 4 : stride / 2
            levels.append((child, windows(stride: child, hop: window - stride / child)))
            stride = child
        }
        return levels
    }

    @Test("every invariant holds for random prompts and storyboards, both strategies", arguments: 0 ..< 120)
    func invariants(number: Int) throws {
        let request = RandomRequests.request(number)
        let plan = try Planner.plan(request)
        PlanChecks.all(plan)
        let expected = Self.expectedLevels(request)
        #expect(plan.levelStrides == expected.map(\.stride))
        #expect((0 ..< plan.levels).map { plan.segments(atLevel: $0).count } == expected.map(\.windows))
    }

    @Test("the same request gives an equal plan; another seed only changes the seed", arguments: [1, 6, 11, 30, 47, 62])
    func deterministic(number: Int) throws {
        let request = RandomRequests.request(number)
        let plan = try Planner.plan(request)
        #expect(try Planner.plan(request) == plan)
        var reseeded = request
        reseeded.seed = request.seed ^ 0xDEAD_BEEF
        let other = try Planner.plan(reseeded)
        #expect(other.segments == plan.segments)
        #expect(other.totalFrames == plan.totalFrames && other.levels == plan.levels)
        #expect(other != plan, "the plan carries its request, seed included")
    }

    @Test("a plan survives a JSON round trip", arguments: [2, 3, 40, 45])
    func codable(number: Int) throws {
        let plan = try Planner.plan(RandomRequests.request(number))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(plan)
        let decoded = try JSONDecoder().decode(SegmentPlan.self, from: data)
        #expect(decoded == plan)
        #expect(try encoder.encode(decoded) == data, "encoding is byte-stable")
    }

    @Test("other window sizes, rates and stride sets", arguments: [
        ModelGeometry(windowFrames: 8, fps: 12, strides: [1, 2, 4, 8]),
        ModelGeometry(windowFrames: 16, fps: 8, strides: [1, 2, 4]),
        ModelGeometry(windowFrames: 24, fps: 24, strides: [1, 2, 3, 4, 8, 16]),
        ModelGeometry(windowFrames: 4, fps: 1, strides: [1, 2]),
    ])
    func geometries(geometry: ModelGeometry) throws {
        for number in [0, 2, 5, 8, 11, 14, 17, 20] {
            var request = RandomRequests.request(number)
            request.storyboard = nil
            request.prompt = "a red ball"
            // Up to 2400 frames: the brute-force checks grow with the square of the plan.
            request.duration = min(request.duration, 2400 / Double(geometry.fps))
            let plan = try Planner.plan(request, geometry: geometry)
            PlanChecks.all(plan)
            let expected = Self.expectedLevels(request, geometry: geometry)
            #expect(plan.levelStrides == expected.map(\.stride))
            #expect((0 ..< plan.levels).map { plan.segments(atLevel: $0).count } == expected.map(\.windows))
        }
    }
}
