#ifndef REEL_CFFMPEG_SHIM_H
#define REEL_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/dict.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <errno.h>

// Function-like macros and macro constants re-exported as functions Swift can call.

/// AVERROR(e): a POSIX errno as an FFmpeg error code.
static inline int reel_averror(int e) { return AVERROR(e); }
/// AVERROR_EOF: the end of a stream, a normal state.
static inline int reel_averror_eof(void) { return AVERROR_EOF; }
/// AVERROR(EAGAIN): the codec wants more input or must be drained first, a normal state.
static inline int reel_averror_eagain(void) { return AVERROR(EAGAIN); }
/// AV_NOPTS_VALUE: "no timestamp".
static inline int64_t reel_av_nopts_value(void) { return AV_NOPTS_VALUE; }

/// av_err2str(code) as a copy into a caller buffer (the macro uses a compound literal).
static inline void reel_av_err2str(int code, char *buffer, size_t size) {
    if (av_strerror(code, buffer, size) < 0) {
        snprintf(buffer, size, "unknown FFmpeg error %d", code);
    }
}

/// AVFMT_NOFILE flag test for an output format.
static inline int reel_avfmt_needs_file(const AVOutputFormat *format) {
    return (format->flags & AVFMT_NOFILE) == 0;
}
/// AVFMT_GLOBALHEADER flag test for an output format.
static inline int reel_avfmt_global_header(const AVOutputFormat *format) {
    return (format->flags & AVFMT_GLOBALHEADER) != 0;
}
static inline int reel_av_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }
static inline int reel_avio_flag_write(void) { return AVIO_FLAG_WRITE; }
static inline int reel_sws_bicubic(void) { return SWS_BICUBIC; }
static inline int reel_sws_bilinear(void) { return SWS_BILINEAR; }
static inline int reel_sws_accurate_rnd(void) { return SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP; }
static inline int reel_av_pkt_flag_key(void) { return AV_PKT_FLAG_KEY; }
static inline int reel_ff_compliance_normal(void) { return FF_COMPLIANCE_NORMAL; }
static inline int64_t reel_av_time_base(void) { return AV_TIME_BASE; }
/// The default layout for a channel count (mono, stereo ...).
static inline void reel_default_layout(AVChannelLayout *layout, int channels) { av_channel_layout_default(layout, channels); }
#endif
