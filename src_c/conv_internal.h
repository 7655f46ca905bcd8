/*
 * conv_internal.h -- helpers shared by the convolution files (im2col.c,
 * conv.c, kernels/dwconv_avx2.c); not part of the public API.
 */
#ifndef FC_CONV_INTERNAL_H
#define FC_CONV_INTERNAL_H

#include "internal.h"

/* floor(a / b) for b > 0 and a of either sign */
static inline ptrdiff_t fc_floordiv(ptrdiff_t a, ptrdiff_t b)
{
    ptrdiff_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* greatest common divisor of a, b > 0 */
static inline ptrdiff_t fc_gcd(ptrdiff_t a, ptrdiff_t b)
{
    while (b) {
        const ptrdiff_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The outputs o in [0, n_out) whose tap o * stride + off lies inside [0, n_in):
 * a contiguous range [*lo, *hi) (empty when *lo == *hi). */
static inline void fc_valid_range(ptrdiff_t n_out, ptrdiff_t n_in, ptrdiff_t stride,
                                  ptrdiff_t off, ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    ptrdiff_t h = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / stride + 1;
    if (l > n_out) l = n_out; /* no valid output: an empty range inside [0, n_out] */
    if (h > n_out) h = n_out;
    if (h < l) h = l;
    *lo = l;
    *hi = h;
}

/* Per-image im2col / col2im on a slice of `channels` channels (the slice of
 * one group), x pointing at the slice's first channel of the image.
 *   NCHW: x planes of in_h * in_w; col rows (c, r, s), out_h * out_w columns.
 *   NHWC: pixels `pixel_stride` elements apart; col rows are output pixels,
 *         columns (r, s, c).
 * col2im writes (overwrites) only the slice.  NCHW col rows lie col_ld apart
 * (0: out_h * out_w).  nt threads (1: serial). */
void fc_im2col_image_f32(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const float *x, float *col, ptrdiff_t col_ld, int nt);
void fc_im2col_image_f64(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const double *x, double *col, ptrdiff_t col_ld, int nt);
void fc_col2im_image_f32(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const float *col, ptrdiff_t col_ld, float *x, int nt);
void fc_col2im_image_f64(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixel_stride,
                         const double *col, ptrdiff_t col_ld, double *x, int nt);

/* Winograd F(2x2, 3x3) (winograd.c): applies to 3x3, stride 1, dilation 1,
 * one group, either layout; forward only. */
int fc_winograd_applies(const fc_conv_geom *g);
int fc_winograd_pays(const fc_conv_geom *g);     /* what algorithm=auto chooses */
int fc_winograd_forward_f32(const fc_conv_geom *g, const float *x, const float *w, const float *bias,
                            float *y, int nt);
int fc_winograd_forward_f64(const fc_conv_geom *g, const double *x, const double *w, const double *bias,
                            double *y, int nt);
/* AVX2 transforms (kernels/winograd_avx2.c), float32, 16-wide B panels */
int fc_wino_input_avx2_f32(const float *planes, ptrdiff_t plane, ptrdiff_t Wq, ptrdiff_t TWp, ptrdiff_t NT,
                           ptrdiff_t f0, ptrdiff_t kcb, ptrdiff_t nr, float *vb, ptrdiff_t xs);
int fc_wino_output_avx2_f32(const float *mb, ptrdiff_t ms, ptrdiff_t k0, ptrdiff_t k1, const float *bias,
                            ptrdiff_t TWp, ptrdiff_t NT, ptrdiff_t f0, ptrdiff_t OH, ptrdiff_t OW,
                            ptrdiff_t row0, ptrdiff_t ps, float *y);

/* The indirect convolution micro-kernel (kernels/convk_avx2_6x16.c):
 * C[6 x 16] (+)= sum over nseg taps q, e < L of
 * (ptrs[6q + i] + aoff)[e * cs] * b[(q * L + e) * 16 + j]; b 32-byte aligned. */
void fc_conv_ukernel_6x16_avx2(ptrdiff_t nseg, ptrdiff_t L, ptrdiff_t cs, ptrdiff_t aoff,
                               const float *const *ptrs, const float *b, float *c, ptrdiff_t ldc,
                               int accumulate);

/* Its AVX-512F companion (kernels/convk_avx512_6x32.c): two adjacent 16-channel
 * panels at once (b, then b + pstride), C 6 x 32 at c with row stride ldc;
 * per element the same FMA chain as the AVX2 kernel. */
void fc_conv_ukernel_6x32_avx512(ptrdiff_t nseg, ptrdiff_t L, ptrdiff_t cs, ptrdiff_t aoff,
                                 const float *const *ptrs, const float *b, ptrdiff_t pstride,
                                 float *c, ptrdiff_t ldc, int accumulate);

/* y[j * P + q] = t[q * ld + j] + bias[j] (bias NULL: + 0) for q < run,
 * j < nch: an item's pixel-major tile buffer into NCHW output planes. */
void fc_conv_tile_to_nchw_avx2(const float *t, ptrdiff_t ld, ptrdiff_t run, ptrdiff_t nch,
                               const float *bias, float *y, ptrdiff_t P);

/* y[j * ld + k] = planes[k * P + j] for k < nk <= 8 and the pixels j it
 * returns (a prefix of [0, P), whole 8-pixel blocks; the caller does the
 * rest): 8 x 8 register transposes.  Only y's first nk values per pixel
 * are written. */
ptrdiff_t fc_conv_planes_to_pixels_avx2(const float *planes, ptrdiff_t P, ptrdiff_t nk, float *y, ptrdiff_t ld);

/* Packs an 8-row slab of weights (w: row 0, column 0; row stride ld; rows
 * past `rows` zero) into those B panels: column q < ncols goes to
 * dst + qbase[q] + jp * 16 * qkcb[q] + half. */
void fc_conv_pack_b8_avx2(const float *w, ptrdiff_t ld, ptrdiff_t rows, ptrdiff_t ncols, ptrdiff_t jp,
                          ptrdiff_t half, const ptrdiff_t *qbase, const ptrdiff_t *qkcb, float *dst);

/* AVX2 + FMA depthwise kernels (kernels/dwconv_avx2.c), float32.  They
 * return 0 (and do nothing) when the geometry is not theirs, and the
 * portable loops run instead.
 * One NCHW output plane, any geometry (vector rows for stride_w == 1 and
 * out_w >= 8, else fma column by column: the same bits); pad is a scratch of
 * fc_dwconv_pad_elems(g) floats for a zero-bordered copy of the plane;
 * next (or NULL): the input plane the caller computes next, prefetched
 * meanwhile; accumulate: yp += the taps (bias unused). */
static inline size_t fc_dwconv_pad_elems(const fc_conv_geom *g)
{
    const ptrdiff_t hp = g->in_h + g->pad_top + g->pad_bottom + g->dilation_h * g->kernel_h;
    ptrdiff_t wp = g->in_w + g->pad_left + g->pad_right;
    wp = FC_MAX(wp, g->out_w + (g->kernel_w - 1) * g->dilation_w) + 8;
    return (size_t)hp * (size_t)wp;
}
int fc_dwconv_plane_nchw_avx2_f32(const fc_conv_geom *g, const float *xp, const float *wk,
                                  float bias, float *yp, float *pad, const float *next,
                                  int accumulate);
/* Depthwise weight gradient of one (input plane, output-gradient plane) pair:
 * sums[t] for the kernel_h * kernel_w taps (stride_w == 1, out_w >= 8). */
int fc_dwconv_wgrad_plane_avx2_f32(const fc_conv_geom *g, const float *xp, const float *dyp,
                                   float *sums, float *pad);
/* NHWC depthwise weight-gradient partials of output rows [oh0, oh1) of one
 * image (multiplier 1): part[k * taps + t], overwritten. */
int fc_dwconv_wgrad_rows_nhwc_avx2_f32(const fc_conv_geom *g, const float *x, const float *dy,
                                       ptrdiff_t oh0, ptrdiff_t oh1, float *part);
/* The same partials, AVX-512F (kernels/dwconv_avx512.c): 32 channels per pass
 * with every tap's sums in registers; the same per-lane order, so the same
 * bits.  Returns 0 (nothing done) unless channels % 16 == 0 and taps <= 12. */
int fc_dwconv_wgrad_rows_nhwc_avx512_f32(const fc_conv_geom *g, const float *x, const float *dy,
                                         ptrdiff_t oh0, ptrdiff_t oh1, float *part);
/* One NCHW output plane of a 3x3, stride-1, undilated layer (any padding,
 * out_w >= 8), AVX-512F, without the zero-bordered copy (zrow: scratch of
 * out_w + 32 floats); the bits of fc_dwconv_plane_nchw_avx2_f32.  Returns 0
 * (nothing done) for other geometries. */
int fc_dwconv_plane3x3_nchw_avx512_f32(const fc_conv_geom *g, const float *xp, const float *wk,
                                       float bias, float *yp, float *zrow, const float *next,
                                       int accumulate);
/* One NHWC output row of a 3x3, stride-1 or 2 (along the width), undilated
 * depthwise layer with multiplier 1, AVX-512F: the bits of
 * fc_dwconv_row_nhwc_avx2_f32 (bias, then fma over the taps inside the
 * image in (r, s) order).  Returns 0 (nothing done) for other geometries. */
int fc_dwconv_row3x3_nhwc_avx512_f32(const fc_conv_geom *g, const float *x, const float *wt,
                                     const float *bias, ptrdiff_t oh, float *yrow);
/* C[i][j] += sum over q < k of a[q * lda + i] * b[q * ldb + j] for i < mr
 * (<= 8), j < nr (<= 32), operands read in place (kernels/convwg_avx512.c):
 * the NHWC weight gradient of one tap over one output row. */
void fc_conv_wgrad_tile_avx512_f32(ptrdiff_t k, const float *a, ptrdiff_t lda, int mr, const float *b,
                                   ptrdiff_t ldb, int nr, float *c, ptrdiff_t ldc);
/* The same, AVX2 + FMA (kernels/convwg_avx2.c): mr <= 4, nr <= 16. */
void fc_conv_wgrad_tile_avx2_f32(ptrdiff_t k, const float *a, ptrdiff_t lda, int mr, const float *b,
                                 ptrdiff_t ldb, int nr, float *c, ptrdiff_t ldc);
/* The kernel rows r of NHWC output row oh whose input row lies inside the
 * image, in order: tap_r[q] = r and roff[q] = that row's offset (ih * W * C);
 * returns how many. */
static inline int fc_dwconv_tap_rows(const fc_conv_geom *g, ptrdiff_t oh, ptrdiff_t *roff, int *tap_r)
{
    int nr = 0;
    for (ptrdiff_t r = 0; r < g->kernel_h; ++r) {
        const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
        if (ih < 0 || ih >= g->in_h) continue;
        roff[nr] = ih * g->in_w * g->in_channels;
        tap_r[nr] = (int)r;
        ++nr;
    }
    return nr;
}
/* Output columns [*lo, *hi) whose every column tap lies inside the input row. */
void fc_dwconv_interior_columns(const fc_conv_geom *g, ptrdiff_t *lo, ptrdiff_t *hi);
/* One NHWC output row, channel multiplier 1; wt is [kernel_h*kernel_w][channels]. */
int fc_dwconv_row_nhwc_avx2_f32(const fc_conv_geom *g, const float *x, const float *wt,
                                const float *bias, ptrdiff_t oh, float *yrow);

#endif
