import CFFmpeg
import Foundation

/// Muxes a soundtrack into the film, trimmed or padded with silence to the video's length.
///
/// The track's packets are copied unchanged when the container takes its codec and it is at least
/// as long as the video (trimmed at a packet boundary); otherwise it is decoded, resampled and
/// encoded to AAC, trimmed to the exact sample or padded with silence. Audio is written as the
/// video advances, so the muxer interleaves both streams without buffering the film.
final class SoundtrackMuxer {
    enum Mode: Equatable { case copy, transcode }

    let mode: Mode
    let stream: UnsafeMutablePointer<AVStream>
    private let source: String
    private var input: UnsafeMutablePointer<AVFormatContext>?
    private let inputStream: UnsafeMutablePointer<AVStream>
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var resampler: OpaquePointer?
    private var fifo: OpaquePointer?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    /// Seconds of audio the film needs.
    private let duration: Double
    private var inputDone = false
    private var samplesEncoded: Int64 = 0
    private var finished = false

    /// Opens `url` and adds its stream to `output` (before the header is written).
    init(url: URL, output: UnsafeMutablePointer<AVFormatContext>, duration: Double) throws(FFmpegError) {
        self.source = url.path
        self.duration = duration
        var input: UnsafeMutablePointer<AVFormatContext>? = nil
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FFmpegError(call: "soundtrack", message: "no audio file at \(url.path)")
        }
        do {
            try avCheck(avformat_open_input(&input, url.path, nil, nil), "avformat_open_input(\(url.path))")
        } catch {
            throw FFmpegError(call: "soundtrack", message: "\(url.path) is not a readable media file (\(error.message))")
        }
        self.input = input
        var index: Int32 = -1
        do throws(FFmpegError) {
            try avCheck(avformat_find_stream_info(input, nil), "avformat_find_stream_info")
            index = av_find_best_stream(input, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
            guard index >= 0 else { throw FFmpegError(call: "soundtrack", message: "\(url.path) has no audio stream") }
        } catch {
            avformat_close_input(&input)
            throw error
        }
        inputStream = input!.pointee.streams[Int(index)]!
        let parameters = inputStream.pointee.codecpar!
        let inputDuration = input!.pointee.duration > 0 ? Double(input!.pointee.duration) / Double(reel_av_time_base()) : 0
        let copyable = avformat_query_codec(output.pointee.oformat, parameters.pointee.codec_id, reel_ff_compliance_normal()) == 1
        mode = copyable && inputDuration + 1e-3 >= duration ? .copy : .transcode
        guard let stream = avformat_new_stream(output, nil) else {
            avformat_close_input(&input)
            throw FFmpegError(call: "avformat_new_stream", message: "out of memory")
        }
        self.stream = stream
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        do throws(FFmpegError) {
            if mode == .copy {
                try avCheck(avcodec_parameters_copy(stream.pointee.codecpar, parameters), "avcodec_parameters_copy")
                stream.pointee.codecpar.pointee.codec_tag = 0
                stream.pointee.time_base = inputStream.pointee.time_base
            } else {
                try openTranscoder(parameters: parameters, output: output)
            }
        } catch {
            release()
            throw error
        }
    }

