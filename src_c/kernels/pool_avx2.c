/*
 * pool_avx2.c -- the pooling drivers of pool_impl.h compiled with AVX2 + FMA.
 *
 * The row and pixel loops of the template vectorise to 256-bit code when
 * compiled with these flags (stride-2 windows to a two-load de-interleave, the
 * NaN-propagating max to max + compare + blend).  The intrinsics below are
 * the streaming stores, which the template uses for outputs too large for
 * the caches, and the index tiles and gathers of max backward and unpooling.
 * pool.c selects these tables when fc_isa_active() >= FC_ISA_AVX2.
 * At the AVX-512 level the float NCHW forward hands its common windows, and
 * the NHWC forward its 3-wide stride-1 averages, to the kernels of
 * kernels/pool_rows_avx512.c (FC_POOL_ROWK / FC_POOL_ROWS /
 * FC_POOL_NHWC_AVG3), which give the same bits.
 */
#include <immintrin.h>
#include <stdint.h>

#include "../pool_impl.h"
#include "pool_rows.h"

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

/*
 * One input row of the NHWC gather of pool_impl.h (float), as in
 * kernels/pool_avx512.c but with compare masks as vectors: a candidate's value
 * where its index equals the cell t, +0 elsewhere, is added (the sum starts at
 * +0 and is never -0, so the +0 change no bit), or for unpooling blended in.
 * Channels in blocks of 32 (four accumulators), then 8, then one at a time.
 */
#define GATHER_STEP(A, CNT, OFF)                                                                   \
    do {                                                                                           \
        const __m256i e_ = _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(ix + (OFF))), t); \
        const __m256 v_ = _mm256_loadu_ps(v + (OFF));                                              \
        A = accumulate ? _mm256_add_ps(A, _mm256_and_ps(_mm256_castsi256_ps(e_), v_))              \
                       : _mm256_blendv_ps(A, v_, _mm256_castsi256_ps(e_));                         \
        CNT = _mm256_sub_epi32(CNT, e_);                                                           \
    } while (0)

