/// One picture as packed 8-bit RGB, rows top to bottom, `width · height · 3` bytes.
public struct RGBFrame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "frame size must be positive, got \(width)×\(height)")
        precondition(pixels.count == width * height * 3, "\(width)×\(height) RGB needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Peak signal-to-noise ratio against another frame of the same size, in dB (∞ when identical).
    public func psnr(against other: RGBFrame) -> Double {
        precondition(width == other.width && height == other.height, "frames differ in size")
        var squared = 0.0
        for i in 0..<pixels.count {
            let d = Double(pixels[i]) - Double(other.pixels[i])
            squared += d * d
        }
        let mse = squared / Double(pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}

#if canImport(Glibc)
import Glibc
#endif
