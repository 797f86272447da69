import Foundation
import Tensors

/// reel-tiny as shipped in `models/reel-tiny/`: `config.json`, `vae.safetensors`, `dit.safetensors`,
/// and `planner.safetensors` for a DiT that reads layouts. Loading verifies each weights file's
/// SHA-256 against the config before reading it.
public struct ReelTinyModel: Sendable {
    public static let environmentVariable = "REEL_MODEL_DIR"

    public let folder: URL
    public let config: ReelTinyConfig
    public let vae: ReelTinyVAE
    public let dit: ReelTinyDiT
    /// The track planner; nil when the config has no `planner` section.
    public let planner: TrackPlanner?

    public init(folder: URL) throws(ReelTinyError) {
        let config = try Self.config(folder: folder)
        func open(_ name: String, expected: String) throws(ReelTinyError) -> SafetensorsFile {
            let url = folder.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { throw .missing(url.path) }
            let actual = data.withUnsafeBytes { raw in
                var hasher = SHA256()
                hasher.update(buffer: raw)
                return hasher.finalizeHex()
            }
            guard actual == expected.lowercased() else { throw .checksumMismatch(file: name, expected: expected, actual: actual) }
            do { return try SafetensorsFile(bytes: data, source: url.path) } catch { throw .badWeights(error.description) }
        }
        let vaeFile = try open(config.vae.weights, expected: config.vae.sha256)
        let ditFile = try open(config.dit.weights, expected: config.dit.sha256)
        var plannerFile: SafetensorsFile?
        if let planner = config.planner { plannerFile = try open(planner.weights, expected: planner.sha256) }
        do {
            self.vae = try ReelTinyVAE(weights: vaeFile, config: config.vae)
            self.dit = try ReelTinyDiT(weights: ditFile, config: config.dit)
            if let plannerFile, let planner = config.planner {
                self.planner = try TrackPlanner(weights: plannerFile, config: planner, epsilon: config.dit.layerNormEps)
            } else {
                self.planner = nil
            }
        } catch let error as ReelTinyError {
            throw error
        } catch {
            throw .badWeights("\(error)")
        }
        self.folder = folder
        self.config = config
    }

    /// Only the folder's `config.json` (shapes, names, sampler defaults), without reading weights.
    public static func config(folder: URL) throws(ReelTinyError) -> ReelTinyConfig {
        let configURL = folder.appendingPathComponent("config.json")
        guard let configData = FileManager.default.contents(atPath: configURL.path) else {
            throw .missing(configURL.path)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let config: ReelTinyConfig
        do { config = try decoder.decode(ReelTinyConfig.self, from: configData) } catch {
            throw .badConfig("\(error)")
        }
        guard (0..<1).contains(config.noiseSharedFraction) else {
            throw .badConfig("noise.shared_fraction is \(config.noiseSharedFraction); it must be at least 0 and below 1")
        }
        _ = try config.dit.spans()
        if let planner = config.planner { try planner.check(dit: config.dit) }
        guard try config.dit.layoutChannelCount() == 0 || config.planner != nil else {
            throw .badConfig("dit.layout_channels is \(config.dit.layoutChannels ?? 0) but there is no planner section to draw the layout")
        }
        return config
    }

    /// Loads from `$REEL_MODEL_DIR`, or the first `models/reel-tiny` found beside the executable's
    /// build or install tree or under the current directory.
    public init() throws(ReelTinyError) {
        try self.init(folder: Self.locate())
    }

    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        if let explicit = environment[environmentVariable], !explicit.isEmpty { return [URL(fileURLWithPath: explicit)] }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        return [
            executable.appendingPathComponent("../../models/reel-tiny").standardized,         // .build/<config>/reel
            executable.appendingPathComponent("../../../models/reel-tiny").standardized,      // .build/<triple>/<config>/reel
            executable.appendingPathComponent("../share/reel/models/reel-tiny").standardized, // installed
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("models/reel-tiny"),
        ]
    }

    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ReelTinyError) -> URL {
        let folders = candidates(environment: environment)
        for folder in folders where FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) {
            return folder
        }
        throw .missing(folders.map(\.path).joined(separator: ", "))
    }
}