static inline __attribute__((always_inline)) int64_t
gather_row_body(float *restrict d, const int32_t *const *ring, const float *const *gyr, ptrdiff_t nr,
                const ptrdiff_t *qlo, const ptrdiff_t *qhi, ptrdiff_t W, ptrdiff_t C, int32_t t0, const int accumulate)
{
    __m256i cnt0 = _mm256_setzero_si256(), cnt1 = _mm256_setzero_si256();
    int64_t tail = 0;
    for (ptrdiff_t w = 0; w < W; ++w) {
        float *y = d + w * C;
        const ptrdiff_t q0 = qlo[w], q1 = qhi[w];
        if (q0 > q1) {
            for (ptrdiff_t c = 0; c < C; ++c) y[c] = 0.0f;
            continue;
        }
        const int32_t tw = t0 + (int32_t)w;
        const __m256i t = _mm256_set1_epi32(tw);
        ptrdiff_t c = 0;
        for (; c + 32 <= C; c += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const int32_t *ix = ring[r] + q0 * C + c;
                const float *v = gyr[r] + q0 * C + c;
                for (ptrdiff_t q = q0; q <= q1; ++q, ix += C, v += C) {
                    GATHER_STEP(a0, cnt0, 0);
                    GATHER_STEP(a1, cnt1, 8);
                    GATHER_STEP(a2, cnt0, 16);
                    GATHER_STEP(a3, cnt1, 24);
                }
            }
            _mm256_storeu_ps(y + c, a0);
            _mm256_storeu_ps(y + c + 8, a1);
            _mm256_storeu_ps(y + c + 16, a2);
            _mm256_storeu_ps(y + c + 24, a3);
        }
        for (; c + 8 <= C; c += 8) {
            __m256 a0 = _mm256_setzero_ps();
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const int32_t *ix = ring[r] + q0 * C + c;
                const float *v = gyr[r] + q0 * C + c;
                for (ptrdiff_t q = q0; q <= q1; ++q, ix += C, v += C) {
                    GATHER_STEP(a0, cnt0, 0);
                }
            }
            _mm256_storeu_ps(y + c, a0);
        }
        for (; c < C; ++c) {
            float a = 0.0f;
            for (ptrdiff_t r = 0; r < nr; ++r)
                for (ptrdiff_t q = q0; q <= q1; ++q) {
                    const int e = ring[r][q * C + c] == tw;
                    const float v = gyr[r][q * C + c];
                    a = accumulate ? a + (e ? v : 0.0f) : (e ? v : a);
                    tail += e;
                }
            y[c] = a;
        }
    }
    __m256i s = _mm256_add_epi32(cnt0, cnt1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return tail + (int64_t)_mm_cvtsi128_si32(h);
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
#define FSUF _f32_avx2
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_avx2
#define FC_POOL_STREAM_FT(dst, src, n) stream_f32(dst, src, n)
#define FC_POOL_TILE2(dr, s, ix, n, p, acc) tile2_f32(dr, s, ix, n, p, acc)
#define FC_POOL_GATHER_ROW(d, ring, gyr, nr, qlo, qhi, W, C, t0, acc) \
    gather_row_f32(d, ring, gyr, nr, qlo, qhi, W, C, t0, acc)
#include "pool_avg3.h" /* defines FC_POOL_AVG3S1 (float only) */
/* the AVX-512 row kernels, when that level is active (float only) */
#define FC_POOL_ROWK(kind, y, id, rows, nr, w, ow, pl, div, pos) \
    fc_pool_row_f32_avx512(kind, y, id, rows, nr, w, ow, pl, div, pos)
#define FC_POOL_ROWK_READY() (fc_isa_active() >= FC_ISA_AVX512)
#define FC_POOL_NHWC_AVG3(y, r0, r1, r2, nr, q0col, n, w, c, p0, q0, dvh, dvw) \
    fc_pool_nhwc_avg3s1_f32_avx512(y, r0, r1, r2, nr, q0col, n, w, c, p0, q0, dvh, dvw)
#define FC_POOL_ROWS(kind, y, id, plane, rs, dh, lo_h, cnt_h, oh0, oh1, w, ow, pl, div) \
    fc_pool_rows_f32_avx512(kind, y, id, plane, rs, dh, lo_h, cnt_h, oh0, oh1, w, ow, pl, div)
#define FC_POOL_AVG3X3(y, x, xps, h, w, it0, it1, dmid, dedge, keep) \
    (FC_POOL_ROWK_READY() && fc_pool_avg3x3_f32_avx512(y, x, xps, h, w, it0, it1, dmid, dedge, keep))
#define FC_POOL_NHWC_AVG3X2(ya, yb, ra, rb, rc, rd, q0col, n, w, c, pa, qa, pb, qb, dvh, dvw) \
    fc_pool_nhwc_avg3s1x2_f32_avx512(ya, yb, ra, rb, rc, rd, q0col, n, w, c, pa, qa, pb, qb, dvh, dvw)
#define FC_POOL_AVG_ROWS(y, buf, plane, rs, lo_h, cnt_h, dv_h, oh0, oh1, w, ow, lo_w, cnt_w, dv_w, pf) \
    fc_pool_avg_rows_f32_avx512(y, buf, plane, rs, lo_h, cnt_h, dv_h, oh0, oh1, w, ow, lo_w, cnt_w, dv_w, pf)
#define FC_POOL_NHWC_MAX3S2(y, r0, r1, r2, q1first, n, w, c, carry) \
    fc_pool_nhwc_max3s2_f32_avx512(y, r0, r1, r2, q1first, n, w, c, carry)
#define FC_POOL_VSUM(dst, rows, nr, n, pf) (FC_POOL_ROWK_READY() && fc_pool_vsum_f32_avx512(dst, rows, nr, n, pf))
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
