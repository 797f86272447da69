// The header of each REEL/1 message type: its fields, how it is read from the header JSON, and
// the bounds `WireMessage.decode` enforces (docs/protocol.md, "Messages" and "Limits").
// JSON keys are the property names below. Codable conformance writes the same JSON (seed as a
// string included) but does not validate; only `WireMessage.decode` / `validate(limits:)` do.

/// Bounds that are part of the protocol rather than tunable limits.
public enum ProtocolBounds {
    /// Longest attempt, job or segment id, in characters of [A-Za-z0-9._-].
    public static let maxIdentifierBytes = 64
    public static let level = 0...64
    public static let startFrame = 0...10_000_000
    public static let stride = 1...4096
    /// Rank of `frameShape` and the size of each of its dimensions.
    public static let frameShapeRank = 1...4
    public static let frameShapeDimension = 1...4096
    public static let leaseMilliseconds = 1...86_400_000
    public static let computeMilliseconds = 0...604_800_000
    public static let heartbeatMilliseconds = 10...600_000
    public static let threads = 1...4096
    /// What a worker may announce as its window; the coordinator uses min(this, its maxWindowFrames).
    public static let announcedWindowFrames = 1...4096
    public static let guidance = 0.0...100.0
    /// Exclusive of 0.
    public static let shift = 0.0...100.0
    public static let methods = ["euler", "heun"]
}

/// READY, worker → coordinator: joins (or re-joins) the farm and says what it can do.
public struct Ready: Sendable, Codable, Equatable {
    /// Display name: 1…maxNameBytes of [A-Za-z0-9._:@+/-]. Not an address; the ROUTER identity is.
    public var worker: String
    /// Models it can run, 1…maxModels distinct names, same charset as `worker`.
    public var models: [String]
    /// Longest window (latent frames) it renders, 1…4096.
    public var maxWindowFrames: Int
    /// Compute threads it uses, 1…4096 (informational).
    public var threads: Int
    /// Tasks it holds at once, 1…maxCredit; the coordinator never leases it more.
    public var credit: Int
    /// The heartbeat interval both sides use on this connection, 10…600 000 ms.
    public var heartbeatMilliseconds: Int
    /// Optional (default empty): attempts the worker still holds when it (re-)announces itself,
    /// after a reconnect or a coordinator restart, so the coordinator keeps them with it at once.
    /// 0…maxCredit distinct attempt ids.
    public var activeAttempts: [String]
    /// Optional (default false): the worker answers DECODE with FRAMES. Only such workers are sent DECODE.
    public var decodes: Bool

    public init(worker: String, models: [String], maxWindowFrames: Int, threads: Int, credit: Int, heartbeatMilliseconds: Int,
                activeAttempts: [String] = [], decodes: Bool = false) {
        self.worker = worker
        self.models = models
        self.maxWindowFrames = maxWindowFrames
        self.threads = threads
        self.credit = credit
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.activeAttempts = activeAttempts
        self.decodes = decodes
    }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(worker: try h.string("worker"), models: try h.strings("models"), maxWindowFrames: try h.int("maxWindowFrames"),
                  threads: try h.int("threads"), credit: try h.int("credit"), heartbeatMilliseconds: try h.int("heartbeatMilliseconds"),
                  activeAttempts: h.fields["activeAttempts"] == nil ? [] : try h.strings("activeAttempts"),
                  decodes: h.fields["decodes"] == nil ? false : try h.bool("decodes"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.name(worker, "worker", limits: limits)
        try FieldRules.count(models.count, "models", 1...limits.maxModels)
        for (i, model) in models.enumerated() { try FieldRules.name(model, "models[\(i)]", limits: limits) }
        try FieldRules.distinct(models, "models")
        try FieldRules.range(maxWindowFrames, "maxWindowFrames", ProtocolBounds.announcedWindowFrames)
        try FieldRules.range(threads, "threads", ProtocolBounds.threads)
        try FieldRules.range(credit, "credit", 1...limits.maxCredit)
        try FieldRules.range(heartbeatMilliseconds, "heartbeatMilliseconds", ProtocolBounds.heartbeatMilliseconds)
        try FieldRules.count(activeAttempts.count, "activeAttempts", 0...limits.maxCredit)
        for (i, attempt) in activeAttempts.enumerated() { try FieldRules.identifier(attempt, "activeAttempts[\(i)]") }
        try FieldRules.distinct(activeAttempts, "activeAttempts")
    }
}

/// One prompt of a TASK's conditioning and its weight.
public struct PromptWeight: Sendable, Codable, Equatable {
    /// 0…maxPromptBytes UTF-8 bytes; no control characters other than tab, LF, CR.
    public var prompt: String
    /// Finite, ≥ 0; the weights of one TASK sum to 1 (within 1e-6 per prompt).
    public var weight: Double

