#include "ckernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__clang__)
#define REEL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define REEL_CLONES
#endif

// exp: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor polynomial for e^r, and
// 2^n built in the exponent bits. n is rounded with the 1.5 * 2^23 shifter (it lands in the low
// mantissa bits), so there is no float-to-int conversion in the loop.
static inline float reel_expf(float x) {
    const float lo = -87.3f, hi = 88.0f;  // 2^n stays finite: n <= 127
    const float shifter = 12582912.0f;
    float c = x < lo ? lo : (x > hi ? hi : x);
    float shifted = c * 1.44269504088896341f + shifter;
    float n = shifted - shifter;
    float r = c - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - (0x4B400000u - 127u)) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float value = p * scale;
    return x < lo ? 0.0f : value;
}

// erf: Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7.
static inline float reel_erff(float x) {
    float a = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    poly = poly * t;
    float y = 1.0f - poly * reel_expf(-a * a);
    return x < 0.0f ? -y : y;
}

REEL_CLONES void reel_exp(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = reel_expf(x[i]);
}

REEL_CLONES void reel_silu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = x[i] / (1.0f + reel_expf(-x[i]));
}

REEL_CLONES void reel_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + reel_erff(x[i] * 0.70710678118654752f));
}

REEL_CLONES void reel_erf(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = reel_erff(x[i]);
}

REEL_CLONES void reel_softmax_row(float *row, size_t count) {
    float peak = -INFINITY;
    for (size_t i = 0; i < count; i++) peak = row[i] > peak ? row[i] : peak;
    if (peak == -INFINITY) {
        for (size_t i = 0; i < count; i++) row[i] = 0.0f;
        return;
    }
    for (size_t i = 0; i < count; i++) row[i] = reel_expf(row[i] - peak);
    float total = 0.0f;
    for (size_t i = 0; i < count; i++) total += row[i];
    float inverse = 1.0f / total;
    for (size_t i = 0; i < count; i++) row[i] *= inverse;
}
