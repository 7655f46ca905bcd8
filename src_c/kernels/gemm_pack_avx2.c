/*
 * gemm_pack_avx2.c -- A-panel packing for the 6-row AVX2 micro-kernels.
 *
 * The kernels read A k-major (6 values per k) while A usually lies row-major,
 * so packing is a transpose.  Done one scalar at a time it costs a fifth of
 * a skinny GEMM's time; here 8 (float) or 4 (double) columns of the 6 rows
 * are loaded as vectors, transposed in registers and stored 6 at a time.
 * Only the common case is handled: 6 (or 12: two halves) full rows with unit
 * column stride; the driver packs everything else with the portable routine.
 */
#include <immintrin.h>
#include "../fastconv.h"
#include "transpose_avx2.h"

static inline void store6_ps(float *d, __m256 v)
{
    _mm_storeu_ps(d, _mm256_castps256_ps128(v));
    _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(v, 1));
}

/* Six rows of A into dst, k-major with ld values per k (6 for the 6-row
 * kernels, 12 for one half of a 12-row AVX-512 panel). */
static inline void pack6_ps(ptrdiff_t kc, const float *a, ptrdiff_t rs, float alpha, float *dst, ptrdiff_t ld)
{
    const float *r0 = a, *r1 = a + rs, *r2 = a + 2 * rs;
    const float *r3 = a + 3 * rs, *r4 = a + 4 * rs, *r5 = a + 5 * rs;
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 zero = _mm256_setzero_ps();
    const int scale = alpha != 1.0f;
    ptrdiff_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 x0 = _mm256_loadu_ps(r0 + p), x1 = _mm256_loadu_ps(r1 + p);
        __m256 x2 = _mm256_loadu_ps(r2 + p), x3 = _mm256_loadu_ps(r3 + p);
        __m256 x4 = _mm256_loadu_ps(r4 + p), x5 = _mm256_loadu_ps(r5 + p);
        if (scale) {
            x0 = _mm256_mul_ps(x0, va); x1 = _mm256_mul_ps(x1, va); x2 = _mm256_mul_ps(x2, va);
            x3 = _mm256_mul_ps(x3, va); x4 = _mm256_mul_ps(x4, va); x5 = _mm256_mul_ps(x5, va);
        }
        /* 8 x 8 transpose with rows 6 and 7 zero */
        __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
        __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
        __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
        __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 s4 = _mm256_shuffle_ps(t4, zero, 0x44), s5 = _mm256_shuffle_ps(t4, zero, 0xEE);
        __m256 s6 = _mm256_shuffle_ps(t5, zero, 0x44), s7 = _mm256_shuffle_ps(t5, zero, 0xEE);
        float *d = dst + p * ld;
        store6_ps(d + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
        store6_ps(d + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
        store6_ps(d + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
        store6_ps(d + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
        store6_ps(d + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
        store6_ps(d + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
        store6_ps(d + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
        store6_ps(d + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
    }
    for (; p < kc; ++p) {
        float *d = dst + p * ld;
        d[0] = alpha * r0[p]; d[1] = alpha * r1[p]; d[2] = alpha * r2[p];
        d[3] = alpha * r3[p]; d[4] = alpha * r4[p]; d[5] = alpha * r5[p];
    }
}

static inline void pack6_pd(ptrdiff_t kc, const double *a, ptrdiff_t rs, double alpha, double *dst, ptrdiff_t ld)
{
    const double *r0 = a, *r1 = a + rs, *r2 = a + 2 * rs;
    const double *r3 = a + 3 * rs, *r4 = a + 4 * rs, *r5 = a + 5 * rs;
    const __m256d va = _mm256_set1_pd(alpha);
    const int scale = alpha != 1.0;
    ptrdiff_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        __m256d x0 = _mm256_loadu_pd(r0 + p), x1 = _mm256_loadu_pd(r1 + p);
        __m256d x2 = _mm256_loadu_pd(r2 + p), x3 = _mm256_loadu_pd(r3 + p);
        __m256d x4 = _mm256_loadu_pd(r4 + p), x5 = _mm256_loadu_pd(r5 + p);
        if (scale) {
            x0 = _mm256_mul_pd(x0, va); x1 = _mm256_mul_pd(x1, va); x2 = _mm256_mul_pd(x2, va);
            x3 = _mm256_mul_pd(x3, va); x4 = _mm256_mul_pd(x4, va); x5 = _mm256_mul_pd(x5, va);
        }
        /* rows 0-3: 4 x 4 transpose; rows 4-5: pairs */
        __m256d t0 = _mm256_unpacklo_pd(x0, x1), t1 = _mm256_unpackhi_pd(x0, x1);
        __m256d t2 = _mm256_unpacklo_pd(x2, x3), t3 = _mm256_unpackhi_pd(x2, x3);
        __m256d u0 = _mm256_unpacklo_pd(x4, x5), u1 = _mm256_unpackhi_pd(x4, x5);
        double *d = dst + p * ld;
        _mm256_storeu_pd(d + 0, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm_storeu_pd(d + 4, _mm256_castpd256_pd128(u0));
        _mm256_storeu_pd(d + ld, _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm_storeu_pd(d + ld + 4, _mm256_castpd256_pd128(u1));
        _mm256_storeu_pd(d + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm_storeu_pd(d + 2 * ld + 4, _mm256_extractf128_pd(u0, 1));
        _mm256_storeu_pd(d + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
        _mm_storeu_pd(d + 3 * ld + 4, _mm256_extractf128_pd(u1, 1));
    }
    for (; p < kc; ++p) {
        double *d = dst + p * ld;
        d[0] = alpha * r0[p]; d[1] = alpha * r1[p]; d[2] = alpha * r2[p];
        d[3] = alpha * r3[p]; d[4] = alpha * r4[p]; d[5] = alpha * r5[p];
    }
}

void fc_sgemm_pack_a6_avx2(ptrdiff_t kc, const float *a, ptrdiff_t rs, float alpha, float *dst)
{
    pack6_ps(kc, a, rs, alpha, dst, 6);
}

void fc_dgemm_pack_a6_avx2(ptrdiff_t kc, const double *a, ptrdiff_t rs, double alpha, double *dst)
{
    pack6_pd(kc, a, rs, alpha, dst, 6);
}

/* 12-row panels (the AVX-512 kernels): two 6-row halves side by side. */
void fc_sgemm_pack_a12_avx2(ptrdiff_t kc, const float *a, ptrdiff_t rs, float alpha, float *dst)
{
    pack6_ps(kc, a, rs, alpha, dst, 12);
    pack6_ps(kc, a + 6 * rs, rs, alpha, dst + 6, 12);
}

void fc_dgemm_pack_a12_avx2(ptrdiff_t kc, const double *a, ptrdiff_t rs, double alpha, double *dst)
{
    pack6_pd(kc, a, rs, alpha, dst, 12);
    pack6_pd(kc, a + 6 * rs, rs, alpha, dst + 6, 12);
}

/* A kc x nr micro-panel of op(B) stored by columns (B transposed: element
 * (p, j) at b[p + j * cs]), nr a multiple of 8: 8 x 8 blocks are read as
 * eight column runs and transposed in registers, so both sides move whole
 * vectors instead of one scalar per element. */
void fc_sgemm_pack_bt_avx2(ptrdiff_t kc, ptrdiff_t nr, const float *b, ptrdiff_t cs, float *dst)
{
    for (ptrdiff_t j0 = 0; j0 < nr; j0 += 8) {
        const float *src = b + j0 * cs;
        ptrdiff_t p0 = 0;
        for (; p0 + 8 <= kc; p0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * cs + p0);
            fc_transpose8_ps(r);
            for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (p0 + i) * nr + j0, r[i]);
        }
        for (; p0 < kc; ++p0)
            for (int i = 0; i < 8; ++i) dst[p0 * nr + j0 + i] = src[i * cs + p0];
    }
}