    public init(prompt: String, weight: Double) {
        self.prompt = prompt
        self.weight = weight
    }
}

/// How the worker runs the sampler.
public struct SamplerParameters: Sendable, Codable, Equatable {
    /// Denoising steps, 1…maxSteps.
    public var steps: Int
    /// Classifier-free guidance scale, 0…100 (1 = conditional only).
    public var guidance: Double
    /// Time-schedule shift, > 0 and ≤ 100 (1 = unshifted).
    public var shift: Double
    /// "euler" or "heun".
    public var method: String

    public init(steps: Int, guidance: Double, shift: Double, method: String) {
        self.steps = steps
        self.guidance = guidance
        self.shift = shift
        self.method = method
    }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(steps: try h.int("steps"), guidance: try h.double("guidance"), shift: try h.double("shift"), method: try h.string("method"))
    }
}

/// TASK, coordinator → worker: render one segment window under one attempt.
public struct TaskAssignment: Sendable, Equatable {
    /// Fencing token: 1…64 of [A-Za-z0-9._-], unique per dispatch. Echoed in PROGRESS/RESULT/FAILED.
    public var attempt: String
    /// Job and segment ids, same charset as `attempt`.
    public var job: String
    public var segment: String
    /// How long the coordinator waits for RESULT/FAILED from dispatch before it requeues, 1…86 400 000 ms.
    public var leaseMilliseconds: Int
    /// Model to run, one of the worker's READY `models`.
    public var model: String
    /// Weighted prompts, 1…maxPrompts; weights finite, ≥ 0, summing to 1 within 1e-6·count.
    public var text: [PromptWeight]
    /// Noise seed, any UInt64. JSON: a decimal *string* ("18446744073709551615") so that languages
    /// that read JSON numbers as doubles keep every bit.
    public var seed: UInt64
    /// Plan level, 0…64 (0 = keyframes).
    public var level: Int
    /// Global latent frame of window slot 0, 0…10 000 000.
    public var startFrame: Int
    /// Global frames between consecutive slots, 1…4096.
    public var stride: Int
    /// Window length in latent frames, 1…maxWindowFrames.
    public var frames: Int
    /// One latent frame's shape, e.g. [C, h, w]: 1…4 dimensions of 1…4096; frames × product ≤ maxLatentValues.
    public var frameShape: [Int]
    /// Window slots that are conditioned on anchors: strictly increasing, in 0..<frames, at most
    /// maxAnchors. The payload holds one latent frame per slot, in this order.
    public var anchorSlots: [Int]
    public var sampler: SamplerParameters

    public init(attempt: String, job: String, segment: String, leaseMilliseconds: Int, model: String, text: [PromptWeight], seed: UInt64,
                level: Int, startFrame: Int, stride: Int, frames: Int, frameShape: [Int], anchorSlots: [Int], sampler: SamplerParameters) {
        self.attempt = attempt
        self.job = job
        self.segment = segment
        self.leaseMilliseconds = leaseMilliseconds
        self.model = model
        self.text = text
        self.seed = seed
        self.level = level
        self.startFrame = startFrame
        self.stride = stride
        self.frames = frames
        self.frameShape = frameShape
        self.anchorSlots = anchorSlots
        self.sampler = sampler
    }

