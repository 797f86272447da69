import Foundation

/// reel-tiny's `config.json` as scripts/train/export.py writes it: the shapes of both networks,
/// the latent normalisation, the flow convention, the sampler defaults and the checksums of the
/// weight files. Decoded with snake_case keys; fields Swift does not need are ignored.
public struct ReelTinyConfig: Sendable, Decodable {
    public struct Video: Sendable, Decodable {
        public let width: Int
        public let height: Int
        public let fps: Int
        public let windowFrames: Int
    }

    public struct VAE: Sendable, Decodable {
        public let weights: String
        public let sha256: String
        public let widths: [Int]
        public let latentChannels: Int
        public let latentSize: Int
        public let encoderBlocks: [Int]
        public let decoderBlocks: [Int]
        public let groupNormGroups: Int
        public let groupNormEps: Float
        public let latentShift: Float
        public let latentScale: Float
        public let heldOutPsnrDb: Double?
    }

    public struct DiT: Sendable, Decodable {
        public let weights: String
        public let sha256: String
        public let frames: Int
        public let latentChannels: Int
        public let latentSize: Int
        public let patch: Int
        public let dim: Int
        public let depth: Int
        public let heads: Int
        public let mlpRatio: Int
        public let textDim: Int
        public let frequencyDim: Int
        public let layerNormEps: Float
        /// "exact (erf)" or "tanh".
        public let gelu: String
        /// What each block's self-attention spans, one per block: "full" (the whole window),
        /// "space" (one frame's tokens) or "time" (one patch position in every frame). Absent in
        /// configs older than the field: full attention everywhere.
        public let attentionSpans: [String]?
        /// What each block's MLP does between fc1 and the activation: "none" or "shift" (channel
        /// groups moved to the 26 neighbouring tokens in time and space). Absent in configs older
        /// than the field: none.
        public let localMixing: String?
        /// Tokens made from the text feature that every block cross-attends to after its
        /// self-attention (see `CrossAttention`). Absent in configs older than the field: 0, none.
        public let textTokens: Int?
        /// Whether the blocks also cross-attend to MiniLM's per-token states of the prompt (the text
        /// input is then the pooled embedding followed by one row per token; see `ReelTinyDiT`).
        /// Absent in configs older than the field: false.
        public let textWords: Bool?
        /// Input channels per latent pixel that carry the subject's layout (`SubjectLayout`), after
        /// `[x, anchors · mask, mask]`; all zeros = no layout. Absent in configs older than the
        /// field: 0, none.
        public let layoutChannels: Int?
        /// What a five-channel layout's coverage channel covers: `disc` (a disc of the track's
        /// radius, whatever the subject; also when absent, configs older than the field) or
        /// `shape` (the subject's own shape, named by the planner's shape head).
        public let layoutCoverage: String?

        /// Whether the text input carries the prompt's word states.
        public var takesWords: Bool { textWords ?? false }

        /// The number of layout channels, checked: 0 (also when the config has none), or one of
        /// `SubjectLayout.channelCounts`.
        public func layoutChannelCount() throws(ReelTinyError) -> Int {
            let count = layoutChannels ?? 0
            guard count == 0 || SubjectLayout.channelCounts.contains(count) else {
                throw .badConfig("dit.layout_channels is \(count) (0, 4 or 5: the channels SubjectLayout makes)")
            }
            return count
        }

        /// Whether the coverage channel is the subject's own shape, checked: "disc" (or absent) or "shape".
        public func coverageFollowsShape() throws(ReelTinyError) -> Bool {
            switch layoutCoverage ?? "disc" {
            case "disc": return false
            case "shape": return true
            case let other: throw .badConfig("dit.layout_coverage holds \"\(other)\" (known: disc, shape)")
            }
        }

        /// The number of text tokens, checked (0 when the config has none).
        public func textTokenCount() throws(ReelTinyError) -> Int {
            let count = textTokens ?? 0
            guard count >= 0 else { throw .badConfig("dit.text_tokens is \(count) (0 or more)") }
            guard count > 0 || !takesWords else {
                throw .badConfig("dit.text_words needs dit.text_tokens of 1 or more (the pooled token a text without words attends to)")
            }
            return count
        }

        /// The blocks' local mixing, checked.
        public func mixing() throws(ReelTinyError) -> LocalMixing {
            guard let name = localMixing else { return .none }
            guard let mixing = LocalMixing(rawValue: name) else {
                throw .badConfig("dit.local_mixing holds \"\(name)\" (known: none, shift)")
            }
            return mixing
        }

        /// The blocks' spans, checked: `depth` known span names (all "full" when the config has none).
        public func spans() throws(ReelTinyError) -> [AttentionSpan] {
            guard let names = attentionSpans else { return Array(repeating: .full, count: depth) }
            guard names.count == depth else {
                throw .badConfig("dit.attention_spans has \(names.count) entries for \(depth) blocks")
            }
            return try names.map { name throws(ReelTinyError) in
                guard let span = AttentionSpan(rawValue: name) else {
                    throw .badConfig("dit.attention_spans holds \"\(name)\" (known: full, space, time)")
                }
                return span
            }
        }
    }

    /// What a DiT block's MLP does between fc1 and the activation.
    public enum LocalMixing: String, Sendable {
        /// Nothing: `fc2(gelu(fc1(x)))`.
        case none
        /// Channel groups of fc1's output taken from the 26 neighbouring tokens (±1 frame, row,
        /// column); see `spacetimeShift`.
        case shift
    }

