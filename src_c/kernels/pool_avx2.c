/*
 * pool_avx2.c -- the pooling drivers of pool_impl.h compiled with AVX2 + FMA.
 *
 * The row and pixel loops of the template vectorise to 256-bit code when
 * compiled with these flags (stride-2 windows to a two-load de-interleave, the
 * NaN-propagating max to max + compare + blend).  The only intrinsics are the
 * streaming stores below, which the template uses for outputs too large for
 * the caches.  pool.c selects these tables when fc_isa_active() >= FC_ISA_AVX2.
 */
#include <immintrin.h>
#include <stdint.h>

#include "../pool_impl.h"

/* dst[0..n) = src[0..n): plain stores up to a cache-line boundary, then
 * non-temporal 256-bit stores, plain stores for the tail. */
static inline void stream_f32(float *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_f64(double *dst, const double *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 4 <= n; i += 4) _mm256_stream_pd(dst + i, _mm256_loadu_pd(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_i64(int64_t *dst, const int64_t *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 4 <= n; i += 4)
        _mm256_stream_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
    for (; i < n; ++i) dst[i] = src[i];
}

/*
 * One input row of the 2-wide tiles of an NCHW output row (float): output o
 * owns the pair dr[2o], dr[2o+1], which holds its value v at the column its
 * index names (rel = ix[o] - (p + 2o) is 0 or 1) and 0 elsewhere.  A pair is
 * one 64-bit lane: v's bits, shifted up by 32 when rel is 1, so the whole
 * row is int64 compares and selects, four outputs (eight floats) a store.
 * Returns the number of indices that named a cell of their pair; v + 0 when
 * accumulating (the scatter's 0 + v), v itself for unpooling.
 */
static ptrdiff_t tile2_f32(float *restrict dr, const float *restrict s, const int64_t *restrict ix,
                           ptrdiff_t n, int64_t p, int accumulate)
{
    const __m256i step = _mm256_setr_epi64x(0, 2, 4, 6), one = _mm256_set1_epi64x(1);
    const __m256i zero = _mm256_setzero_si256();
    const __m128 add = _mm_set1_ps(accumulate ? 0.0f : -0.0f); /* v + (-0) is v */
    __m256i pos = _mm256_add_epi64(_mm256_set1_epi64x(p), step);
    const __m256i eight = _mm256_set1_epi64x(8);
    ptrdiff_t hits = 0, o = 0;
    for (; o + 4 <= n; o += 4) {
        const __m256i rel = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(ix + o)), pos);
        const __m256i m0 = _mm256_cmpeq_epi64(rel, zero), m1 = _mm256_cmpeq_epi64(rel, one);
        __m128 v = _mm_loadu_ps(s + o);
        if (accumulate) v = _mm_add_ps(v, add);
        const __m256i u = _mm256_cvtepu32_epi64(_mm_castps_si128(v));
        const __m256i out = _mm256_or_si256(_mm256_and_si256(u, m0), _mm256_and_si256(_mm256_slli_epi64(u, 32), m1));
        _mm256_storeu_si256((__m256i *)(dr + 2 * o), out);
        hits += __builtin_popcount((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_or_si256(m0, m1))));
        pos = _mm256_add_epi64(pos, eight);
    }
    for (; o < n; ++o) {
        const int64_t rel = ix[o] - (p + 2 * o);
        const float v = accumulate ? s[o] + 0.0f : s[o];
        dr[2 * o] = rel == 0 ? v : 0.0f;
        dr[2 * o + 1] = rel == 1 ? v : 0.0f;
        hits += (rel == 0) + (rel == 1);
    }
    return hits;
}

#define FC_POOL_STREAM_I64(dst, src, n) stream_i64(dst, src, n)
#define FC_POOL_STREAM_FENCE() _mm_sfence()

#define FT float
#define FSUF _f32_avx2
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_avx2
#define FC_POOL_STREAM_FT(dst, src, n) stream_f32(dst, src, n)
#define FC_POOL_TILE2(dr, s, ix, n, p, acc) tile2_f32(dr, s, ix, n, p, acc)
#include "../pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS
#undef FC_POOL_STREAM_FT

#define FT double
#define FSUF _f64_avx2
#define FC_POOL_OPS_T fc_pool_ops_f64
#define FC_POOL_OPS fc_pool_ops_f64_avx2
#define FC_POOL_STREAM_FT(dst, src, n) stream_f64(dst, src, n)
#include "../pool_impl.h"
