/*
 * dgemm_avx2_6x8.c -- float64 micro-kernel for AVX2 + FMA: the float32
 * kernel's 6 x 2-vector shape with 4 doubles per vector (12 accumulators).
 */
#include <immintrin.h>
#include "../fastconv.h"

#define ROW(i)                                                        \
    do {                                                              \
        __m256d ai = _mm256_broadcast_sd(a + (i));                    \
        c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);                   \
        c##i##1 = _mm256_fmadd_pd(ai, b1, c##i##1);                   \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        double *ci = c + (i) * ldc;                                               \
        if (accumulate) {                                                         \
            c##i##0 = _mm256_add_pd(_mm256_loadu_pd(ci), c##i##0);                \
            c##i##1 = _mm256_add_pd(_mm256_loadu_pd(ci + 4), c##i##1);            \
        }                                                                         \
        _mm256_storeu_pd(ci, c##i##0);                                            \
        _mm256_storeu_pd(ci + 4, c##i##1);                                        \
    } while (0)

void fc_dgemm_ukernel_6x8_avx2(ptrdiff_t kc, const double *a, const double *b,
                               double *c, ptrdiff_t ldc, int accumulate)
{
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();

    for (int i = 0; i < 6; ++i) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 7), _MM_HINT_T0); /* row may span two lines */
    }

#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m256d b0 = _mm256_load_pd(b);
        __m256d b1 = _mm256_load_pd(b + 4);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
        a += 6;
        b += 8;
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
}

/* Half-width companion (6 x 4) for column edges of at most 4 (see the
 * float32 file). */
void fc_dgemm_ukernel_6x4_avx2(ptrdiff_t kc, const double *a, const double *b,
                               double *c, ptrdiff_t ldc, int accumulate)
{
    __m256d r0 = _mm256_setzero_pd(), r1 = _mm256_setzero_pd(), r2 = _mm256_setzero_pd();
    __m256d r3 = _mm256_setzero_pd(), r4 = _mm256_setzero_pd(), r5 = _mm256_setzero_pd();
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m256d b0 = _mm256_load_pd(b);
        r0 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 0), b0, r0);
        r1 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 1), b0, r1);
        r2 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 2), b0, r2);
        r3 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 3), b0, r3);
        r4 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 4), b0, r4);
        r5 = _mm256_fmadd_pd(_mm256_broadcast_sd(a + 5), b0, r5);
        a += 6;
        b += 4;
    }
    __m256d r[6] = {r0, r1, r2, r3, r4, r5};
    for (int i = 0; i < 6; ++i) {
        double *ci = c + i * ldc;
        _mm256_storeu_pd(ci, accumulate ? _mm256_add_pd(_mm256_loadu_pd(ci), r[i]) : r[i]);
    }
}
