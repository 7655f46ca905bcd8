/*
 * sgemm_avx512_12x32.c -- float32 micro-kernel for AVX-512F.
 *
 * A 12 x 32 tile of C in 24 zmm accumulators (12 rows x 2 vectors of 16);
 * per k step: two aligned loads of the packed B row, 12 broadcasts of the
 * packed A column, 24 independent FMAs.  24 + 2 + 1 of the 32 zmm registers.
 * With one 512-bit FMA issued per cycle and a latency of 4, 24 independent
 * chains keep the pipe full with room for load latency.
 */
#include <immintrin.h>
#include "../fastconv.h"

#define ROW(i)                                                        \
    do {                                                              \
        __m512 ai = _mm512_set1_ps(a[i]);                             \
        c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);                 \
        c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);                 \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        float *ci = c + (i) * ldc;                                                \
        if (accumulate) {                                                         \
            c##i##_0 = _mm512_add_ps(_mm512_loadu_ps(ci), c##i##_0);              \
            c##i##_1 = _mm512_add_ps(_mm512_loadu_ps(ci + 16), c##i##_1);         \
        }                                                                         \
        _mm512_storeu_ps(ci, c##i##_0);                                           \
        _mm512_storeu_ps(ci + 16, c##i##_1);                                      \
    } while (0)

#define ZERO(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps()

void fc_sgemm_ukernel_12x32_avx512(ptrdiff_t kc, const float *a, const float *b,
                                   float *c, ptrdiff_t ldc, int accumulate)
{
    ZERO(0); ZERO(1); ZERO(2); ZERO(3); ZERO(4); ZERO(5);
    ZERO(6); ZERO(7); ZERO(8); ZERO(9); ZERO(10); ZERO(11);

    for (int i = 0; i < 12; ++i) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }

#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m512 b0 = _mm512_load_ps(b);
        __m512 b1 = _mm512_load_ps(b + 16);
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
        ROW(6); ROW(7); ROW(8); ROW(9); ROW(10); ROW(11);
        a += 12;
        b += 32;
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
    STORE(6); STORE(7); STORE(8); STORE(9); STORE(10); STORE(11);
}

/* Half-width companion (12 x 16) for column edges of at most 16: one vector
 * per row, the same per-element FMA chain as the full kernel. */
void fc_sgemm_ukernel_12x16_avx512(ptrdiff_t kc, const float *a, const float *b,
                                   float *c, ptrdiff_t ldc, int accumulate)
{
    __m512 r[12];
    for (int i = 0; i < 12; ++i) r[i] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < kc; ++p) {
        __m512 b0 = _mm512_load_ps(b);
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) r[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, r[i]);
        a += 12;
        b += 16;
    }
    for (int i = 0; i < 12; ++i) {
        float *ci = c + i * ldc;
        _mm512_storeu_ps(ci, accumulate ? _mm512_add_ps(_mm512_loadu_ps(ci), r[i]) : r[i]);
    }
}