    /// The tokens one DiT block's self-attention runs over.
    public enum AttentionSpan: String, Sendable {
        /// Every token of the window.
        case full
        /// The tokens of one frame.
        case space
        /// One patch position across the window's frames.
        case time
    }

    /// Defaults for sampling this model.
    public struct Sampler: Sendable, Decodable {
        public let steps: Int
        public let cfgScale: Float
        public let shift: Float
    }

    /// The track planner (`TrackPlanner`) that draws the subject's layout for a DiT with layout
    /// channels: its weights, shapes, sampler and the track's normalisation.
    public struct Planner: Sendable, Decodable {
        public let weights: String
        public let sha256: String
        /// Frames of the track (the DiT's window).
        public let frames: Int
        public let dim: Int
        public let depth: Int
        public let mlpRatio: Int
        public let textDim: Int
        public let frequencyDim: Int
        /// Euler steps from t = 1 to t = 0, uniform in t.
        public let steps: Int
        /// Classifier-free guidance weight; 1 disables guidance.
        public let cfgScale: Float
        /// The planner works on `(v − trackCenter) / trackScale` for v = (x, y, r) in pixels.
        public let trackCenter: [Float]
        public let trackScale: [Float]
        /// Attention-pooling heads over MiniLM's per-token states (`TrackPlanner`); absent or 0:
        /// the planner reads the pooled embedding alone.
        public let wordHeads: Int?
        /// The shapes the planner's shape head names (`shape_names`, `SubjectShape`'s raw values
        /// in the head's class order) and its hidden width; absent: no shape head.
        public let shapeNames: [String]?
        public let shapeHidden: Int?

        /// Whether the planner reads the prompt's token states as well as its pooled embedding.
        public var readsWords: Bool { (wordHeads ?? 0) > 0 }

        /// Checks what the weights cannot: a track of the DiT's window, the DiT's text width,
        /// three-value normalisation, a step.
        func check(dit: DiT) throws(ReelTinyError) {
            guard frames == dit.frames else {
                throw .badConfig("planner.frames is \(frames) for a DiT window of \(dit.frames) frames")
            }
            guard textDim == dit.textDim else {
                throw .badConfig("planner.text_dim is \(textDim) for a DiT text of \(dit.textDim) values")
            }
            guard trackCenter.count == 3, trackScale.count == 3, !trackScale.contains(0) else {
                throw .badConfig("planner.track_center and planner.track_scale need three values (x, y, r), the scales non-zero")
            }
            guard steps >= 1 else { throw .badConfig("planner.steps is \(steps) (1 or more)") }
            if let wordHeads, wordHeads < 0 || (wordHeads > 0 && dim % wordHeads != 0) {
                throw .badConfig("planner.word_heads is \(wordHeads); it must be 0 or divide planner.dim (\(dim))")
            }
            if let shapeNames {
                guard !shapeNames.isEmpty, shapeNames.allSatisfy({ SubjectShape(rawValue: $0) != nil }), (shapeHidden ?? 0) > 0 else {
                    throw .badConfig("planner.shape_names is \(shapeNames) with shape_hidden \(shapeHidden ?? 0) (names from circle, square, triangle; a hidden width of 1 or more)")
                }
            }
            if try dit.coverageFollowsShape() && shapeNames == nil {
                throw .badConfig("dit.layout_coverage is \"shape\" but the planner has no shape head (planner.shape_names) to name the shape; export the model with a planner trained by train_shape_head.py")
            }
        }
    }

    /// The noise prior the DiT was trained with: each frame's noise is `sqrt(f)·shared +
    /// sqrt(1 − f)·independent`. Absent in configs older than the field: independent frames.
    public struct Noise: Sendable, Decodable {
        public let sharedFraction: Float
    }

    public let name: String
    public let video: Video
    public let vae: VAE
    public let dit: DiT
    public let sampler: Sampler
    /// Frame strides the DiT was trained on.
    public let stridesTrained: [Int]
    public let noise: Noise?
    /// Present for a DiT with layout channels. Absent in configs older than the field.
    public let planner: Planner?

    public var fps: Int { video.fps }
    /// The fraction of the noise variance every frame shares (0 when the config does not say).
    public var noiseSharedFraction: Float { noise?.sharedFraction ?? 0 }
}

/// Why reel-tiny could not load. The message says what to do.
public enum ReelTinyError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case badConfig(String)
    case checksumMismatch(file: String, expected: String, actual: String)
    case badWeights(String)

    public var description: String {
        switch self {
        case .missing(let path):
            "The reel-tiny model is missing (\(path) not found). Restore models/reel-tiny from the repository (git checkout models/) or set REEL_MODEL_DIR to a folder holding it."
        case .badConfig(let detail):
            "The reel-tiny config is unusable: \(detail). Restore models/reel-tiny/config.json from the repository."
        case .checksumMismatch(let file, let expected, let actual):
            "The reel-tiny weights file \(file) is corrupt (SHA-256 \(actual.prefix(12))…, expected \(expected.prefix(12))…). Restore models/reel-tiny from the repository."
        case .badWeights(let detail):
            "The reel-tiny weights are unusable: \(detail). Restore models/reel-tiny from the repository."
        }
    }
}
