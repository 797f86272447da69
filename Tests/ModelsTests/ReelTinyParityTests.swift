import Foundation
import Testing
import TestSupport
@testable import Models
import Tensors

/// Largest |a − b| over the largest |b|: the error relative to the output's scale.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    let scale = b.scalars.map(abs).max() ?? 1
    return a.maxAbsDifference(b) / max(scale, 1e-12)
}

enum ParityFixture {
    static var folder: URL { Bundle.module.url(forResource: "Fixtures/reel-tiny-parity", withExtension: nil)! }
    static func io() throws -> SafetensorsFile { try SafetensorsFile(contentsOf: folder.appendingPathComponent("io.safetensors")) }

    /// The DiT's velocity on the fixture's inputs (x, anchors, mask, text, stride, t) and `layout`.
    static func velocity(_ model: ReelTinyModel, _ io: SafetensorsFile, layout: Tensor? = nil) throws -> Tensor {
        model.dit.velocity(try io.tensor("x"), anchors: try io.tensor("anchors"), mask: try io.tensor("mask"),
                           text: try io.tensor("text"), strides: try io.tensor("stride").scalars, times: try io.tensor("t").scalars,
                           layout: layout)
    }

    /// Edits the config.json of a fixture copy (see `folder(withConfig:)`).
    static func editConfig(in folder: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// A temporary copy of the fixture whose config.json is the factorised-attention DiT's
    /// (config_factorised.json: dit_factorised.safetensors, the same VAE). The caller removes it.
    static func factorisedFolder() throws -> URL { try folder(withConfig: "config_factorised.json") }

    /// Sets `dit[key] = value` in the config.json of a fixture copy (see `folder(withConfig:)`).
    static func setDiT(_ key: String, to value: Any, in folder: URL) throws {
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var dit = config["dit"] as! [String: Any]
        dit[key] = value
        config["dit"] = dit
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// A temporary copy of the fixture whose config.json is `name` (another DiT, the same VAE).
    /// The caller removes it.
    static func folder(withConfig name: String) throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("reel-tiny-fixture-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: folder, to: copy)
        let config = copy.appendingPathComponent("config.json")
        try FileManager.default.removeItem(at: config)
        try FileManager.default.moveItem(at: copy.appendingPathComponent(name), to: config)
        return copy
    }
}

@Suite("reel-tiny Swift port against PyTorch (scripts/reference/reel_tiny_fixture.py)")
struct ReelTinyParityTests {
    @Test("VAE decoder: max relative error ≤ 1e-4")
    func decoder() throws {
        let model = try ReelTinyModel(folder: ParityFixture.folder)
        let io = try ParityFixture.io()
        let error = relativeError(model.vae.decode(try io.tensor("latents")), try io.tensor("decoded"))
        print("VAE decoder parity: relative error \(error)")
        #expect(error <= 1e-4)
    }

    @Test("VAE encoder (posterior mean): max relative error ≤ 1e-4")
    func encoder() throws {
        let model = try ReelTinyModel(folder: ParityFixture.folder)
        let io = try ParityFixture.io()
        #expect(relativeError(model.vae.encode(try io.tensor("images")), try io.tensor("encoded_mean")) <= 1e-4)
    }

    @Test("DiT forward with anchors, mask, text, no-text, strides and times: max relative error ≤ 1e-4")
    func dit() throws {
        let model = try ReelTinyModel(folder: ParityFixture.folder)
        let io = try ParityFixture.io()
        let error = relativeError(try ParityFixture.velocity(model, io), try io.tensor("velocity"))
        print("DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)
    }

    @Test("DiT with factorised attention (a frame's tokens, then one place over time): max relative error ≤ 1e-4")
    func factorisedDiT() throws {
        let folder = try ParityFixture.factorisedFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        #expect(model.dit.blocks.map(\.span) == [.space, .time])
        let io = try ParityFixture.io()
        let expected = try io.tensor("velocity_factorised")
        let error = relativeError(try ParityFixture.velocity(model, io), expected)
        print("factorised DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)

        // The same weights read as full attention give another answer: the spans are really applied.
        try ParityFixture.setDiT("attention_spans", to: ["full", "full"], in: folder)
        let full = try ReelTinyModel(folder: folder)
        #expect(relativeError(try ParityFixture.velocity(full, io), expected) > 1e-2)
    }

    @Test("DiT with local mixing (fc1's channels shifted to neighbouring tokens in every MLP): max relative error ≤ 1e-4")
    func localMixingDiT() throws {
        let folder = try ParityFixture.folder(withConfig: "config_local.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        #expect(model.dit.blocks.allSatisfy { $0.localMixing == .shift })
        let expected = try SafetensorsFile(contentsOf: folder.appendingPathComponent("local_io.safetensors")).tensor("velocity")
        let error = relativeError(try ParityFixture.velocity(model, try ParityFixture.io()), expected)
        print("local-mixing DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)

        // Read without the shift the same weights give another answer: it is really applied.
        try ParityFixture.setDiT("local_mixing", to: "none", in: folder)
        let plain = try ReelTinyModel(folder: folder)
        #expect(plain.dit.blocks.allSatisfy { $0.localMixing == .none })
        #expect(relativeError(try ParityFixture.velocity(plain, try ParityFixture.io()), expected) > 1e-2)

        // An unknown kind is refused by name.
        try ParityFixture.setDiT("local_mixing", to: "wavelet", in: folder)
        #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
    }

    @Test("DiT with text tokens (every block cross-attends to tokens made from the text feature): max relative error ≤ 1e-4")
    func textTokenDiT() throws {
        let folder = try ParityFixture.folder(withConfig: "config_text.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        #expect(model.dit.textTokens == 3 && model.dit.blocks.allSatisfy { $0.cross != nil })
        let expected = try SafetensorsFile(contentsOf: folder.appendingPathComponent("text_io.safetensors")).tensor("velocity")
        let error = relativeError(try ParityFixture.velocity(model, try ParityFixture.io()), expected)
        print("text-token DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)

        // Read without the text tokens the same weights give another answer: they are really used.
        try ParityFixture.setDiT("text_tokens", to: 0, in: folder)
        let plain = try ReelTinyModel(folder: folder)
        #expect(plain.dit.blocks.allSatisfy { $0.cross == nil })
        #expect(relativeError(try ParityFixture.velocity(plain, try ParityFixture.io()), expected) > 1e-2)

        // A negative count is refused.
        try ParityFixture.setDiT("text_tokens", to: -1, in: folder)
        #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
    }

    @Test("DiT with word states (the blocks also cross-attend to MiniLM's per-token states): max relative error ≤ 1e-4")
    func wordStateDiT() throws {
        let folder = try ParityFixture.folder(withConfig: "config_words.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        #expect(model.config.dit.takesWords && model.dit.wordProjection != nil)
        let io = try ParityFixture.io()
        let words = try SafetensorsFile(contentsOf: folder.appendingPathComponent("words_io.safetensors"))
        let text = try words.tensor("text")
        #expect(text.shape == [2, 9, 384])
        func velocity(_ model: ReelTinyModel, text: Tensor) throws -> Tensor {
            model.dit.velocity(try io.tensor("x"), anchors: try io.tensor("anchors"), mask: try io.tensor("mask"),
                               text: text, strides: try io.tensor("stride").scalars, times: try io.tensor("t").scalars)
        }
        let expected = try words.tensor("velocity")
        let error = relativeError(try velocity(model, text: text), expected)
        print("word-state DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)

        // Padding rows are not attended to: without them (item 0's 6 words, item 1 a lone pooled
        // row padded to 7) the answer is the same.
        let trimmed = Tensor(shape: [2, 7, 384], scalars: (0..<2).flatMap { b in text.scalars[(b * 9 * 384)..<((b * 9 + 7) * 384)] })
        #expect(relativeError(try velocity(model, text: trimmed), expected) <= 1e-6)
        // The words are used: with the pooled row alone the answer differs.
        let pooledOnly = Tensor(shape: [2, 384], scalars: (0..<2).flatMap { b in text.scalars[(b * 9 * 384)..<((b * 9 + 1) * 384)] })
        #expect(relativeError(try velocity(model, text: pooledOnly), expected) > 1e-2)

        // Word states need a pooled token to fall back on.
        try ParityFixture.setDiT("text_tokens", to: 0, in: folder)
        #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
    }

    @Test("DiT with layout channels (the subject's track after the mask channel): max relative error ≤ 1e-4; no layout is all zeros")
    func layoutDiT() async throws {
        let folder = try ParityFixture.folder(withConfig: "config_layout.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        #expect(model.dit.layoutChannels == 5 && model.planner != nil)
        let io = try ParityFixture.io()
        let layoutIO = try SafetensorsFile(contentsOf: folder.appendingPathComponent("layout_io.safetensors"))
        let layout = try layoutIO.tensor("layout"), expected = try layoutIO.tensor("velocity")
        #expect(layout.shape == [2, 4, 5, 8, 8])
        let error = relativeError(try ParityFixture.velocity(model, io, layout: layout), expected)
        print("layout DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)

        // No layout is an all-zero layout, and the layout is really read: without it the answer differs.
        let (none, zeros) = try await BLASThreadGate.shared {
            (try ParityFixture.velocity(model, io), try ParityFixture.velocity(model, io, layout: Tensor(zeros: layout.shape)))
        }
        #expect(none == zeros)
        #expect(relativeError(none, expected) > 1e-2)

        // Split across BLAS threads, each item keeps its own layout.
        let split = try await BLASThreadGate.exclusive {
            let saved = BLAS.threadCount
            defer { BLAS.threadCount = saved }
            BLAS.threadCount = 2
            return try ParityFixture.velocity(model, io, layout: layout)
        }
        #expect(relativeError(split, expected) <= 1e-4)
    }

    @Test("subject layout channels (bump, offsets, radius, coverage) equal layout.layout_channels for the fixture's tracks (≤ 1e-5)")
    func subjectLayout() throws {
        let io = try SafetensorsFile(contentsOf: ParityFixture.folder.appendingPathComponent("layout_io.safetensors"))
        let tracks = try io.tensor("tracks"), expected = try io.tensor("layout")
        #expect(tracks.shape == [2, 4, 3])
        for item in 0..<2 {
            let track = Array(tracks.scalars[(item * 12)..<((item + 1) * 12)])
            let layout = SubjectLayout(track: track)
            let channels = layout.channels(latentSize: 8, count: 5)
            #expect(layout.frames == 4 && channels.shape == [4, 5, 8, 8])
            let reference = expected.slicedFirstAxis(item..<(item + 1)).reshaped([4, 5, 8, 8])
            #expect(channels.maxAbsDifference(reference) <= 1e-5)
            // A four-channel layout is the first four of these.
            let four = layout.channels(latentSize: 8, count: 4)
            for frame in 0..<4 {
                #expect(Array(four.scalars[(frame * 256)..<((frame + 1) * 256)])
                        == Array(channels.scalars[(frame * 320)..<(frame * 320 + 256)]))
                // Not trivially small: the bump reaches near 1 somewhere in every frame, and the
                // coverage adds up to the disc's area in latent pixels (64 image pixels each).
                #expect(channels.scalars[(frame * 320)..<(frame * 320 + 64)].max()! > 0.5)
                let area = channels.scalars[(frame * 320 + 256)..<((frame + 1) * 320)].reduce(0, +) * 64
                let r = track[3 * frame + 2]
                #expect(abs(area - Float.pi * r * r) < 0.02 * Float.pi * r * r)
            }
        }
    }

    @Test("track planner velocity (a no-text row included): max relative error ≤ 1e-4")
    func plannerVelocity() throws {
        let folder = try ParityFixture.folder(withConfig: "config_layout.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let planner = try #require(try ReelTinyModel(folder: folder).planner)
        #expect(planner.config.frames == 4 && planner.config.depth == 2 && planner.trackValues == 12)
        let io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("layout_io.safetensors"))
        let text = try io.tensor("planner_text")
        #expect(text.scalars[(2 * 384)..<(3 * 384)].allSatisfy { $0 == 0 }, "the fixture has a no-text row")
        let velocity = planner.velocity(z: try io.tensor("planner_z"), text: text, strides: try io.tensor("planner_stride").scalars,
                                        times: try io.tensor("planner_t").scalars)
        let error = relativeError(velocity, try io.tensor("planner_velocity"))
        print("track planner parity: relative error \(error)")
        #expect(error <= 1e-4)
    }

    @Test("a planner's track from given noise equals train_planner.sample_tracks (guided Euler): max relative error ≤ 1e-4")
    func plannerSample() throws {
        let folder = try ParityFixture.folder(withConfig: "config_layout.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let planner = try #require(try ReelTinyModel(folder: folder).planner)
        #expect(planner.config.steps == 6 && planner.config.cfgScale == 2.5)
        let io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("layout_io.safetensors"))
        let text = try io.tensor("sample_text").scalars, noise = try io.tensor("sample_noise").scalars
        let track = planner.sampleTrack(text: text, stride: Int(try io.tensor("sample_stride").scalars[0]), noise: noise)
        let expected = try io.tensor("sample_track")
        let error = relativeError(Tensor(shape: expected.shape, scalars: track), expected)
        print("track planner sampling parity: relative error \(error)")
        #expect(error <= 1e-4)
        // Guidance is applied: read with cfg_scale 1 (the text pass alone) the same planner draws another track.
        try ParityFixture.editConfig(in: folder) { config in
            var section = config["planner"] as! [String: Any]
            section["cfg_scale"] = 1.0
            config["planner"] = section
        }
        let unguided = try #require(try ReelTinyModel(folder: folder).planner)
        let other = unguided.sampleTrack(text: text, stride: 4, noise: noise)
        #expect(relativeError(Tensor(shape: expected.shape, scalars: other), expected) > 1e-2)
    }

    @Test("a planner that reads token states: velocity (padding rows and a no-text item included) and a sampled track within 1e-4")
    func plannerWithWords() throws {
        let folder = try ParityFixture.folder(withConfig: "config_planner_words.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let planner = try #require(try ReelTinyModel(folder: folder).planner)
        #expect(planner.config.wordHeads == 2 && planner.config.readsWords)
        let io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("planner_words_io.safetensors"))
        let packed = try io.tensor("planner_text")
        let (n, rows, width) = (packed.shape[0], packed.shape[1], packed.shape[2])
        let item = { (i: Int, row: Int) in Array(packed.scalars[((i * rows + row) * width)..<((i * rows + row + 1) * width)]) }
        let pooled = Tensor(shape: [n, width], scalars: (0..<n).flatMap { item($0, 0) })
        let words = (0..<n).map { i in Tensor(shape: [rows - 1, width], scalars: (1..<rows).flatMap { item(i, $0) }) }
        let z = try io.tensor("planner_z"), strides = try io.tensor("planner_stride").scalars, times = try io.tensor("planner_t").scalars
        let expected = try io.tensor("planner_velocity")
        let velocity = planner.velocity(z: z, text: pooled, words: words, strides: strides, times: times)
        let error = relativeError(velocity, expected)
        print("word-reading track planner parity: relative error \(error)")
        #expect(error <= 1e-4)
        // The token states matter: without them the velocity is another.
        #expect(relativeError(planner.velocity(z: z, text: pooled, strides: strides, times: times), expected) > 1e-2)

        let sample = try io.tensor("sample_text")
        let sampleRows = sample.shape[1]
        let track = planner.sampleTrack(text: Array(sample.scalars[0..<width]), words: Array(sample.scalars[width..<(sampleRows * width)]),
                                        stride: Int(try io.tensor("sample_stride").scalars[0]), noise: try io.tensor("sample_noise").scalars)
        let expectedTrack = try io.tensor("sample_track")
        #expect(relativeError(Tensor(shape: expectedTrack.shape, scalars: track), expectedTrack) <= 1e-4)
    }

    @Test("the planner's shape head: logits within 1e-4 of PyTorch; a square's and a triangle's coverage within 1e-5 of layout.layout_channels")
    func plannerShapeHead() throws {
        let folder = try ParityFixture.folder(withConfig: "config_planner_shapes.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try ReelTinyModel(folder: folder)
        let planner = try #require(model.planner)
        #expect(model.dit.coverageFollowsShape && planner.config.shapeNames == ["circle", "square", "triangle"])
        let io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("planner_shapes_io.safetensors"))
        let packed = try io.tensor("shape_text"), expected = try io.tensor("shape_logits")
        let (n, rows, width) = (packed.shape[0], packed.shape[1], packed.shape[2])
        let row = { (i: Int, r: Int) in Array(packed.scalars[((i * rows + r) * width)..<((i * rows + r + 1) * width)]) }
        var logits: [Float] = []
        for i in 0..<n {
            logits += try #require(planner.shapeLogits(pooled: row(i, 0), words: (1..<rows).flatMap { row(i, $0) }))
        }
        let error = relativeError(Tensor(shape: expected.shape, scalars: logits), expected)
        print("planner shape head parity: relative error \(error)")
        #expect(error <= 1e-4)
        // The tokens matter: the first item's logits without them are others.
        let pooledOnly = try #require(planner.shapeLogits(pooled: row(0, 0), words: []))
        #expect(relativeError(Tensor(shape: [1, 3], scalars: pooledOnly), expected.slicedFirstAxis(0..<1)) > 1e-2)
        // The named shape is the largest logit's.
        let named = planner.shape(pooled: row(1, 0), words: (1..<rows).flatMap { row(1, $0) })
        let best = (0..<3).max { expected.scalars[3 + $0] < expected.scalars[3 + $1] }!
        #expect(named == SubjectShape.allCases[best])

        let tracks = try io.tensor("tracks"), shapes = try io.tensor("shapes").scalars, layout = try io.tensor("layout")
        let disc = try SafetensorsFile(contentsOf: ParityFixture.folder.appendingPathComponent("layout_io.safetensors")).tensor("layout")
        for item in 0..<2 {
            let shape = SubjectShape.allCases[Int(shapes[item])]
            #expect(shape == (item == 0 ? .square : .triangle))
            let subject = SubjectLayout(track: Array(tracks.scalars[(item * 12)..<((item + 1) * 12)]), shape: shape)
            let channels = subject.channels(latentSize: 8, count: 5)
            #expect(channels.maxAbsDifference(layout.slicedFirstAxis(item..<(item + 1)).reshaped([4, 5, 8, 8])) <= 1e-5)
            // Not the disc: a square covers more than its inscribed disc, a triangle less.
            let circle = disc.slicedFirstAxis(item..<(item + 1)).reshaped([4, 5, 8, 8])
            let area = { (t: Tensor) in (0..<4).map { f in t.scalars[(f * 320 + 256)..<((f + 1) * 320)].reduce(0, +) }.reduce(0, +) }
            #expect(item == 0 ? area(channels) > 1.2 * area(circle) : area(channels) < 0.8 * area(circle))
        }
    }

    @Test("a DiT whose coverage follows the shape needs a planner that names it; an unknown coverage is refused")
    func shapeCoverageNeedsAShapeHead() throws {
        for (edit, sentence) in [("no head", "the planner has no shape head"), ("unknown", "dit.layout_coverage holds \"blob\"")] {
            let folder = try ParityFixture.folder(withConfig: "config_planner_shapes.json")
            defer { try? FileManager.default.removeItem(at: folder) }
            try ParityFixture.editConfig(in: folder) { config in
                if edit == "no head" {
                    var planner = config["planner"] as! [String: Any]
                    planner["shape_names"] = nil
                    config["planner"] = planner
                } else {
                    var dit = config["dit"] as! [String: Any]
                    dit["layout_coverage"] = "blob"
                    config["dit"] = dit
                }
            }
            #expect {
                _ = try ReelTinyModel(folder: folder)
            } throws: { error in
                "\(error)".contains(sentence)
            }
        }
    }

    @Test("a config whose planner.word_heads does not divide planner.dim is refused with a sentence")
    func plannerWordHeadsMustDivide() throws {
        let folder = try ParityFixture.folder(withConfig: "config_planner_words.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        try ParityFixture.editConfig(in: folder) { config in
            var section = config["planner"] as! [String: Any]
            section["word_heads"] = 3
            config["planner"] = section
        }
        #expect {
            _ = try ReelTinyModel(folder: folder)
        } throws: { error in
            "\(error)".contains("planner.word_heads is 3")
        }
    }

    @Test("fine latent (two VAE levels: 16×16 latents; 4×4 DiT patches): VAE and DiT within 1e-4")
    func fineLatent() throws {
        let folder = ParityFixture.folder.appendingPathComponent("fine-latent")
        let model = try ReelTinyModel(folder: folder)
        #expect(model.config.vae.latentSize == 16 && model.dit.config.patch == 4)
        let io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("io.safetensors"))
        let decoded = model.vae.decode(try io.tensor("latents"))
        #expect(decoded.shape == [2, 3, 64, 64])
        #expect(relativeError(decoded, try io.tensor("decoded")) <= 1e-4)
        #expect(relativeError(model.vae.encode(try io.tensor("images")), try io.tensor("encoded_mean")) <= 1e-4)
        let error = relativeError(try ParityFixture.velocity(model, io), try io.tensor("velocity"))
        print("fine-latent DiT forward parity: relative error \(error)")
        #expect(error <= 1e-4)
    }

    @Test("items split across BLAS threads: VAE bit-identical to one thread, DiT within 1e-5")
    func threadSplit() async throws {
        let model = try ReelTinyModel(folder: ParityFixture.folder)
        let io = try ParityFixture.io()
        let latents = try io.tensor("latents"), images = try io.tensor("images")
        let (x, anchors, mask, text) = (try io.tensor("x"), try io.tensor("anchors"), try io.tensor("mask"), try io.tensor("text"))
        let strides = try io.tensor("stride").scalars, times = try io.tensor("t").scalars
        #expect(latents.shape[0] >= 2 && images.shape[0] >= 2 && x.shape[0] >= 2, "the fixture needs batches to split")
        func run(threads: Int) -> [Tensor] {
            BLAS.threadCount = threads
            return [model.vae.decode(latents), model.vae.encode(images),
                    model.dit.velocity(x, anchors: anchors, mask: mask, text: text, strides: strides, times: times)]
        }
        let (one, two, again) = await BLASThreadGate.exclusive {
            let saved = BLAS.threadCount
            defer { BLAS.threadCount = saved }
            return (run(threads: 1), run(threads: 2), run(threads: 2))
        }
        // The VAE's GEMMs are per image whatever the batch, so splitting frames changes no bit.
        #expect(one[0] == two[0] && one[1] == two[1])
        // The DiT's GEMMs see fewer rows per call, and OpenBLAS's blocking (so its rounding)
        // depends on that: close, not identical. Farm workers run one thread, never split.
        #expect(relativeError(two[2], one[2]) <= 1e-5)
        #expect(two == again, "a split run is deterministic")
    }

    @Test("the position table in the weights equals the documented sinusoidal layout")
    func positions() throws {
        let model = try ReelTinyModel(folder: ParityFixture.folder)
        let c = model.dit.config, g = c.latentSize / c.patch
        let part = 2 * (c.dim / 6), tDim = c.dim - 2 * part
        var expected: [Float] = []
        for t in 0..<c.frames { for y in 0..<g { for x in 0..<g {
            expected += ReelTinyDiT.sinusoidalEmbedding([Float(t)], dim: tDim, maxPeriod: 100).scalars
            expected += ReelTinyDiT.sinusoidalEmbedding([Float(y)], dim: part, maxPeriod: 100).scalars
            expected += ReelTinyDiT.sinusoidalEmbedding([Float(x)], dim: part, maxPeriod: 100).scalars
        }}}
        #expect(model.dit.position.maxAbsDifference(Tensor(shape: model.dit.position.shape, scalars: expected)) < 1e-5)
    }
}

@Suite("Loading reel-tiny: bad weights give one clear sentence")
struct ReelTinyLoadingTests {
    func copyOfFixture() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reel-tiny-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: ParityFixture.folder, to: folder)
        return folder
    }

    /// Flips a byte near the end of `name` in `folder` and returns the error loading the model
    /// then gives, after checking that it is a checksum mismatch naming that file.
    func loadAfterFlippingAByte(of name: String, in folder: URL) throws -> ReelTinyError? {
        let url = folder.appendingPathComponent(name)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 3] ^= 0xff
        try bytes.write(to: url)
        let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
        guard case .checksumMismatch(let file, _, _) = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return error
        }
        #expect(file == name)
        return error
    }

    @Test("a flipped byte in the weights fails the checksum")
    func corrupt() throws {
        let folder = try copyOfFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = try loadAfterFlippingAByte(of: "dit.safetensors", in: folder)
        #expect(error?.description.contains("corrupt") == true)
    }

    @Test("a missing weights file is named")
    func missing() throws {
        let folder = try copyOfFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("vae.safetensors"))
        let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
        #expect(error?.description.contains("vae.safetensors") == true)
    }

    @Test("a config that does not match the weights is reported")
    func mismatchedConfig() throws {
        let folder = try copyOfFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var dit = config["dit"] as! [String: Any]
        dit["dim"] = 64
        config["dit"] = dit
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
        guard case .badWeights = error else { Issue.record("expected badWeights, got \(String(describing: error))"); return }
    }

    @Test("a noise prior outside [0, 1) is refused with the field named")
    func badNoisePrior() throws {
        let folder = try copyOfFixture()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        config["noise"] = ["shared_fraction": 1.0]
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
        #expect(error?.description.contains("noise.shared_fraction") == true)
    }

    @Test("attention spans that are unknown or do not match the depth are refused with the field named")
    func badAttentionSpans() throws {
        for spans in [["space", "sideways"], ["space"]] {
            let folder = try ParityFixture.factorisedFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let url = folder.appendingPathComponent("config.json")
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            var dit = config["dit"] as! [String: Any]
            dit["attention_spans"] = spans
            config["dit"] = dit
            try JSONSerialization.data(withJSONObject: config).write(to: url)
            let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
            guard case .badConfig = error else { Issue.record("expected badConfig, got \(String(describing: error))"); continue }
            #expect(error?.description.contains("attention_spans") == true)
        }
    }

    @Test("layout channels need a planner section, and only 0 or 4 channels are known; both refused with the field named")
    func badLayoutConfig() throws {
        let edits: [(inout [String: Any]) -> Void] = [
            { $0["planner"] = nil },
            { config in
                var dit = config["dit"] as! [String: Any]
                dit["layout_channels"] = 3
                config["dit"] = dit
            },
            { config in
                var planner = config["planner"] as! [String: Any]
                planner["frames"] = 16
                config["planner"] = planner
            },
        ]
        for (edit, field) in zip(edits, ["planner", "dit.layout_channels", "planner.frames"]) {
            let folder = try ParityFixture.folder(withConfig: "config_layout.json")
            defer { try? FileManager.default.removeItem(at: folder) }
            try ParityFixture.editConfig(in: folder, edit)
            let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel(folder: folder) }
            guard case .badConfig = error else { Issue.record("expected badConfig, got \(String(describing: error))"); continue }
            #expect(error?.description.contains(field) == true, "\(String(describing: error))")
        }
    }

    @Test("a flipped byte in the planner's weights fails its checksum")
    func corruptPlanner() throws {
        let folder = try ParityFixture.folder(withConfig: "config_layout.json")
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try loadAfterFlippingAByte(of: "planner.safetensors", in: folder)
    }

    @Test("no model folder: the error says where Reel looked")
    func absent() {
        let error = #expect(throws: ReelTinyError.self) { try ReelTinyModel.locate(environment: ["REEL_MODEL_DIR": "/nonexistent/reel-tiny"]) }
        #expect(error?.description.contains("/nonexistent/reel-tiny") == true)
    }
}
