/// Turns a segment's global frames into its prompt weights (docs/storyboard.md, "Conditioning").
struct TextConditioning {
    private enum Source {
        case prompt(String)
        /// Shots with their frame ranges and scene numbers (a `cut` starts a new scene).
        case storyboard(shots: [Shot], ranges: [Range<Int>], scenes: [Int])
    }

    private let source: Source
    private let totalFrames: Int

    /// Model frames of the shortest shot when the storyboard has more than one shot, else nil.
    let shortestShot: Int?

    /// Throws `shotTooShort` for a shot that rounds to no model frame.
    init(request: RenderRequest, fps: Int, totalFrames: Int) throws(PlanError) {
        self.totalFrames = totalFrames
        guard let storyboard = request.storyboard else {
            source = .prompt(request.prompt ?? "")
            shortestShot = nil
            return
        }
        let ranges = storyboard.frameRanges(fps: fps, totalFrames: totalFrames)
        if let empty = ranges.firstIndex(where: \.isEmpty) {
            let shot = storyboard.shots[empty]
            throw .shotTooShort(shot: empty, seconds: shot.end - shot.start, fps: fps)
        }
        var scenes: [Int] = []
        var scene = 0
        for (index, shot) in storyboard.shots.enumerated() {
            if index > 0, shot.transition == .cut { scene += 1 }
            scenes.append(scene)
        }
        source = .storyboard(shots: storyboard.shots, ranges: ranges, scenes: scenes)
        shortestShot = storyboard.shots.count > 1 ? ranges.map(\.count).min() : nil
    }

    /// Prompt weights for a segment at these global frames (ascending).
    ///
    /// Frames at or past `totalFrames` do not count. Each shot's share is the fraction of the counted
    /// frames inside it. When the frames span a `cut`, only the scene (run of shots joined by `smooth`
    /// transitions) holding the most frames counts — the earlier one on a tie — so a segment never
    /// mixes prompts across a cut. Equal prompts are merged; the order is that of the first shot.
    func text(forFrames frames: [Int]) -> [TextWeight] {
        switch source {
        case .prompt(let prompt):
            return [TextWeight(prompt: prompt, weight: 1)]
        case .storyboard(let shots, let ranges, let scenes):
            var inFilm = frames.filter { $0 >= 0 && $0 < totalFrames }
            if inFilm.isEmpty { inFilm = [min(max(frames.first ?? 0, 0), totalFrames - 1)] }

            // Frames per shot, in shot order (frames ascend, so shots do too).
            var counts: [(shot: Int, frames: Int)] = []
            for frame in inFilm {
                let shot = Self.shot(containing: frame, ranges: ranges)
                if counts.last?.shot == shot { counts[counts.count - 1].frames += 1 } else { counts.append((shot, 1)) }
            }

            // Across a cut, keep the scene with most frames.
            var sceneTotals: [(scene: Int, frames: Int)] = []
            for count in counts {
                let scene = scenes[count.shot]
                if sceneTotals.last?.scene == scene {
                    sceneTotals[sceneTotals.count - 1].frames += count.frames
                } else {
                    sceneTotals.append((scene, count.frames))
                }
            }
            var chosen = sceneTotals[0]
            for candidate in sceneTotals.dropFirst() where candidate.frames > chosen.frames { chosen = candidate }
            counts = counts.filter { scenes[$0.shot] == chosen.scene }

            var merged: [(prompt: String, frames: Int)] = []
            for count in counts {
                let prompt = shots[count.shot].prompt
                if let existing = merged.firstIndex(where: { $0.prompt == prompt }) {
                    merged[existing].frames += count.frames
                } else {
                    merged.append((prompt, count.frames))
                }
            }
            let total = Double(chosen.frames)
            return merged.map { TextWeight(prompt: $0.prompt, weight: Double($0.frames) / total) }
        }
    }

    /// Index of the range containing `frame` (ranges are contiguous, non-empty, ascending).
    private static func shot(containing frame: Int, ranges: [Range<Int>]) -> Int {
        var low = 0
        var high = ranges.count - 1
        while low < high {
            let middle = (low + high) / 2
            if frame < ranges[middle].upperBound { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