    /// Float32 values one latent frame holds: product of `frameShape`.
    public var frameValueCount: Int { frameShape.reduce(1, { $0 &* $1 }) }
    /// Float32 values the TASK payload holds: `anchorSlots.count × product(frameShape)`.
    public var anchorValueCount: Int { anchorSlots.count &* frameValueCount }

    init(header h: HeaderObject) throws(ProtocolError) {
        var text: [PromptWeight] = []
        for entry in try h.objects("text") {
            text.append(PromptWeight(prompt: try entry.string("prompt"), weight: try entry.double("weight")))
        }
        let seedText: String
        do throws(ProtocolError) { seedText = try h.string("seed") } catch .wrongType {
            throw .wrongType(field: "seed", expected: "a decimal string such as \"42\"")
        }
        self.init(attempt: try h.string("attempt"), job: try h.string("job"), segment: try h.string("segment"),
                  leaseMilliseconds: try h.int("leaseMilliseconds"), model: try h.string("model"), text: text,
                  seed: try Self.seed(seedText), level: try h.int("level"), startFrame: try h.int("startFrame"),
                  stride: try h.int("stride"), frames: try h.int("frames"), frameShape: try h.ints("frameShape"),
                  anchorSlots: try h.ints("anchorSlots"), sampler: try SamplerParameters(header: try h.object("sampler")))
    }

    /// The seed's wire form: decimal digits only, no sign, no leading zeros, at most UInt64.max.
    static func seed(_ text: String) throws(ProtocolError) -> UInt64 {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              digits.count == 1 || digits.first != 0x30, let value = UInt64(text) else {
            throw .invalidValue(field: "seed", reason: "must be a decimal string of an integer in 0...18446744073709551615, without sign, spaces or leading zeros (got \"\(printable(text.utf8))\")")
        }
        return value
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(attempt, "attempt")
        try FieldRules.identifier(job, "job")
        try FieldRules.identifier(segment, "segment")
        try FieldRules.range(leaseMilliseconds, "leaseMilliseconds", ProtocolBounds.leaseMilliseconds)
        try FieldRules.name(model, "model", limits: limits)
        try FieldRules.count(text.count, "text", 1...limits.maxPrompts)
        var total = 0.0
        for (i, entry) in text.enumerated() {
            try FieldRules.text(entry.prompt, "text[\(i)].prompt", bytes: 0...limits.maxPromptBytes)
            guard entry.weight.isFinite, entry.weight >= 0 else {
                throw .outOfRange(field: "text[\(i)].weight", value: "\(entry.weight)", allowed: "range ≥ 0 (finite)")
            }
            total += entry.weight
        }
        guard abs(total - 1) <= 1e-6 * Double(text.count) else {
            throw .invalidValue(field: "text", reason: "has weights summing to \(total); they must sum to 1 within 1e-6 per prompt")
        }
        try FieldRules.range(level, "level", ProtocolBounds.level)
        try FieldRules.range(startFrame, "startFrame", ProtocolBounds.startFrame)
        try FieldRules.range(stride, "stride", ProtocolBounds.stride)
        try FieldRules.range(frames, "frames", 1...limits.maxWindowFrames)
        try FieldRules.frameShape(frameShape, frames: frames, limits: limits)
        try FieldRules.count(anchorSlots.count, "anchorSlots", 0...limits.maxAnchors)
        for (i, slot) in anchorSlots.enumerated() {
            try FieldRules.range(slot, "anchorSlots[\(i)]", 0...(frames - 1))
            if i > 0, anchorSlots[i - 1] >= slot {
                throw .invalidValue(field: "anchorSlots", reason: "must be strictly increasing (sorted, no repeats), but \(slot) follows \(anchorSlots[i - 1])")
            }
        }
        try FieldRules.range(sampler.steps, "sampler.steps", 1...limits.maxSteps)
        guard sampler.guidance.isFinite, ProtocolBounds.guidance.contains(sampler.guidance) else {
            throw .outOfRange(field: "sampler.guidance", value: "\(sampler.guidance)", allowed: "range 0...100")
        }
        guard sampler.shift.isFinite, sampler.shift > 0, ProtocolBounds.shift.contains(sampler.shift) else {
            throw .outOfRange(field: "sampler.shift", value: "\(sampler.shift)", allowed: "range (0, 100]")
        }
        guard ProtocolBounds.methods.contains(sampler.method) else {
            throw .invalidValue(field: "sampler.method", reason: "must be \"euler\" or \"heun\" (got \"\(printable(sampler.method.utf8))\")")
        }
    }
}

