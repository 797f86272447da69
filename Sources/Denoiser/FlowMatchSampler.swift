import Tensors

/// How the sampler steps the flow ODE.
public enum SamplingMethod: String, Sendable, CaseIterable {
    /// First order: one model call (with both guidance passes batched) per step.
    case euler
    /// Second order (Heun): two calls per step, Euler on the last step.
    case heun
}

/// Sampler settings; every field has the default `reel generate` uses.
public struct SamplerSettings: Sendable, Equatable {
    /// Steps from t = 1 to t = 0.
    public var steps: Int = 20
    /// Classifier-free guidance weight; 1 disables guidance (one pass per call).
    public var guidance: Float = 4
    /// Time-schedule shift s: `t' = s·t / (1 + (s − 1)·t)` spends more steps at high noise when s > 1.
    public var shift: Float = 3
    public var method: SamplingMethod = .euler
    /// Replacement guidance: after each step, anchored frames are reset to their anchor noised to the
    /// current time, and end exactly on the anchor. Works with or without native conditioning.
    public var anchorReplacement = true

    public init(steps: Int = 20, guidance: Float = 4, shift: Float = 3, method: SamplingMethod = .euler, anchorReplacement: Bool = true) {
        self.steps = steps
        self.guidance = guidance
        self.shift = shift
        self.method = method
        self.anchorReplacement = anchorReplacement
    }
}

/// What one window is conditioned on.
public struct WindowConditioning: Sendable {
    /// Pooled text embedding (the model's text width); zeros for none. For a model that reads word
    /// states, the pooled embedding followed by one row per token (`ClipGenerator.textInput`).
    public var text: [Float]
    /// Frame stride of the window in output frames (1 = consecutive frames).
    public var stride: Int
    /// Anchor latents `[T, C, H, W]` (unit-variance space); only frames with `mask` true matter.
    public var anchors: Tensor
    public var mask: [Bool]
    /// The subject's layout `[T, L, H, W]` (`SubjectLayout.channels`) for a model with layout
    /// channels, the same in both guidance passes; nil for none (zeros to the model).
    public var layout: Tensor?

    public init(text: [Float], stride: Int, anchors: Tensor, mask: [Bool], layout: Tensor? = nil) {
        self.text = text
        self.stride = stride
        self.anchors = anchors
        self.mask = mask
        self.layout = layout
    }

    /// No anchors: every frame is generated.
    public static func unanchored(text: [Float], stride: Int, frames: Int, frameShape: [Int], layout: Tensor? = nil) -> WindowConditioning {
        WindowConditioning(text: text, stride: stride, anchors: Tensor(zeros: [frames] + frameShape),
                           mask: Array(repeating: false, count: frames), layout: layout)
    }
}

/// Rectified-flow sampling with classifier-free guidance and anchor conditioning.
///
/// Deterministic: no randomness beyond the given initial noise, so the same inputs give the same
/// latents bit for bit on the same machine.
public struct FlowMatchSampler: Sendable {
    public let settings: SamplerSettings

    public init(settings: SamplerSettings = SamplerSettings()) {
        precondition(settings.steps >= 1, "at least one step")
        self.settings = settings
    }

    /// The `steps + 1` times visited, from 1 down to 0, after the shift.
    public func timesteps() -> [Float] {
        let s = settings.shift
        return (0...settings.steps).map { i in
            let t = 1 - Float(i) / Float(settings.steps)
            return s * t / (1 + (s - 1) * t)
        }
    }

