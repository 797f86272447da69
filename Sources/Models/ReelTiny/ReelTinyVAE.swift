import Foundation
import Tensors

/// Weights by name, with shape checks: the one way reel-tiny modules read a safetensors file.
struct WeightTable {
    let file: SafetensorsFile
    let prefix: String

    func callAsFunction(_ name: String, _ shape: [Int]? = nil) throws -> Tensor {
        let key = prefix + name
        let tensor: Tensor
        do { tensor = try file.tensor(key) } catch { throw ReelTinyError.badWeights(error.description) }
        if let shape, tensor.shape != shape {
            throw ReelTinyError.badWeights("\(key) is \(tensor.shape), the config expects \(shape)")
        }
        return tensor
    }

    func scoped(_ more: String) -> WeightTable { WeightTable(file: file, prefix: prefix + more) }
}

/// A 2-D convolution layer (zero padding `kernel / 2`).
struct Conv2d: Sendable {
    let weight: Tensor
    let bias: Tensor
    let stride: Int

    init(_ w: WeightTable, _ name: String, inputs: Int, outputs: Int, kernel: Int = 3, stride: Int = 1) throws {
        weight = try w("\(name).weight", [outputs, inputs, kernel, kernel])
        bias = try w("\(name).bias", [outputs])
        self.stride = stride
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: weight.shape[2] / 2)
    }
}

/// GroupNorm with learned per-channel affine.
struct GroupNorm: Sendable {
    let gamma: Tensor
    let beta: Tensor
    let groups: Int
    let epsilon: Float

    init(_ w: WeightTable, _ name: String, channels: Int, groups: Int, epsilon: Float) throws {
        gamma = try w("\(name).weight", [channels])
        beta = try w("\(name).bias", [channels])
        self.groups = groups
        self.epsilon = epsilon
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.groupNorm(groups: groups, gamma: gamma, beta: beta, epsilon: epsilon)
    }
}

/// `x + conv2(silu(gn2(conv1(silu(gn1(x))))))` at a fixed channel count.
struct ResBlock: Sendable {
    let norm1: GroupNorm, conv1: Conv2d, norm2: GroupNorm, conv2: Conv2d

    init(_ w: WeightTable, _ name: String, channels: Int, config: ReelTinyConfig.VAE) throws {
        norm1 = try GroupNorm(w, "\(name).norm1", channels: channels, groups: config.groupNormGroups, epsilon: config.groupNormEps)
        conv1 = try Conv2d(w, "\(name).conv1", inputs: channels, outputs: channels)
        norm2 = try GroupNorm(w, "\(name).norm2", channels: channels, groups: config.groupNormGroups, epsilon: config.groupNormEps)
        conv2 = try Conv2d(w, "\(name).conv2", inputs: channels, outputs: channels)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = conv1(norm1(x).silu())
        return x + conv2(norm2(h).silu())
    }
}

/// reel-tiny's per-frame VAE: RGB frames `[n, 3, 64, 64]` in [-1, 1] ↔ latents `[n, C, 8, 8]`.
///
/// `encode` returns the posterior mean; `normalizedLatents`/`rawLatents` convert between the VAE's
/// latent space and the unit-variance space the DiT works in (`(z - shift) · scale`).
public struct ReelTinyVAE: Sendable {
    public let config: ReelTinyConfig.VAE

    struct EncoderLevel: Sendable { let blocks: [ResBlock]; let down: Conv2d }
    struct DecoderLevel: Sendable { let conv: Conv2d; let blocks: [ResBlock] }

    let encoderIn: Conv2d
    let encoderLevels: [EncoderLevel]
    let encoderMid: ResBlock
    let encoderNorm: GroupNorm
    let encoderOut: Conv2d

    let decoderIn: Conv2d
    let decoderMid: ResBlock
    let decoderLevels: [DecoderLevel]
    let decoderNorm: GroupNorm
    let decoderOut: Conv2d

