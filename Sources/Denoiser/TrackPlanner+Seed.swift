import Models

extension TrackPlanner {
    /// A track in pixels, (x, y, r) per frame, for the pooled text embedding `text` (and the
    /// token states `words` of a planner that reads them) at frame `stride`, its initial noise
    /// `NoiseField(seed:).track(count:)`: deterministic for a given seed, and not the noise of any
    /// frame. (The noise generator lives here, not in Models.)
    public func sampleTrack(text: [Float], words: [Float] = [], stride: Int, seed: UInt64) -> [Float] {
        sampleTrack(text: text, words: words, stride: stride, noise: NoiseField(seed: seed).track(count: trackValues))
    }
}