    private func openTranscoder(parameters: UnsafeMutablePointer<AVCodecParameters>, output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard let decoderCodec = avcodec_find_decoder(parameters.pointee.codec_id), let decoder = avcodec_alloc_context3(decoderCodec) else {
            throw FFmpegError(call: "soundtrack", message: "\(source) uses an audio codec this FFmpeg cannot decode")
        }
        self.decoder = decoder
        try avCheck(avcodec_parameters_to_context(decoder, parameters), "avcodec_parameters_to_context")
        try avCheck(avcodec_open2(decoder, decoderCodec, nil), "avcodec_open2(audio decoder)")
        guard let aac = avcodec_find_encoder(AV_CODEC_ID_AAC), let encoder = avcodec_alloc_context3(aac) else {
            throw FFmpegError(call: "avcodec_find_encoder(aac)", message: "the AAC encoder is missing from this FFmpeg")
        }
        self.encoder = encoder
        let channels = min(max(Int32(decoder.pointee.ch_layout.nb_channels), 1), 2)
        reel_default_layout(&encoder.pointee.ch_layout, channels)
        encoder.pointee.sample_rate = decoder.pointee.sample_rate > 0 ? decoder.pointee.sample_rate : 48000
        encoder.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        encoder.pointee.bit_rate = 128_000
        encoder.pointee.time_base = AVRational(num: 1, den: encoder.pointee.sample_rate)
        if reel_avfmt_global_header(output.pointee.oformat) != 0 { encoder.pointee.flags |= reel_av_codec_flag_global_header() }
        try avCheck(avcodec_open2(encoder, aac, nil), "avcodec_open2(aac)")
        try avCheck(avcodec_parameters_from_context(stream.pointee.codecpar, encoder), "avcodec_parameters_from_context(aac)")
        stream.pointee.time_base = encoder.pointee.time_base
        try avCheck(swr_alloc_set_opts2(&resampler, &encoder.pointee.ch_layout, encoder.pointee.sample_fmt, encoder.pointee.sample_rate,
                                        &decoder.pointee.ch_layout, decoder.pointee.sample_fmt, decoder.pointee.sample_rate, 0, nil),
                    "swr_alloc_set_opts2")
        try avCheck(swr_init(resampler), "swr_init")
        fifo = av_audio_fifo_alloc(encoder.pointee.sample_fmt, encoder.pointee.ch_layout.nb_channels, 1)
        guard fifo != nil else { throw FFmpegError(call: "av_audio_fifo_alloc", message: "out of memory") }
    }

    /// Writes the soundtrack up to `time` seconds of the film (never past its end).
    func write(upTo time: Double, into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        let end = min(time, duration)
        switch mode {
        case .copy: try copyPackets(upTo: end, into: output)
        case .transcode: try encodeSamples(upTo: end, into: output)
        }
    }

    private var copiedUpTo = 0.0

    private func copyPackets(upTo end: Double, into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard let input, let packet else { return }
        let tb = inputStream.pointee.time_base
        while !inputDone && copiedUpTo < end {
            let rc = av_read_frame(input, packet)
            if rc == reel_averror_eof() { inputDone = true; break }
            try avCheck(rc, "av_read_frame(\(source))")
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == inputStream.pointee.index else { continue }
            let start = Double(packet.pointee.pts) * Double(tb.num) / Double(tb.den)
            // Trim: the film ends at `duration`; later packets are dropped.
            if start >= duration { inputDone = true; break }
            copiedUpTo = start
            av_packet_rescale_ts(packet, tb, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            packet.pointee.pos = -1
            try avCheck(av_interleaved_write_frame(output, packet), "av_interleaved_write_frame(audio)")
        }
    }

    private func encodeSamples(upTo end: Double, into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard let encoder, let fifo else { return }
        let rate = Int64(encoder.pointee.sample_rate)
        let target = Int64((end * Double(rate)).rounded())
        let frameSize = Int64(encoder.pointee.frame_size > 0 ? encoder.pointee.frame_size : 1024)
        while samplesEncoded < target {
            let want = min(frameSize, target - samplesEncoded)
            while Int64(av_audio_fifo_size(fifo)) < want && !inputDone { try decodeMore() }
            let available = Int64(av_audio_fifo_size(fifo))
            // A frame smaller than frame_size is only allowed at the very end of the stream.
            if want < frameSize && target < Int64((duration * Double(rate)).rounded()) { break }
            try encodeFrame(samples: Int32(want), fromFIFO: Int32(min(available, want)), into: output)
        }
    }

    /// Decodes the next packets of the source into the FIFO, resampled.
    private func decodeMore() throws(FFmpegError) {
        guard let input, let decoder, let packet, let frame else { inputDone = true; return }
        let rc = av_read_frame(input, packet)
        if rc == reel_averror_eof() {
            inputDone = true
            _ = try avStep(avcodec_send_packet(decoder, nil), "avcodec_send_packet(flush)")
        } else {
            try avCheck(rc, "av_read_frame(\(source))")
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == inputStream.pointee.index else { return }
            _ = try avStep(avcodec_send_packet(decoder, packet), "avcodec_send_packet(audio)")
        }
        while try avStep(avcodec_receive_frame(decoder, frame), "avcodec_receive_frame(audio)") == .ok {
            defer { av_frame_unref(frame) }
            try appendResampled(frame)
        }
    }

    private func appendResampled(_ decoded: UnsafeMutablePointer<AVFrame>) throws(FFmpegError) {
        guard let encoder, let fifo, let resampler else { return }
        let outCount = swr_get_out_samples(resampler, decoded.pointee.nb_samples)
        guard outCount > 0 else { return }
        var converted: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>? = nil
        var lineSize: Int32 = 0
        try avCheck(av_samples_alloc_array_and_samples(&converted, &lineSize, encoder.pointee.ch_layout.nb_channels, outCount,
                                                      encoder.pointee.sample_fmt, 0), "av_samples_alloc_array_and_samples")
        defer {
            if let converted { av_freep(UnsafeMutableRawPointer(converted)) }
            av_freep(&converted)
        }
        let produced = decoded.pointee.extended_data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { source in
            swr_convert(resampler, converted, outCount, source, decoded.pointee.nb_samples)
        }
        try avCheck(produced, "swr_convert")
        converted!.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) { planes in
            _ = av_audio_fifo_write(fifo, planes, produced)
        }
    }

