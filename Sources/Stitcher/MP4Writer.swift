import CFFmpeg
import Foundation

/// A picture size in pixels.
public struct FrameSize: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }
}

/// H.264 encoder settings.
public struct EncoderSettings: Sendable, Equatable {
    /// libx264 constant rate factor: 0 lossless … 51 worst; 18 is visually lossless.
    public var crf: Int = 18
    /// libx264 speed/size trade-off: ultrafast … placebo.
    public var preset: String = "medium"
    /// Output size; nil keeps the input frame size. Resized with swscale (bicubic).
    public var outputSize: FrameSize? = nil
    /// Key frame interval in frames; nil: two seconds.
    public var keyframeInterval: Int? = nil
    /// A soundtrack to mux, trimmed or padded to the film: copied when MP4 takes its codec and it is
    /// long enough, else transcoded to AAC. Needs `expectedFrames`.
    public var soundtrack: URL? = nil
    /// Frames the film will have (sets the soundtrack's length).
    public var expectedFrames: Int? = nil
    /// A fragmented MP4 that grows while the film renders (a fragment per key frame, playable
    /// as it grows; video only). Removed when the film is finished.
    public var preview: URL? = nil

    public init(crf: Int = 18, preset: String = "medium", outputSize: FrameSize? = nil, keyframeInterval: Int? = nil,
                soundtrack: URL? = nil, expectedFrames: Int? = nil, preview: URL? = nil) {
        self.crf = crf
        self.preset = preset
        self.outputSize = outputSize
        self.keyframeInterval = keyframeInterval
        self.soundtrack = soundtrack
        self.expectedFrames = expectedFrames
        self.preview = preview
    }
}

/// Writes RGB frames as H.264 (libx264, yuv420p) in an MP4 file via libavformat.
///
/// Frames go to a hidden temporary file beside the destination; `finish()` flushes the encoder,
/// writes the index at the front (faststart) and renames the file into place, so the final name
/// only ever holds a complete film. A writer dropped without `finish()` deletes its temporary file.
/// Timestamps are frame indices in a `1/fps` time base, rescaled to the container's.
public final class MP4Writer {
    public let url: URL
    public let inputWidth: Int
    public let inputHeight: Int
    public let framesPerSecond: Int
    public private(set) var framesWritten = 0

    private let temporaryURL: URL
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var scaler: OpaquePointer?
    private var rgb: UnsafeMutablePointer<AVFrame>?
    private var yuv: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var soundtrack: SoundtrackMuxer?
    private var preview: (format: UnsafeMutablePointer<AVFormatContext>, stream: UnsafeMutablePointer<AVStream>, url: URL)?
    private var finished = false

