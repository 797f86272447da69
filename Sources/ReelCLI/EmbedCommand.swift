import ArgumentParser
import Foundation
import Models

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the 384-d MiniLM embedding of a text (what conditions the video model).",
        discussion: """
            The text goes through all-MiniLM-L6-v2 exactly as sentence-transformers runs it: \
            WordPiece tokens (at most 256), the 6-layer BERT encoder, mean pooling and L2 \
            normalisation. Weights come from scripts/setup.sh, or the folder in REEL_MINILM_DIR.
            """
    )

    @Argument(help: "The text to embed.")
    var text: String

    @Flag(help: "Print JSON: the text, its token ids and the embedding.")
    var json = false

    func run() throws {
        let encoder: MiniLMEncoder
        do { encoder = try MiniLMEncoder() } catch let error as TextEncoderError { throw UserError(error.description) }
        let ids = encoder.tokenizer.encode(text, maxLength: MiniLMEncoder.maxTokens)
        let vector = encoder.embed(text)
        if json {
            let object: [String: Any] = ["text": text, "token_ids": ids, "dimension": vector.count, "embedding": vector.map(Double.init)]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(vector.map { String(format: "%.6f", $0) }.joined(separator: " "))
        }
    }
}