    /// Clean latents `[T, C, H, W]` for each window, from its initial noise `[T, C, H, W]`.
    /// All windows and both guidance passes run as one batch per model call. Guidance is on the
    /// text: both passes see a window's anchors and layout. Layouts, where windows have them, must
    /// share one shape `[T, L, H, W]`; a window without one gets zeros, and the model gets no
    /// layout when no window has one. `progress(step, steps)` is called after each step.
    public func sample(model: some VelocityModel, noise: [Tensor], conditioning: [WindowConditioning],
                       progress: (Int, Int) -> Void = { _, _ in }) -> [Tensor] {
        precondition(noise.count == conditioning.count && !noise.isEmpty, "one noise tensor per window")
        let frames = model.windowFrames, shape = model.frameShape
        let windowShape = [frames] + shape
        for (n, c) in zip(noise, conditioning) {
            precondition(n.shape == windowShape && c.anchors.shape == windowShape && c.mask.count == frames,
                         "windows must be \(windowShape) with \(frames) mask entries")
            precondition(!c.text.isEmpty && c.text.count % model.textDimension == 0,
                         "text must be rows of \(model.textDimension) values")
        }
        let layoutShape = conditioning.lazy.compactMap(\.layout).first?.shape
        if let layoutShape {
            precondition(layoutShape.count == 4 && layoutShape[0] == frames && Array(layoutShape[2...]) == Array(shape[1...])
                         && conditioning.allSatisfy { $0.layout.map { $0.shape == layoutShape } ?? true },
                         "layouts must all be [\(frames), L, \(shape[1]), \(shape[2])], got \(conditioning.compactMap { $0.layout?.shape })")
        }
        let windows = noise.count
        let guided = settings.guidance != 1
        let batch = guided ? 2 * windows : windows
        let perWindow = Tensor.elementCount(windowShape)

        // Conditioning tensors for the batch: conditional items first, then unconditional ones.
        // Texts with word rows are padded with zero rows to the longest.
        let width = model.textDimension
        let rows = conditioning.map { $0.text.count / width }.max()!
        var anchors: [Float] = [], mask: [Float] = [], text: [Float] = [], strides: [Float] = [], layouts: [Float] = []
        for pass in 0..<(guided ? 2 : 1) {
            for c in conditioning {
                anchors += c.anchors.scalars
                if let layoutShape { layouts += c.layout?.scalars ?? [Float](repeating: 0, count: Tensor.elementCount(layoutShape)) }
                mask += c.mask.map { $0 ? 1 : 0 }
                if pass == 0 { text += c.text }
                text += [Float](repeating: 0, count: rows * width - (pass == 0 ? c.text.count : 0))
                strides.append(Float(c.stride))
            }
        }
        let anchorTensor = Tensor(shape: [batch] + windowShape, scalars: anchors)
        let maskTensor = Tensor(shape: [batch, frames], scalars: mask)
        let textTensor = Tensor(shape: rows == 1 ? [batch, width] : [batch, rows, width], scalars: text)
        let layoutTensor = layoutShape.map { Tensor(shape: [batch] + $0, scalars: layouts) }

        /// Guided velocity for all windows at time t: `[windows, T, C, H, W]`.
        func velocity(_ x: Tensor, _ t: Float) -> Tensor {
            let input = guided ? Tensor.concatenate([x, x], axis: 0) : x
            let v = model.velocity(input, anchors: anchorTensor, mask: maskTensor, text: textTensor,
                                   strides: strides, times: Array(repeating: t, count: batch), layout: layoutTensor)
            guard guided else { return v }
            let g = settings.guidance
            var out = v.slicedFirstAxis(0..<windows)
            let unconditional = v.slicedFirstAxis(windows..<batch)
            for i in 0..<out.count {
                out.scalars[i] = unconditional.scalars[i] + g * (out.scalars[i] - unconditional.scalars[i])
            }
            return out
        }

        let initial = Tensor.concatenate(noise.map { $0.reshaped([1] + windowShape) }, axis: 0)
        var x = initial
        let times = timesteps()
        for step in 0..<settings.steps {
            let t = times[step], next = times[step + 1], dt = next - t
            let v1 = velocity(x, t)
            if settings.method == .heun && next > 0 {
                var predicted = x
                for i in 0..<x.count { predicted.scalars[i] += dt * v1.scalars[i] }
                if settings.anchorReplacement { replaceAnchors(&predicted, initial: initial, time: next, perWindow: perWindow) }
                let v2 = velocity(predicted, next)
                for i in 0..<x.count { x.scalars[i] += dt * 0.5 * (v1.scalars[i] + v2.scalars[i]) }
            } else {
                for i in 0..<x.count { x.scalars[i] += dt * v1.scalars[i] }
            }
            if settings.anchorReplacement { replaceAnchors(&x, initial: initial, time: next, perWindow: perWindow) }
            progress(step + 1, settings.steps)
        }
        return (0..<windows).map { x.slicedFirstAxis($0..<($0 + 1)).reshaped(windowShape) }

        /// Anchored frames back on their anchor's path: `(1 − t)·anchor + t·noise`.
        func replaceAnchors(_ x: inout Tensor, initial: Tensor, time: Float, perWindow: Int) {
            let perFrame = perWindow / frames
            for (w, c) in conditioning.enumerated() {
                for f in 0..<frames where c.mask[f] {
                    let base = w * perWindow + f * perFrame
                    for i in 0..<perFrame {
                        x.scalars[base + i] = (1 - time) * c.anchors.scalars[f * perFrame + i] + time * initial.scalars[base + i]
                    }
                }
            }
        }
    }
}
