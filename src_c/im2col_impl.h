/*
 * im2col_impl.h -- im2col and col2im for one element type, included by
 * im2col.c once per type with FT (the type) and FSUF (_f32 / _f64) defined.
 *
 * col2im is written as a gather: each task owns a set of x elements and sums
 * every window tap landing on them in a fixed order (kernel row, then kernel
 * column), so there is no race and the result never depends on the threads.
 */
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, FSUF)

void FN(fc_im2col_image)(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const FT *x, FT *col, ptrdiff_t col_ld, int nt)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, L = OH * OW;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t rows = channels * KH * KW;
        /* one task per col row (c, r, s): a shifted, strided copy of plane c */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t row = 0; row < rows; ++row) {
            const ptrdiff_t s = row % KW, r = (row / KW) % KH, c = row / (KW * KH);
            const ptrdiff_t off_w = s * dw - pl;
            ptrdiff_t lo, hi;
            fc_valid_range(OW, W, sw, off_w, &lo, &hi);
            const FT *xc = x + c * H * W;
            FT *dst = col + row * (col_ld ? col_ld : L);
            for (ptrdiff_t oh = 0; oh < OH; ++oh) {
                const ptrdiff_t ih = oh * sh - pt + r * dh;
                FT *d = dst + oh * OW;
                if (ih < 0 || ih >= H) {
                    for (ptrdiff_t ow = 0; ow < OW; ++ow) d[ow] = 0;
                    continue;
                }
                const FT *xr = xc + ih * W + off_w;
                for (ptrdiff_t ow = 0; ow < lo; ++ow) d[ow] = 0;
                if (sw == 1)
                    for (ptrdiff_t ow = lo; ow < hi; ++ow) d[ow] = xr[ow];
                else
                    for (ptrdiff_t ow = lo; ow < hi; ++ow) d[ow] = xr[ow * sw];
                for (ptrdiff_t ow = hi; ow < OW; ++ow) d[ow] = 0;
            }
        }
    } else {
        const ptrdiff_t K = KH * KW * channels;
        /* one task per output pixel: kernel_h * kernel_w runs of `channels` */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t p = 0; p < L; ++p) {
            const ptrdiff_t oh = p / OW, ow = p % OW;
            FT *d = col + p * K;
            for (ptrdiff_t r = 0; r < KH; ++r) {
                const ptrdiff_t ih = oh * sh - pt + r * dh;
                for (ptrdiff_t s = 0; s < KW; ++s, d += channels) {
                    const ptrdiff_t iw = ow * sw - pl + s * dw;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                        for (ptrdiff_t c = 0; c < channels; ++c) d[c] = 0;
                    } else {
                        const FT *src = x + (ih * W + iw) * pixel_stride;
                        for (ptrdiff_t c = 0; c < channels; ++c) d[c] = src[c];
                    }
                }
            }
        }
    }
}

