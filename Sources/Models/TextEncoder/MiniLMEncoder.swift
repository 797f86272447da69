import Foundation
import Tensors

/// all-MiniLM-L6-v2 as sentence-transformers runs it: WordPiece tokens → 6-layer BERT
/// (384 wide, 12 heads, GELU) → mean over the real tokens → L2 normalisation. Output: 384 floats
/// of unit length per text.
public struct MiniLMEncoder: Sendable {
    /// Width of the embedding.
    public static let dimension = 384
    /// Longest token sequence (sentence-transformers' `max_seq_length`), [CLS] and [SEP] included.
    public static let maxTokens = 256

    struct Layer: Sendable {
        let query, key, value, attentionOut: (weight: Tensor, bias: Tensor)
        let attentionNorm: (gamma: Tensor, beta: Tensor)
        let intermediate, output: (weight: Tensor, bias: Tensor)
        let outputNorm: (gamma: Tensor, beta: Tensor)
    }

    public let tokenizer: WordPieceTokenizer
    let wordEmbeddings: Tensor
    let positionEmbeddings: Tensor
    let tokenTypeEmbeddings: Tensor
    let embeddingNorm: (gamma: Tensor, beta: Tensor)
    let layers: [Layer]
    let heads = 12
    let epsilon: Float = 1e-12

    /// Loads from the folder `MiniLMLocator` finds.
    public init() throws {
        try self.init(folder: MiniLMLocator.locate())
    }

    /// Loads `model.safetensors` and `vocab.txt` from `folder`.
    public init(folder: URL) throws {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors"))
        } catch {
            throw TextEncoderError.badWeights(error.description)
        }
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            let t: Tensor
            do { t = try file.tensor(name) } catch { throw TextEncoderError.badWeights(error.description) }
            guard t.shape == shape else { throw TextEncoderError.badWeights("\(name) is \(t.shape), expected \(shape)") }
            return t
        }
        let d = Self.dimension
        func dense(_ prefix: String, _ outputs: Int, _ inputs: Int) throws -> (weight: Tensor, bias: Tensor) {
            (try load("\(prefix).weight", [outputs, inputs]), try load("\(prefix).bias", [outputs]))
        }
        func norm(_ prefix: String) throws -> (gamma: Tensor, beta: Tensor) {
            (try load("\(prefix).weight", [d]), try load("\(prefix).bias", [d]))
        }
        tokenizer = try WordPieceTokenizer(vocabularyFile: folder.appendingPathComponent("vocab.txt"))
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [tokenizer.vocabulary.count, d])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [512, d])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [2, d])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<6).map { i in
            let p = "encoder.layer.\(i)"
            return Layer(
                query: try dense("\(p).attention.self.query", d, d),
                key: try dense("\(p).attention.self.key", d, d),
                value: try dense("\(p).attention.self.value", d, d),
                attentionOut: try dense("\(p).attention.output.dense", d, d),
                attentionNorm: try norm("\(p).attention.output.LayerNorm"),
                intermediate: try dense("\(p).intermediate.dense", 4 * d, d),
                output: try dense("\(p).output.dense", d, 4 * d),
                outputNorm: try norm("\(p).output.LayerNorm"))
        }
    }

    /// The embedding of one text.
    public func embed(_ text: String) -> [Float] {
        embed([text])[0]
    }

    /// Embeddings of several texts, run as one padded batch.
    public func embed(_ texts: [String]) -> [[Float]] {
        if texts.isEmpty { return [] }
        let tokenIDs = texts.map { tokenizer.encode($0, maxLength: Self.maxTokens) }
        let hidden = encode(tokenIDs)
        return meanPool(hidden, lengths: tokenIDs.map(\.count)).l2NormalizedRows().rows
    }

    /// The embedding of one text and MiniLM's last hidden state of each of its tokens ([CLS] and
    /// [SEP] included): what a DiT that reads word states takes (see `ReelTinyDiT`).
    public func embedWithWords(_ text: String) -> (pooled: [Float], words: [[Float]]) {
        let tokenIDs = [tokenizer.encode(text, maxLength: Self.maxTokens)]
        let hidden = encode(tokenIDs)
        let pooled = meanPool(hidden, lengths: [tokenIDs[0].count]).l2NormalizedRows().rows[0]
        return (pooled, hidden.reshaped([tokenIDs[0].count, Self.dimension]).rows)
    }

    /// Last hidden states `[batch, length, 384]` for already tokenised, unpadded sequences.
    func encode(_ tokenIDs: [[Int]]) -> Tensor {
        let batch = tokenIDs.count
        let length = tokenIDs.map(\.count).max() ?? 0
        let d = Self.dimension
        var ids: [Int] = []
        var positions: [Int] = []
        for sequence in tokenIDs {
            ids += sequence + Array(repeating: tokenizer.paddingID, count: length - sequence.count)
            positions += Array(0..<length)
        }
        var x = Tensor.gatherRows(wordEmbeddings, indices: ids)
            + Tensor.gatherRows(positionEmbeddings, indices: positions)
        x = x.addingRowVector(Tensor.gatherRows(tokenTypeEmbeddings, indices: [0]).reshaped([d]))
        x = x.layerNorm(gamma: embeddingNorm.gamma, beta: embeddingNorm.beta, epsilon: epsilon)
            .reshaped([batch, length, d])
        let mask = AttentionMask.keyPadding(tokenIDs.map { seq in (0..<length).map { $0 < seq.count } })

        for layer in layers {
            let q = Tensor.linear(x, weight: layer.query.weight, bias: layer.query.bias)
            let k = Tensor.linear(x, weight: layer.key.weight, bias: layer.key.bias)
            let v = Tensor.linear(x, weight: layer.value.weight, bias: layer.value.bias)
            let context = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: heads, mask: mask)
            let attended = Tensor.linear(context, weight: layer.attentionOut.weight, bias: layer.attentionOut.bias)
            x = (attended + x).layerNorm(gamma: layer.attentionNorm.gamma, beta: layer.attentionNorm.beta, epsilon: epsilon)
            let expanded = Tensor.linear(x, weight: layer.intermediate.weight, bias: layer.intermediate.bias).gelu()
            let projected = Tensor.linear(expanded, weight: layer.output.weight, bias: layer.output.bias)
            x = (projected + x).layerNorm(gamma: layer.outputNorm.gamma, beta: layer.outputNorm.beta, epsilon: epsilon)
        }
        return x
    }

    /// Mean of each sequence's first `lengths[b]` rows: `[batch, length, d]` → `[batch, d]`.
    func meanPool(_ hidden: Tensor, lengths: [Int]) -> Tensor {
        let length = hidden.shape[1], d = hidden.shape[2]
        var pooled = [Float](repeating: 0, count: lengths.count * d)
        for (b, count) in lengths.enumerated() {
            for t in 0..<count {
                let base = (b * length + t) * d
                for j in 0..<d { pooled[b * d + j] += hidden.scalars[base + j] }
            }
            let inverse = 1 / Float(max(count, 1))
            for j in 0..<d { pooled[b * d + j] *= inverse }
        }
        return Tensor(shape: [lengths.count, d], scalars: pooled)
    }
}

extension Tensor {
    /// The rows of a 2-D tensor as arrays.
    public var rows: [[Float]] {
        precondition(rank == 2, "rows needs a 2-D tensor, got \(shape)")
        let width = shape[1]
        return (0..<shape[0]).map { Array(scalars[($0 * width)..<(($0 + 1) * width)]) }
    }
}
