import Foundation

/// reel-tiny's `config.json`: the shapes of both networks, the latent normalisation, the flow
/// convention and the checksums of the weight files.
public struct ReelTinyConfig: Sendable, Decodable {
    public struct VAE: Sendable, Decodable {
        public let widths: [Int]
        public let latentChannels: Int
        public let encoderBlocks: [Int]
        public let decoderBlocks: [Int]
        public let groups: Int
        public let normEpsilon: Float
        public let latentShift: Float
        public let latentScale: Float
        public let imageSize: Int
    }

    public struct DiT: Sendable, Decodable {
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
        public let normEpsilon: Float
        /// The transformer MLP's activation: "gelu" (exact, erf) or "gelu_tanh".
        public let mlpActivation: String
    }

    public let name: String
    public let fps: Int
    public let vae: VAE
    public let dit: DiT
    /// SHA-256 (hex) of each weights file by file name.
    public let sha256: [String: String]
    /// Strides (in frames at `fps`) the DiT was trained on.
    public let strides: [Int]
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
