import Foundation
import Synchronization
import Testing
@testable import Denoiser
import Tensors

/// An analytic velocity field whose flow carries any noise in a straight line to a fixed target:
/// `v = (x − target) / t`. Conditional items aim at `conditional` times their number of non-zero
/// text rows (a pooled row, and word rows for a `[n, R, D]` text), unconditional ones (all zeros)
/// at `unconditional`, so guidance has an exact expected result and a padding row that is not all
/// zeros, or a row lost, moves it. It ignores the layout. Used to check the sampler's arithmetic,
/// not a stand-in for the trained model.
struct StraightLineVelocityModel: VelocityModel {
    let windowFrames = 4
    let frameShape = [2, 3, 3]
    let textDimension = 5
    let conditional: Tensor
    let unconditional: Tensor

    func velocity(_ x: Tensor, anchors: Tensor, mask: Tensor, text: Tensor, strides: [Float], times: [Float],
                  layout: Tensor?) -> Tensor {
        let n = x.shape[0], per = x.count / n
        let rows = text.rank == 3 ? text.shape[1] : 1
        precondition(text.shape == (rows == 1 ? [n, textDimension] : [n, rows, textDimension]), "text \(text.shape)")
        var out = x
        for b in 0..<n {
            let used = (0..<rows).filter { r in
                let start = (b * rows + r) * textDimension
                return text.scalars[start..<(start + textDimension)].contains { $0 != 0 }
            }.count
            for i in 0..<per {
                let target = used == 0 ? unconditional.scalars[i] : Float(used) * conditional.scalars[i]
                out.scalars[b * per + i] = (x.scalars[b * per + i] - target) / times[b]
            }
        }
        return out
    }
}

/// The straight-line field that also keeps the layout (and text) of every call, to check what the
/// sampler hands the model.
struct LayoutRecordingModel: VelocityModel {
    /// One model call's layout `[n, T, L, H, W]` (nil when the sampler passed none) and text.
    struct Call { let layout: Tensor?; let text: Tensor }
    final class Log: Sendable {
        let calls = Mutex<[Call]>([])
    }

    let base: StraightLineVelocityModel
    let log = Log()
    var windowFrames: Int { base.windowFrames }
    var frameShape: [Int] { base.frameShape }
    var textDimension: Int { base.textDimension }

    func velocity(_ x: Tensor, anchors: Tensor, mask: Tensor, text: Tensor, strides: [Float], times: [Float],
                  layout: Tensor?) -> Tensor {
        log.calls.withLock { $0.append(Call(layout: layout, text: text)) }
        return base.velocity(x, anchors: anchors, mask: mask, text: text, strides: strides, times: times, layout: layout)
    }
}

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    NoiseField(seed: seed).window(frames: Array(0..<shape[0]), level: 0, frameShape: Array(shape.dropFirst()))
}

@Suite("Flow-matching sampler")
struct FlowMatchSamplerTests {
    let shape = [4, 2, 3, 3]
    var model: StraightLineVelocityModel {
        StraightLineVelocityModel(conditional: randomTensor(shape, seed: 1), unconditional: randomTensor(shape, seed: 2))
    }
    let text: [Float] = [1, 0, 0, 0, 0]

    @Test("the schedule runs from 1 to 0, monotonically, with the shift applied")
    func schedule() {
        let times = FlowMatchSampler(settings: SamplerSettings(steps: 10, shift: 3)).timesteps()
        #expect(times.count == 11 && times.first == 1 && times.last == 0)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 > $1 })
        #expect(abs(times[5] - 0.75) < 1e-6)   // t = 0.5 → 3·0.5 / (1 + 2·0.5)
        #expect(abs(FlowMatchSampler(settings: SamplerSettings(steps: 4, shift: 1)).timesteps()[1] - 0.75) < 1e-6)
    }

