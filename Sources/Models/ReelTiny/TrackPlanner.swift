import Foundation
import Tensors

/// reel-tiny's track planner, the first stage of layout-then-video generation: a flow-matching
/// model of the subject's track given the prompt's pooled MiniLM embedding and the frame stride.
/// Its sample, made into channels by `SubjectLayout`, is the layout the DiT draws the window around.
///
/// The planner works on the normalised track `z`, `(v − trackCenter) / trackScale` for each
/// frame's v = (x, y, r) in pixels, flattened to `frames·3` values, with the DiT's flow convention
/// (t = 1 noise, t = 0 the track, velocity = noise − track). A residual MLP on that one token
/// (`TrackPlanner` in scripts/train/models.py): `c = silu(conditioning)` as the DiT makes it
/// (`FlowConditioning`); `h = inp(z)`; per block, with (shift, scale, gate) = `modulations[i](c)`,
/// `h += gate · mlps[i](layerNorm(h)·(1 + scale) + shift)` (SiLU MLPs); then with (shift, scale) =
/// `modulation_out(c)`, `v = out(layerNorm(h)·(1 + scale) + shift)`. Layer norms have no affine and
/// the DiT's epsilon.
///
/// With `config.wordHeads` = H > 0 the text feature also has the prompt's token states in it:
/// `textMLP(pooled) + wordFeature(tokens)`, where head h's softmax over the tokens of
/// `word_score(tokens)[:, h]` weighs block h of `word_value(tokens)` (dim / H channels each);
/// no tokens give zero. The pooled embedding alone is nearly a bag of words ("from left to right"
/// and "from right to left" pool alike); the heads can read the direction word in its context.
///
/// With `config.shapeNames` the planner also names the subject's shape (`shape(pooled:words:)`),
/// for a DiT whose layout coverage is the subject's own silhouette: logits =
/// `shape_out(silu(shape_in(pooled) + pool(tokens)))`, where `pool` is one softmax over the tokens
/// of `shape_score` weighing `shape_value` (`TrackPlanner.shape_logits` in scripts/train/models.py).
/// It reads the raw MiniLM inputs, not the track.
public struct TrackPlanner: Sendable {
    public let config: ReelTinyConfig.Planner
    let input: Linear
    let embedding: FlowConditioning
    let modulations: [Linear]
    let mlps: [MLP]
    let modulationOut: Linear
    let out: Linear
    let wordScore: Linear?
    let wordValue: Linear?
    let shapeHead: (input: Linear, score: Linear, value: Linear, out: Linear)?
    let epsilon: Float

    init(weights: SafetensorsFile, config: ReelTinyConfig.Planner, epsilon: Float) throws {
        self.config = config
        let w = WeightTable(file: weights, prefix: "")
        let d = config.dim, values = config.frames * 3
        input = try Linear(w, "inp", inputs: values, outputs: d)
        embedding = try FlowConditioning(w, dim: d, textDim: config.textDim, frequencyDim: config.frequencyDim)
        modulations = try (0..<config.depth).map { try Linear(w, "modulations.\($0)", inputs: d, outputs: 3 * d) }
        mlps = try (0..<config.depth).map {
            try MLP(w, "mlps.\($0)", inputs: d, hidden: config.mlpRatio * d, outputs: d, activation: .silu)
        }
        modulationOut = try Linear(w, "modulation_out", inputs: d, outputs: 2 * d)
        out = try Linear(w, "out", inputs: d, outputs: values)
        if config.readsWords {
            wordScore = try Linear(w, "word_score", inputs: config.textDim, outputs: config.wordHeads ?? 0)
            wordValue = try Linear(w, "word_value", inputs: config.textDim, outputs: d)
        } else {
            wordScore = nil
            wordValue = nil
        }
        if let names = config.shapeNames, let hidden = config.shapeHidden {
            shapeHead = (try Linear(w, "shape_in", inputs: config.textDim, outputs: hidden),
                         try Linear(w, "shape_score", inputs: config.textDim, outputs: 1),
                         try Linear(w, "shape_value", inputs: config.textDim, outputs: hidden),
                         try Linear(w, "shape_out", inputs: hidden, outputs: names.count))
        } else {
            shapeHead = nil
        }
        self.epsilon = epsilon
    }