extension TaskAssignment: Codable {
    private enum CodingKeys: String, CodingKey {
        case attempt, job, segment, leaseMilliseconds, model, text, seed, level, startFrame, stride, frames, frameShape, anchorSlots, sampler
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let seedText = try c.decode(String.self, forKey: .seed)
        let seed: UInt64
        do { seed = try Self.seed(seedText) } catch {
            throw DecodingError.dataCorruptedError(forKey: .seed, in: c, debugDescription: "\(error)")
        }
        self.init(attempt: try c.decode(String.self, forKey: .attempt), job: try c.decode(String.self, forKey: .job),
                  segment: try c.decode(String.self, forKey: .segment), leaseMilliseconds: try c.decode(Int.self, forKey: .leaseMilliseconds),
                  model: try c.decode(String.self, forKey: .model), text: try c.decode([PromptWeight].self, forKey: .text), seed: seed,
                  level: try c.decode(Int.self, forKey: .level), startFrame: try c.decode(Int.self, forKey: .startFrame),
                  stride: try c.decode(Int.self, forKey: .stride), frames: try c.decode(Int.self, forKey: .frames),
                  frameShape: try c.decode([Int].self, forKey: .frameShape), anchorSlots: try c.decode([Int].self, forKey: .anchorSlots),
                  sampler: try c.decode(SamplerParameters.self, forKey: .sampler))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(job, forKey: .job)
        try c.encode(segment, forKey: .segment)
        try c.encode(leaseMilliseconds, forKey: .leaseMilliseconds)
        try c.encode(model, forKey: .model)
        try c.encode(text, forKey: .text)
        // A string: JSON numbers lose precision above 2^53 in JavaScript and other double-based readers.
        try c.encode(String(seed), forKey: .seed)
        try c.encode(level, forKey: .level)
        try c.encode(startFrame, forKey: .startFrame)
        try c.encode(stride, forKey: .stride)
        try c.encode(frames, forKey: .frames)
        try c.encode(frameShape, forKey: .frameShape)
        try c.encode(anchorSlots, forKey: .anchorSlots)
        try c.encode(sampler, forKey: .sampler)
    }
}

/// PROGRESS, worker → coordinator: `step` of `steps` sampler steps of an attempt are done.
public struct Progress: Sendable, Codable, Equatable {
    public var attempt: String
    /// Steps done, 0…steps.
    public var step: Int
    /// Steps in all, 1…maxSteps.
    public var steps: Int

    public init(attempt: String, step: Int, steps: Int) {
        self.attempt = attempt
        self.step = step
        self.steps = steps
    }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(attempt: try h.string("attempt"), step: try h.int("step"), steps: try h.int("steps"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(attempt, "attempt")
        try FieldRules.range(steps, "steps", 1...limits.maxSteps)
        try FieldRules.range(step, "step", 0...steps)
    }
}

/// RESULT, worker → coordinator: the clean latents of a segment (payload) and their digest.
public struct SegmentResult: Sendable, Codable, Equatable {
    /// The TASK's attempt, job and segment, echoed.
    public var attempt: String
    public var job: String
    public var segment: String
    /// Latent frames in the payload, 1…maxWindowFrames (the TASK's `frames`).
    public var frames: Int
    /// The TASK's `frameShape`, same rules.
    public var frameShape: [Int]
    /// SHA-256 of the payload bytes as 64 lowercase hex digits. The codec checks the format only;
    /// the coordinator recomputes the digest.
    public var sha256: String
    /// Wall time the worker spent on the attempt, 0…604 800 000 ms.
    public var computeMilliseconds: Int

