/*
 * peak_avx512.c -- FMA throughput probe for AVX-512F: 16 independent zmm
 * chains, no memory traffic (see peak_avx2.c).
 */
#include <immintrin.h>
#include "../fastconv.h"

double fc_fma_probe_avx512(long iters)
{
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    __m512 c[16];
    for (int j = 0; j < 16; ++j) c[j] = _mm512_set1_ps((float)j); /* distinct chains */
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; ++j) c[j] = _mm512_fmadd_ps(c[j], x, y);
    }
    __m512 s = c[0];
    for (int j = 1; j < 16; ++j) s = _mm512_add_ps(s, c[j]);
    return (double)iters * 16 * 32 + (double)(_mm512_reduce_add_ps(s) * 0.0f);
}
