/*
 * pool_avx512.c -- the pooling drivers of pool_impl.h compiled with AVX-512F
 * (+ AVX2, FMA).
 *
 * pool.c takes the index scatters (max backward, max unpooling) from this
 * copy when fc_isa_active() >= FC_ISA_AVX512: their direct path over
 * non-overlapping windows compares int64 indices and selects float values,
 * which 8-lane compares into mask registers do about twice as fast as the
 * AVX2 copy (NHWC; NCHW float uses tile2_f32 below); NHWC indices from
 * overlapping windows are gathered with masked adds (gather_row_f32 below).  The other drivers of
 * this copy are compiled but not selected: they stream memory and measured
 * no faster than the AVX2 copy.
 */
#include <immintrin.h>
#include <stdint.h>

#include "../pool_impl.h"

/* dst[0..n) = src[0..n): plain stores up to a cache-line boundary, then
 * non-temporal 512-bit stores (whole aligned lines), plain stores for the tail. */
static inline void stream_f32(float *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_f64(double *dst, const double *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 8 <= n; i += 8) _mm512_stream_pd(dst + i, _mm512_loadu_pd(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_i64(int64_t *dst, const int64_t *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 8 <= n; i += 8) _mm512_stream_si512((void *)(dst + i), _mm512_loadu_si512((const void *)(src + i)));
    for (; i < n; ++i) dst[i] = src[i];
}

/*
 * One input row of the 2-wide tiles of an NCHW output row (float), as in
 * kernels/pool_avx2.c: output o's pair dr[2o], dr[2o+1] is one 64-bit lane
 * holding v's bits, shifted up by 32 when its index names the second column;
 * eight outputs (sixteen floats) a store, the matches counted from the masks.
 */
static ptrdiff_t tile2_f32(float *restrict dr, const float *restrict s, const int64_t *restrict ix,
                           ptrdiff_t n, int64_t p, int accumulate)
{
    const __m512i step = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), one = _mm512_set1_epi64(1);
    const __m512i zero = _mm512_setzero_si512(), sixteen = _mm512_set1_epi64(16);
    const __m256 add = _mm256_set1_ps(accumulate ? 0.0f : -0.0f); /* v + (-0) is v */
    __m512i pos = _mm512_add_epi64(_mm512_set1_epi64(p), step);
    ptrdiff_t hits = 0, o = 0;
    for (; o + 8 <= n; o += 8) {
        const __m512i rel = _mm512_sub_epi64(_mm512_loadu_si512((const void *)(ix + o)), pos);
        const __mmask8 m0 = _mm512_cmpeq_epi64_mask(rel, zero), m1 = _mm512_cmpeq_epi64_mask(rel, one);
        __m256 v = _mm256_loadu_ps(s + o);
        if (accumulate) v = _mm256_add_ps(v, add);
        const __m512i u = _mm512_cvtepu32_epi64(_mm256_castps_si256(v));
        const __m512i out = _mm512_or_si512(_mm512_maskz_mov_epi64(m0, u), _mm512_maskz_slli_epi64(m1, u, 32));
        _mm512_storeu_si512((void *)(dr + 2 * o), out);
        hits += __builtin_popcount((unsigned)(m0 | m1));
        pos = _mm512_add_epi64(pos, sixteen);
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

/*
 * One input row of the NHWC gather of pool_impl.h (float): each pixel sums,
 * per channel, its candidates' values whose int32 index equals the pixel's
 * cell number t (masked adds: lanes that do not match are left alone, as the
 * scatter leaves them), or for unpooling takes the last of them.  Channels in
 * blocks of 64 (four accumulators), then 16 at a time with a lane mask.
 * Matches are counted per lane (a masked subtract of -1) and returned.
 */
#define GATHER_STEP(A, CNT, OFF, LM)                                                              \
    do {                                                                                          \
        const __mmask16 m_ = _mm512_mask_cmpeq_epi32_mask((LM), _mm512_maskz_loadu_epi32((LM), ix + (OFF)), t); \
        const __m512 v_ = _mm512_maskz_loadu_ps((LM), v + (OFF));                                 \
        A = accumulate ? _mm512_mask_add_ps(A, m_, A, v_) : _mm512_mask_mov_ps(A, m_, v_);        \
        CNT = _mm512_mask_sub_epi32(CNT, m_, CNT, none);                                          \
    } while (0)

static inline __attribute__((always_inline)) int64_t
gather_row_body(float *restrict d, const int32_t *const *ring, const float *const *gyr, ptrdiff_t nr,
                const ptrdiff_t *qlo, const ptrdiff_t *qhi, ptrdiff_t W, ptrdiff_t C, int32_t t0, const int accumulate)
{
    const __m512i none = _mm512_set1_epi32(-1);
    __m512i cnt0 = _mm512_setzero_si512(), cnt1 = _mm512_setzero_si512();
    const __mmask16 all = 0xFFFF;
    for (ptrdiff_t w = 0; w < W; ++w) {
        float *y = d + w * C;
        const ptrdiff_t q0 = qlo[w], q1 = qhi[w];
        if (q0 > q1) {
            for (ptrdiff_t c = 0; c < C; ++c) y[c] = 0.0f;
            continue;
        }
        const __m512i t = _mm512_set1_epi32(t0 + (int32_t)w);
        ptrdiff_t c = 0;
        for (; c + 64 <= C; c += 64) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const int32_t *ix = ring[r] + q0 * C + c;
                const float *v = gyr[r] + q0 * C + c;
                for (ptrdiff_t q = q0; q <= q1; ++q, ix += C, v += C) {
                    GATHER_STEP(a0, cnt0, 0, all);
                    GATHER_STEP(a1, cnt1, 16, all);
                    GATHER_STEP(a2, cnt0, 32, all);
                    GATHER_STEP(a3, cnt1, 48, all);
                }
            }
            _mm512_storeu_ps(y + c, a0);
            _mm512_storeu_ps(y + c + 16, a1);
            _mm512_storeu_ps(y + c + 32, a2);
            _mm512_storeu_ps(y + c + 48, a3);
        }
        for (; c < C; c += 16) {
            const __mmask16 lm = C - c >= 16 ? all : (__mmask16)((1u << (C - c)) - 1);
            __m512 a0 = _mm512_setzero_ps();
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const int32_t *ix = ring[r] + q0 * C + c;
                const float *v = gyr[r] + q0 * C + c;
                for (ptrdiff_t q = q0; q <= q1; ++q, ix += C, v += C) {
                    GATHER_STEP(a0, cnt0, 0, lm);
                }
            }
            _mm512_mask_storeu_ps(y + c, lm, a0);
        }
    }
    return (int64_t)_mm512_reduce_add_epi32(cnt0) + (int64_t)_mm512_reduce_add_epi32(cnt1);
}
#undef GATHER_STEP