    /// Encodes one frame of `samples`: `fromFIFO` of them from the FIFO, the rest silence.
    private func encodeFrame(samples: Int32, fromFIFO: Int32, into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard let encoder, let fifo else { return }
        guard let out = av_frame_alloc() else { throw FFmpegError(call: "av_frame_alloc", message: "out of memory") }
        var doomed: UnsafeMutablePointer<AVFrame>? = out
        defer { av_frame_free(&doomed) }
        out.pointee.nb_samples = samples
        out.pointee.format = encoder.pointee.sample_fmt.rawValue
        out.pointee.sample_rate = encoder.pointee.sample_rate
        try avCheck(av_channel_layout_copy(&out.pointee.ch_layout, &encoder.pointee.ch_layout), "av_channel_layout_copy")
        try avCheck(av_frame_get_buffer(out, 0), "av_frame_get_buffer(audio)")
        try avCheck(av_samples_set_silence(out.pointee.extended_data, 0, samples, encoder.pointee.ch_layout.nb_channels, encoder.pointee.sample_fmt),
                    "av_samples_set_silence")
        if fromFIFO > 0 {
            let read = out.pointee.extended_data.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) { planes in
                av_audio_fifo_read(fifo, planes, fromFIFO)
            }
            try avCheck(read, "av_audio_fifo_read")
        }
        out.pointee.pts = samplesEncoded
        samplesEncoded += Int64(samples)
        try avCheck(avcodec_send_frame(encoder, out), "avcodec_send_frame(aac)")
        try drainEncoder(into: output)
    }

    private func drainEncoder(into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard let encoder, let packet else { return }
        while try avStep(avcodec_receive_packet(encoder, packet), "avcodec_receive_packet(aac)") == .ok {
            av_packet_rescale_ts(packet, encoder.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let rc = av_interleaved_write_frame(output, packet)
            av_packet_unref(packet)
            try avCheck(rc, "av_interleaved_write_frame(audio)")
        }
    }

    /// Writes the rest of the soundtrack (padding with silence if it is short) and flushes.
    func finish(into output: UnsafeMutablePointer<AVFormatContext>) throws(FFmpegError) {
        guard !finished else { return }
        finished = true
        switch mode {
        case .copy:
            try copyPackets(upTo: duration, into: output)
        case .transcode:
            guard let encoder else { return }
            try encodeSamples(upTo: duration, into: output)
            _ = try avStep(avcodec_send_frame(encoder, nil), "avcodec_send_frame(aac flush)")
            try drainEncoder(into: output)
        }
        release()
    }

    private func release() {
        avformat_close_input(&input)
        avcodec_free_context(&decoder)
        avcodec_free_context(&encoder)
        swr_free(&resampler)
        if let fifo { av_audio_fifo_free(fifo) }
        fifo = nil
        av_packet_free(&packet)
        av_frame_free(&frame)
    }

    deinit { release() }
}
