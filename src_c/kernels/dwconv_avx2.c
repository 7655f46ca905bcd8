/*
 * dwconv_avx2.c -- depthwise convolution kernels for AVX2 + FMA (float32).
 *
 * NCHW: vectorised along the output row; the columns whose every tap lies
 * inside the image run 8 at a time, four vectors in flight so the nine FMA
 * chains of a 3x3 kernel overlap; the last partial vector is redone
 * overlapping the previous one (same formula, same bits), the border columns
 * run scalar.  NHWC: vectorised along channels.  Each output is bias, then
 * fma(w, x, acc) for the taps in (r, s) order, vector lanes and scalar
 * (fmaf) alike, so a value never depends on which path computed it.
 */
#include <immintrin.h>
#include <math.h>

#include "../conv_internal.h"

static float tap_sum_scalar(const fc_conv_geom *g, const float *xp, const float *wk, float b,
                            ptrdiff_t oh, ptrdiff_t ow)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, KH = g->kernel_h, KW = g->kernel_w;
    float acc = b;
    for (ptrdiff_t r = 0; r < KH; ++r) {
        const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
        if (ih < 0 || ih >= H) continue;
        for (ptrdiff_t s = 0; s < KW; ++s) {
            const ptrdiff_t iw = ow - g->pad_left + s * g->dilation_w;
            if (iw < 0 || iw >= W) continue;
            acc = fmaf(wk[r * KW + s], xp[ih * W + iw], acc);
        }
    }
    return acc;
}

int fc_dwconv_plane_nchw_avx2_f32(const fc_conv_geom *g, const float *xp, const float *wk,
                                  float b, float *yp)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, dw = g->dilation_w, pl = g->pad_left;
    if (g->stride_w != 1 || KH * KW > 64) return 0;
    /* columns whose taps all lie inside the row: ow - pl >= 0 and
     * ow - pl + (KW - 1) * dw <= W - 1 */
    ptrdiff_t lo = FC_MIN(pl, OW), hi = W - (KW - 1) * dw + pl;
    hi = FC_MAX(lo, FC_MIN(hi, OW));
    const __m256 vb = _mm256_set1_ps(b);

    for (ptrdiff_t oh = 0; oh < OH; ++oh) {
        float *yr = yp + oh * OW;
        const float *rows[64];
        const float *wrow[64];
        int nr = 0;
        for (ptrdiff_t r = 0; r < KH; ++r) {
            const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
            if (ih < 0 || ih >= H) continue;
            rows[nr] = xp + ih * W - pl;
            wrow[nr] = wk + r * KW;
            ++nr;
        }
        ptrdiff_t ow = lo;
        if (hi - lo >= 8) {
            for (; ow + 32 <= hi; ow += 32) {
                __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                for (int q = 0; q < nr; ++q) {
                    const float *xr = rows[q] + ow;
                    for (ptrdiff_t s = 0; s < KW; ++s) {
                        const __m256 wv = _mm256_set1_ps(wrow[q][s]);
                        const float *xs = xr + s * dw;
                        a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs), a0);
                        a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs + 8), a1);
                        a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs + 16), a2);
                        a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(xs + 24), a3);
                    }
                }
                _mm256_storeu_ps(yr + ow, a0);
                _mm256_storeu_ps(yr + ow + 8, a1);
                _mm256_storeu_ps(yr + ow + 16, a2);
                _mm256_storeu_ps(yr + ow + 24, a3);
            }
            for (;;) {
                if (ow >= hi) break;
                if (ow + 8 > hi) ow = hi - 8;   /* overlap the last full vector */
                __m256 a0 = vb;
                for (int q = 0; q < nr; ++q) {
                    const float *xr = rows[q] + ow;
                    for (ptrdiff_t s = 0; s < KW; ++s)
                        a0 = _mm256_fmadd_ps(_mm256_set1_ps(wrow[q][s]), _mm256_loadu_ps(xr + s * dw), a0);
                }
                _mm256_storeu_ps(yr + ow, a0);
                ow += 8;
            }
        } else {
            for (; ow < hi; ++ow) yr[ow] = tap_sum_scalar(g, xp, wk, b, oh, ow);
        }
        for (ptrdiff_t o = 0; o < lo; ++o) yr[o] = tap_sum_scalar(g, xp, wk, b, oh, o);
        for (ptrdiff_t o = hi; o < OW; ++o) yr[o] = tap_sum_scalar(g, xp, wk, b, oh, o);
    }
    return 1;
}

int fc_dwconv_row_nhwc_avx2_f32(const fc_conv_geom *g, const float *x, const float *wt,
                                const float *bias, ptrdiff_t oh, float *yrow)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    if (g->in_channels != K || KH * KW > 64) return 0;
    for (ptrdiff_t ow = 0; ow < OW; ++ow) {
        const float *xs[64];
        const float *ws[64];
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
        float *yp = yrow + ow * K;
        ptrdiff_t k = 0;
        for (; k + 32 <= K; k += 32) {
            __m256 a0, a1, a2, a3;
            if (bias) {
                a0 = _mm256_loadu_ps(bias + k);
                a1 = _mm256_loadu_ps(bias + k + 8);
                a2 = _mm256_loadu_ps(bias + k + 16);
                a3 = _mm256_loadu_ps(bias + k + 24);
            } else {
                a0 = a1 = a2 = a3 = _mm256_setzero_ps();
            }
            for (int t = 0; t < nt; ++t) {
                const float *xv = xs[t] + k, *wv = ws[t] + k;
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wv), _mm256_loadu_ps(xv), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wv + 8), _mm256_loadu_ps(xv + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wv + 16), _mm256_loadu_ps(xv + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wv + 24), _mm256_loadu_ps(xv + 24), a3);
            }
            _mm256_storeu_ps(yp + k, a0);
            _mm256_storeu_ps(yp + k + 8, a1);
            _mm256_storeu_ps(yp + k + 16, a2);
            _mm256_storeu_ps(yp + k + 24, a3);
        }
        for (; k + 8 <= K; k += 8) {
            __m256 a0 = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
            for (int t = 0; t < nt; ++t)
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(ws[t] + k), _mm256_loadu_ps(xs[t] + k), a0);
            _mm256_storeu_ps(yp + k, a0);
        }
        for (; k < K; ++k) {
            float a0 = bias ? bias[k] : 0.0f;
            for (int t = 0; t < nt; ++t) a0 = fmaf(ws[t][k], xs[t][k], a0);
            yp[k] = a0;
        }
    }
    return 1;
}
