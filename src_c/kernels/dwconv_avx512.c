/*
 * dwconv_avx512.c -- NHWC depthwise weight-gradient partials, AVX-512F (float32).
 *
 * The AVX2 kernel (dwconv_avx2.c) keeps 64 channels x every tap in flight,
 * more sums than AVX2 has registers; here a pass covers 32 channels (two
 * zmm, whole cache lines of each pixel) and all of its taps' sums (up to
 * 2 x 12) live in registers across the row.  Each (channel, tap) sum runs
 * over the row's pixels in the same order as in the AVX2 kernel (interior,
 * then border) in its own lane and is then added to part[k][t]: the same
 * bits.
 *
 * NCHW forward, 3x3, stride 1, no dilation: no zero-bordered copy of the
 * plane.  A pass covers 4 output rows x 32 columns (8 zmm sums); each of its
 * 6 input rows is loaded once per column shift (masked loads give the zero
 * border, out-of-image rows load nothing) and feeds every output row whose
 * taps use it.  Input rows run top to bottom and shifts left to right, so
 * each output still gets bias, then fma(w, x, acc) over the taps in (r, s)
 * order, border zeros included: the bits of the AVX2 kernel.
 */
#include <immintrin.h>

#include "../conv_internal.h"

int fc_dwconv_wgrad_rows_nhwc_avx512_f32(const fc_conv_geom *g, const float *x, const float *dy,
                                         ptrdiff_t oh0, ptrdiff_t oh1, float *part)
{
    const ptrdiff_t W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, T = KH * KW;
    const ptrdiff_t sw = g->stride_w, dw = g->dilation_w, pl = g->pad_left;
    if (g->in_channels != K || T > 12 || K % 16) return 0;
    for (ptrdiff_t i = 0; i < K * T; ++i) part[i] = 0;
    ptrdiff_t lo, hi;
    fc_dwconv_interior_columns(g, &lo, &hi);
    for (ptrdiff_t oh = oh0; oh < oh1; ++oh) {
        ptrdiff_t roff[12];
        int tap_r[12];
        const int nr = fc_dwconv_tap_rows(g, oh, roff, tap_r);
        const int ntap = nr * (int)KW;
        ptrdiff_t toff[12];
        for (int q = 0, t = 0; q < nr; ++q)
            for (ptrdiff_t s = 0; s < KW; ++s, ++t) toff[t] = roff[q] + s * dw * K;
        const float *yrow = dy + oh * OW * K;
        for (ptrdiff_t k0 = 0; k0 < K; k0 += 32) {
            const int two = k0 + 32 <= K;
            __m512 a[12], b[12];
            for (int t = 0; t < 12; ++t) a[t] = b[t] = _mm512_setzero_ps();
            /* interior pixels: every tap of the valid rows */
            for (ptrdiff_t ow = lo; ow < hi; ++ow) {
                const float *yp = yrow + ow * K + k0;
                const float *xb = x + (ow * sw - pl) * K + k0;
                const __m512 ya = _mm512_loadu_ps(yp);
                if (two) {
                    const __m512 yb = _mm512_loadu_ps(yp + 16);
#pragma GCC unroll 12
                    for (int t = 0; t < 12; ++t)
                        if (t < ntap) {
                            a[t] = _mm512_fmadd_ps(ya, _mm512_loadu_ps(xb + toff[t]), a[t]);
                            b[t] = _mm512_fmadd_ps(yb, _mm512_loadu_ps(xb + toff[t] + 16), b[t]);
                        }
                } else {
#pragma GCC unroll 12
                    for (int t = 0; t < 12; ++t)
                        if (t < ntap) a[t] = _mm512_fmadd_ps(ya, _mm512_loadu_ps(xb + toff[t]), a[t]);
                }
            }
            /* border pixels: only the taps inside */
            for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                if (ow == lo) ow = FC_MAX(hi, lo);
                if (ow >= OW) break;
                const __m512 ya = _mm512_loadu_ps(yrow + ow * K + k0);
                const __m512 yb = two ? _mm512_loadu_ps(yrow + ow * K + k0 + 16) : ya;
                int t = 0;
                for (int q = 0; q < nr; ++q)
                    for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                        const ptrdiff_t iw = ow * sw - pl + s * dw;
                        if (iw < 0 || iw >= W) continue;
                        const float *xp = x + roff[q] + iw * K + k0;
                        a[t] = _mm512_fmadd_ps(ya, _mm512_loadu_ps(xp), a[t]);
                        if (two) b[t] = _mm512_fmadd_ps(yb, _mm512_loadu_ps(xp + 16), b[t]);
                    }
            }
            /* add the row's sums to part[k + j][tap] */
            int t = 0;
            for (int q = 0; q < nr; ++q)
                for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                    float v[32];
                    _mm512_storeu_ps(v, a[t]);
                    _mm512_storeu_ps(v + 16, b[t]);
                    const ptrdiff_t tap = tap_r[q] * KW + s;
                    for (int j = 0; j < (two ? 32 : 16); ++j) part[(k0 + j) * T + tap] += v[j];
                }
        }
    }
    return 1;
}

