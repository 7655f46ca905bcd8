/*
 * pool_rows.h -- AVX-512 row kernels for the common NCHW float forward
 * windows, and the NHWC 3-wide stride-1 average (kernels/pool_rows_avx512.c),
 * called from the AVX2 copy of pool_impl.h when fc_isa_active() >=
 * FC_ISA_AVX512.
 *
 * The AVX2 copy's loops are left to the vectoriser, which turns a stride-2
 * window into a de-interleave through memory and a 3-wide window into a
 * vertical pass written to a row buffer and read back: for a batch-1 input
 * that sits in the caches that is about half of what the core can move.
 * These kernels keep a window's vertical reduction in registers, de-interleave
 * with two-source permutes and shift with lane alignment, 16 outputs a step,
 * masked loads for the borders (a column outside the row reads as the
 * window's neutral element, as the padded row buffer does).  Every output is
 * the same operations, in the same order, as the generic path, so the bits
 * equal the AVX2 and generic copies' (tests/test_pool.py checks them at every
 * ISA level); the 3x3/2 pad 1 max and the 2x2 max with indices take plain
 * max / greater-than on rows that hold no NaN (the same bits there) and redo
 * a row with the NaN rule when it read one.  Runs of rows (fc_pool_rows_*)
 * of those two kinds prefetch about 2 KiB ahead of the rows they read.
 */
#ifndef FC_POOL_ROWS_H
#define FC_POOL_ROWS_H

#include <stddef.h>
#include <stdint.h>

enum {
    FC_ROWK_NONE = 0,
    FC_ROWK_MAX2X2, /* 2x2 stride 2, no padding, every window inside  */
    FC_ROWK_AVG2X2, /* the same, averaged                              */
    FC_ROWK_MAX3S2, /* 3 columns, stride 2, left padding 0 or 1        */
    FC_ROWK_AVG3S1, /* 3 columns, stride 1, one padded column each side */
    FC_ROWK_ARGMAX2X2 /* 2x2 stride 2 max with indices, every window inside */
};

/* One output row y[0..ow) of kind from the nr input rows rows[0..nr) of w
 * floats (pl: left padding; div: the divisors of averages; id, pos: the
 * indices row and the plane position of rows[0][0], for FC_ROWK_ARGMAX2X2).
 * Returns 0, computing nothing, when the kernel does not cover nr rows (the
 * caller then takes the generic path). */
int fc_pool_row_f32_avx512(int kind, float *y, int64_t *id, const float *const *rows, ptrdiff_t nr, ptrdiff_t w,
                           ptrdiff_t ow, ptrdiff_t pl, const float *div, int64_t pos);

/* Output rows oh0 <= oh < oh1 of one plane (rows rs floats apart; output
 * row oh's window has cnt_h[oh] rows from lo_h[oh], dh apart) into y (and
 * id), ow values a row, with the same divisors on every row.  Returns the
 * number of rows done: it stops before the first row the kernel does not
 * cover. */
ptrdiff_t fc_pool_rows_f32_avx512(int kind, float *y, int64_t *id, const float *plane, ptrdiff_t rs, ptrdiff_t dh,
                                  const ptrdiff_t *lo_h, const ptrdiff_t *cnt_h, ptrdiff_t oh0, ptrdiff_t oh1,
                                  ptrdiff_t w, ptrdiff_t ow, ptrdiff_t pl, const float *div);

/* NHWC average of 3-wide stride-1 windows (pool_impl.h's pix_avg3s1), the
 * n output pixels of one row segment at once, c (16, 32, 48 or 64) channels
 * a pixel: output i has the column sums p, q of its first two columns
 * (carried in registers; p0, q0 for the first) and v of its newest column
 * q0col + 2 + i (of rows r0, r1 and r2 when nr == 3; +0 outside [0, w)),
 * y = ((p + q) + v) / (float)(dvh * dvw[i]).  Returns 0 for other channel
 * counts (the caller then takes the per-pixel path). */
int fc_pool_nhwc_avg3s1_f32_avx512(float *y, const float *r0, const float *r1, const float *r2, ptrdiff_t nr,
                                   ptrdiff_t q0col, ptrdiff_t n, ptrdiff_t w, ptrdiff_t c, const float *p0,
                                   const float *q0, ptrdiff_t dvh, const ptrdiff_t *dvw);

