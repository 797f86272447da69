import Foundation
import Tensors

/// A linear layer in PyTorch's layout.
struct Linear: Sendable {
    let weight: Tensor
    let bias: Tensor

    init(_ w: WeightTable, _ name: String, inputs: Int, outputs: Int) throws {
        weight = try w("\(name).weight", [outputs, inputs])
        bias = try w("\(name).bias", [outputs])
    }

    func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }
}

/// `fc2(activation(fc1(x)))`.
struct MLP: Sendable {
    enum Activation: Sendable { case silu, gelu, geluTanh }
    let fc1: Linear, fc2: Linear, activation: Activation

    init(_ w: WeightTable, _ name: String, inputs: Int, hidden: Int, outputs: Int, activation: Activation) throws {
        fc1 = try Linear(w, "\(name).fc1", inputs: inputs, outputs: hidden)
        fc2 = try Linear(w, "\(name).fc2", inputs: hidden, outputs: outputs)
        self.activation = activation
    }

    func callAsFunction(_ x: Tensor) -> Tensor { fc2(activate(fc1(x))) }

    func activate(_ h: Tensor) -> Tensor {
        switch activation {
        case .silu: return h.silu()
        case .gelu: return h.gelu()
        case .geluTanh: return h.gelu(exact: false)
        }
    }
}

/// The conditioning vector of the DiT and of the track planner, before its SiLU:
/// `timeMLP(emb(1000·t)) + strideMLP(emb(200·log2 stride)) + textMLP(text)`, `emb` the sinusoidal
/// embedding of width `frequencyDim` (`ReelTinyDiT.sinusoidalEmbedding`). Weights `time_mlp`,
/// `stride_mlp` and `text_mlp`; training's text normalisation is folded into `text_mlp.fc1`, so
/// the text is the raw MiniLM embedding.
struct FlowConditioning: Sendable {
    let timeMLP: MLP, strideMLP: MLP, textMLP: MLP
    let frequencyDim: Int

    init(_ w: WeightTable, dim: Int, textDim: Int, frequencyDim: Int) throws {
        timeMLP = try MLP(w, "time_mlp", inputs: frequencyDim, hidden: dim, outputs: dim, activation: .silu)
        strideMLP = try MLP(w, "stride_mlp", inputs: frequencyDim, hidden: dim, outputs: dim, activation: .silu)
        textMLP = try MLP(w, "text_mlp", inputs: textDim, hidden: dim, outputs: dim, activation: .silu)
        self.frequencyDim = frequencyDim
    }

    /// `[n, dim]` from the text feature `textMLP(text) [n, dim]`, strides and flow times (n each).
    func callAsFunction(textFeature: Tensor, strides: [Float], times: [Float]) -> Tensor {
        timeMLP(ReelTinyDiT.sinusoidalEmbedding(times.map { 1000 * $0 }, dim: frequencyDim))
            + strideMLP(ReelTinyDiT.sinusoidalEmbedding(strides.map { 200 * log2f($0) }, dim: frequencyDim))
            + textFeature
    }
}

/// The 26 non-zero (dt, dy, dx) in {−1, 0, 1}³, dt slowest, dx fastest (`SHIFT_OFFSETS` in models.py).
let shiftOffsets: [(dt: Int, dy: Int, dx: Int)] = {
    var offsets: [(dt: Int, dy: Int, dx: Int)] = []
    for dt in -1...1 {
        for dy in -1...1 {
            for dx in -1...1 where dt != 0 || dy != 0 || dx != 0 { offsets.append((dt, dy, dx)) }
        }
    }
    return offsets
}()

/// Shifts channel groups of `h [n, T·g·g, C]` (tokens in (t, y, x) order) to neighbouring tokens
/// (config `local_mixing` "shift"; `spacetime_shift` in scripts/train/models.py): with G = C / 52,
/// channels [kG, (k+1)G) of token (t, y, x) take the values of token (t+dt, y+dy, x+dx) for the
/// k-th of the 26 non-zero offsets in {−1, 0, 1}³ (dt slowest, dx fastest), zero where that token
/// is outside the window; channels from 26G on stay.
func spacetimeShift(_ h: Tensor, frames: Int, grid g: Int) -> Tensor {
    let (n, length, channels) = (h.shape[0], h.shape[1], h.shape[2])
    precondition(length == frames * g * g, "a window has \(frames * g * g) tokens, got \(length)")
    let group = channels / (2 * shiftOffsets.count)
    let kept = shiftOffsets.count * group
    var out = [Float](repeating: 0, count: h.scalars.count)
    out.withUnsafeMutableBufferPointer { o in
        h.scalars.withUnsafeBufferPointer { x in
            for token in 0..<(n * length) {
                let within = token % length, item = token - within
                let (t, y, xx) = (within / (g * g), (within / g) % g, within % g)
                let row = token * channels
                for c in kept..<channels { o[row + c] = x[row + c] }
                for (k, (dt, dy, dx)) in shiftOffsets.enumerated() {
                    let (st, sy, sx) = (t + dt, y + dy, xx + dx)
                    guard st >= 0, st < frames, sy >= 0, sy < g, sx >= 0, sx < g else { continue }
                    let source = (item + (st * g + sy) * g + sx) * channels
                    for c in (k * group)..<((k + 1) * group) { o[row + c] = x[source + c] }
                }
            }
        }
    }
    return Tensor(shape: h.shape, scalars: out)
}