    /// Values of one track: (x, y, r) for each frame.
    public var trackValues: Int { config.frames * 3 }

    /// Velocity `[n, frames·3]` for normalised tracks `z [n, frames·3]`, pooled text embeddings
    /// `text [n, textDim]` (raw MiniLM; all zeros = no text), and `strides` and flow `times` of n
    /// values each. `words`: for a planner that reads them, each item's token states
    /// `[L_i, textDim]` (L_i may be 0; all-zero rows are padding), or empty for none at all.
    public func velocity(z: Tensor, text: Tensor, words: [Tensor] = [], strides: [Float], times: [Float]) -> Tensor {
        let n = z.shape[0], d = config.dim
        precondition(z.shape == [n, trackValues] && text.shape == [n, config.textDim] && strides.count == n && times.count == n,
                     "z must be [n, \(trackValues)] with one text [\(config.textDim)], stride and time per item")
        precondition(words.isEmpty || words.count == n, "words must hold the token states of every item, or none")
        var feature = embedding.textMLP(text)
        if let wordScore, let wordValue, !words.isEmpty {
            feature = feature + Tensor(shape: [n, d], scalars: words.flatMap { wordFeature($0, score: wordScore, value: wordValue) })
        }
        let c = embedding(textFeature: feature, strides: strides, times: times).silu()
        var h = input(z).reshaped([n, 1, d])
        for (modulation, mlp) in zip(modulations, mlps) {
            let m = modulation(c).chunkedLastAxis(3)
            h = h.addingGated(mlp(h.layerNorm(epsilon: epsilon).modulated(shift: m[0], scale: m[1])), gate: m[2])
        }
        let final = modulationOut(c).chunkedLastAxis(2)
        return out(h.layerNorm(epsilon: epsilon).modulated(shift: final[0], scale: final[1])).reshaped([n, trackValues])
    }

    /// The attention-pooled token feature (`dim` values) of token states `[L, textDim]`.
    func wordFeature(_ tokens: Tensor, score: Linear, value: Linear) -> [Float] {
        Self.attentionPool(tokens, score: score, value: value, heads: config.wordHeads ?? 0, width: config.dim, textDim: config.textDim)
    }

    /// Per head h, the softmax over the tokens of `score(tokens)[:, h]` weighing channel block h
    /// (`width / heads` wide) of `value(tokens)`, for token states `[L, textDim]`: rows that are all
    /// zero (padding) are skipped; zero when no row is left.
    static func attentionPool(_ tokens: Tensor, score: Linear, value: Linear, heads: Int, width d: Int, textDim: Int) -> [Float] {
        let width = d / heads
        let rows = tokens.shape.first ?? 0
        let kept = (0..<rows).filter { r in tokens.scalars[(r * textDim)..<((r + 1) * textDim)].contains { $0 != 0 } }
        guard !kept.isEmpty else { return [Float](repeating: 0, count: d) }
        let chosen = Tensor(shape: [kept.count, textDim], scalars: kept.flatMap { tokens.scalars[($0 * textDim)..<(($0 + 1) * textDim)] })
        let scores = score(chosen).scalars, values = value(chosen).scalars
        // One row of token scores per head, each softmaxed over the tokens.
        let tokenCount = kept.count
        let weights = Tensor(shape: [heads, tokenCount], scalars: (0..<heads).flatMap { h in (0..<tokenCount).map { scores[$0 * heads + h] } })
            .softmaxLastAxis().scalars
        var feature = [Float](repeating: 0, count: d)
        for h in 0..<heads {
            for k in 0..<tokenCount {
                let weight = weights[h * tokenCount + k]
                for j in 0..<width { feature[h * width + j] += weight * values[k * d + h * width + j] }
            }
        }
        return feature
    }

