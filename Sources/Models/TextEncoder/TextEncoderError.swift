import Foundation

/// Why the text encoder could not start or run. The message says what to do.
public enum TextEncoderError: Error, CustomStringConvertible, Equatable {
    /// No folder with `model.safetensors` and `vocab.txt` was found; lists where Reel looked.
    case weightsNotFound(searched: [String])
    /// The weights file is there but unusable.
    case badWeights(String)
    /// `vocab.txt` lacks a required token.
    case badVocabulary(String)

    public var description: String {
        switch self {
        case .weightsNotFound(let searched):
            "The MiniLM text-encoder weights were not found (looked in \(searched.joined(separator: ", "))). "
                + "Run scripts/setup.sh to install them, or set \(MiniLMLocator.environmentVariable) to a folder holding model.safetensors and vocab.txt."
        case .badWeights(let detail):
            "The MiniLM text-encoder weights are unusable: \(detail). Reinstall them with scripts/setup.sh."
        case .badVocabulary(let detail):
            "The MiniLM vocabulary is unusable: \(detail). Reinstall it with scripts/setup.sh."
        }
    }
}