    public init(attempt: String, job: String, segment: String, frames: Int, frameShape: [Int], sha256: String, computeMilliseconds: Int) {
        self.attempt = attempt
        self.job = job
        self.segment = segment
        self.frames = frames
        self.frameShape = frameShape
        self.sha256 = sha256
        self.computeMilliseconds = computeMilliseconds
    }

    /// Float32 values the RESULT payload holds: `frames × product(frameShape)`.
    public var latentValueCount: Int { frames &* frameShape.reduce(1, { $0 &* $1 }) }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(attempt: try h.string("attempt"), job: try h.string("job"), segment: try h.string("segment"), frames: try h.int("frames"),
                  frameShape: try h.ints("frameShape"), sha256: try h.string("sha256"), computeMilliseconds: try h.int("computeMilliseconds"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(attempt, "attempt")
        try FieldRules.identifier(job, "job")
        try FieldRules.identifier(segment, "segment")
        try FieldRules.range(frames, "frames", 1...limits.maxWindowFrames)
        try FieldRules.frameShape(frameShape, frames: frames, limits: limits)
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .invalidString(field: "sha256", reason: "must be 64 lowercase hexadecimal digits (got \"\(printable(sha256.utf8))\")")
        }
        try FieldRules.range(computeMilliseconds, "computeMilliseconds", ProtocolBounds.computeMilliseconds)
    }
}

/// DECODE, coordinator → worker: turn a batch of blended latent frames (payload, float32) into
/// pictures. Not a segment attempt: not journaled, not leased, no credit; the coordinator decodes
/// the batch itself when no FRAMES comes back in time, so a lost DECODE costs time, never the film.
public struct DecodeRequest: Sendable, Codable, Equatable {
    /// Names the batch in the FRAMES reply (identifier rules).
    public var decode: String
    /// The model whose VAE decodes (name rules).
    public var model: String
    /// Latent frames in the payload, 1…maxWindowFrames.
    public var frames: Int
    /// Shape of one latent frame (the DiT's unit-variance space), same rules as TASK's.
    public var frameShape: [Int]

    public init(decode: String, model: String, frames: Int, frameShape: [Int]) {
        self.decode = decode
        self.model = model
        self.frames = frames
        self.frameShape = frameShape
    }

    /// Float32 values the payload holds: `frames × product(frameShape)`.
    public var latentValueCount: Int { frames &* frameShape.reduce(1, { $0 &* $1 }) }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(decode: try h.string("decode"), model: try h.string("model"), frames: try h.int("frames"), frameShape: try h.ints("frameShape"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(decode, "decode")
        try FieldRules.name(model, "model", limits: limits)
        try FieldRules.range(frames, "frames", 1...limits.maxWindowFrames)
        try FieldRules.frameShape(frameShape, frames: frames, limits: limits)
    }
}

/// FRAMES, worker → coordinator: the pictures of one DECODE, as packed 8-bit RGB (payload:
/// `frames × height × width × 3` bytes, frame after frame, rows top to bottom).
public struct DecodedFrames: Sendable, Codable, Equatable {
    /// The DECODE's `decode`, echoed.
    public var decode: String
    /// Pictures in the payload, 1…maxWindowFrames.
    public var frames: Int
    /// Picture size in pixels, each 1…4096.
    public var width: Int
    public var height: Int

    public init(decode: String, frames: Int, width: Int, height: Int) {
        self.decode = decode
        self.frames = frames
        self.width = width
        self.height = height
    }

