/*
 * convwg_avx2.c -- the NHWC weight-gradient tile, AVX2 + FMA (float32): the
 * AVX-512 tile's formula (kernels/convwg_avx512.c) on 4 input channels x 16
 * output channels, 8 ymm sums:
 *   C[i][j] += sum over q of a[q * lda + i] * b[q * ldb + j]
 * each sum one fma chain over q from zero, then added to C.
 */
#include <immintrin.h>

#include "../conv_internal.h"

static inline __m256i lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void fc_conv_wgrad_tile_avx2_f32(ptrdiff_t k, const float *a, ptrdiff_t lda, int mr, const float *b,
                                 ptrdiff_t ldb, int nr, float *c, ptrdiff_t ldc)
{
    if (mr == 4 && nr == 16) {
        __m256 s0[4], s1[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) s0[i] = s1[i] = _mm256_setzero_ps();
        for (ptrdiff_t q = 0; q < k; ++q, a += lda, b += ldb) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 4
            for (int i = 0; i < 4; ++i) {
                const __m256 ai = _mm256_broadcast_ss(a + i);
                s0[i] = _mm256_fmadd_ps(ai, b0, s0[i]);
                s1[i] = _mm256_fmadd_ps(ai, b1, s1[i]);
            }
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            _mm256_storeu_ps(c + i * ldc, _mm256_add_ps(_mm256_loadu_ps(c + i * ldc), s0[i]));
            _mm256_storeu_ps(c + i * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + i * ldc + 8), s1[i]));
        }
        return;
    }
    /* partial tiles: one row at a time, the same chains */
    const __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
    for (int i = 0; i < mr; ++i) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        const float *ap = a + i, *bp = b;
        for (ptrdiff_t q = 0; q < k; ++q, ap += lda, bp += ldb) {
            const __m256 ai = _mm256_broadcast_ss(ap);
            s0 = _mm256_fmadd_ps(ai, _mm256_maskload_ps(bp, m0), s0);
            s1 = _mm256_fmadd_ps(ai, _mm256_maskload_ps(bp + 8, m1), s1);
        }
        float *cr = c + i * ldc;
        _mm256_maskstore_ps(cr, m0, _mm256_add_ps(_mm256_maskload_ps(cr, m0), s0));
        _mm256_maskstore_ps(cr + 8, m1, _mm256_add_ps(_mm256_maskload_ps(cr + 8, m1), s1));
    }
}
