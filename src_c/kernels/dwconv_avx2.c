/*
 * dwconv_avx2.c -- depthwise convolution kernels for AVX2 + FMA (float32).
 *
 * A depthwise layer does 9 FMAs per output (3x3) on data that stays in L1, so
 * it is bound by FMA latency unless many independent sums are in flight:
 *  - NCHW: the input plane is first copied into a zero-bordered plane, so
 *    every output column has all its taps and one vector loop covers the
 *    whole row; two output rows x four vectors of 8 give 8 chains; the last
 *    partial vector is redone overlapping the previous one (same formula,
 *    same bits).  Border taps multiply the zero border.
 *  - NHWC: vectorised along channels; for each block of 8 channels the taps'
 *    weights stay in registers while four pixels advance together.
 * Each output is bias, then fma(w, x, acc) over the taps in (r, s) order.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "../conv_internal.h"

/* The zero-bordered copy of an input plane: pad[(ih + pt) * WP + iw + pl] = x[ih][iw]. */
static void pad_plane(const fc_conv_geom *g, const float *xp, float *pad, ptrdiff_t HP, ptrdiff_t WP)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, pt = g->pad_top, pl = g->pad_left;
    for (ptrdiff_t i = 0; i < pt * WP; ++i) pad[i] = 0;
    for (ptrdiff_t ih = 0; ih < H; ++ih) {
        float *d = pad + (ih + pt) * WP;
        const float *src = xp + ih * W;
        for (ptrdiff_t i = 0; i < pl; ++i) d[i] = 0;
        ptrdiff_t iw = 0;
        for (; iw + 8 <= W; iw += 8) _mm256_storeu_ps(d + pl + iw, _mm256_loadu_ps(src + iw));
        for (; iw < W; ++iw) d[pl + iw] = src[iw];
        for (ptrdiff_t i = pl + W; i < WP; ++i) d[i] = 0;
    }
    for (ptrdiff_t i = (H + pt) * WP; i < HP * WP; ++i) pad[i] = 0;
}

#define TAPS_MAX 64

/* Whether the output is large enough to bypass the cache (8 MiB and up:
 * it would not stay there for the next layer anyway, and streaming saves
 * the read for ownership of every line).  NHWC rows only: NCHW rows end in
 * masked stores that share lines with the streamed vectors, and mixing the
 * two on one line measured 14x slower. */
static inline int stream_output(const fc_conv_geom *g)
{
    return (double)g->batch * (double)g->out_channels * (double)(g->out_h * g->out_w) * sizeof(float) >=
           (double)(8 << 20);
}

/* A non-temporal store of 8 floats at a 16-byte aligned address. */
static inline void stream8(float *p, __m256 v)
{
    _mm_stream_ps(p, _mm256_castps256_ps128(v));
    _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
}

/* Two output rows (ra, rb: their first tap row in the padded plane) x NV
 * vectors of 8 columns at c, c + 8, ...: 2 * NV independent FMA chains.  The
 * last vector of a row may be partial: lanes >= `keep` are masked off. */