    /// A track in pixels, (x, y, r) per frame, for the pooled text embedding `text` (`textDim`
    /// values) and, for a planner that reads them, the prompt's token states `words` (rows of
    /// `textDim` values, flattened; the no-text pass sees none) at frame `stride`, from the
    /// initial noise `noise` (`trackValues` standard normals):
    /// Euler from t = 1 to t = 0 in `config.steps` uniform steps; with `config.cfgScale` ≠ 1 the
    /// velocity is `v_null + cfgScale·(v_text − v_null)`, the no-text pass (all-zero text) batched
    /// with the text pass. `sample_tracks` in scripts/train/train_planner.py.
    public func sampleTrack(text: [Float], words: [Float] = [], stride: Int, noise: [Float]) -> [Float] {
        precondition(text.count == config.textDim && noise.count == trackValues && words.count % config.textDim == 0,
                     "a track needs \(config.textDim) text values, whole token rows and \(trackValues) noise values")
        let guided = config.cfgScale != 1
        let batch = guided ? 2 : 1
        let texts = Tensor(shape: [batch, config.textDim], scalars: text + [Float](repeating: 0, count: (batch - 1) * config.textDim))
        let strides = [Float](repeating: Float(stride), count: batch)
        let tokens = Tensor(shape: [words.count / config.textDim, config.textDim], scalars: words)
        let wordBatch = config.readsWords ? [tokens] + (guided ? [Tensor(shape: [0, config.textDim], scalars: [])] : []) : []
        var z = noise
        for step in 0..<config.steps {
            let t = Float(config.steps - step) / Float(config.steps), next = Float(config.steps - step - 1) / Float(config.steps)
            let v = velocity(z: Tensor(shape: [batch, trackValues], scalars: Array([[Float]](repeating: z, count: batch).joined())),
                             text: texts, words: wordBatch, strides: strides, times: [Float](repeating: t, count: batch)).scalars
            for i in 0..<trackValues {
                let velocity = guided ? v[trackValues + i] + config.cfgScale * (v[i] - v[trackValues + i]) : v[i]
                z[i] += (next - t) * velocity
            }
        }
        return z.indices.map { z[$0] * config.trackScale[$0 % 3] + config.trackCenter[$0 % 3] }
    }

    /// The shape head's logits (one per `config.shapeNames`) for a pooled embedding (`textDim`
    /// values) and token states (rows of `textDim`, flattened; may be empty); nil without a head.
    public func shapeLogits(pooled: [Float], words: [Float]) -> [Float]? {
        guard let head = shapeHead else { return nil }
        precondition(pooled.count == config.textDim && words.count % config.textDim == 0, "the shape head needs \(config.textDim) pooled values and whole token rows")
        let tokens = Tensor(shape: [words.count / config.textDim, config.textDim], scalars: words)
        let hidden = head.input(Tensor(shape: [1, config.textDim], scalars: pooled)).scalars
        let pooledTokens = Self.attentionPool(tokens, score: head.score, value: head.value, heads: 1, width: hidden.count, textDim: config.textDim)
        let sum = Tensor(shape: [1, hidden.count], scalars: zip(hidden, pooledTokens).map { $0 + $1 })
        return head.out(sum.silu()).scalars
    }

    /// The subject's shape the head names for the prompt (the largest logit); nil without a head.
    public func shape(pooled: [Float], words: [Float]) -> SubjectShape? {
        guard let logits = shapeLogits(pooled: pooled, words: words), let names = config.shapeNames,
              let best = logits.indices.max(by: { logits[$0] < logits[$1] }) else { return nil }
        return SubjectShape(rawValue: names[best])
    }
}