    /// Bytes the payload holds.
    public var pixelByteCount: Int { frames &* width &* height &* 3 }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(decode: try h.string("decode"), frames: try h.int("frames"), width: try h.int("width"), height: try h.int("height"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(decode, "decode")
        try FieldRules.range(frames, "frames", 1...limits.maxWindowFrames)
        try FieldRules.range(width, "width", ProtocolBounds.frameShapeDimension)
        try FieldRules.range(height, "height", ProtocolBounds.frameShapeDimension)
        guard pixelByteCount <= limits.maxPayloadBytes else {
            throw .invalidValue(field: "frames", reason: "gives \(pixelByteCount) bytes of pictures, over the payload limit of \(limits.maxPayloadBytes)")
        }
    }
}

/// FAILED, worker → coordinator: the attempt ended without a result.
public struct Failure: Sendable, Codable, Equatable {
    public var attempt: String
    /// What went wrong: 1…maxErrorBytes UTF-8 bytes, no control characters other than tab, LF, CR.
    public var error: String
    /// True when another try (here or elsewhere) may succeed; false fails the segment at once.
    public var retryable: Bool
    /// Optional (default false): the worker never started the attempt (no free slot, draining).
    /// The coordinator requeues the segment without counting a failure against it.
    public var refused: Bool

    /// `error` is made sendable: control characters become spaces, it is cut to the standard
    /// maxErrorBytes at a character boundary, and an empty one reads "unspecified error".
    public init(attempt: String, error: String, retryable: Bool, refused: Bool = false) {
        self.attempt = attempt
        self.error = FieldRules.sendable(error, maxBytes: ProtocolLimits.standard.maxErrorBytes, ifEmpty: "unspecified error")
        self.retryable = retryable
        self.refused = refused
    }

    init(header h: HeaderObject) throws(ProtocolError) {
        attempt = try h.string("attempt")
        error = try h.string("error")
        retryable = try h.bool("retryable")
        refused = h.fields["refused"] == nil ? false : try h.bool("refused")
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.identifier(attempt, "attempt")
        try FieldRules.text(error, "error", bytes: 1...limits.maxErrorBytes)
    }
}

/// HEARTBEAT, both ways: "I am alive, and these are the attempts I hold" (worker → coordinator:
/// attempts it runs or whose RESULT is unconfirmed; coordinator → worker: attempts leased to it).
public struct Heartbeat: Sendable, Codable, Equatable {
    /// 0…maxCredit distinct attempt ids.
    public var activeAttempts: [String]

    public init(activeAttempts: [String]) { self.activeAttempts = activeAttempts }

    init(header h: HeaderObject) throws(ProtocolError) {
        self.init(activeAttempts: try h.strings("activeAttempts"))
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.count(activeAttempts.count, "activeAttempts", 0...limits.maxCredit)
        for (i, attempt) in activeAttempts.enumerated() { try FieldRules.identifier(attempt, "activeAttempts[\(i)]") }
        try FieldRules.distinct(activeAttempts, "activeAttempts")
    }
}

/// DISCONNECT, both ways: the session ends, or with `draining` will end once held work is done.
public struct Disconnect: Sendable, Codable, Equatable {
    /// Why, for logs: 0…maxErrorBytes UTF-8 bytes, no control characters other than tab, LF, CR.
    public var reason: String
    /// Worker → coordinator: send me nothing new; I finish what I hold, then send DISCONNECT again
    /// with `draining: false`. Coordinator → worker: always false (announce again with READY).
    public var draining: Bool

    /// `reason` is made sendable as `Failure.error` is (cut to the standard maxErrorBytes).
    public init(reason: String, draining: Bool) {
        self.reason = FieldRules.sendable(reason, maxBytes: ProtocolLimits.standard.maxErrorBytes, ifEmpty: "")
        self.draining = draining
    }

    init(header h: HeaderObject) throws(ProtocolError) {
        reason = try h.string("reason")
        draining = try h.bool("draining")
    }

    public func validate(limits: ProtocolLimits = .standard) throws(ProtocolError) {
        try FieldRules.text(reason, "reason", bytes: 0...limits.maxErrorBytes)
    }
}

/// The field rules shared by several messages (docs/protocol.md, "Field types").
enum FieldRules {
    static func range(_ value: Int, _ field: String, _ allowed: ClosedRange<Int>) throws(ProtocolError) {
        guard allowed.contains(value) else {
            throw .outOfRange(field: field, value: "\(value)", allowed: "range \(allowed.lowerBound)...\(allowed.upperBound)")
        }
    }

    static func count(_ count: Int, _ field: String, _ allowed: ClosedRange<Int>) throws(ProtocolError) {
        guard allowed.contains(count) else { throw .count(field: field, actual: count, allowed: allowed) }
    }