    @Test("Euler and Heun land on the target of a straight-line field", arguments: SamplingMethod.allCases)
    func landsOnTarget(method: SamplingMethod) {
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 7, guidance: 1, method: method))
        let condition = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3])
        let result = sampler.sample(model: model, noise: [randomTensor(shape, seed: 9)], conditioning: [condition])
        #expect(result[0].maxAbsDifference(model.conditional) < 1e-4)
    }

    @Test("guidance extrapolates from the unconditional towards the conditional result")
    func guidance() {
        let g: Float = 3
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 5, guidance: g))
        let condition = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3])
        let result = sampler.sample(model: model, noise: [randomTensor(shape, seed: 10)], conditioning: [condition])[0]
        let expected = model.unconditional + (Tensor(shape: shape, scalars: zip(model.conditional.scalars, model.unconditional.scalars).map { $0 - $1 }) * g)
        #expect(result.maxAbsDifference(expected) < 1e-3)
    }

    @Test("anchored frames end exactly on their anchors; the rest on the model's target")
    func anchors() {
        let anchors = randomTensor(shape, seed: 11)
        let mask = [true, false, false, true]
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 6, guidance: 2))
        let condition = WindowConditioning(text: text, stride: 4, anchors: anchors, mask: mask)
        let result = sampler.sample(model: model, noise: [randomTensor(shape, seed: 12)], conditioning: [condition])[0]
        let perFrame = 18
        for f in 0..<4 {
            let got = Array(result.scalars[(f * perFrame)..<((f + 1) * perFrame)])
            if mask[f] {
                #expect(got == Array(anchors.scalars[(f * perFrame)..<((f + 1) * perFrame)]))
            } else {
                let conditional = Array(model.conditional.scalars[(f * perFrame)..<((f + 1) * perFrame)])
                let unconditional = Array(model.unconditional.scalars[(f * perFrame)..<((f + 1) * perFrame)])
                for i in 0..<perFrame { #expect(abs(got[i] - (unconditional[i] + 2 * (conditional[i] - unconditional[i]))) < 1e-3) }
            }
        }
    }

    @Test("windows batched together give the same results as one at a time, and repeat bit for bit")
    func batchingAndDeterminism() {
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 4, method: .heun))
        let a = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3])
        let b = WindowConditioning(text: [0, 2, 0, 0, 0], stride: 2, anchors: randomTensor(shape, seed: 13), mask: [false, true, false, false])
        let noises = [randomTensor(shape, seed: 14), randomTensor(shape, seed: 15)]
        var steps: [Int] = []
        let together = sampler.sample(model: model, noise: noises, conditioning: [a, b]) { step, _ in steps.append(step) }
        #expect(steps == [1, 2, 3, 4])
        #expect(together[0] == sampler.sample(model: model, noise: [noises[0]], conditioning: [a])[0])
        #expect(together[1] == sampler.sample(model: model, noise: [noises[1]], conditioning: [b])[0])
        #expect(together == sampler.sample(model: model, noise: noises, conditioning: [a, b]))
    }

    @Test("texts with word rows of different lengths are padded with zero rows and batch like one at a time")
    func wordRows() {
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 4, guidance: 3))
        let pooledOnly = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3])
        let threeRows = WindowConditioning.unanchored(text: text + [0, 1, 0, 0, 0] + [0, 0, 2, 0, 0], stride: 1, frames: 4,
                                                      frameShape: [2, 3, 3])
        let noises = [randomTensor(shape, seed: 16), randomTensor(shape, seed: 17)]
        let together = sampler.sample(model: model, noise: noises, conditioning: [pooledOnly, threeRows])
        #expect(together[0] == sampler.sample(model: model, noise: [noises[0]], conditioning: [pooledOnly])[0])
        #expect(together[1] == sampler.sample(model: model, noise: [noises[1]], conditioning: [threeRows])[0])
        // Guided, the result is u + g (c - u) with c = rows × conditional: the rows all counted.
        for (result, rows) in zip(together, [Float(1), 3]) {
            let expected = (0..<result.count).map { i in
                model.unconditional.scalars[i] + 3 * (rows * model.conditional.scalars[i] - model.unconditional.scalars[i])
            }
            #expect(zip(result.scalars, expected).allSatisfy { abs($0 - $1) < 1e-4 })
        }
    }
}