/// Every token attends to the window's text tokens (config `text_tokens`; `CrossAttention` in
/// scripts/train/models.py): `proj(attention(q(layerNorm(x)), kv(context)))`, inner width dim / 2
/// in two heads, keys then values in kv's output. No adaLN gate: proj starts at zero in training.
struct CrossAttention: Sendable {
    static let heads = 2
    let q: Linear, kv: Linear, proj: Linear
    let epsilon: Float

    init(_ w: WeightTable, dim: Int, epsilon: Float) throws {
        let inner = dim / 2
        q = try Linear(w, "q", inputs: dim, outputs: inner)
        kv = try Linear(w, "kv", inputs: dim, outputs: 2 * inner)
        proj = try Linear(w, "proj", inputs: inner, outputs: dim)
        self.epsilon = epsilon
    }

    /// `x [n, L, d]`, `context [n, K, d]` with the key mask `contextMask` → `[n, L, d]`.
    func callAsFunction(_ x: Tensor, context: Tensor, contextMask: AttentionMask) -> Tensor {
        let keysValues = kv(context).chunkedLastAxis(2)
        return proj(Tensor.multiHeadAttention(query: q(x.layerNorm(epsilon: epsilon)), key: keysValues[0],
                                              value: keysValues[1], heads: Self.heads, mask: contextMask))
    }
}

/// One pre-norm transformer block with adaLN-zero modulation from the conditioning vector.
struct DiTBlock: Sendable {
    let qkv: Linear, proj: Linear, mlp: MLP, modulation: Linear
    /// With text tokens: the cross-attention to them, after the self-attention.
    let cross: CrossAttention?
    /// With `local_mixing` "shift": fc1's output shifted to neighbouring tokens before the activation.
    let localMixing: ReelTinyConfig.LocalMixing
    /// Token rows (= columns) of a frame, for local mixing.
    let grid: Int
    let heads: Int
    let epsilon: Float
    let span: ReelTinyConfig.AttentionSpan
    /// Frames of a window: how the (t, y, x)-ordered tokens split for the "space" and "time" spans.
    let frames: Int

    init(_ w: WeightTable, dim: Int, heads: Int, mlpRatio: Int, epsilon: Float, activation: MLP.Activation,
         span: ReelTinyConfig.AttentionSpan, frames: Int, grid: Int, localMixing: ReelTinyConfig.LocalMixing,
         crossAttention: Bool) throws {
        qkv = try Linear(w, "qkv", inputs: dim, outputs: 3 * dim)
        cross = crossAttention ? try CrossAttention(w.scoped("cross."), dim: dim, epsilon: epsilon) : nil
        self.localMixing = localMixing
        self.grid = grid
        proj = try Linear(w, "proj", inputs: dim, outputs: dim)
        mlp = try MLP(w, "mlp", inputs: dim, hidden: mlpRatio * dim, outputs: dim, activation: activation)
        modulation = try Linear(w, "modulation", inputs: dim, outputs: 6 * dim)
        self.heads = heads
        self.epsilon = epsilon
        self.span = span
        self.frames = frames
    }

