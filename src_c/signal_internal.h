/*
 * signal_internal.h -- the block kernels of the signal-filtering engine
 * (signal.c); not part of the public API.
 *
 * A block kernel computes a "valid" cross-correlation of an already extended
 * (boundary-padded) block of input rows:
 *
 *   y[i * ldy + j] = sum over c < channels, r < kh, s < kw of
 *                    k[koff[c] + r * kw + s] * e[c * che + (i + r) * lde + j + s]
 *
 * for i < rows, j < cols, accumulated from zero in that (c, r, s) order.
 * Every output is computed by the same sequence of operations wherever it
 * lies in the block, so any tiling of the output (and so any thread count)
 * gives the same bits.  One signature per type; the portable kernels
 * (kernels/signal_ref.c) run on every CPU and are the oracle for the SIMD
 * ones.  Integers are computed modulo 2^32 (u32) or 2^64 (u64): exact for
 * any integer result type of at most that width once truncated to it.
 */
#ifndef FC_SIGNAL_INTERNAL_H
#define FC_SIGNAL_INTERNAL_H

#include "internal.h"

typedef void (*fc_corr_block_f32_fn)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels,
                                     const float *e, ptrdiff_t lde, ptrdiff_t che,
                                     const float *k, const ptrdiff_t *koff, ptrdiff_t kh,
                                     ptrdiff_t kw, float *y, ptrdiff_t ldy);
typedef void (*fc_corr_block_f64_fn)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels,
                                     const double *e, ptrdiff_t lde, ptrdiff_t che,
                                     const double *k, const ptrdiff_t *koff, ptrdiff_t kh,
                                     ptrdiff_t kw, double *y, ptrdiff_t ldy);
typedef void (*fc_corr_block_u32_fn)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels,
                                     const uint32_t *e, ptrdiff_t lde, ptrdiff_t che,
                                     const uint32_t *k, const ptrdiff_t *koff, ptrdiff_t kh,
                                     ptrdiff_t kw, uint32_t *y, ptrdiff_t ldy);
typedef void (*fc_corr_block_u64_fn)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels,
                                     const uint64_t *e, ptrdiff_t lde, ptrdiff_t che,
                                     const uint64_t *k, const ptrdiff_t *koff, ptrdiff_t kh,
                                     ptrdiff_t kw, uint64_t *y, ptrdiff_t ldy);

void fc_corr_block_f32_ref(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
                           const float *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
void fc_corr_block_f64_ref(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
                           const double *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t);
void fc_corr_block_u32_ref(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint32_t *, ptrdiff_t, ptrdiff_t,
                           const uint32_t *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, uint32_t *, ptrdiff_t);
void fc_corr_block_u64_ref(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint64_t *, ptrdiff_t, ptrdiff_t,
                           const uint64_t *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, uint64_t *, ptrdiff_t);
void fc_corr_block_f32_avx2(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
                            const float *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
void fc_corr_block_f64_avx2(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
                            const double *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t);
void fc_corr_block_u32_avx2(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint32_t *, ptrdiff_t, ptrdiff_t,
                            const uint32_t *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, uint32_t *, ptrdiff_t);
void fc_corr_block_f32_avx512(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
                              const float *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, float *, ptrdiff_t);
void fc_corr_block_f64_avx512(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, ptrdiff_t, ptrdiff_t,
                              const double *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t);
void fc_corr_block_u32_avx512(ptrdiff_t, ptrdiff_t, ptrdiff_t, const uint32_t *, ptrdiff_t, ptrdiff_t,
                              const uint32_t *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t, uint32_t *, ptrdiff_t);

#endif
