import Foundation

/// The reel-tiny world as docs/world.md defines it (and scripts/train/world.py renders it):
/// subject colours, shapes, motions, backgrounds, and the words captions use for each.
public enum World {
    /// Subject palette, RGB 0–255. Every colour is ≥ 100 from every background pixel and every other colour.
    public static let colours: [(name: String, rgb: (Double, Double, Double))] = [
        ("red", (220, 36, 36)), ("orange", (255, 130, 0)), ("yellow", (245, 225, 40)), ("green", (0, 235, 70)),
        ("cyan", (0, 220, 235)), ("blue", (30, 40, 220)), ("purple", (150, 50, 220)), ("pink", (255, 80, 200)),
    ]
    public static let shapes = ["circle", "square", "triangle"]
    public static let motions = ["left", "right", "up", "down", "bounce", "circle", "grow", "shrink", "still"]
    public static let framesPerSecond = 8

    static let colourWords: [String: [String]] = [
        "red": ["red", "crimson", "scarlet"], "orange": ["orange", "tangerine", "amber"],
        "yellow": ["yellow", "golden", "lemon"], "green": ["green", "lime", "bright green"],
        "cyan": ["cyan", "turquoise", "aqua"], "blue": ["blue", "royal blue", "cobalt"],
        "purple": ["purple", "violet", "plum"], "pink": ["pink", "magenta", "hot pink"],
    ]
    static let shapeWords: [String: [String]] = [
        "circle": ["ball", "circle", "disc", "dot", "sphere", "orb", "balls", "circles"],
        "square": ["square", "box", "block", "cube", "tile", "squares"],
        "triangle": ["triangle", "pyramid", "wedge", "triangular shape", "triangles"],
    ]
    static let sizeWords: [String: [String]] = [
        "small": ["small", "little", "tiny"], "big": ["big", "large", "huge", "giant"],
    ]
    /// Motion phrases, both verb forms, as captions use them; checked before the keyword fallback
    /// because background phrases contain direction words too ("up in the daytime sky").
    static let motionPhrases: [String: [String]] = [
        "left": ["moves left", "moving left", "rolls to the left", "rolling to the left", "drifts to the left", "drifting to the left",
                 "slides leftward", "sliding leftward", "travels from right to left", "travelling from right to left", "heads left", "heading left"],
        "right": ["moves right", "moving right", "rolls to the right", "rolling to the right", "drifts to the right", "drifting to the right",
                  "slides rightward", "sliding rightward", "travels from left to right", "travelling from left to right", "heads right", "heading right"],
        "up": ["rises", "rising", "floats upward", "floating upward", "moves up", "moving up", "drifts up", "drifting up",
               "climbs", "climbing", "ascends", "ascending"],
        "down": ["falls", "falling", "sinks", "sinking", "moves down", "moving down", "drifts downward", "drifting downward",
                 "descends", "descending", "drops", "dropping"],
        "bounce": ["bounces up and down", "bouncing up and down", "bounces", "bouncing", "hops", "hopping", "keeps bouncing",
                   "bouncing over and over", "jumps up and down", "jumping up and down"],
        "circle": ["moves in a circle", "moving in a circle", "circles around", "circling around", "goes round in circles",
                   "going round in circles", "orbits", "orbiting", "travels in a loop", "travelling in a loop"],
        "grow": ["grows larger", "growing larger", "grows", "growing", "gets bigger", "getting bigger", "expands", "expanding", "swells", "swelling"],
        "shrink": ["shrinks down", "shrinking down", "shrinks", "shrinking", "gets smaller", "getting smaller", "contracts",
                   "contracting", "dwindles", "dwindling"],
        "still": ["stays still", "staying still", "sits motionless", "sitting motionless", "does not move", "not moving",
                  "rests", "resting", "remains stationary", "remaining stationary"],
    ]
    /// Background phrases captions use; removed before reading colours ("on green grass").
    static let backgroundPhrases: [String: [String]] = [
        "grass": ["on green grass", "in a green field", "on a grassy meadow", "on the lawn", "on a green lawn", "across a meadow", "on the grass"],
        "sky": ["in the blue sky", "in a blue sky", "against a clear blue sky", "high in the sky", "in the sky", "under a clear sky",
                "up in the daytime sky", "in the daytime sky"],
        "night": ["at night", "in the night sky", "in the dark night sky", "against a dark night sky", "late at night", "in the darkness"],
        "sand": ["on the sand", "in the desert", "on a sandy beach", "over sand dunes"],
        "grey": ["on a grey background", "on a plain grey background", "against a plain gray backdrop", "against a gray backdrop",
                 "on a neutral grey wall", "in front of a grey wall"],
        "teal": ["against a teal gradient", "in front of a blue-green gradient", "on a blue-green gradient",
                 "on a sea-green gradient backdrop", "in front of a teal backdrop"],
        "snow": ["on white snow", "in the snow", "in a snowy field", "on a white background", "against a white background",
                 "across a snowy field", "on a blank white backdrop"],
    ]