@Suite("Flow-matching sampler: layouts")
struct SamplerLayoutTests {
    let shape = [4, 2, 3, 3]
    let text: [Float] = [1, 0, 0, 0, 0]
    var model: LayoutRecordingModel {
        LayoutRecordingModel(base: StraightLineVelocityModel(conditional: randomTensor(shape, seed: 1), unconditional: randomTensor(shape, seed: 2)))
    }

    @Test("a window's layout reaches the model in both guidance passes; a window without one gets zeros")
    func bothPasses() {
        let model = model
        // Two layout channels of a 3×3 frame: [T, L, H, W], random, no zeros.
        let layout = randomTensor([4, 2, 3, 3], seed: 21)
        let withLayout = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3], layout: layout)
        let without = WindowConditioning.unanchored(text: [0, 3, 0, 0, 0], stride: 2, frames: 4, frameShape: [2, 3, 3])
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 3, guidance: 2.5, method: .heun))
        let noises = [randomTensor(shape, seed: 22), randomTensor(shape, seed: 23)]
        let result = sampler.sample(model: model, noise: noises, conditioning: [withLayout, without])
        let calls = model.log.calls.withLock { $0 }
        #expect(calls.count == 5)   // Heun: two calls per step, one on the last
        let perItem = layout.count
        for call in calls {
            guard let batch = call.layout else { Issue.record("a call got no layout"); continue }
            // Items: window 0 and 1 with text, then window 0 and 1 without (the guidance pass).
            #expect(batch.shape == [4, 4, 2, 3, 3])
            #expect(call.text.scalars[0] == 1 && call.text.scalars[10..<20].allSatisfy { $0 == 0 }, "the second pass has no text")
            for item in 0..<4 {
                let got = Array(batch.scalars[(item * perItem)..<((item + 1) * perItem)])
                #expect(got == (item % 2 == 0 ? layout.scalars : [Float](repeating: 0, count: perItem)), "item \(item)")
            }
        }
        // The layout changes nothing else: the straight-line field ignores it.
        #expect(result == sampler.sample(model: model.base, noise: noises, conditioning: [withLayout, without]))
        #expect(result[1] == sampler.sample(model: model.base, noise: [noises[1]], conditioning: [without])[0])
    }

    @Test("without layouts the model is given none, guided or not")
    func noLayouts() {
        for guidance: Float in [1, 3] {
            let model = model
            let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 2, guidance: guidance))
            let window = WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3])
            _ = sampler.sample(model: model, noise: [randomTensor(shape, seed: 24)], conditioning: [window])
            let calls = model.log.calls.withLock { $0 }
            #expect(calls.count == 2 && calls.allSatisfy { $0.layout == nil })
        }
    }

    @Test("unguided, each window's layout is its own item")
    func unguided() {
        let model = model
        let first = randomTensor([4, 2, 3, 3], seed: 25), second = randomTensor([4, 2, 3, 3], seed: 26)
        let windows = [first, second].map {
            WindowConditioning.unanchored(text: text, stride: 1, frames: 4, frameShape: [2, 3, 3], layout: $0)
        }
        let sampler = FlowMatchSampler(settings: SamplerSettings(steps: 1, guidance: 1))
        _ = sampler.sample(model: model, noise: [randomTensor(shape, seed: 27), randomTensor(shape, seed: 28)], conditioning: windows)
        let calls = model.log.calls.withLock { $0 }
        #expect(calls.count == 1)
        #expect(calls.first?.layout?.scalars == first.scalars + second.scalars)
    }
}

