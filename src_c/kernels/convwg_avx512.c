/*
 * convwg_avx512.c -- the NHWC weight-gradient tile, AVX-512F (float32).
 *
 * For one kernel tap the weight gradient is a product of two matrices that
 * already lie in memory in the layout a micro-kernel wants: the input
 * pixels of an output row (one pixel per k step, channels contiguous) and
 * the output-gradient pixels (output channels contiguous).  This tile reads
 * both in place with row strides, with no packing:
 *   C[i][j] += sum over q of a[q * lda + i] * b[q * ldb + j]
 * for i < mr <= 8 input channels and j < nr <= 32 output channels; each
 * sum is one fma chain over q from zero, then added to C (a row's partial
 * sum, as a GEMM adds its kc blocks: a long chain straight into C would
 * round worse over a whole batch).
 */
#include <immintrin.h>

#include "../conv_internal.h"

void fc_conv_wgrad_tile_avx512_f32(ptrdiff_t k, const float *a, ptrdiff_t lda, int mr, const float *b,
                                   ptrdiff_t ldb, int nr, float *c, ptrdiff_t ldc)
{
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1u) : 0;
    if (mr == 8) {
        __m512 s0[8], s1[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) s0[i] = s1[i] = _mm512_setzero_ps();
        for (ptrdiff_t q = 0; q < k; ++q, a += lda, b += ldb) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 8
            for (int i = 0; i < 8; ++i) {
                const __m512 ai = _mm512_set1_ps(a[i]);
                s0[i] = _mm512_fmadd_ps(ai, b0, s0[i]);
                s1[i] = _mm512_fmadd_ps(ai, b1, s1[i]);
            }
        }
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
            _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + i * ldc), s0[i]));
            _mm512_mask_storeu_ps(c + i * ldc + 16, m1,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + i * ldc + 16), s1[i]));
        }
        return;
    }
    /* fewer rows: one row at a time, the same chains */
    for (int i = 0; i < mr; ++i) {
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        const float *ap = a + i, *bp = b;
        for (ptrdiff_t q = 0; q < k; ++q, ap += lda, bp += ldb) {
            const __m512 ai = _mm512_set1_ps(*ap);
            s0 = _mm512_fmadd_ps(ai, _mm512_maskz_loadu_ps(m0, bp), s0);
            s1 = _mm512_fmadd_ps(ai, _mm512_maskz_loadu_ps(m1, bp + 16), s1);
        }
        _mm512_mask_storeu_ps(c + i * ldc, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + i * ldc), s0));
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + i * ldc + 16), s1));
    }
}
