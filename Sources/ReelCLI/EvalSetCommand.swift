import ArgumentParser
import Denoiser
import Evaluation
import Foundation
import Stitcher
import Tensors

/// One prompt of an evaluation set, with the attributes it was written from.
struct EvaluationPrompt: Codable {
    let text: String
    let colour: String
    let shape: String
    let motion: String
    let size: String?
    let background: String?
    let split: String?
}

struct EvalSetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-set",
        abstract: "Generate a clip for every prompt of an evaluation set and score colour, shape and motion.",
        discussion: """
            The set is a JSON list of {text, colour, shape, motion, size, background, split} (reel-tiny's \
            is models/reel-tiny/eval_prompts.json: prompts never seen verbatim in training). Each clip \
            goes through the MP4 writer and is read back with FFmpeg before it is judged, exactly as \
            reel eval would judge it; the scores compare with the attributes in the file.
            """
    )

    @Argument(help: "The evaluation set (JSON).")
    var prompts: String

    @Option(help: "Evaluate only the first N prompts.")
    var limit: Int?

    @Option(help: "Keep the clips in this folder (default: a temporary folder, removed).")
    var out: String?

    @Flag(help: "Print JSON with every clip's report.")
    var json = false

    @OptionGroup var sampler: SamplerOptions

    func run() throws {
        guard let data = FileManager.default.contents(atPath: prompts) else { throw UserError("No evaluation set at \(prompts).") }
        let set: [EvaluationPrompt]
        do { set = try JSONDecoder().decode([EvaluationPrompt].self, from: data) } catch {
            throw UserError("\(prompts) is not an evaluation set (a JSON list of {text, colour, shape, motion}): \(error).")
        }
        let chosen = Array(set.prefix(limit ?? set.count))
        let generator = try loadGenerator()
        if let threads = sampler.threads { BLAS.threadCount = threads }
        let settings = sampler.settings(for: generator.model.config)
        let folder = out.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("reel-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if out == nil { try? FileManager.default.removeItem(at: folder) } }

        struct Scored: Codable { let prompt: EvaluationPrompt; let report: AdherenceReport; let colour: Bool; let shape: Bool; let motion: Bool }
        var scored: [Scored] = []
        let bar = ProgressBar(label: "evaluating", total: chosen.count)
        let begin = Date()
        for (index, item) in chosen.enumerated() {
            let latents = generator.latents(prompt: item.text, seed: sampler.seed, settings: settings)
            let frames = RGBFrame.frames(fromCHW: generator.decode(latents))
            let url = folder.appendingPathComponent(String(format: "%03d.mp4", index))
            let writer = try MP4Writer(url: url, width: frames[0].width, height: frames[0].height, framesPerSecond: generator.model.config.fps,
                                       metadata: ["title": item.text, "ai_generated": "true"])
            for frame in frames { try writer.append(frame) }
            try writer.finish()
            let report = try VideoEvaluation.evaluate(video: url, prompt: item.text)
            scored.append(Scored(prompt: item, report: report, colour: report.observedColour == item.colour,
                                 shape: report.observedShape == item.shape, motion: report.observedMotion == item.motion))
            bar.update(index + 1)
        }
        let n = Double(scored.count)
        func rate(_ key: KeyPath<Scored, Bool>, _ subset: [Scored]) -> Double {
            subset.isEmpty ? .nan : Double(subset.filter { $0[keyPath: key] }.count) / Double(subset.count)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(scored), as: UTF8.self))
            return
        }
        print(String(format: "%d prompts, seed %llu, %d steps, cfg %.1f, %@: %.1f s",
                     scored.count, sampler.seed, settings.steps, settings.guidance, settings.method.rawValue, Date().timeIntervalSince(begin)))
        print(String(format: "colour %.1f%%   shape %.1f%%   motion %.1f%%   (all three %.1f%%)",
                     100 * rate(\.colour, scored), 100 * rate(\.shape, scored), 100 * rate(\.motion, scored),
                     100 * Double(scored.filter { $0.colour && $0.shape && $0.motion }.count) / n))
        for split in Set(scored.compactMap(\.prompt.split)).sorted() {
            let subset = scored.filter { $0.prompt.split == split }
            print(String(format: "  %@ (%d): colour %.1f%%, shape %.1f%%, motion %.1f%%", split, subset.count,
                         100 * rate(\.colour, subset), 100 * rate(\.shape, subset), 100 * rate(\.motion, subset)))
        }
        var confusion: [String: [String: Int]] = [:]
        for s in scored { confusion[s.prompt.motion, default: [:]][s.report.observedMotion ?? "none", default: 0] += 1 }
        print("motion (expected → observed): " + confusion.keys.sorted().map { key in
            "\(key): " + confusion[key]!.sorted { $0.value > $1.value }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
        }.joined(separator: "; "))
    }
}