@Suite("Counter-based noise")
struct NoiseFieldTests {
    @Test("a frame's noise depends only on (seed, frame, level)")
    func pure() {
        let field = NoiseField(seed: 42)
        let window = field.window(frames: [10, 11, 12], level: 1, frameShape: [8, 8, 8])
        let overlapping = field.window(frames: [12, 13], level: 1, frameShape: [8, 8, 8])
        #expect(Array(window.scalars[1024..<1536]) == Array(overlapping.scalars[0..<512]))
        #expect(field.frame(12, level: 1, count: 512) != field.frame(12, level: 2, count: 512))
        #expect(field.frame(12, level: 1, count: 512) != NoiseField(seed: 43).frame(12, level: 1, count: 512))
        #expect(field.frame(12, level: 1, count: 512) != field.frame(13, level: 1, count: 512))
        #expect(Array(field.frame(5, level: 0, count: 7)) == Array(field.frame(5, level: 0, count: 9).prefix(7)))
    }

    @Test("the track planner's noise is its own stream: fixed by the seed, not any frame's noise")
    func trackStream() {
        let field = NoiseField(seed: 42)
        let track = field.track(count: 48)
        #expect(track == field.track(count: 48))
        #expect(Array(field.track(count: 60).prefix(48)) == track)
        #expect(track != NoiseField(seed: 43).track(count: 48))
        #expect(NoiseField(seed: 42, sharedFraction: 0.5).track(count: 48) == track)
        for frame in 0..<4 {
            for level in 0..<3 { #expect(field.frame(frame, level: level, count: 48) != track) }
        }
        #expect(track.contains { abs($0) > 0.5 } && track.allSatisfy { abs($0) < 6 })
    }

    @Test("values are standard normal")
    func statistics() {
        let values = NoiseField(seed: 7).window(frames: Array(0..<64), level: 0, frameShape: [512]).scalars.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        let beyondThree = Double(values.filter { abs($0) > 3 }.count) / Double(values.count)
        #expect(abs(mean) < 0.02)
        #expect(abs(variance - 1) < 0.03)
        #expect(beyondThree > 0.001 && beyondThree < 0.005)   // normal: 0.27%
    }

    @Test("a shared fraction adds one film-wide draw per level to every frame's own noise")
    func sharedPart() {
        let fraction: Float = 0.5
        let independent = NoiseField(seed: 9)
        let correlated = NoiseField(seed: 9, sharedFraction: fraction)
        // What is left after removing each frame's own (independent) noise is the same for every
        // frame of a level, and differs between levels.
        func shared(_ frame: Int, level: Int) -> [Float] {
            zip(correlated.frame(frame, level: level, count: 4096), independent.frame(frame, level: level, count: 4096))
                .map { ($0 - (1 - fraction).squareRoot() * $1) / fraction.squareRoot() }
        }
        let first = shared(0, level: 0)
        for frame in [1, 17, 960] {
            #expect(zip(shared(frame, level: 0), first).allSatisfy { abs($0 - $1) < 1e-4 })
        }
        #expect(zip(shared(3, level: 1), first).contains { abs($0 - $1) > 0.1 })
        // Still unit variance per element, with the trained correlation between frames.
        let a = correlated.frame(4, level: 0, count: 4096).map(Double.init)
        let b = correlated.frame(11, level: 0, count: 4096).map(Double.init)
        let variance = a.map { $0 * $0 }.reduce(0, +) / Double(a.count)
        let covariance = zip(a, b).map(*).reduce(0, +) / Double(a.count)
        #expect(abs(variance - 1) < 0.08)
        #expect(abs(covariance - Double(fraction)) < 0.08)
        // Overlapping windows still start from identical noise.
        let window = correlated.window(frames: [10, 11, 12], level: 1, frameShape: [512])
        let overlapping = correlated.window(frames: [12, 13], level: 1, frameShape: [512])
        #expect(Array(window.scalars[1024..<1536]) == Array(overlapping.scalars[0..<512]))
    }
}