    /// Opens the encoder and the temporary output. Throws if the directory is not writable, the
    /// size is odd after scaling (yuv420p needs even sizes) or libx264 is missing.
    public init(url: URL, width: Int, height: Int, framesPerSecond: Int,
                settings: EncoderSettings = EncoderSettings(), metadata: [String: String] = [:]) throws(FFmpegError) {
        guard width > 0, height > 0 else { throw FFmpegError(call: "MP4Writer", message: "frame size \(width)×\(height) is not positive") }
        guard framesPerSecond > 0, framesPerSecond <= 240 else {
            throw FFmpegError(call: "MP4Writer", message: "frame rate \(framesPerSecond) is outside 1…240")
        }
        let outW = settings.outputSize?.width ?? width, outH = settings.outputSize?.height ?? height
        guard outW > 0, outH > 0, outW % 2 == 0, outH % 2 == 0 else {
            throw FFmpegError(call: "MP4Writer", message: "output size \(outW)×\(outH) must be positive and even for yuv420p")
        }
        self.url = url
        self.inputWidth = width
        self.inputHeight = height
        self.framesPerSecond = framesPerSecond
        self.temporaryURL = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).partial-\(UInt32.random(in: 0...UInt32.max)).mp4")
        do throws(FFmpegError) {
            try open(outW: outW, outH: outH, settings: settings, metadata: metadata)
        } catch {
            release()
            try? FileManager.default.removeItem(at: temporaryURL)
            throw error
        }
    }

    private func open(outW: Int, outH: Int, settings: EncoderSettings, metadata: [String: String]) throws(FFmpegError) {
        FFmpegLog.quiet()
        try avCheck(avformat_alloc_output_context2(&format, nil, "mp4", temporaryURL.path), "avformat_alloc_output_context2")
        guard let format else { throw FFmpegError(call: "avformat_alloc_output_context2", message: "no context") }
        guard let encoder = avcodec_find_encoder_by_name("libx264") else {
            throw FFmpegError(call: "avcodec_find_encoder_by_name", message: "libx264 is not available in this FFmpeg build; install Debian's libavcodec with x264 (scripts/setup.sh)")
        }
        guard let codec = avcodec_alloc_context3(encoder) else { throw FFmpegError(call: "avcodec_alloc_context3", message: "out of memory") }
        self.codec = codec
        let timeBase = AVRational(num: 1, den: Int32(framesPerSecond))
        codec.pointee.width = Int32(outW)
        codec.pointee.height = Int32(outH)
        codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codec.pointee.time_base = timeBase
        codec.pointee.framerate = AVRational(num: Int32(framesPerSecond), den: 1)
        codec.pointee.gop_size = Int32(settings.keyframeInterval ?? 2 * framesPerSecond)
        // Tag the colours the way swscale converts them, so players agree with the source.
        codec.pointee.colorspace = AVCOL_SPC_SMPTE170M
        codec.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        codec.pointee.color_trc = AVCOL_TRC_SMPTE170M
        codec.pointee.color_range = AVCOL_RANGE_MPEG
        if reel_avfmt_global_header(format.pointee.oformat) != 0 {
            codec.pointee.flags |= reel_av_codec_flag_global_header()
        }
        try avCheck(av_opt_set(codec.pointee.priv_data, "preset", settings.preset, 0), "av_opt_set(preset=\(settings.preset))")
        try avCheck(av_opt_set(codec.pointee.priv_data, "crf", String(settings.crf), 0), "av_opt_set(crf=\(settings.crf))")
        try avCheck(avcodec_open2(codec, encoder, nil), "avcodec_open2(libx264)")

        guard let stream = avformat_new_stream(format, nil) else { throw FFmpegError(call: "avformat_new_stream", message: "out of memory") }
        self.stream = stream
        try avCheck(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "avcodec_parameters_from_context")
        stream.pointee.time_base = timeBase
        stream.pointee.avg_frame_rate = codec.pointee.framerate
        stream.pointee.r_frame_rate = codec.pointee.framerate

        if let audio = settings.soundtrack {
            guard let frames = settings.expectedFrames, frames > 0 else {
                throw FFmpegError(call: "MP4Writer", message: "a soundtrack needs the film's frame count (expectedFrames)")
            }
            soundtrack = try SoundtrackMuxer(url: audio, output: format, duration: Double(frames) / Double(framesPerSecond))
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            av_dict_set(&format.pointee.metadata, key, value, 0)
        }
        if reel_avfmt_needs_file(format.pointee.oformat) != 0 {
            try avCheck(avio_open(&format.pointee.pb, temporaryURL.path, reel_avio_flag_write()), "avio_open(\(temporaryURL.deletingLastPathComponent().path))")
        }
        var options: OpaquePointer? = nil
        av_dict_set(&options, "movflags", "+faststart+use_metadata_tags", 0)
        defer { av_dict_free(&options) }
        try avCheck(avformat_write_header(format, &options), "avformat_write_header")

        if let previewURL = settings.preview { try openPreview(previewURL, codec: codec) }

        guard let scaler = sws_getContext(Int32(inputWidth), Int32(inputHeight), AV_PIX_FMT_RGB24,
                                          Int32(outW), Int32(outH), AV_PIX_FMT_YUV420P,
                                          reel_sws_bicubic() | reel_sws_accurate_rnd(), nil, nil, nil) else {
            throw FFmpegError(call: "sws_getContext", message: "cannot convert \(inputWidth)×\(inputHeight) RGB to \(outW)×\(outH) yuv420p")
        }
        self.scaler = scaler
        rgb = try Self.allocateFrame(width: inputWidth, height: inputHeight, format: AV_PIX_FMT_RGB24)
        yuv = try Self.allocateFrame(width: outW, height: outH, format: AV_PIX_FMT_YUV420P)
        guard let packet = av_packet_alloc() else { throw FFmpegError(call: "av_packet_alloc", message: "out of memory") }
        self.packet = packet
    }

    private func openPreview(_ url: URL, codec: UnsafeMutablePointer<AVCodecContext>) throws(FFmpegError) {
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        try avCheck(avformat_alloc_output_context2(&context, nil, "mp4", url.path), "avformat_alloc_output_context2(preview)")
        guard let context else { throw FFmpegError(call: "avformat_alloc_output_context2", message: "no preview context") }
        guard let stream = avformat_new_stream(context, nil) else {
            avformat_free_context(context)
            throw FFmpegError(call: "avformat_new_stream(preview)", message: "out of memory")
        }
        preview = (context, stream, url)
        try avCheck(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "avcodec_parameters_from_context(preview)")
        stream.pointee.time_base = codec.pointee.time_base
        stream.pointee.avg_frame_rate = codec.pointee.framerate
        try avCheck(avio_open(&context.pointee.pb, url.path, reel_avio_flag_write()), "avio_open(\(url.path))")
        var options: OpaquePointer? = nil
        av_dict_set(&options, "movflags", "+frag_keyframe+empty_moov+default_base_moof", 0)
        defer { av_dict_free(&options) }
        try avCheck(avformat_write_header(context, &options), "avformat_write_header(preview)")
    }

    static func allocateFrame(width: Int, height: Int, format pixelFormat: AVPixelFormat) throws(FFmpegError) -> UnsafeMutablePointer<AVFrame> {
        guard let frame = av_frame_alloc() else { throw FFmpegError(call: "av_frame_alloc", message: "out of memory") }
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        frame.pointee.format = pixelFormat.rawValue
        let rc = av_frame_get_buffer(frame, 0)
        if rc < 0 {
            var doomed: UnsafeMutablePointer<AVFrame>? = frame
            av_frame_free(&doomed)
            throw FFmpegError(code: rc, call: "av_frame_get_buffer")
        }
        return frame
    }

    /// Encodes one frame; it must have the writer's input size. Frames are shown in call order.
    public func append(_ frame: RGBFrame) throws(FFmpegError) {
        guard !finished, let codec, let rgb, let yuv else {
            throw FFmpegError(call: "MP4Writer.append", message: "the writer is already finished")
        }
        guard frame.width == inputWidth, frame.height == inputHeight else {
            throw FFmpegError(call: "MP4Writer.append", message: "frame is \(frame.width)×\(frame.height) but the writer takes \(inputWidth)×\(inputHeight)")
        }
        try avCheck(av_frame_make_writable(rgb), "av_frame_make_writable")
        let stride = Int(rgb.pointee.linesize.0), rowBytes = inputWidth * 3
        frame.pixels.withUnsafeBytes { src in
            let dst = rgb.pointee.data.0!
            for y in 0..<inputHeight {
                (dst + y * stride).update(from: src.baseAddress!.assumingMemoryBound(to: UInt8.self) + y * rowBytes, count: rowBytes)
            }
        }
        // The encoder may still hold the previous picture; make_writable gives us a fresh buffer then.
        try avCheck(av_frame_make_writable(yuv), "av_frame_make_writable")
        try avCheck(sws_scale_frame(scaler, yuv, rgb), "sws_scale_frame")
        yuv.pointee.pts = Int64(framesWritten)
        try avCheck(avcodec_send_frame(codec, yuv), "avcodec_send_frame")
        framesWritten += 1
        try drainPackets()
        try soundtrack?.write(upTo: Double(framesWritten) / Double(framesPerSecond), into: format!)
    }

    /// Writes every packet the encoder has ready.
    private func drainPackets() throws(FFmpegError) {
        guard let codec, let packet, let format, let stream else { return }
        while true {
            switch try avStep(avcodec_receive_packet(codec, packet), "avcodec_receive_packet") {
            case .again, .endOfStream: return
            case .ok:
                if let preview, let copy = av_packet_clone(packet) {
                    var doomed: UnsafeMutablePointer<AVPacket>? = copy
                    av_packet_rescale_ts(copy, codec.pointee.time_base, preview.stream.pointee.time_base)
                    copy.pointee.stream_index = 0
                    let rc = av_interleaved_write_frame(preview.format, copy)
                    av_packet_free(&doomed)
                    try avCheck(rc, "av_interleaved_write_frame(preview)")
                    avio_flush(preview.format.pointee.pb)
                }
                av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
                packet.pointee.stream_index = stream.pointee.index
                let rc = av_interleaved_write_frame(format, packet)
                av_packet_unref(packet)
                try avCheck(rc, "av_interleaved_write_frame")
            }
        }
    }

    /// Flushes the encoder, finalises the container and moves the file to its final name.
    public func finish() throws(FFmpegError) {
        guard !finished, let codec, let format else {
            throw FFmpegError(call: "MP4Writer.finish", message: "the writer is already finished")
        }
        guard framesWritten > 0 else {
            throw FFmpegError(call: "MP4Writer.finish", message: "no frames were written; an MP4 needs at least one")
        }
        _ = try avStep(avcodec_send_frame(codec, nil), "avcodec_send_frame(flush)")
        try drainPackets()
        try soundtrack?.finish(into: format)
        soundtrack = nil
        closePreview()
        try avCheck(av_write_trailer(format), "av_write_trailer")
        if format.pointee.pb != nil { try avCheck(avio_closep(&format.pointee.pb), "avio_closep") }
        finished = true
        release()
        if rename(temporaryURL.path, url.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: temporaryURL)
            throw FFmpegError(code: reel_averror(code), call: "rename to \(url.path)")
        }
    }

    /// Ends and removes the preview: the finished film (or nothing) replaces it.
    private func closePreview() {
        guard let preview else { return }
        if preview.format.pointee.pb != nil {
            av_write_trailer(preview.format)
            avio_closep(&preview.format.pointee.pb)
        }
        avformat_free_context(preview.format)
        try? FileManager.default.removeItem(at: preview.url)
        self.preview = nil
    }

    private func release() {
        soundtrack = nil
        closePreview()
        if let format, format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
        avformat_free_context(format); format = nil
        avcodec_free_context(&codec)
        sws_freeContext(scaler); scaler = nil
        av_frame_free(&rgb)
        av_frame_free(&yuv)
        av_packet_free(&packet)
    }

    deinit {
        release()
        if !finished { try? FileManager.default.removeItem(at: temporaryURL) }
    }
}
