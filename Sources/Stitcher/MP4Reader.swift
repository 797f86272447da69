import CFFmpeg
import Foundation

/// Reads the first video stream of a media file back as RGB frames (libavformat + libavcodec),
/// for checks and evaluation.
public final class MP4Reader {
    /// Coded picture size.
    public let width: Int
    public let height: Int
    /// The stream's average frame rate as a fraction.
    public let frameRate: (numerator: Int, denominator: Int)
    /// The frame count the container declares (0 when it declares none).
    public let declaredFrameCount: Int
    /// The codec's short name, e.g. "h264".
    public let codecName: String
    /// The container's metadata tags.
    public let metadata: [String: String]

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var rgb: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private let streamIndex: Int32
    private var inputDone = false
    private var decoderDone = false

    public init(url: URL) throws(FFmpegError) {
        FFmpegLog.quiet()
        var format: UnsafeMutablePointer<AVFormatContext>? = nil
        try avCheck(avformat_open_input(&format, url.path, nil, nil), "avformat_open_input(\(url.path))")
        self.format = format
        var decoder: UnsafePointer<AVCodec>? = nil
        var index: Int32 = -1
        var codec: UnsafeMutablePointer<AVCodecContext>? = nil
        do throws(FFmpegError) {
            try avCheck(avformat_find_stream_info(format, nil), "avformat_find_stream_info")
            index = try avCheck(av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0), "av_find_best_stream(video)")
            guard let decoder, let context = avcodec_alloc_context3(decoder) else {
                throw FFmpegError(call: "avcodec_alloc_context3", message: "no decoder for the video stream")
            }
            codec = context
            let stream = format!.pointee.streams[Int(index)]!
            try avCheck(avcodec_parameters_to_context(context, stream.pointee.codecpar), "avcodec_parameters_to_context")
            try avCheck(avcodec_open2(context, decoder, nil), "avcodec_open2")
        } catch {
            avcodec_free_context(&codec)
            avformat_close_input(&format)
            throw error
        }
        let stream = format!.pointee.streams[Int(index)]!
        self.codec = codec
        self.streamIndex = index
        self.width = Int(codec!.pointee.width)
        self.height = Int(codec!.pointee.height)
        self.frameRate = (Int(stream.pointee.avg_frame_rate.num), Int(stream.pointee.avg_frame_rate.den))
        self.declaredFrameCount = Int(stream.pointee.nb_frames)
        self.codecName = String(cString: avcodec_get_name(codec!.pointee.codec_id))
        var tags: [String: String] = [:]
        var entry: UnsafeMutablePointer<AVDictionaryEntry>? = nil
        while let next = av_dict_get(format!.pointee.metadata, "", entry, AV_DICT_IGNORE_SUFFIX) {
            tags[String(cString: next.pointee.key)] = String(cString: next.pointee.value)
            entry = next
        }
        self.metadata = tags
        self.frame = av_frame_alloc()
        self.packet = av_packet_alloc()
    }

    /// The next decoded frame as RGB, or nil at the end of the stream.
    public func nextFrame() throws(FFmpegError) -> RGBFrame? {
        guard let codec, let frame, let packet, let format else { return nil }
        while !decoderDone {
            switch try avStep(avcodec_receive_frame(codec, frame), "avcodec_receive_frame") {
            case .ok:
                defer { av_frame_unref(frame) }
                return try convert(frame)
            case .endOfStream:
                decoderDone = true
            case .again:
                if inputDone { decoderDone = true; break }
                let rc = av_read_frame(format, packet)
                if rc == reel_averror_eof() {
                    inputDone = true
                    _ = try avStep(avcodec_send_packet(codec, nil), "avcodec_send_packet(flush)")
                    continue
                }
                try avCheck(rc, "av_read_frame")
                defer { av_packet_unref(packet) }
                if packet.pointee.stream_index == streamIndex {
                    _ = try avStep(avcodec_send_packet(codec, packet), "avcodec_send_packet")
                }
            }
        }
        return nil
    }

    /// Every remaining frame.
    public func readAll() throws(FFmpegError) -> [RGBFrame] {
        var frames: [RGBFrame] = []
        while let next = try nextFrame() { frames.append(next) }
        return frames
    }

    private func convert(_ decoded: UnsafeMutablePointer<AVFrame>) throws(FFmpegError) -> RGBFrame {
        let w = Int(decoded.pointee.width), h = Int(decoded.pointee.height)
        if rgb == nil || Int(rgb!.pointee.width) != w || Int(rgb!.pointee.height) != h {
            av_frame_free(&rgb)
            rgb = try MP4Writer.allocateFrame(width: w, height: h, format: AV_PIX_FMT_RGB24)
            sws_freeContext(scaler)
            scaler = sws_getContext(Int32(w), Int32(h), AVPixelFormat(rawValue: decoded.pointee.format),
                                    Int32(w), Int32(h), AV_PIX_FMT_RGB24,
                                    reel_sws_bicubic() | reel_sws_accurate_rnd(), nil, nil, nil)
            guard scaler != nil else { throw FFmpegError(call: "sws_getContext", message: "cannot convert the decoded format to RGB") }
        }
        let rgb = rgb!
        try avCheck(sws_scale_frame(scaler, rgb, decoded), "sws_scale_frame")
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let stride = Int(rgb.pointee.linesize.0)
        let src = rgb.pointee.data.0!
        pixels.withUnsafeMutableBufferPointer { dst in
            for y in 0..<h { (dst.baseAddress! + y * w * 3).update(from: src + y * stride, count: w * 3) }
        }
        return RGBFrame(width: w, height: h, pixels: pixels)
    }

    deinit {
        avcodec_free_context(&codec)
        avformat_close_input(&format)
        av_frame_free(&frame)
        av_frame_free(&rgb)
        av_packet_free(&packet)
        sws_freeContext(scaler)
    }
}
