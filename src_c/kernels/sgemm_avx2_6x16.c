/*
 * sgemm_avx2_6x16.c -- float32 micro-kernel for AVX2 + FMA.
 *
 * A 6 x 16 tile of C lives in 12 ymm accumulators (6 rows x 2 vectors of 8);
 * per k step it loads two vectors of the packed B row, broadcasts the 6
 * values of the packed A column and issues 12 independent FMAs, enough to
 * hide the FMA latency on two FMA pipes.  16 ymm registers: 12 + 2 + 1 + 1.
 */
#include <immintrin.h>
#include "../fastconv.h"

#define ROW(i)                                                        \
    do {                                                              \
        __m256 ai = _mm256_broadcast_ss(a + (i));                     \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                   \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                   \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        float *ci = c + (i) * ldc;                                                \
        if (accumulate) {                                                         \
            c##i##0 = _mm256_add_ps(_mm256_loadu_ps(ci), c##i##0);                \
            c##i##1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), c##i##1);            \
        }                                                                         \
        _mm256_storeu_ps(ci, c##i##0);                                            \
        _mm256_storeu_ps(ci + 8, c##i##1);                                        \
    } while (0)

void fc_sgemm_ukernel_6x16_avx2(ptrdiff_t kc, const float *a, const float *b,
                                float *c, ptrdiff_t ldc, int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

    /* touch the C tile early so its lines arrive while we compute */
    for (int i = 0; i < 6; ++i) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0); /* row may span two lines */
    }

#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m256 b0 = _mm256_load_ps(b);
        __m256 b1 = _mm256_load_ps(b + 8);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
        a += 6;
        b += 16;
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
}

/* Half-width companion (6 x 8) for column edges of at most 8: the same
 * per-element FMA chain as the 6 x 16 kernel, so results do not depend on
 * which of the two computed a column. */
void fc_sgemm_ukernel_6x8_avx2(ptrdiff_t kc, const float *a, const float *b,
                               float *c, ptrdiff_t ldc, int accumulate)
{
    __m256 r0 = _mm256_setzero_ps(), r1 = _mm256_setzero_ps(), r2 = _mm256_setzero_ps();
    __m256 r3 = _mm256_setzero_ps(), r4 = _mm256_setzero_ps(), r5 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m256 b0 = _mm256_load_ps(b);
        r0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, r0);
        r1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, r1);
        r2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, r2);
        r3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, r3);
        r4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, r4);
        r5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, r5);
        a += 6;
        b += 8;
    }
    __m256 r[6] = {r0, r1, r2, r3, r4, r5};
    for (int i = 0; i < 6; ++i) {
        float *ci = c + i * ldc;
        _mm256_storeu_ps(ci, accumulate ? _mm256_add_ps(_mm256_loadu_ps(ci), r[i]) : r[i]);
    }
}
