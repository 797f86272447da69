import Models
import Tensors

/// The model protocol: a network that predicts the flow velocity of a batch of latent windows.
///
/// Flow convention (rectified flow): `x_t = (1 − t)·x₀ + t·ε`, t = 1 is pure noise, t = 0 clean;
/// the velocity is `v = ε − x₀`, so `dx/dt = v`. Sampler, guidance and anchors live outside the
/// model, so any backend speaking this protocol (a GPU server, say) can plug in.
public protocol VelocityModel: Sendable {
    /// Latent frames per window.
    var windowFrames: Int { get }
    /// One latent frame's shape, `[C, H, W]`.
    var frameShape: [Int] { get }
    /// Width of the text conditioning vector (zeros mean "no text").
    var textDimension: Int { get }

    /// `x [n, T, C, H, W]`, `anchors` likewise, `mask [n, T]` (1 = anchor frame), `text [n, D]` (or
    /// `[n, R, D]`: the pooled row, then word rows, zero rows padding), `strides` and `times` one
    /// per item, and the subject's layout `[n, T, L, H, W]` (`SubjectLayout`; all zeros = none) or
    /// nil when no item has one → velocity `[n, T, C, H, W]`.
    func velocity(_ x: Tensor, anchors: Tensor, mask: Tensor, text: Tensor, strides: [Float], times: [Float],
                  layout: Tensor?) -> Tensor
}

extension ReelTinyDiT: VelocityModel {
    public var windowFrames: Int { config.frames }
    public var frameShape: [Int] { [config.latentChannels, config.latentSize, config.latentSize] }
    public var textDimension: Int { config.textDim }
}