    /// Self-attention over the block's span. Tokens are in (t, y, x) order, so "space" is the
    /// reshape `[n, T·S, d] → [n·T, S, d]` and "time" the transpose `[n, T, S, d] → [n·S, T, d]`.
    func attention(_ x: Tensor) -> Tensor {
        let (n, length, d) = (x.shape[0], x.shape[1], x.shape[2])
        let perFrame = length / frames
        let grouped: Tensor
        switch span {
        case .full: grouped = x
        case .space: grouped = x.reshaped([n * frames, perFrame, d])
        case .time: grouped = x.reshaped([n, frames, perFrame, d]).permuted([0, 2, 1, 3]).reshaped([n * perFrame, frames, d])
        }
        let parts = qkv(grouped).chunkedLastAxis(3)
        let attended = proj(Tensor.multiHeadAttention(query: parts[0], key: parts[1], value: parts[2], heads: heads))
        switch span {
        case .full: return attended
        case .space: return attended.reshaped([n, length, d])
        case .time: return attended.reshaped([n, perFrame, frames, d]).permuted([0, 2, 1, 3]).reshaped([n, length, d])
        }
    }

    /// `x [n, L, d]`, `conditioningSiLU [n, d]` (SiLU already applied, shared by every block),
    /// `context [n, K, d]` the text tokens (nil without cross-attention) and `contextMask` which of
    /// them count.
    func callAsFunction(_ x: Tensor, _ conditioningSiLU: Tensor, context: Tensor?, contextMask: AttentionMask) -> Tensor {
        let m = modulation(conditioningSiLU).chunkedLastAxis(6)
        let attended = attention(x.layerNorm(epsilon: epsilon).modulated(shift: m[0], scale: m[1]))
        var h = x.addingGated(attended, gate: m[2])
        if let cross, let context { h = h + cross(h, context: context, contextMask: contextMask) }
        let mlpIn = h.layerNorm(epsilon: epsilon).modulated(shift: m[3], scale: m[4])
        switch localMixing {
        case .none: return h.addingGated(mlp(mlpIn), gate: m[5])
        case .shift:
            let shifted = spacetimeShift(mlp.fc1(mlpIn), frames: frames, grid: grid)
            return h.addingGated(mlp.fc2(mlp.activate(shifted)), gate: m[5])
        }
    }
}

/// reel-tiny's diffusion transformer: the velocity of a window of latent frames.
///
/// Inputs per batch item: noisy latents `[T, C, H, W]` (unit-variance space), anchor latents of the
/// same shape with a per-frame mask (1 = the frame is a given anchor), the pooled 384-d MiniLM text
/// embedding (all zeros = no text, for guidance), the frame stride and the flow time t ∈ [0, 1].
/// A model with `text_words` also takes MiniLM's per-token states: the text is then `[1 + L, 384]`,
/// the pooled embedding followed by one row per token, all-zero rows padding (`ClipGenerator.textInput`).
/// A model with `layout_channels` L > 0 also takes the subject's layout, `[T, L, H, W]` per item
/// (`SubjectLayout`), appended to each frame's channels; none is all zeros.
/// Tokens are 2×2 spatial patches of `[x, anchors · mask, mask, layout]`, one set per frame. Each block's
/// self-attention spans the whole window, one frame, or one patch position over time, as the
/// config's `attention_spans` says.
public struct ReelTinyDiT: Sendable {
    public let config: ReelTinyConfig.DiT
    let patchEmbed: Linear
    let position: Tensor
    let embedding: FlowConditioning
    /// Layout channels per latent pixel (config `layout_channels`; 0 = the model takes no layout).
    public let layoutChannels: Int
    /// Whether the layout's coverage channel is the subject's own shape (`SubjectLayout.shape`)
    /// rather than a disc (`dit.layout_coverage`).
    public let coverageFollowsShape: Bool
    /// With text tokens (config `text_tokens` K > 0): the text feature → K tokens of width dim.
    let textToTokens: Linear?
    let textTokens: Int
    /// With `text_words`: a word state (384) → a context token of width dim.
    let wordProjection: Linear?
    let blocks: [DiTBlock]
    let modulationOut: Linear
    let out: Linear