/* Lanes [lo, hi) of a 16-lane mask (clamped). */
static inline __mmask16 lane_range(ptrdiff_t lo, ptrdiff_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

#define DW_R 6  /* output rows per pass */

int fc_dwconv_plane3x3_nchw_avx512_f32(const fc_conv_geom *g, const float *xp, const float *wk,
                                       float b, float *yp, float *zrow, const float *next, int acc)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    if (g->kernel_h != 3 || g->kernel_w != 3 || g->stride_h != 1 || g->stride_w != 1 ||
        g->dilation_h != 1 || g->dilation_w != 1 || OW < 8)
        return 0;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    /* rows above or below the image read this zero row: fma(w, 0, acc) as the
     * zero border gives */
    for (ptrdiff_t i = 0; i < OW + 32; ++i) zrow[i] = 0;
    __m512 wv[9];
    for (int t = 0; t < 9; ++t) wv[t] = _mm512_set1_ps(wk[t]);
    const __m512 bv = _mm512_set1_ps(b);
    const ptrdiff_t blocks = (OH + DW_R - 1) / DW_R;
    const ptrdiff_t lines = next ? (H * W + 15) / 16 : 0, per_block = (lines + blocks - 1) / blocks;
    ptrdiff_t line = 0;
    /* the last vector of a row overlaps the one before (the same sums again)
     * unless it accumulates into yp */
    const ptrdiff_t last = !acc && OW >= 16 ? OW - 16 : (OW - 1) / 16 * 16;
    for (ptrdiff_t oh = 0; oh < OH; oh += DW_R) {
        for (ptrdiff_t e = FC_MIN(lines, line + per_block); line < e; ++line)
            _mm_prefetch((const char *)(next + line * 16), _MM_HINT_T0);
        const ptrdiff_t nrows = FC_MIN(DW_R, OH - oh);
        /* the next pass's output lines, for writing */
        if (oh + DW_R < OH) {
            const float *yn = yp + (oh + DW_R) * OW;
            const ptrdiff_t n = FC_MIN(DW_R, OH - oh - DW_R) * OW;
            for (ptrdiff_t i = 0; i < n; i += 16) _mm_prefetch((const char *)(yn + i), _MM_HINT_ET0);
        }
        const float *xr[DW_R + 2];
        for (int ir = 0; ir < DW_R + 2; ++ir) {
            const ptrdiff_t ih = oh - pt + ir;
            xr[ir] = (ih >= 0 && ih < H ? xp + ih * W : zrow + pl) - pl;
        }
        float *yr = yp + oh * OW;
        for (ptrdiff_t c = 0;; c = c + 16 < last ? c + 16 : last) {
            const __mmask16 om = lane_range(0, OW - c);
            const __mmask16 m0 = lane_range(pl - c, W + pl - c), m1 = lane_range(pl - 1 - c, W + pl - 1 - c),
                            m2 = lane_range(pl - 2 - c, W + pl - 2 - c);
            __m512 a[DW_R];
#pragma GCC unroll 6
            for (int r = 0; r < DW_R; ++r)
                a[r] = acc && r < nrows ? _mm512_maskz_loadu_ps(om, yr + r * OW + c) : bv;
#pragma GCC unroll 8
            for (int ir = 0; ir < DW_R + 2; ++ir) {
                const float *q = xr[ir] + c;
                const __m512 x0 = _mm512_maskz_loadu_ps(m0, q), x1 = _mm512_maskz_loadu_ps(m1, q + 1),
                             x2 = _mm512_maskz_loadu_ps(m2, q + 2);
#pragma GCC unroll 6
                for (int r = 0; r < DW_R; ++r) {
                    const int kr = ir - r;
                    if (kr >= 0 && kr < 3) {
                        a[r] = _mm512_fmadd_ps(wv[kr * 3], x0, a[r]);
                        a[r] = _mm512_fmadd_ps(wv[kr * 3 + 1], x1, a[r]);
                        a[r] = _mm512_fmadd_ps(wv[kr * 3 + 2], x2, a[r]);
                    }
                }
            }
            if (nrows == DW_R) {
#pragma GCC unroll 6
                for (int r = 0; r < DW_R; ++r) _mm512_mask_storeu_ps(yr + r * OW + c, om, a[r]);
            } else {
                for (int r = 0; r < DW_R; ++r)
                    if (r < nrows) _mm512_mask_storeu_ps(yr + r * OW + c, om, a[r]);
            }
            if (c >= last) break;
        }
    }
    return 1;
}

