import CFFmpeg
import Foundation

/// A failed FFmpeg call: its return code, FFmpeg's message for it, and the call.
public struct FFmpegError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let message: String
    public let call: String

    public var description: String { "\(call) failed: \(message)" }

    /// The call failed because the disk is full (AVERROR(ENOSPC)).
    public var isOutOfSpace: Bool { code == reel_averror(ENOSPC) }

    init(code: Int32, call: String) {
        self.code = code
        self.call = call
        var buffer = [CChar](repeating: 0, count: 256)
        reel_av_err2str(code, &buffer, buffer.count)
        self.message = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    init(call: String, message: String) {
        self.code = reel_averror(EINVAL)
        self.call = call
        self.message = message
    }
}

/// The result of a codec step that may legitimately have nothing to give (EAGAIN) or be finished (EOF).
enum CodecStep: Equatable {
    case ok
    case again
    case endOfStream
}

/// The one place FFmpeg return codes become Swift errors.
@discardableResult
func avCheck(_ rc: Int32, _ call: @autoclosure () -> String) throws(FFmpegError) -> Int32 {
    if rc < 0 { throw FFmpegError(code: rc, call: call()) }
    return rc
}

/// Like `avCheck`, but EAGAIN and EOF are states, not errors.
func avStep(_ rc: Int32, _ call: @autoclosure () -> String) throws(FFmpegError) -> CodecStep {
    if rc >= 0 { return .ok }
    if rc == reel_averror_eagain() { return .again }
    if rc == reel_averror_eof() { return .endOfStream }
    throw FFmpegError(code: rc, call: call())
}

/// FFmpeg's own logging: libx264 and the muxers print statistics on every file by default.
public enum FFmpegLog {
    /// Only errors from here on (process-wide). `REEL_FFMPEG_LOG=verbose` keeps FFmpeg's defaults.
    public static func quiet() {
        if ProcessInfo.processInfo.environment["REEL_FFMPEG_LOG"] == "verbose" { return }
        av_log_set_level(AV_LOG_ERROR)
    }
}
