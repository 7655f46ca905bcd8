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