    init(weights: SafetensorsFile, config: ReelTinyConfig.VAE) throws {
        self.config = config
        let widths = config.widths, c = config.latentChannels
        let e = WeightTable(file: weights, prefix: "encoder.")
        encoderIn = try Conv2d(e, "conv_in", inputs: 3, outputs: widths[0])
        encoderLevels = try (0..<(widths.count - 1)).map { level in
            let lw = e.scoped("levels.\(level).")
            return EncoderLevel(
                blocks: try (0..<config.encoderBlocks[level]).map { try ResBlock(lw, "blocks.\($0)", channels: widths[level], config: config) },
                down: try Conv2d(lw, "down", inputs: widths[level], outputs: widths[level + 1], stride: 2))
        }
        encoderMid = try ResBlock(e, "mid", channels: widths.last!, config: config)
        encoderNorm = try GroupNorm(e, "norm_out", channels: widths.last!, groups: config.groupNormGroups, epsilon: config.groupNormEps)
        encoderOut = try Conv2d(e, "conv_out", inputs: widths.last!, outputs: c)

        let d = WeightTable(file: weights, prefix: "decoder.")
        let reversed = Array(config.widths.reversed()), blocks = Array(config.decoderBlocks.reversed())
        decoderIn = try Conv2d(d, "conv_in", inputs: c, outputs: reversed[0])
        decoderMid = try ResBlock(d, "mid", channels: reversed[0], config: config)
        decoderLevels = try (0..<(reversed.count - 1)).map { level in
            let lw = d.scoped("levels.\(level).")
            return DecoderLevel(
                conv: try Conv2d(lw, "conv", inputs: reversed[level], outputs: reversed[level + 1]),
                blocks: try (0..<blocks[level]).map { try ResBlock(lw, "blocks.\($0)", channels: reversed[level + 1], config: config) })
        }
        decoderNorm = try GroupNorm(d, "norm_out", channels: reversed.last!, groups: config.groupNormGroups, epsilon: config.groupNormEps)
        decoderOut = try Conv2d(d, "conv_out", inputs: reversed.last!, outputs: 3)
    }

    /// The posterior mean of each frame: `[n, 3, H, W]` in [-1, 1] → `[n, C, h, w]` (VAE latent space).
    /// (The exported encoder keeps only the mean's channels.)
    public func encode(_ frames: Tensor) -> Tensor {
        // Frames are independent: with several BLAS threads, whole frames go to separate cores.
        Tensor.concatenate(BLAS.splitAcrossThreads(frames.shape[0]) { encodeOnThisThread(frames.slicedFirstAxis($0)) }, axis: 0)
    }

    private func encodeOnThisThread(_ frames: Tensor) -> Tensor {
        var h = encoderIn(frames)
        for level in encoderLevels {
            for block in level.blocks { h = block(h) }
            h = level.down(h)
        }
        return encoderOut(encoderNorm(encoderMid(h)).silu())
    }

    /// Frames `[n, 3, H, W]` in about [-1, 1] from VAE-space latents `[n, C, h, w]`.
    public func decode(_ latents: Tensor) -> Tensor {
        // Frames are independent: with several BLAS threads, whole frames go to separate cores
        // (bit-identical to one thread; see BLAS.splitAcrossThreads).
        Tensor.concatenate(BLAS.splitAcrossThreads(latents.shape[0]) { decodeOnThisThread(latents.slicedFirstAxis($0)) }, axis: 0)
    }

    private func decodeOnThisThread(_ latents: Tensor) -> Tensor {
        var h = decoderMid(decoderIn(latents))
        for level in decoderLevels {
            h = level.conv(h.upsampled(scale: 2, mode: .nearest))
            for block in level.blocks { h = block(h) }
        }
        return decoderOut(decoderNorm(h).silu())
    }

    /// Multiply-adds × 2 of one frame's decode (the convolutions; norms and activations not
    /// counted): the figure `reel bench stitcher` divides by the decode time.
    public var decodeFLOPsPerFrame: Double {
        func flops(_ conv: Conv2d, size: Int) -> Double {
            let w = conv.weight.shape
            return 2 * Double(w[0] * w[1] * w[2] * w[3]) * Double(size * size) / Double(conv.stride * conv.stride)
        }
        var size = config.latentSize
        var total = flops(decoderIn, size: size) + flops(decoderMid.conv1, size: size) + flops(decoderMid.conv2, size: size)
        for level in decoderLevels {
            size *= 2
            total += flops(level.conv, size: size)
            for block in level.blocks { total += flops(block.conv1, size: size) + flops(block.conv2, size: size) }
        }
        return total + flops(decoderOut, size: size)
    }

    /// VAE-space latents → the DiT's unit-variance space.
    public func normalizedLatents(_ z: Tensor) -> Tensor {
        var out = z
        for i in 0..<out.count { out.scalars[i] = (out.scalars[i] - config.latentShift) * config.latentScale }
        return out
    }

    /// The DiT's space → VAE-space latents.
    public func rawLatents(_ z: Tensor) -> Tensor {
        var out = z
        for i in 0..<out.count { out.scalars[i] = out.scalars[i] / config.latentScale + config.latentShift }
        return out
    }
}