    init(weights: SafetensorsFile, config: ReelTinyConfig.DiT) throws {
        self.config = config
        let w = WeightTable(file: weights, prefix: "")
        let d = config.dim, p = config.patch, c = config.latentChannels
        let grid = config.latentSize / p
        layoutChannels = try config.layoutChannelCount()
        coverageFollowsShape = try config.coverageFollowsShape()
        patchEmbed = try Linear(w, "patch_embed", inputs: (2 * c + 1 + layoutChannels) * p * p, outputs: d)
        position = try w("position", [config.frames * grid * grid, d])
        embedding = try FlowConditioning(w, dim: d, textDim: config.textDim, frequencyDim: config.frequencyDim)
        let spans = try config.spans()
        let localMixing = try config.mixing()
        let textTokens = try config.textTokenCount()
        self.textTokens = textTokens
        textToTokens = textTokens > 0 ? try Linear(w, "text_to_tokens", inputs: d, outputs: textTokens * d) : nil
        wordProjection = config.takesWords ? try Linear(w, "word_proj", inputs: config.textDim, outputs: d) : nil
        blocks = try (0..<config.depth).map {
            try DiTBlock(w.scoped("blocks.\($0)."), dim: d, heads: config.heads, mlpRatio: config.mlpRatio,
                         epsilon: config.layerNormEps, activation: config.gelu.hasPrefix("tanh") ? .geluTanh : .gelu,
                         span: spans[$0], frames: config.frames, grid: grid, localMixing: localMixing,
                         crossAttention: textTokens > 0)
        }
        modulationOut = try Linear(w, "modulation_out", inputs: d, outputs: 2 * d)
        out = try Linear(w, "out", inputs: d, outputs: c * p * p)
    }

    /// `[n]` values → `[n, dim]`: `cos(v·f_k)` then `sin(v·f_k)`, `f_k = maxPeriod^(−k/(dim/2))`.
    static func sinusoidalEmbedding(_ values: [Float], dim: Int, maxPeriod: Float = 10000) -> Tensor {
        let half = dim / 2
        var out = [Float](repeating: 0, count: values.count * dim)
        for (i, v) in values.enumerated() {
            for k in 0..<half {
                let frequency = expf(-logf(maxPeriod) * Float(k) / Float(half))
                out[i * dim + k] = cosf(v * frequency)
                out[i * dim + half + k] = sinf(v * frequency)
            }
        }
        return Tensor(shape: [values.count, dim], scalars: out)
    }

    /// The text tokens `[n, K, dim]`: `layerNorm(textToTokens(silu(textFeature)))` per token, no
    /// affine; nil without text tokens.
    func textContext(textFeature: Tensor) -> Tensor? {
        guard let textToTokens else { return nil }
        let n = textFeature.shape[0]
        return textToTokens(textFeature.silu()).reshaped([n, textTokens, config.dim]).layerNorm(epsilon: config.layerNormEps)
    }

    /// The text tokens followed by the word states `words [n, L, textDim]` projected to dim and
    /// normalised (no affine), and the key mask: all-zero word rows are padding.
    func wordContext(tokens: Tensor, words: Tensor) -> (Tensor, AttentionMask) {
        let (n, k, length, width) = (tokens.shape[0], tokens.shape[1], words.shape[1], words.shape[2])
        guard length > 0, let wordProjection else { return (tokens, .none) }
        var valid = [[Bool]](repeating: [Bool](repeating: true, count: k + length), count: n)
        for b in 0..<n {
            for j in 0..<length {
                let row = (b * length + j) * width
                valid[b][k + j] = words.scalars[row..<(row + width)].contains { $0 != 0 }
            }
        }
        let projected = wordProjection(words).layerNorm(epsilon: config.layerNormEps)
        return (Tensor.concatenate([tokens, projected], axis: 1), .keyPadding(valid))
    }

    /// `text [n, textDim]` or `[n, R, textDim]` → the pooled rows `[n, textDim]` and the word rows
    /// `[n, R - 1, textDim]` (none for a 2-D text).
    static func splitText(_ text: Tensor) -> (pooled: Tensor, words: Tensor) {
        guard text.rank == 3 else { return (text, Tensor(zeros: [text.shape[0], 0, text.shape[1]])) }
        let (n, rows, width) = (text.shape[0], text.shape[1], text.shape[2])
        var pooled: [Float] = [], words: [Float] = []
        pooled.reserveCapacity(n * width)
        words.reserveCapacity(n * (rows - 1) * width)
        for b in 0..<n {
            let base = b * rows * width
            pooled += text.scalars[base..<(base + width)]
            words += text.scalars[(base + width)..<(base + rows * width)]
        }
        return (Tensor(shape: [n, width], scalars: pooled), Tensor(shape: [n, rows - 1, width], scalars: words))
    }