/* NCHW float average of 3x3 stride-1 windows with one padded row and column
 * on each side (output size = input size): output rows it0 <= it < it1 of
 * planes of h >= 2 rows of w >= 16 floats (plane it / h, row it % h; the
 * input's planes xps floats apart, its rows contiguous; y contiguous, row it
 * at y + it * w), divided by dmid[c] in the middle rows and dedge[c] in the
 * first and last.  dmid and dedge hold w + 16 floats (the first w given; the
 * rest is written), keep w scratch words.  The bits of fc_pool_rows_*'s
 * FC_ROWK_AVG3S1 rows.  Returns 0, computing nothing, for other sizes. */
int fc_pool_avg3x3_f32_avx512(float *y, const float *x, ptrdiff_t xps, ptrdiff_t h, ptrdiff_t w, ptrdiff_t it0,
                              ptrdiff_t it1, float *dmid, float *dedge, uint32_t *keep);

/* fc_pool_nhwc_avg3s1_f32_avx512 for two output rows at once, both of
 * three input rows: ra, rb, rc for ya (carried column sums pa0, qa0) and rb,
 * rc, rd for yb (pb0, qb0), the same divisors; the same bits as two calls.
 * Returns 0 for other channel counts. */
int fc_pool_nhwc_avg3s1x2_f32_avx512(float *ya, float *yb, const float *ra, const float *rb, const float *rc,
                                     const float *rd, ptrdiff_t q0col, ptrdiff_t n, ptrdiff_t w, ptrdiff_t c,
                                     const float *pa0, const float *qa0, const float *pb0, const float *qb0,
                                     ptrdiff_t dvh, const ptrdiff_t *dvw);

/* Output rows oh0 <= oh < oh1 of one plane of average windows of consecutive
 * rows (adaptive ones; rows rs floats apart): pool_impl.h's generic rows
 * (vertical sums into buf, w floats, then each output's columns lo_w[o] ..
 * + cnt_w[o] left to right over (float)(dv_h[oh] * dv_w[o])), the same
 * bits.  Returns the rows done: it stops before a row of fewer than two
 * window rows, or when w is not a multiple of 8.  pf: as
 * fc_pool_vsum_f32_avx512's. */
ptrdiff_t fc_pool_avg_rows_f32_avx512(float *y, float *buf, const float *plane, ptrdiff_t rs,
                                      const ptrdiff_t *lo_h, const ptrdiff_t *cnt_h, const ptrdiff_t *dv_h,
                                      ptrdiff_t oh0, ptrdiff_t oh1, ptrdiff_t w, ptrdiff_t ow, const ptrdiff_t *lo_w,
                                      const ptrdiff_t *cnt_w, const ptrdiff_t *dv_w, int pf);

/* NHWC max of 3-wide stride-2 windows (pool_impl.h's pix_max3s2), the n
 * output pixels of one row segment at once, c (16, 32, 48 or 64) channels a
 * pixel, the carried column in registers: output i reads columns q1first +
 * 2 i and the next (-inf outside [0, w)) of rows r0, r1, r2 (r2 = r1 for two
 * rows); carry holds the column before the first and, on return, the last
 * column read.  The same bits.  Returns 0 for other channel counts. */
int fc_pool_nhwc_max3s2_f32_avx512(float *y, const float *r0, const float *r1, const float *r2, ptrdiff_t q1first,
                                   ptrdiff_t n, ptrdiff_t w, ptrdiff_t c, float *carry);

/* dst[0..n) = the vertical sums of the nr rows, pool_impl.h's vsum, the same
 * bits; returns 0, computing nothing, unless nr >= 2, n is a multiple of 8
 * and the rows are evenly spaced (the caller then takes vsum).  pf: prefetch
 * the next window's rows (inputs larger than the caches). */
int fc_pool_vsum_f32_avx512(float *dst, const float *const *rows, ptrdiff_t nr, ptrdiff_t n, int pf);

#endif /* FC_POOL_ROWS_H */
