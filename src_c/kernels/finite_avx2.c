/*
 * finite_avx2.c -- finite.c's block check, AVX2 + FMA: acc = x * 0 + acc over
 * four independent accumulators (NaN exactly when an inf or NaN was seen).
 */
#include <immintrin.h>

#include "../internal.h"

int fc_finite_f32_avx2(const float *x, ptrdiff_t n)
{
    const __m256 z = _mm256_setzero_ps();
    __m256 a0 = z, a1 = z, a2 = z, a3 = z;
    ptrdiff_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), z, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), z, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), z, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), z, a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), z, a0);
    const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float tail = 0;
    for (; i < n; ++i) tail += x[i] * 0.0f;
    /* every lane 0 (or -0) and the tail 0: ordered compare of s with itself */
    return _mm256_movemask_ps(_mm256_cmp_ps(s, s, _CMP_UNORD_Q)) == 0 && tail == 0;
}

int fc_finite_f64_avx2(const double *x, ptrdiff_t n)
{
    const __m256d z = _mm256_setzero_pd();
    __m256d a0 = z, a1 = z, a2 = z, a3 = z;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), z, a0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 4), z, a1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 8), z, a2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i + 12), z, a3);
    }
    for (; i + 4 <= n; i += 4) a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x + i), z, a0);
    const __m256d s = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    double tail = 0;
    for (; i < n; ++i) tail += x[i] * 0.0;
    return _mm256_movemask_pd(_mm256_cmp_pd(s, s, _CMP_UNORD_Q)) == 0 && tail == 0;
}