#define DW_P 8  /* NHWC pixels per pass */

/* One kernel row's taps for DW_P outputs SW input pixels apart: each input
 * pixel j is loaded once and feeds the outputs p it is tap s = j - p * SW
 * of; j ascends, so every output gets its taps in s order. */
static inline __attribute__((always_inline)) void nhwc_taps(const float *xs, const float *wq, ptrdiff_t K,
                                                            __mmask16 m, __m512 *a, const int SW)
{
    const __m512 w0 = _mm512_maskz_loadu_ps(m, wq), w1 = _mm512_maskz_loadu_ps(m, wq + K),
                 w2 = _mm512_maskz_loadu_ps(m, wq + 2 * K);
#pragma GCC unroll 17
    for (int j = 0; j < (DW_P - 1) * SW + 3; ++j) {
        const __m512 xv = _mm512_maskz_loadu_ps(m, xs + j * K);
#pragma GCC unroll 8
        for (int p = 0; p < DW_P; ++p) {
            const int s = j - p * SW;
            if (s == 0) a[p] = _mm512_fmadd_ps(w0, xv, a[p]);
            else if (s == 1) a[p] = _mm512_fmadd_ps(w1, xv, a[p]);
            else if (s == 2) a[p] = _mm512_fmadd_ps(w2, xv, a[p]);
        }
    }
}

/* One pass: DW_P interior outputs from ow (input column ow * SW - pl), every
 * 16-channel block, NR kernel rows (compile-time constants, so that the
 * accumulators stay in registers across the rows: with a run-time row count
 * GCC kept them in memory, and the store-to-load round trips on the FMA
 * chains ran the kernel at ~12 cycles per output vector, now ~9 in L2). */
static inline __attribute__((always_inline)) void nhwc_pass(const float *const *xrow, const float *const *wrow,
                                                            const float *bias, ptrdiff_t K, ptrdiff_t xoff,
                                                            float *yp, const int NR, const int SW)
{
    for (ptrdiff_t k = 0; k < K; k += 16) {
        const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1u);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias + k) : _mm512_setzero_ps();
        __m512 a[DW_P];
#pragma GCC unroll 8
        for (int p = 0; p < DW_P; ++p) a[p] = b;
        /* K opaque per block: the addresses are recomputed from it (one lea
         * each) rather than hoisted as 30 induction variables that spill */
        ptrdiff_t Kr = K;
        __asm__("" : "+r"(Kr));
#pragma GCC unroll 3
        for (int q = 0; q < NR; ++q) nhwc_taps(xrow[q] + xoff + k, wrow[q] + k, Kr, m, a, SW);
#pragma GCC unroll 8
        for (int p = 0; p < DW_P; ++p) _mm512_mask_storeu_ps(yp + p * K + k, m, a[p]);
    }
}