#define DW_ROWS2(NV)                                                                         \
    static inline void dw_rows2_##NV(const float *ra, const float *rb, ptrdiff_t c,          \
                                     const float *wk, ptrdiff_t KH, ptrdiff_t KW,            \
                                     ptrdiff_t row_off, ptrdiff_t dw, __m256 bv, float *ya,  \
                                     float *yb, int acc, int two, __m256i mask)              \
    {                                                                                        \
        __m256 a[NV], q[NV];                                                                 \
        for (int v = 0; v < NV; ++v) {                                                      \
            const int last = v == NV - 1;                                                    \
            a[v] = !acc ? bv : last ? _mm256_maskload_ps(ya + c + 8 * v, mask)               \
                                    : _mm256_loadu_ps(ya + c + 8 * v);                       \
            q[v] = !acc || !two ? bv : last ? _mm256_maskload_ps(yb + c + 8 * v, mask)       \
                                            : _mm256_loadu_ps(yb + c + 8 * v);               \
        }                                                                                    \
        for (ptrdiff_t r = 0; r < KH; ++r) {                                                 \
            const float *xa = ra + r * row_off + c, *xb = rb + r * row_off + c;              \
            for (ptrdiff_t s = 0; s < KW; ++s) {                                             \
                const __m256 wv = _mm256_broadcast_ss(wk + r * KW + s);                      \
                const ptrdiff_t o = s * dw;                                                  \
                for (int v = 0; v < NV; ++v) {                                               \
                    a[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xa + o + 8 * v), a[v]);       \
                    if (two) q[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xb + o + 8 * v), q[v]); \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        for (int v = 0; v < NV - 1; ++v) {                                                   \
            _mm256_storeu_ps(ya + c + 8 * v, a[v]);                                          \
            if (two) _mm256_storeu_ps(yb + c + 8 * v, q[v]);                                 \
        }                                                                                    \
        _mm256_maskstore_ps(ya + c + 8 * (NV - 1), mask, a[NV - 1]);                         \
        if (two) _mm256_maskstore_ps(yb + c + 8 * (NV - 1), mask, q[NV - 1]);                \
    }
DW_ROWS2(1)
DW_ROWS2(2)
DW_ROWS2(3)
DW_ROWS2(4)

int fc_dwconv_plane_nchw_avx2_f32(const fc_conv_geom *g, const float *xp, const float *wk,
                                  float b, float *yp, float *pad, const float *next, int acc)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t sh = g->stride_h, pt = g->pad_top;
    const ptrdiff_t HP = H + pt + g->pad_bottom + dh * KH;
    const ptrdiff_t WP = FC_MAX(W + g->pad_left + g->pad_right, OW + (KW - 1) * dw) + 8;
    pad_plane(g, xp, pad, HP, WP);
    if (g->stride_w != 1 || OW < 8) {
        /* narrow or strided rows: the same sums, one column at a time -- bias,
         * then fma over every tap of the zero-bordered plane in (r, s) order,
         * so a column's bits never depend on the width of the call */
        const ptrdiff_t sw = g->stride_w;
        for (ptrdiff_t oh = 0; oh < OH; ++oh) {
            float *yr = yp + oh * OW;
            const float *row = pad + oh * sh * WP;
            if (!acc)
                for (ptrdiff_t ow = 0; ow < OW; ++ow) yr[ow] = b;
            for (ptrdiff_t r = 0; r < KH; ++r)
                for (ptrdiff_t s = 0; s < KW; ++s) {
                    const float wv = wk[r * KW + s];
                    const float *xo = row + r * dh * WP + s * dw;
                    for (ptrdiff_t ow = 0; ow < OW; ++ow) yr[ow] = fmaf(wv, xo[ow * sw], yr[ow]);
                }
        }
        return 1;
    }

    /* a row: groups of 4 vectors; the last group ends with a partial vector
     * masked to the row's remaining columns */
    const ptrdiff_t nvec = (OW + 7) / 8;
    const int rem = (int)(OW - (nvec - 1) * 8);
    const __m256i full = _mm256_set1_epi32(-1);
    const __m256i tailmask = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 bv = _mm256_set1_ps(b);
    const ptrdiff_t row_off = dh * WP;
    /* the next plane's input is fetched while this one computes: a share of
     * its cache lines per row pair */
    const ptrdiff_t lines = (H * W + 15) / 16, per_pair = (lines + (OH + 1) / 2 - 1) / ((OH + 1) / 2);
    ptrdiff_t line = 0;
    for (ptrdiff_t oh = 0; oh < OH; oh += 2) {
        if (next)
            for (ptrdiff_t e = FC_MIN(lines, line + per_pair); line < e; ++line)
                _mm_prefetch((const char *)(next + line * 16), _MM_HINT_T0);
        const int two = oh + 1 < OH;
        /* the next row pair's output lines, for writing */
        if (oh + 2 < OH)
            for (ptrdiff_t i = 0, n = FC_MIN(2, OH - oh - 2) * OW; i < n; i += 16)
                _mm_prefetch((const char *)(yp + (oh + 2) * OW + i), _MM_HINT_ET0);
        const float *ra = pad + oh * sh * WP, *rb = pad + (oh + 1) * sh * WP;
        float *ya = yp + oh * OW, *yb = yp + (oh + 1) * OW;
        for (ptrdiff_t v = 0; v < nvec; v += 4) {
            const ptrdiff_t nv = FC_MIN(4, nvec - v);
            const __m256i mask = v + nv == nvec ? tailmask : full;
            switch (nv) {
            case 4: dw_rows2_4(ra, rb, 8 * v, wk, KH, KW, row_off, dw, bv, ya, yb, acc, two, mask); break;
            case 3: dw_rows2_3(ra, rb, 8 * v, wk, KH, KW, row_off, dw, bv, ya, yb, acc, two, mask); break;
            case 2: dw_rows2_2(ra, rb, 8 * v, wk, KH, KW, row_off, dw, bv, ya, yb, acc, two, mask); break;
            default: dw_rows2_1(ra, rb, 8 * v, wk, KH, KW, row_off, dw, bv, ya, yb, acc, two, mask); break;
            }
        }
    }
    return 1;
}