    /// Single words that name a motion when no caption phrase matched.
    static let motionKeywords: [String: [String]] = [
        "left": ["left", "leftward", "leftwards"], "right": ["right", "rightward", "rightwards"],
        "up": ["up", "upward", "upwards", "rise", "rising", "ascend", "climb"],
        "down": ["down", "downward", "downwards", "fall", "falling", "sink", "descend", "drop"],
        "bounce": ["bounce", "bouncing", "bounces", "hop", "jump"], "circle": ["orbit", "loop", "circling", "round"],
        "grow": ["grow", "grows", "growing", "expand", "bigger", "larger"], "shrink": ["shrink", "shrinks", "smaller", "contract"],
        "still": ["still", "motionless", "stationary", "static"],
    ]
}

/// What a prompt asks for, in the world's terms (nil where it names nothing the world knows).
public struct PromptAttributes: Sendable, Equatable, Codable {
    public var colour: String?
    public var shape: String?
    public var motion: String?
    public var size: String?
    public var background: String?

    public init(colour: String?, shape: String?, motion: String?, size: String?, background: String? = nil) {
        self.colour = colour
        self.shape = shape
        self.motion = motion
        self.size = size
        self.background = background
    }

    /// Reads a prompt: the longest matching phrase wins, on word boundaries, case-insensitively.
    /// The motion phrase is found first and removed, so "moves in a circle" names no shape. The
    /// subject's colour is the colour phrase nearest before the shape word ("a red ball bounces
    /// across green grass" is red: "green" there describes a background the tables do not list),
    /// else the longest colour phrase.
    public init(prompt: String) {
        let words = prompt.lowercased().map { $0.isLetter || $0 == "-" ? $0 : " " }
            .reduce(into: "") { $0.append($1) }.split(separator: " ")
        var text = " " + words.joined(separator: " ") + " "
        func find(_ table: [String: [String]], removing: Bool = false) -> String? {
            var best: (name: String, phrase: String)?
            for (name, phrases) in table.sorted(by: { $0.key < $1.key }) {
                for phrase in phrases where text.contains(" \(phrase) ") {
                    if best == nil || phrase.count > best!.phrase.count { best = (name, phrase) }
                }
            }
            if removing, let best { text = text.replacingOccurrences(of: " \(best.phrase) ", with: " ") }
            return best?.name
        }
        /// Where in `text` a phrase of `table` starts and ends, every occurrence.
        func occurrences(_ table: [String: [String]]) -> [(name: String, phrase: String, start: Int, end: Int)] {
            var found: [(name: String, phrase: String, start: Int, end: Int)] = []
            for (name, phrases) in table.sorted(by: { $0.key < $1.key }) {
                for phrase in phrases {
                    var from = text.startIndex
                    while let range = text.range(of: " \(phrase) ", range: from..<text.endIndex) {
                        found.append((name, phrase, text.distance(from: text.startIndex, to: range.lowerBound),
                                      text.distance(from: text.startIndex, to: range.upperBound)))
                        from = text.index(before: range.upperBound)
                    }
                }
            }
            return found
        }
        motion = find(World.motionPhrases, removing: true)
        background = find(World.backgroundPhrases, removing: true)
        let shapeStart = occurrences(World.shapeWords).map(\.start).min()
        let beforeShape = occurrences(World.colourWords).filter { shapeStart != nil && $0.end <= shapeStart! + 1 }
        // Nearest to the shape word; of phrases ending there ("bright green", "green") the longest.
        if let nearest = beforeShape.max(by: { ($0.end, -$0.start) < ($1.end, -$1.start) }) {
            colour = nearest.name
            text = text.replacingOccurrences(of: " \(nearest.phrase) ", with: " ")
        } else {
            colour = find(World.colourWords, removing: true)
        }
        shape = find(World.shapeWords)
        size = find(World.sizeWords)
        if motion == nil { motion = find(World.motionKeywords) }
    }
}