void FN(fc_col2im_image)(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const FT *col, ptrdiff_t col_ld, FT *x, int nt)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, L = OH * OW;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t ld = col_ld ? col_ld : L;
        /* one task per input row (c, ih): it adds every col row segment that
         * lands on it, kernel row by kernel row */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t task = 0; task < channels * H; ++task) {
            const ptrdiff_t c = task / H, ih = task % H;
            FT *xr = x + c * H * W + ih * W;
            for (ptrdiff_t iw = 0; iw < W; ++iw) xr[iw] = 0;
            for (ptrdiff_t r = 0; r < KH; ++r) {
                const ptrdiff_t t = ih + pt - r * dh;   /* = oh * sh when a window row lands here */
                if (t < 0 || t % sh != 0 || t / sh >= OH) continue;
                const ptrdiff_t oh = t / sh;
                for (ptrdiff_t s = 0; s < KW; ++s) {
                    const ptrdiff_t off_w = s * dw - pl;
                    ptrdiff_t lo, hi;
                    fc_valid_range(OW, W, sw, off_w, &lo, &hi);
                    const FT *cr = col + ((c * KH + r) * KW + s) * ld + oh * OW;
                    FT *xo = xr + off_w;
                    if (sw == 1)
                        for (ptrdiff_t ow = lo; ow < hi; ++ow) xo[ow] += cr[ow];
                    else
                        for (ptrdiff_t ow = lo; ow < hi; ++ow) xo[ow * sw] += cr[ow];
                }
            }
        }
    } else {
        const ptrdiff_t K = KH * KW * channels;
        /* Kernel taps r with (ih + pt - r * dh) % sh == 0 repeat every
         * ph = sh / gcd(dh, sh) rows, oh falling by dh * ph / sh each time: a
         * pixel finds its first tap in at most ph tests and steps from there
         * (testing every tap costs two divisions per tap: 10x slower for
         * AlexNet's 11x11 stride 4).  Same for columns. */
        const ptrdiff_t ph = sh / fc_gcd(dh, sh), pw = sw / fc_gcd(dw, sw);
        const ptrdiff_t doh = dh * ph / sh, dow = dw * pw / sw;
        /* one task per input pixel (ih, iw): a sum of channel runs, taps in (r, s) order */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t task = 0; task < H * W; ++task) {
            const ptrdiff_t ih = task / W, iw = task % W;
            FT *xp = x + task * pixel_stride;
            for (ptrdiff_t c = 0; c < channels; ++c) xp[c] = 0;
            ptrdiff_t r0 = 0, s0 = 0;
            while (r0 < ph && (ih + pt - r0 * dh) % sh != 0) ++r0;
            while (s0 < pw && (iw + pl - s0 * dw) % sw != 0) ++s0;
            if (r0 == ph || s0 == pw || ih + pt - r0 * dh < 0 || iw + pl - s0 * dw < 0) continue;
            for (ptrdiff_t r = r0, oh = (ih + pt - r0 * dh) / sh; r < KH && oh >= 0; r += ph, oh -= doh) {
                if (oh >= OH) continue;
                for (ptrdiff_t s = s0, ow = (iw + pl - s0 * dw) / sw; s < KW && ow >= 0; s += pw, ow -= dow) {
                    if (ow >= OW) continue;
                    const FT *src = col + (oh * OW + ow) * K + (r * KW + s) * channels;
                    for (ptrdiff_t c = 0; c < channels; ++c) xp[c] += src[c];
                }
            }
        }
    }
}

int FN(fc_im2col)(const fc_conv_geom *g, const FT *x, FT *col)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!x || !col) return FC_EINVAL;
    const int nt = fc_resolve_threads(0);
    const ptrdiff_t C = g->in_channels;
    const ptrdiff_t img = C * g->in_h * g->in_w;
    const ptrdiff_t cols = C * g->kernel_h * g->kernel_w * g->out_h * g->out_w;
    const ptrdiff_t ps = g->layout == FC_LAYOUT_NCHW ? 1 : C;
    for (ptrdiff_t n = 0; n < g->batch; ++n)
        FN(fc_im2col_image)(g, C, ps, x + n * img, col + n * cols, 0, nt);
    return FC_OK;
}

int FN(fc_col2im)(const fc_conv_geom *g, const FT *col, FT *x)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!x || !col) return FC_EINVAL;
    const int nt = fc_resolve_threads(0);
    const ptrdiff_t C = g->in_channels;
    const ptrdiff_t img = C * g->in_h * g->in_w;
    const ptrdiff_t cols = C * g->kernel_h * g->kernel_w * g->out_h * g->out_w;
    const ptrdiff_t ps = g->layout == FC_LAYOUT_NCHW ? 1 : C;
    for (ptrdiff_t n = 0; n < g->batch; ++n)
        FN(fc_col2im_image)(g, C, ps, col + n * cols, 0, x + n * img, nt);
    return FC_OK;
}

#undef FN
#undef FC_CAT
#undef FC_CAT_
