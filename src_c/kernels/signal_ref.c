/*
 * signal_ref.c -- portable block kernels of the signal-filtering engine (see
 * signal_internal.h): the fallback on every CPU and the oracle of the SIMD
 * kernels.  Each output row is cleared and then receives one axpy per tap,
 * in (c, r, s) order; the axpy over the row is what a compiler vectorises for
 * the baseline SIMD of the target, and each output still sees its products
 * added one by one in tap order.
 */
#include "../signal_internal.h"

#define REF_BLOCK(NAME, T)                                                            \
    void NAME(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels, const T *e,         \
              ptrdiff_t lde, ptrdiff_t che, const T *k, const ptrdiff_t *koff,        \
              ptrdiff_t kh, ptrdiff_t kw, T *y, ptrdiff_t ldy)                        \
    {                                                                                 \
        for (ptrdiff_t i = 0; i < rows; ++i) {                                        \
            T *restrict yr = y + i * ldy;                                             \
            for (ptrdiff_t j = 0; j < cols; ++j) yr[j] = 0;                           \
            for (ptrdiff_t c = 0; c < channels; ++c) {                                \
                const T *kc = k + koff[c];                                            \
                for (ptrdiff_t r = 0; r < kh; ++r) {                                  \
                    const T *restrict er = e + c * che + (i + r) * lde;               \
                    for (ptrdiff_t s = 0; s < kw; ++s) {                              \
                        const T w = kc[r * kw + s];                                   \
                        const T *restrict es = er + s;                                \
                        for (ptrdiff_t j = 0; j < cols; ++j) yr[j] += w * es[j];      \
                    }                                                                 \
                }                                                                     \
            }                                                                         \
        }                                                                             \
    }

REF_BLOCK(fc_corr_block_f32_ref, float)
REF_BLOCK(fc_corr_block_f64_ref, double)
/* unsigned: wrap-around is defined (modulo 2^32, 2^64) */
REF_BLOCK(fc_corr_block_u32_ref, uint32_t)
REF_BLOCK(fc_corr_block_u64_ref, uint64_t)