    /// Attempt, job and segment ids: 1…64 characters of [A-Za-z0-9._-].
    static func identifier(_ value: String, _ field: String) throws(ProtocolError) {
        let bytes = value.utf8
        guard (1...ProtocolBounds.maxIdentifierBytes).contains(bytes.count), bytes.allSatisfy(isIdentifierByte) else {
            throw .invalidString(field: field, reason: "must be 1 to \(ProtocolBounds.maxIdentifierBytes) characters of A-Z a-z 0-9 . _ - (got \"\(printable(bytes))\")")
        }
    }

    /// Worker and model names: 1…maxNameBytes characters of [A-Za-z0-9._:@+/-].
    static func name(_ value: String, _ field: String, limits: ProtocolLimits) throws(ProtocolError) {
        let bytes = value.utf8
        guard (1...limits.maxNameBytes).contains(bytes.count), bytes.allSatisfy({ isIdentifierByte($0) || ":@+/".utf8.contains($0) }) else {
            throw .invalidString(field: field, reason: "must be 1 to \(limits.maxNameBytes) characters of A-Z a-z 0-9 . _ - : @ + / (got \"\(printable(bytes))\")")
        }
    }

    /// Free text (prompts, errors, reasons): a length in UTF-8 bytes, and no control characters but tab, LF, CR.
    static func text(_ value: String, _ field: String, bytes allowed: ClosedRange<Int>) throws(ProtocolError) {
        let length = value.utf8.count
        guard allowed.contains(length) else {
            throw .invalidString(field: field, reason: "is \(length) UTF-8 bytes; it must be \(allowed.lowerBound) to \(allowed.upperBound)")
        }
        if let bad = value.unicodeScalars.first(where: isForbiddenControl) {
            throw .invalidString(field: field, reason: "holds the control character U+\(String(bad.value, radix: 16, uppercase: true).leftPadded(to: 4)); only tab, LF and CR are allowed")
        }
    }

    static func distinct(_ values: [String], _ field: String) throws(ProtocolError) {
        var seen = Set<String>()
        for value in values where !seen.insert(value).inserted {
            throw .invalidValue(field: field, reason: "lists \"\(printable(value.utf8))\" more than once")
        }
    }

    /// Checks a latent frame shape against the limits for a window of `frames` frames.
    static func frameShape(_ shape: [Int], frames: Int, limits: ProtocolLimits) throws(ProtocolError) {
        try count(shape.count, "frameShape", ProtocolBounds.frameShapeRank)
        for (i, dimension) in shape.enumerated() { try range(dimension, "frameShape[\(i)]", ProtocolBounds.frameShapeDimension) }
        // No overflow: at most 4096^4 × frames (≤ 4096) < 2^63.
        let values = shape.reduce(1, *) * frames
        guard values <= limits.maxLatentValues else {
            throw .invalidValue(field: "frameShape", reason: "gives \(values) latent values for \(frames) frames, over the limit of \(limits.maxLatentValues)")
        }
    }

    static func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2e || b == 0x5f || b == 0x2d
    }

    static func isForbiddenControl(_ s: Unicode.Scalar) -> Bool {
        (s.value < 0x20 && s != "\t" && s != "\n" && s != "\r") || s.value == 0x7f
    }

    /// `text` with forbidden control characters as spaces, cut to `maxBytes` UTF-8 bytes at a
    /// character boundary; `ifEmpty` when nothing is left.
    static func sendable(_ text: String, maxBytes: Int, ifEmpty: String) -> String {
        var result = ""
        var bytes = 0
        for character in text {
            var piece = String(character)
            if piece.unicodeScalars.contains(where: isForbiddenControl) {
                piece = String(String.UnicodeScalarView(piece.unicodeScalars.map { isForbiddenControl($0) ? " " : $0 }))
            }
            let size = piece.utf8.count
            if bytes + size > maxBytes { break }
            result += piece
            bytes += size
        }
        return result.isEmpty ? ifEmpty : result
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