    /// Velocity `[n, T, C, H, W]` for `x [n, T, C, H, W]`, `anchors` of that shape, `mask [n, T]`,
    /// `text [n, textDim]` (or `[n, 1 + L, textDim]` with word states; a model without `text_words`
    /// reads only the pooled row), `strides` and `times` of `n` values each, and for a model with
    /// layout channels `layout [n, T, layoutChannels, H, W]` (nil: all zeros, no layout; a model
    /// without layout channels takes none).
    ///
    /// Items are independent: with several BLAS threads they are split across cores (the two
    /// guidance passes run side by side), each on single-threaded BLAS. Deterministic for a given
    /// thread count; within 1e-5 of a one-thread run (farm workers always run one thread).
    public func velocity(_ x: Tensor, anchors: Tensor, mask: Tensor, text: Tensor, strides: [Float], times: [Float],
                         layout: Tensor? = nil) -> Tensor {
        let (n, frames, c, size) = (x.shape[0], config.frames, config.latentChannels, config.latentSize)
        precondition(x.shape == [n, frames, c, size, size], "latents must be [n, \(frames), \(c), \(size), \(size)], got \(x.shape)")
        precondition(anchors.shape == x.shape && mask.shape == [n, frames], "anchors must match latents and mask be [n, \(frames)]")
        precondition((text.shape == [n, config.textDim] || (text.rank == 3 && text.shape[0] == n && text.shape[1] >= 1
                                                            && text.shape[2] == config.textDim))
                     && strides.count == n && times.count == n, "one text, stride and time per item")
        if let layout {
            precondition(layoutChannels > 0, "this DiT has no layout channels; pass no layout")
            precondition(layout.shape == [n, frames, layoutChannels, size, size],
                         "layout must be [n, \(frames), \(layoutChannels), \(size), \(size)], got \(layout.shape)")
        }
        let parts = BLAS.splitAcrossThreads(n) { range in
            velocityOnThisThread(x.slicedFirstAxis(range), anchors: anchors.slicedFirstAxis(range), mask: mask.slicedFirstAxis(range),
                                 text: text.slicedFirstAxis(range), strides: Array(strides[range]), times: Array(times[range]),
                                 layout: layout?.slicedFirstAxis(range))
        }
        return Tensor.concatenate(parts, axis: 0)
    }

    private func velocityOnThisThread(_ x: Tensor, anchors: Tensor, mask: Tensor, text: Tensor, strides: [Float], times: [Float],
                                      layout: Tensor?) -> Tensor {
        let (n, frames, c, size) = (x.shape[0], config.frames, config.latentChannels, config.latentSize)
        let p = config.patch, g = size / p, plane = size * size
        let l = layoutChannels, k = 2 * c + 1 + l

        // [x, anchors · mask, mask, layout] per frame: [n, T, 2C+1+L, H, W] (the layout zeros when nil).
        var inputs = [Float](repeating: 0, count: n * frames * k * plane)
        for b in 0..<n {
            for t in 0..<frames {
                let m = mask.scalars[b * frames + t]
                let src = (b * frames + t) * c * plane
                let dst = (b * frames + t) * k * plane
                for i in 0..<(c * plane) {
                    inputs[dst + i] = x.scalars[src + i]
                    inputs[dst + c * plane + i] = anchors.scalars[src + i] * m
                }
                for i in 0..<plane { inputs[dst + 2 * c * plane + i] = m }
                if let layout {
                    let from = (b * frames + t) * l * plane, to = dst + (2 * c + 1) * plane
                    for i in 0..<(l * plane) { inputs[to + i] = layout.scalars[from + i] }
                }
            }
        }
        let tokens = Tensor(shape: [n, frames, k, g, p, g, p], scalars: inputs)
            .permuted([0, 1, 3, 5, 2, 4, 6]).reshaped([n, frames * g * g, k * p * p])
        var h = patchEmbed(tokens)
        let length = frames * g * g, d = config.dim
        h.scalars.withUnsafeMutableBufferPointer { hp in
            position.scalars.withUnsafeBufferPointer { pp in
                for b in 0..<n { for i in 0..<(length * d) { hp[b * length * d + i] += pp[i] } }
            }
        }
        let (pooled, words) = Self.splitText(text)
        let textFeature = embedding.textMLP(pooled)
        let conditioningSiLU = embedding(textFeature: textFeature, strides: strides, times: times).silu()
        var context = textContext(textFeature: textFeature), contextMask = AttentionMask.none
        if let tokens = context, wordProjection != nil { (context, contextMask) = wordContext(tokens: tokens, words: words) }
        for block in blocks { h = block(h, conditioningSiLU, context: context, contextMask: contextMask) }
        let final = modulationOut(conditioningSiLU).chunkedLastAxis(2)
        let patches = out(h.layerNorm(epsilon: config.layerNormEps).modulated(shift: final[0], scale: final[1]))
        return patches.reshaped([n, frames, g, g, c, p, p]).permuted([0, 1, 4, 2, 5, 3, 6]).reshaped([n, frames, c, size, size])
    }
}