/* Tap sums for the weight gradient: up to 12 taps' vector accumulators live
 * in registers across the whole plane (larger kernels take several passes),
 * the row's last vector masked so that no pixel counts twice; a fixed-order
 * horizontal sum ends it. */
int fc_dwconv_wgrad_plane_avx2_f32(const fc_conv_geom *g, const float *xp, const float *dyp,
                                   float *sums, float *pad)
{
    const ptrdiff_t OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t sh = g->stride_h, T = KH * KW;
    if (g->stride_w != 1 || OW < 8 || T > TAPS_MAX) return 0;
    const ptrdiff_t HP = g->in_h + g->pad_top + g->pad_bottom + dh * KH;
    const ptrdiff_t WP = FC_MAX(g->in_w + g->pad_left + g->pad_right, OW + (KW - 1) * dw) + 8;
    pad_plane(g, xp, pad, HP, WP);
    ptrdiff_t toff[TAPS_MAX];
    for (ptrdiff_t r = 0; r < KH; ++r)
        for (ptrdiff_t s = 0; s < KW; ++s) toff[r * KW + s] = r * dh * WP + s * dw;
    const ptrdiff_t n8 = OW / 8 * 8;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(OW - n8)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (ptrdiff_t t0 = 0; t0 < T; t0 += 12) {
        const int nt = (int)FC_MIN(12, T - t0);
        const ptrdiff_t *to = toff + t0;
        __m256 acc[12];
        for (int t = 0; t < 12; ++t) acc[t] = _mm256_setzero_ps();
        for (ptrdiff_t oh = 0; oh < OH; ++oh) {
            const float *row = pad + oh * sh * WP;
            const float *yr = dyp + oh * OW;
            for (ptrdiff_t c = 0; c < n8; c += 8) {
                const __m256 yv = _mm256_loadu_ps(yr + c);
                const float *xc = row + c;
                for (int t = 0; t < nt; ++t) acc[t] = _mm256_fmadd_ps(yv, _mm256_loadu_ps(xc + to[t]), acc[t]);
            }
            if (n8 < OW) {   /* the tail: x masked too, so that a NaN or inf no window reads stays out */
                const __m256 yv = _mm256_maskload_ps(yr + n8, mask);
                const float *xc = row + n8;
                for (int t = 0; t < nt; ++t)
                    acc[t] = _mm256_fmadd_ps(yv, _mm256_maskload_ps(xc + to[t], mask), acc[t]);
            }
        }
        for (int t = 0; t < nt; ++t) {
            const __m128 lo = _mm256_castps256_ps128(acc[t]), hi = _mm256_extractf128_ps(acc[t], 1);
            __m128 v = _mm_add_ps(lo, hi);
            v = _mm_add_ps(v, _mm_movehl_ps(v, v));
            v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
            sums[t0 + t] = _mm_cvtss_f32(v);
        }
    }
    return 1;
}

/* The output columns [*lo, *hi) whose every kernel column tap lies inside
 * the input row. */
void fc_dwconv_interior_columns(const fc_conv_geom *g, ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t OW = g->out_w, W = g->in_w, sw = g->stride_w, pl = g->pad_left;
    ptrdiff_t l0, h0, l1, h1;
    fc_valid_range(OW, W, sw, -pl, &l0, &h0);
    fc_valid_range(OW, W, sw, (g->kernel_w - 1) * g->dilation_w - pl, &l1, &h1);
    *lo = FC_MAX(l0, l1);
    *hi = FC_MAX(*lo, FC_MIN(h0, h1));
}

/* NHWC weight-gradient partials: per output row, each (channel, tap) sum
 * runs over the row's pixels in order (interior, then border) in a vector
 * lane, then is added to part[k][t]; the order is fixed, so are the sums. */
