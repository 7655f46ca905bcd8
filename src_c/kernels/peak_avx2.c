/*
 * peak_avx2.c -- FMA throughput probe for AVX2 + FMA: 12 independent ymm
 * chains (more than latency x pipes = 4 x 2), no memory traffic.  The
 * benchmarks time it to report the machine's float32 FMA peak.
 */
#include <immintrin.h>
#include "../fastconv.h"

double fc_fma_probe_avx2(long iters)
{
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    /* distinct starting values, or the compiler merges identical chains */
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(1.0f), c2 = _mm256_set1_ps(2.0f);
    __m256 c3 = _mm256_set1_ps(3.0f), c4 = _mm256_set1_ps(4.0f), c5 = _mm256_set1_ps(5.0f);
    __m256 c6 = _mm256_set1_ps(6.0f), c7 = _mm256_set1_ps(7.0f), c8 = _mm256_set1_ps(8.0f);
    __m256 c9 = _mm256_set1_ps(9.0f), c10 = _mm256_set1_ps(10.0f), c11 = _mm256_set1_ps(11.0f);
    for (long i = 0; i < iters; ++i) {
        c0 = _mm256_fmadd_ps(c0, x, y); c1 = _mm256_fmadd_ps(c1, x, y);
        c2 = _mm256_fmadd_ps(c2, x, y); c3 = _mm256_fmadd_ps(c3, x, y);
        c4 = _mm256_fmadd_ps(c4, x, y); c5 = _mm256_fmadd_ps(c5, x, y);
        c6 = _mm256_fmadd_ps(c6, x, y); c7 = _mm256_fmadd_ps(c7, x, y);
        c8 = _mm256_fmadd_ps(c8, x, y); c9 = _mm256_fmadd_ps(c9, x, y);
        c10 = _mm256_fmadd_ps(c10, x, y); c11 = _mm256_fmadd_ps(c11, x, y);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    /* the sum keeps the loop alive; the flop count is what matters */
    return (double)iters * 12 * 16 + (double)(out[0] * 0.0f);
}