int fc_dwconv_row3x3_nhwc_avx512_f32(const fc_conv_geom *g, const float *x, const float *wt,
                                     const float *bias, ptrdiff_t oh, float *yrow)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t pl = g->pad_left, sw = g->stride_w;
    if (g->in_channels != K || g->kernel_h != 3 || g->kernel_w != 3 || sw > 2 || g->dilation_w != 1)
        return 0;
    /* the kernel rows with their input row inside the image */
    const float *xrow[3];
    const float *wrow[3];
    int nr = 0;
    for (ptrdiff_t r = 0; r < 3; ++r) {
        const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
        if (ih < 0 || ih >= H) continue;
        xrow[nr] = x + ih * W * K;
        wrow[nr] = wt + r * 3 * K;
        ++nr;
    }
    ptrdiff_t lo, hi;
    fc_dwconv_interior_columns(g, &lo, &hi);
    /* the input rows the next output row adds (stride_h of them, the last
     * ones of its window that lie in the image), a share of their lines per
     * pass */
    const ptrdiff_t last = (oh + 1) * g->stride_h - g->pad_top + 2 * g->dilation_h;
    const ptrdiff_t first = FC_MAX(FC_MAX(last - g->stride_h + 1, oh * g->stride_h - g->pad_top + 2 * g->dilation_h + 1), (ptrdiff_t)0);
    const ptrdiff_t nnew = FC_MIN(last, H - 1) - first + 1;
    const float *next = nnew > 0 ? x + first * W * K : NULL;
    const ptrdiff_t lines = next ? (nnew * W * K + 15) / 16 : 0;
    const ptrdiff_t passes = FC_MAX((ptrdiff_t)1, (hi - lo) / DW_P);
    const ptrdiff_t per_pass = (lines + passes - 1) / passes;
    ptrdiff_t line = 0;
    /* interior pixels, DW_P at a time (the last pass overlaps the one before:
     * the same sums again), per 16-channel block (nhwc_taps) */
    if (hi - lo >= DW_P && nr > 0) {
        for (ptrdiff_t ow = lo;; ow = ow + DW_P < hi - DW_P ? ow + DW_P : hi - DW_P) {
            for (ptrdiff_t e = FC_MIN(lines, line + per_pass); line < e; ++line)
                _mm_prefetch((const char *)(next + line * 16), _MM_HINT_T0);
            float *yp = yrow + ow * K;
            /* the next pass's output lines, for writing (plain stores with
             * this prefetch measured 1.3x faster than streaming stores) */
            if (ow + 2 * DW_P <= OW)
                for (ptrdiff_t i = 0; i < DW_P * K; i += 16) _mm_prefetch((const char *)(yp + DW_P * K + i), _MM_HINT_ET0);
            const ptrdiff_t xoff = (ow * sw - pl) * K;
            if (nr == 3 && sw == 1) nhwc_pass(xrow, wrow, bias, K, xoff, yp, 3, 1);
            else if (nr == 3) nhwc_pass(xrow, wrow, bias, K, xoff, yp, 3, 2);
            else if (nr == 2 && sw == 1) nhwc_pass(xrow, wrow, bias, K, xoff, yp, 2, 1);
            else if (nr == 2) nhwc_pass(xrow, wrow, bias, K, xoff, yp, 2, 2);
            else if (sw == 1) nhwc_pass(xrow, wrow, bias, K, xoff, yp, 1, 1);
            else nhwc_pass(xrow, wrow, bias, K, xoff, yp, 1, 2);
            if (ow >= hi - DW_P) break;
        }
    } else {
        hi = lo;                                  /* every pixel below as a border one */
    }
    /* border pixels (and narrow rows): bias, then fma over the taps inside */
    for (ptrdiff_t ow = 0; ow < OW; ++ow) {
        if (ow == lo) ow = hi;
        if (ow >= OW) break;
        float *yp = yrow + ow * K;
        for (ptrdiff_t k = 0; k < K; k += 16) {
            const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1u);
            __m512 a = bias ? _mm512_maskz_loadu_ps(m, bias + k) : _mm512_setzero_ps();
            for (int q = 0; q < nr; ++q)
                for (ptrdiff_t s = 0; s < 3; ++s) {
                    const ptrdiff_t iw = ow * sw - pl + s;
                    if (iw < 0 || iw >= W) continue;
                    a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, wrow[q] + s * K + k),
                                        _mm512_maskz_loadu_ps(m, xrow[q] + iw * K + k), a);
                }
            _mm512_mask_storeu_ps(yp + k, m, a);
        }
    }
    return 1;
}