#define WG_VECS 8
int fc_dwconv_wgrad_rows_nhwc_avx2_f32(const fc_conv_geom *g, const float *x, const float *dy,
                                       ptrdiff_t oh0, ptrdiff_t oh1, float *part)
{
    const ptrdiff_t W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, T = KH * KW;
    const ptrdiff_t sw = g->stride_w, dw = g->dilation_w, pl = g->pad_left;
    if (g->in_channels != K || T > 12 || K % 8) return 0;
    for (ptrdiff_t i = 0; i < K * T; ++i) part[i] = 0;
    /* pixels whose every column tap is inside the row */
    ptrdiff_t lo, hi;
    fc_dwconv_interior_columns(g, &lo, &hi);
    for (ptrdiff_t oh = oh0; oh < oh1; ++oh) {
        ptrdiff_t roff[12];
        int tap_r[12];
        const int nr = fc_dwconv_tap_rows(g, oh, roff, tap_r);
        const float *yrow = dy + oh * OW * K;
        /* 64 channels per pass, pixels outer and the 8-channel vectors inner:
         * each pixel's channels are read whole lines at a time while they are
         * in L1 (vectors outer streamed the row from L2 once per vector, half
         * of every line unused: 5x slower) */
        for (ptrdiff_t k0 = 0; k0 < K; k0 += 8 * WG_VECS) {
            const int nkb = (int)FC_MIN((ptrdiff_t)WG_VECS, (K - k0) / 8);
            __m256 acc[WG_VECS * 12];
            for (int i = 0; i < nkb * 12; ++i) acc[i] = _mm256_setzero_ps();
            /* interior pixels: every tap of the valid rows */
            for (ptrdiff_t ow = lo; ow < hi; ++ow) {
                const float *yp = yrow + ow * K + k0;
                const float *xb = x + (ow * sw - pl) * K + k0;
                for (int kb = 0; kb < nkb; ++kb) {
                    const __m256 yv = _mm256_loadu_ps(yp + 8 * kb);
                    __m256 *ac = acc + kb * 12;
                    int t = 0;
                    for (int q = 0; q < nr; ++q)
                        for (ptrdiff_t s = 0; s < KW; ++s, ++t)
                            ac[t] = _mm256_fmadd_ps(yv, _mm256_loadu_ps(xb + roff[q] + s * dw * K + 8 * kb), ac[t]);
                }
            }
            /* border pixels: only the taps inside */
            for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                if (ow == lo) ow = FC_MAX(hi, lo);
                if (ow >= OW) break;
                for (int kb = 0; kb < nkb; ++kb) {
                    const ptrdiff_t k = k0 + 8 * kb;
                    const __m256 yv = _mm256_loadu_ps(yrow + ow * K + k);
                    __m256 *ac = acc + kb * 12;
                    int t = 0;
                    for (int q = 0; q < nr; ++q)
                        for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                            const ptrdiff_t iw = ow * sw - pl + s * dw;
                            if (iw < 0 || iw >= W) continue;
                            ac[t] = _mm256_fmadd_ps(yv, _mm256_loadu_ps(x + roff[q] + iw * K + k), ac[t]);
                        }
                }
            }
            /* add the row's sums to part[k + j][tap] */
            for (int kb = 0; kb < nkb; ++kb) {
                int t = 0;
                for (int q = 0; q < nr; ++q)
                    for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                        float v[8];
                        _mm256_storeu_ps(v, acc[kb * 12 + t]);
                        const ptrdiff_t tap = tap_r[q] * KW + s;
                        for (int j = 0; j < 8; ++j) part[(k0 + 8 * kb + j) * T + tap] += v[j];
                    }
            }
        }
    }
    return 1;
}

/* One output pixel, every valid tap, channels [k0, k1). */
static void pixel_nhwc(const fc_conv_geom *g, const float *x, const float *wt, const float *bias,
                       ptrdiff_t oh, ptrdiff_t ow, ptrdiff_t k0, ptrdiff_t k1, float *yp)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, K = g->out_channels, KH = g->kernel_h, KW = g->kernel_w;
    const float *xs[TAPS_MAX];
    const float *ws[TAPS_MAX];
    int nt = 0;
    for (ptrdiff_t r = 0; r < KH; ++r) {
        const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
        if (ih < 0 || ih >= H) continue;
        for (ptrdiff_t s = 0; s < KW; ++s) {
            const ptrdiff_t iw = ow * g->stride_w - g->pad_left + s * g->dilation_w;
            if (iw < 0 || iw >= W) continue;
            xs[nt] = x + (ih * W + iw) * K;
            ws[nt] = wt + (r * KW + s) * K;
            ++nt;
        }
    }
    ptrdiff_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        __m256 a0 = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
        for (int t = 0; t < nt; ++t)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(ws[t] + k), _mm256_loadu_ps(xs[t] + k), a0);
        _mm256_storeu_ps(yp + k, a0);
    }
    for (; k < k1; ++k) {
        float a0 = bias ? bias[k] : 0.0f;
        for (int t = 0; t < nt; ++t) a0 = fmaf(ws[t][k], xs[t][k], a0);
        yp[k] = a0;
    }
}

