/*
 * dgemm_avx512_12x16.c -- float64 micro-kernel for AVX-512F: the float32
 * kernel's 12 x 2-vector shape with 8 doubles per vector (24 accumulators).
 */
#include <immintrin.h>
#include "../fastconv.h"

#define ROW(i)                                                        \
    do {                                                              \
        __m512d ai = _mm512_set1_pd(a[i]);                            \
        c##i##_0 = _mm512_fmadd_pd(ai, b0, c##i##_0);                 \
        c##i##_1 = _mm512_fmadd_pd(ai, b1, c##i##_1);                 \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        double *ci = c + (i) * ldc;                                               \
        if (accumulate) {                                                         \
            c##i##_0 = _mm512_add_pd(_mm512_loadu_pd(ci), c##i##_0);              \
            c##i##_1 = _mm512_add_pd(_mm512_loadu_pd(ci + 8), c##i##_1);          \
        }                                                                         \
        _mm512_storeu_pd(ci, c##i##_0);                                           \
        _mm512_storeu_pd(ci + 8, c##i##_1);                                       \
    } while (0)

#define ZERO(i) __m512d c##i##_0 = _mm512_setzero_pd(), c##i##_1 = _mm512_setzero_pd()

void fc_dgemm_ukernel_12x16_avx512(ptrdiff_t kc, const double *a, const double *b,
                                   double *c, ptrdiff_t ldc, int accumulate)
{
    ZERO(0); ZERO(1); ZERO(2); ZERO(3); ZERO(4); ZERO(5);
    ZERO(6); ZERO(7); ZERO(8); ZERO(9); ZERO(10); ZERO(11);

    for (int i = 0; i < 12; ++i) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 8), _MM_HINT_T0);
    }

#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m512d b0 = _mm512_load_pd(b);
        __m512d b1 = _mm512_load_pd(b + 8);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
        ROW(6); ROW(7); ROW(8); ROW(9); ROW(10); ROW(11);
        a += 12;
        b += 16;
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
    STORE(6); STORE(7); STORE(8); STORE(9); STORE(10); STORE(11);
}

/* Half-width companion (12 x 8) for column edges of at most 8: one vector
 * per row, the same per-element FMA chain as the full kernel. */
void fc_dgemm_ukernel_12x8_avx512(ptrdiff_t kc, const double *a, const double *b,
                                  double *c, ptrdiff_t ldc, int accumulate)
{
    __m512d r[12];
    for (int i = 0; i < 12; ++i) r[i] = _mm512_setzero_pd();
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m512d b0 = _mm512_load_pd(b);
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) r[i] = _mm512_fmadd_pd(_mm512_set1_pd(a[i]), b0, r[i]);
        a += 12;
        b += 8;
    }
    for (int i = 0; i < 12; ++i) {
        double *ci = c + i * ldc;
        _mm512_storeu_pd(ci, accumulate ? _mm512_add_pd(_mm512_loadu_pd(ci), r[i]) : r[i]);
    }
}
