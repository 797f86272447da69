import Foundation
import Testing
@testable import Evaluation
import Tensors

@Suite("The Swift world renderer draws what scripts/train/world.py draws")
struct WorldRendererTests {
    struct Spec: Decodable {
        let background, colour, shape, size, motion: String
        let anchor: [Double]
        let phase: Double
        let start, stride: Int
    }

    @Test("every pixel within 1/255 of the Python renderer, over all motions, shapes and strides")
    func parity() throws {
        let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let specs = try JSONDecoder().decode([Spec].self, from: Data(contentsOf: folder.appendingPathComponent("world.json")))
        let frames = try SafetensorsFile(contentsOf: folder.appendingPathComponent("world.safetensors")).tensor("frames")
        #expect(frames.shape == [specs.count, 3, 64, 64, 3])
        let perClip = 3 * 64 * 64 * 3
        for (i, spec) in specs.enumerated() {
            let clip = WorldClip(background: spec.background, colour: spec.colour, shape: spec.shape, size: spec.size,
                                 motion: spec.motion, anchor: (spec.anchor[0], spec.anchor[1]), phase: spec.phase)
            let rendered = WorldRenderer.render(clip, start: spec.start, count: 3, stride: spec.stride).flatMap(\.pixels)
            var worst = 0.0
            for j in 0..<perClip {
                worst = max(worst, abs(Double(rendered[j]) - Double(frames.scalars[i * perClip + j]) * 255))
            }
            #expect(worst <= 1.0, "\(spec.motion) \(spec.shape): worst pixel differs by \(worst)")
        }
    }
}
