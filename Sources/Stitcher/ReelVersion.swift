/// Reel's version, written into every film's metadata and shown by `reel --version`.
public enum ReelVersion {
    public static let current = "0.2.0"
}