/* accumulate as a constant in each copy: no test per step */
static int64_t gather_row_f32(float *restrict d, const int32_t *const *ring, const float *const *gyr, ptrdiff_t nr,
                              const ptrdiff_t *qlo, const ptrdiff_t *qhi, ptrdiff_t W, ptrdiff_t C, int32_t t0,
                              int accumulate)
{
    return accumulate ? gather_row_body(d, ring, gyr, nr, qlo, qhi, W, C, t0, 1)
                      : gather_row_body(d, ring, gyr, nr, qlo, qhi, W, C, t0, 0);
}

#define FC_POOL_STREAM_I64(dst, src, n) stream_i64(dst, src, n)
#define FC_POOL_STREAM_FENCE() _mm_sfence()

#define FT float
#define FSUF _f32_avx512
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_avx512
#define FC_POOL_STREAM_FT(dst, src, n) stream_f32(dst, src, n)
#define FC_POOL_TILE2(dr, s, ix, n, p, acc) tile2_f32(dr, s, ix, n, p, acc)
#define FC_POOL_GATHER_ROW(d, ring, gyr, nr, qlo, qhi, W, C, t0, acc) \
    gather_row_f32(d, ring, gyr, nr, qlo, qhi, W, C, t0, acc)
#include "pool_avg3.h" /* defines FC_POOL_AVG3S1 (float only) */
#include "../pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS
#undef FC_POOL_STREAM_FT

#define FT double
#define FSUF _f64_avx512
#define FC_POOL_OPS_T fc_pool_ops_f64
#define FC_POOL_OPS fc_pool_ops_f64_avx512
#define FC_POOL_STREAM_FT(dst, src, n) stream_f64(dst, src, n)
#include "../pool_impl.h"