int fc_dwconv_row_nhwc_avx2_f32(const fc_conv_geom *g, const float *x, const float *wt,
                                const float *bias, ptrdiff_t oh, float *yrow)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, sw = g->stride_w, dw = g->dilation_w;
    const ptrdiff_t pl = g->pad_left;
    if (g->in_channels != K || KH * KW > TAPS_MAX) return 0;

    /* rows of this output row with taps inside the image */
    ptrdiff_t rows[TAPS_MAX];
    int nr = 0;
    for (ptrdiff_t r = 0; r < KH; ++r) {
        const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
        if (ih >= 0 && ih < H) rows[nr++] = r;
    }
    /* pixels whose every column tap is inside the image */
    ptrdiff_t lo, hi;
    fc_dwconv_interior_columns(g, &lo, &hi);
    const int ntaps = nr * (int)KW;
    if (ntaps > 0 && ntaps <= TAPS_MAX) {
        /* interior pixels, four at a time; for each, every 8-channel block
         * with the taps' weights reloaded from L1 -- the four pixels' input
         * (all taps) stays in L1 across the channel blocks */
        const ptrdiff_t kv = K / 8 * 8, step = sw * K;
        ptrdiff_t toff[TAPS_MAX];
        const float *wtap[TAPS_MAX];
        int t = 0;
        for (int q = 0; q < nr; ++q) {
            const ptrdiff_t r = rows[q];
            const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
            for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                toff[t] = (ih * W + s * dw - pl) * K;          /* + ow * step */
                wtap[t] = wt + (r * KW + s) * K;
            }
        }
        /* the input row the next output row adds is prefetched meanwhile, a
         * share of its lines per pixel group */
        const ptrdiff_t nrow = (oh + 1) * g->stride_h - g->pad_top + (KH - 1) * g->dilation_h;
        const float *next = nrow >= 0 && nrow < H ? x + nrow * W * K : NULL;
        /* a large output is streamed to memory (no read for ownership, the
         * input keeps the cache): 1.25x on 8 x 144 x 56 x 56 */
        const int nts = kv == K && ((uintptr_t)yrow & 15) == 0 && stream_output(g);
        const ptrdiff_t lines = (W * K + 15) / 16, groups = FC_MAX((ptrdiff_t)1, (hi - lo) / 4);
        const ptrdiff_t per_group = (lines + groups - 1) / groups;
        ptrdiff_t line = 0;
        ptrdiff_t ow = lo;
        for (; ow + 4 <= hi; ow += 4) {
            const ptrdiff_t o = ow * step;
            float *yp = yrow + ow * K;
            if (next)
                for (ptrdiff_t e = FC_MIN(lines, line + per_group); line < e; ++line)
                    _mm_prefetch((const char *)(next + line * 16), _MM_HINT_T0);
            for (ptrdiff_t k = 0; k < kv; k += 8) {
                __m256 a0, a1, a2, a3;
                a0 = a1 = a2 = a3 = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
                for (int q = 0; q < ntaps; ++q) {
                    const __m256 wv = _mm256_loadu_ps(wtap[q] + k);
                    const float *p = x + (toff[q] + o + k);
                    a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p), a0);
                    a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p + step), a1);
                    a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p + 2 * step), a2);
                    a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(p + 3 * step), a3);
                }
                if (nts) {
                    stream8(yp + k, a0);
                    stream8(yp + K + k, a1);
                    stream8(yp + 2 * K + k, a2);
                    stream8(yp + 3 * K + k, a3);
                } else {
                    _mm256_storeu_ps(yp + k, a0);
                    _mm256_storeu_ps(yp + K + k, a1);
                    _mm256_storeu_ps(yp + 2 * K + k, a2);
                    _mm256_storeu_ps(yp + 3 * K + k, a3);
                }
            }
            if (kv < K)
                for (int i = 0; i < 4; ++i) pixel_nhwc(g, x, wt, bias, oh, ow + i, kv, K, yp + i * K);
        }
        /* the rest of the interior one pixel at a time, and every border pixel */
        for (; ow < hi; ++ow) pixel_nhwc(g, x, wt, bias, oh, ow, 0, K, yrow + ow * K);
        for (ptrdiff_t o = 0; o < lo; ++o) pixel_nhwc(g, x, wt, bias, oh, o, 0, K, yrow + o * K);
        for (ptrdiff_t o = hi; o < OW; ++o) pixel_nhwc(g, x, wt, bias, oh, o, 0, K, yrow + o * K);
        if (nts) _mm_sfence();
    } else {
        for (ptrdiff_t o = 0; o < OW; ++o) pixel_nhwc(g, x, wt, bias, oh, o, 0, K, yrow + o * K);
    }
    return 1;
}
