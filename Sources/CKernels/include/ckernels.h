// Element-wise kernels for Tensors, in C so the compiler vectorises them: plain arithmetic (no libm
// call per element) in loops that clang turns into SIMD code, cloned for AVX-512, AVX2 and baseline
// x86-64 and picked at load time. Contraction into FMA is off, so every clone gives the same bits.
// Accuracy: exp within 3 ulp on [-87.3, 88] (0 below, e^88 above); erf within 6e-7 absolute.
#ifndef REEL_CKERNELS_H
#define REEL_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// x[i] = exp(x[i]).
void reel_exp(float *x, size_t count);
/// x[i] = x[i] / (1 + exp(-x[i])).
void reel_silu(float *x, size_t count);
/// x[i] = 0.5 x[i] (1 + erf(x[i] / sqrt 2)), the exact GELU.
void reel_gelu(float *x, size_t count);
/// x[i] = erf(x[i]).
void reel_erf(float *x, size_t count);
/// Softmax of one row in place; a row of -inf only becomes zeros.
void reel_softmax_row(float *row, size_t count);

/// SHA-256: compresses `blocks` 64-byte blocks of `data` into `state` (big-endian words, FIPS
/// 180-4). Uses the x86 SHA extensions when the CPU has them.
void reel_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
/// The same in portable C (for tests: both must agree).
void reel_sha256_blocks_portable(uint32_t state[8], const uint8_t *data, size_t blocks);
/// 1 when the CPU has the SHA extensions (and SSSE3/SSE4.1) that `reel_sha256_blocks` uses.
int reel_sha256_hardware(void);

#endif
