/*
 * pool_impl.h -- the pooling drivers, written once.
 *
 * pool.c includes the template part twice (float, double) with the baseline
 * flags, kernels/pool_avx2.c twice with -mavx2 -mfma.  The loops are written
 * for the vectoriser: unit or constant strides, selects instead of branches,
 * restrict-qualified rows, so each ISA gets its own vectorised copy without
 * intrinsics; pool.c picks one at run time with fc_isa_active().
 *
 * Before each inclusion define FT (element type), FSUF (name suffix),
 * FC_POOL_OPS_T (the ops type of FT) and FC_POOL_OPS (the table's name).
 *
 * Work split (OpenMP, one parallel region per call, never nested):
 *   forward and unpooling: every output row is independent, so the flat loop
 *     over (plane, output row) is split statically; batch-1 inputs still have
 *     channels x rows items.
 *   scatters (max backward, unpooling by index, avg backward): an input cell
 *     may receive several outputs, so a cell's sum belongs to one thread: whole
 *     planes (NCHW) or (image, channel block) items (NHWC), each walked in the
 *     same order whatever the thread count.
 */

/* ---- once: types shared by pool.c and the per-ISA copies ---------------- */
#ifndef FC_POOL_IMPL_ONCE
#define FC_POOL_IMPL_ONCE

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * The windows of one call, per axis: for output o, its taps inside the input
 * start at lo[o] and there are cnt[o] of them (spaced by the dilation); dv[o]
 * is the average's divisor factor (the divisor of output (oh, ow) is
 * dv_h[oh] * dv_w[ow], exact in FT).  A window with no tap inside keeps lo at
 * its first tap at or after 0, which is where PyTorch points its index.
 * For average unpooling the same arrays describe, per unpooled cell, the range
 * of pooled windows covering it.
 */
typedef struct {
    const ptrdiff_t *lo_h, *cnt_h, *dv_h;
    const ptrdiff_t *lo_w, *cnt_w, *dv_w;
    ptrdiff_t max_cnt_h;     /* longest window in rows: sizes the row list */
    int regular;             /* fixed stride and kernel (not adaptive)     */
} fc_pool_windows;

enum { FC_POOL_MAX = 0, FC_POOL_AVG = 1 };

/* Work below this many elements runs on one thread (a fork costs more). */
#define FC_POOL_PARALLEL_MIN 32768

#define FC_POOL_OPS_MEMBERS(T)                                                       \
    int (*forward)(const fc_pool_geom *, const fc_pool_windows *, int op,            \
                   const T *x, const ptrdiff_t *xs, T *y, int64_t *idx, int nt);     \
    int (*stochastic)(const fc_pool_geom *, const fc_pool_windows *, const T *x,     \
                      const ptrdiff_t *xs, T *y, int64_t *idx, uint64_t seed,        \
                      int training, int nt);                                         \
    int (*scatter)(const fc_pool_geom *, const T *src, const int64_t *idx, T *dst,   \
                   int accumulate, int nt);                                          \
    int (*avg_backward)(const fc_pool_geom *, const fc_pool_windows *, const T *gy,  \
                        T *gx, int nt);                                              \
    int (*avg_unpool)(const fc_pool_geom *, const fc_pool_windows *, const T *x,     \
                      T *y, int nt);

typedef struct { FC_POOL_OPS_MEMBERS(float) } fc_pool_ops_f32;
typedef struct { FC_POOL_OPS_MEMBERS(double) } fc_pool_ops_f64;

/* Counter-based random numbers: output `counter` of a splitmix64 stream whose
 * start is the scrambled seed, so each window's draw depends only on
 * (seed, its index) and never on which thread computes it. */
static inline uint64_t fc_pool_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline double fc_pool_uniform(uint64_t seed, uint64_t counter)
{
    uint64_t z = fc_pool_mix64(seed + 0x9E3779B97F4A7C15ULL) + (counter + 1) * 0x9E3779B97F4A7C15ULL;
    return (double)(fc_pool_mix64(z) >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
}

/* Channel blocks for NHWC scatters: enough (image, block) items for nt
 * threads; the split changes nothing in the results. */
static inline ptrdiff_t fc_pool_channel_block(ptrdiff_t n, ptrdiff_t c, int nt)
{
    if (n >= nt || c <= 16) return c;
    ptrdiff_t parts = (nt + n - 1) / n;
    ptrdiff_t cb = (c + parts - 1) / parts;
    cb = (cb + 15) / 16 * 16;           /* whole cache lines of float32 */
    return cb < c ? cb : c;
}

#endif /* FC_POOL_IMPL_ONCE */

/* ---- template: one copy per FT and ISA -------------------------------------- */
#ifdef FT

#define FC_PCAT_(a, b) a##b
#define FC_PCAT(a, b) FC_PCAT_(a, b)
#define FN(name) FC_PCAT(name, FSUF)

/* PyTorch's rule: a value wins if it is greater or NaN, so NaN propagates and
 * the last NaN of the scan is the one reported.  A select, not a branch. */
#define NANMAX(a, v) ((((v) > (a)) | ((v) != (v))) ? (v) : (a))

/* ---- row kernels (NCHW: along the width) ---------------------------------- */

/* dst[i] = max over nr >= 1 rows */
static void FN(vmax)(FT *restrict dst, const FT *const *rows, ptrdiff_t nr, ptrdiff_t n)
{
    const FT *restrict a = rows[0];
    if (nr == 1) {
        memcpy(dst, a, (size_t)n * sizeof(FT));
        return;
    }
    const FT *restrict b = rows[1];
    for (ptrdiff_t i = 0; i < n; ++i) dst[i] = NANMAX(a[i], b[i]);
    for (ptrdiff_t r = 2; r < nr; ++r) {
        const FT *restrict c = rows[r];
        for (ptrdiff_t i = 0; i < n; ++i) dst[i] = NANMAX(dst[i], c[i]);
    }
}

/* dst[i] = sum over nr >= 1 rows, in row order */
static void FN(vsum)(FT *restrict dst, const FT *const *rows, ptrdiff_t nr, ptrdiff_t n)
{
    const FT *restrict a = rows[0];
    if (nr == 1) {
        memcpy(dst, a, (size_t)n * sizeof(FT));
        return;
    }
    const FT *restrict b = rows[1];
    for (ptrdiff_t i = 0; i < n; ++i) dst[i] = a[i] + b[i];
    for (ptrdiff_t r = 2; r < nr; ++r) {
        const FT *restrict c = rows[r];
        for (ptrdiff_t i = 0; i < n; ++i) dst[i] += c[i];
    }
}

/* out[o] = max_{j<k} src[o*s + j*d]: one pass per tap over the output row
 * (it stays in L1); strides 1 and 2 are spelled out so the vectoriser sees a
 * constant stride (stride 2 becomes a de-interleave). */
static void FN(hmax)(FT *restrict out, const FT *restrict src, ptrdiff_t n,
                     ptrdiff_t k, ptrdiff_t s, ptrdiff_t d)
{
    if (s == 1) {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], t[o]);
        }
    } else if (s == 2) {
        if (k == 2 && d == 1) {
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(src[2 * o], src[2 * o + 1]);
            return;
        }
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[2 * o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], t[2 * o]);
        }
    } else {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[o * s];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], t[o * s]);
        }
    }
}

/* out[o] = (sum_{j<k} src[o*s + j]) / div[o] (average pooling has no dilation) */
static void FN(hsum)(FT *restrict out, const FT *restrict src, ptrdiff_t n,
                     ptrdiff_t k, ptrdiff_t s, const FT *restrict div)
{
    if (s == 1) {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += t[o];
        }
    } else if (s == 2) {
        if (k == 2) {
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = (src[2 * o] + src[2 * o + 1]) / div[o];
            return;
        }
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[2 * o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += t[2 * o];
        }
    } else {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = src[o * s];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict t = src + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += t[o * s];
        }
    }
    for (ptrdiff_t o = 0; o < n; ++o) out[o] /= div[o];
}

/* 2x2 windows, stride 2, both rows inside: read the two rows once, no row
 * buffer.  Same operation order as vmax/vsum followed by hmax/hsum. */
static void FN(max2x2)(FT *restrict out, const FT *restrict r0, const FT *restrict r1, ptrdiff_t n)
{
    for (ptrdiff_t o = 0; o < n; ++o) {
        FT a = NANMAX(r0[2 * o], r1[2 * o]);
        FT b = NANMAX(r0[2 * o + 1], r1[2 * o + 1]);
        out[o] = NANMAX(a, b);
    }
}

static void FN(avg2x2)(FT *restrict out, const FT *restrict r0, const FT *restrict r1,
                       ptrdiff_t n, const FT *restrict div)
{
    for (ptrdiff_t o = 0; o < n; ++o)
        out[o] = ((r0[2 * o] + r1[2 * o]) + (r0[2 * o + 1] + r1[2 * o + 1])) / div[o];
}

/* One tap of the windows of a row of outputs, with indices: output o looks at
 * src[o*s]; pos is the plane position of src[0]. */
static void FN(argmax_pass)(FT *restrict m, int64_t *restrict id, const FT *restrict src,
                            ptrdiff_t n, ptrdiff_t s, int64_t pos)
{
    if (s == 1) {
        for (ptrdiff_t o = 0; o < n; ++o) {
            FT v = src[o];
            int take = (v > m[o]) | (v != v);
            m[o] = take ? v : m[o];
            id[o] = take ? pos + o : id[o];
        }
    } else if (s == 2) {
        for (ptrdiff_t o = 0; o < n; ++o) {
            FT v = src[2 * o];
            int take = (v > m[o]) | (v != v);
            m[o] = take ? v : m[o];
            id[o] = take ? pos + 2 * o : id[o];
        }
    } else {
        for (ptrdiff_t o = 0; o < n; ++o) {
            FT v = src[o * s];
            int take = (v > m[o]) | (v != v);
            m[o] = take ? v : m[o];
            id[o] = take ? pos + o * s : id[o];
        }
    }
}

/* ---- pixel kernels (NHWC: along the channels) ----------------------------- */

static void FN(cmax)(FT *restrict y, const FT *restrict t, ptrdiff_t c)
{
    for (ptrdiff_t i = 0; i < c; ++i) y[i] = NANMAX(y[i], t[i]);
}

static void FN(cadd)(FT *restrict y, const FT *restrict t, ptrdiff_t c)
{
    for (ptrdiff_t i = 0; i < c; ++i) y[i] += t[i];
}

static void FN(cargmax)(FT *restrict m, int64_t *restrict id, const FT *restrict t,
                        ptrdiff_t c, int64_t pos)
{
    for (ptrdiff_t i = 0; i < c; ++i) {
        FT v = t[i];
        int take = (v > m[i]) | (v != v);
        m[i] = take ? v : m[i];
        id[i] = take ? pos : id[i];
    }
}

static void FN(fill)(FT *restrict y, FT v, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) y[i] = v;
}

/* ---- forward: max and average, fixed or adaptive windows -------------------- */

/*
 * NCHW, one output row at a time: reduce the window's input rows into a row
 * buffer (vertical pass, vectorised along the width), then each output over
 * its columns (horizontal pass).  For fixed windows the buffer is padded with
 * the neutral element (-inf or 0) on both sides, so every window is a full
 * k-tap window and the horizontal pass has no edge cases; padded cells never
 * win a max and add nothing to a sum.
 */
static int FN(forward_nchw)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                            const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    const ptrdiff_t C = g->channels, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const int reg = w->regular;
    const ptrdiff_t kw = reg ? g->kernel_w : 1, sw = reg ? g->stride_w : 1;
    const ptrdiff_t dw = reg ? g->dilation_w : 1, dh = reg ? g->dilation_h : 1;
    const ptrdiff_t pl = reg ? g->pad_left : 0;
    const ptrdiff_t items = g->batch * C * OH;
    /* buffer length: the input row at pl.., and the reach of the last window */
    ptrdiff_t len = W + pl;
    if (reg) len = FC_MAX(len, (OW - 1) * sw + (kw - 1) * dw + 1);
    /* windows that never leave the input row can read it in place */
    const int in_place = !reg || (pl == 0 && (OW - 1) * sw + (kw - 1) * dw < W);
    const int fused = reg && g->kernel_h == 2 && kw == 2 && g->stride_h == 2 && sw == 2 &&
                      dh == 1 && dw == 1 && pl == 0 && g->pad_top == 0;
    const ptrdiff_t nfused = FC_MIN(OW, W / 2); /* outputs whose 2 columns are inside */
    const FT neutral = op == FC_POOL_MAX ? (FT)-INFINITY : (FT)0;
    const ptrdiff_t nrows = FC_MAX(w->max_cnt_h, 1);
    int status = FC_OK;

#pragma omp parallel num_threads(nt) if (nt > 1 && items * (W + OW) > FC_POOL_PARALLEL_MIN)
    {
        FT *buf = (FT *)fc_aligned_alloc((size_t)len * sizeof(FT));
        FT *div = (FT *)fc_aligned_alloc((size_t)OW * sizeof(FT));
        const FT **rows = (const FT **)malloc((size_t)nrows * sizeof(FT *));
        int ok = buf && div && rows;
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        } else {
            FN(fill)(buf, idx ? (FT)-INFINITY : neutral, len);
        }
#pragma omp for schedule(static)
        for (ptrdiff_t it = 0; it < items; ++it) {
            if (!ok) continue;
            const ptrdiff_t p = it / OH, oh = it - p * OH;
            const FT *plane = x + (p / C) * xs[0] + (p % C) * xs[1];
            FT *yr = y + it * OW;
            const ptrdiff_t nr = w->cnt_h[oh], h0 = w->lo_h[oh];
            for (ptrdiff_t r = 0; r < nr; ++r) rows[r] = plane + (h0 + r * dh) * xs[2];

            if (idx) {
                /* indices: scan every tap in PyTorch's order (rows, then
                 * columns), starting from -inf at the first cell inside */
                int64_t *ir = idx + it * OW;
                FN(fill)(yr, (FT)-INFINITY, OW);
                for (ptrdiff_t o = 0; o < OW; ++o) ir[o] = (int64_t)(h0 * W + w->lo_w[o]);
                for (ptrdiff_t r = 0; r < nr; ++r) {
                    const ptrdiff_t ih = h0 + r * dh;
                    if (reg) {
                        const FT *src = rows[r];
                        if (!in_place) {
                            memcpy(buf + pl, rows[r], (size_t)W * sizeof(FT));
                            src = buf;
                        }
                        for (ptrdiff_t j = 0; j < kw; ++j)
                            FN(argmax_pass)(yr, ir, src + j * dw, OW, sw, (int64_t)(ih * W + j * dw - pl));
                    } else {
                        for (ptrdiff_t o = 0; o < OW; ++o)
                            for (ptrdiff_t q = 0; q < w->cnt_w[o]; ++q) {
                                const ptrdiff_t iw = w->lo_w[o] + q;
                                FT v = rows[r][iw];
                                int take = (v > yr[o]) | (v != v);
                                yr[o] = take ? v : yr[o];
                                ir[o] = take ? (int64_t)(ih * W + iw) : ir[o];
                            }
                    }
                }
                continue;
            }

            if (op == FC_POOL_AVG) {
                const ptrdiff_t fh = w->dv_h[oh];
                for (ptrdiff_t o = 0; o < OW; ++o) div[o] = (FT)(fh * w->dv_w[o]);
            }
            if (nr == 0) { /* a window entirely in the padding (dilation) */
                FN(fill)(yr, neutral, OW);
                continue;
            }
            ptrdiff_t o0 = 0;
            if (fused && nr == 2) {
                if (op == FC_POOL_MAX) FN(max2x2)(yr, rows[0], rows[1], nfused);
                else FN(avg2x2)(yr, rows[0], rows[1], nfused, div);
                if (nfused == OW) continue;
                o0 = nfused; /* ceil_mode: the last window has one column inside */
            }
            const FT *src = rows[0];
            if (nr > 1 || !in_place) {
                if (op == FC_POOL_MAX) FN(vmax)(buf + pl, rows, nr, W);
                else FN(vsum)(buf + pl, rows, nr, W);
                src = buf;
            }
            if (reg && o0 == 0) {
                if (op == FC_POOL_MAX) FN(hmax)(yr, src, OW, kw, sw, dw);
                else FN(hsum)(yr, src, OW, kw, sw, div);
            } else {
                /* adaptive windows, or the tail of the fused path (both have
                 * pl == 0, so src is in input coordinates): each output over
                 * its columns inside the row */
                for (ptrdiff_t o = o0; o < OW; ++o) {
                    const FT *t = src + w->lo_w[o];
                    const ptrdiff_t nc = w->cnt_w[o];
                    FT acc = neutral;
                    if (op == FC_POOL_MAX) {
                        for (ptrdiff_t q = 0; q < nc; ++q) acc = NANMAX(acc, t[q * dw]);
                        yr[o] = acc;
                    } else {
                        acc = nc ? t[0] : (FT)0;
                        for (ptrdiff_t q = 1; q < nc; ++q) acc += t[q];
                        yr[o] = acc / div[o];
                    }
                }
            }
        }
        fc_aligned_free(buf);
        fc_aligned_free(div);
        free((void *)rows);
    }
    return status;
}

/*
 * NHWC, one output row of pixels at a time: each output pixel reduces its
 * window's pixels, vectorised along the channels (contiguous), in PyTorch's
 * order (rows, then columns).
 */
static int FN(forward_nhwc)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                            const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    const ptrdiff_t C = g->channels, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const int reg = w->regular;
    const ptrdiff_t dw = reg ? g->dilation_w : 1, dh = reg ? g->dilation_h : 1;
    const ptrdiff_t items = g->batch * OH;
    const FT neutral = op == FC_POOL_MAX ? (FT)-INFINITY : (FT)0;

#pragma omp parallel for schedule(static) num_threads(nt) \
    if (nt > 1 && items * OW * C > FC_POOL_PARALLEL_MIN)
    for (ptrdiff_t it = 0; it < items; ++it) {
        const ptrdiff_t n = it / OH, oh = it - n * OH;
        const FT *xn = x + n * xs[0];
        const ptrdiff_t nr = w->cnt_h[oh], h0 = w->lo_h[oh];
        for (ptrdiff_t ow = 0; ow < OW; ++ow) {
            FT *yp = y + (it * OW + ow) * C;
            const ptrdiff_t nc = w->cnt_w[ow], w0 = w->lo_w[ow];
            if (idx) {
                int64_t *ip = idx + (it * OW + ow) * C;
                FN(fill)(yp, (FT)-INFINITY, C);
                const int64_t first = (int64_t)(h0 * W + w0);
                for (ptrdiff_t c = 0; c < C; ++c) ip[c] = first;
                for (ptrdiff_t r = 0; r < nr; ++r) {
                    const ptrdiff_t ih = h0 + r * dh;
                    for (ptrdiff_t q = 0; q < nc; ++q) {
                        const ptrdiff_t iw = w0 + q * dw;
                        FN(cargmax)(yp, ip, xn + ih * xs[2] + iw * xs[3], C, (int64_t)(ih * W + iw));
                    }
                }
                continue;
            }
            if (nr == 0 || nc == 0) {
                FN(fill)(yp, neutral, C);
                continue;
            }
            int first = 1;
            for (ptrdiff_t r = 0; r < nr; ++r) {
                const FT *xrow = xn + (h0 + r * dh) * xs[2];
                for (ptrdiff_t q = 0; q < nc; ++q) {
                    const FT *t = xrow + (w0 + q * dw) * xs[3];
                    if (first) memcpy(yp, t, (size_t)C * sizeof(FT));
                    else if (op == FC_POOL_MAX) FN(cmax)(yp, t, C);
                    else FN(cadd)(yp, t, C);
                    first = 0;
                }
            }
            if (op == FC_POOL_AVG) {
                const FT dv = (FT)(w->dv_h[oh] * w->dv_w[ow]);
                for (ptrdiff_t c = 0; c < C; ++c) yp[c] /= dv;
            }
        }
    }
    return FC_OK;
}

static int FN(forward)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                       const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    if (g->layout == FC_LAYOUT_NHWC) return FN(forward_nhwc)(g, w, op, x, xs, y, idx, nt);
    return FN(forward_nchw)(g, w, op, x, xs, y, idx, nt);
}

/* ---- stochastic pooling ------------------------------------------------------ */

/*
 * One window: nr x nc values at p[r*rs + q*cs], all >= 0.  Training draws one
 * of them with probability a_i / sum(a) by walking the running sum up to
 * u * sum (sums in double, in the same order both times, so the walk ends at
 * the total; a zero never starts a new step, so it is never drawn).
 * Inference returns sum(a^2) / sum(a).  An all-zero window gives 0 and its
 * first cell.
 */
static FT FN(stochastic_cell)(const FT *p, ptrdiff_t nr, ptrdiff_t nc, ptrdiff_t rs,
                              ptrdiff_t cs, int training, double u, ptrdiff_t *pr, ptrdiff_t *pq)
{
    double s = 0;
    *pr = 0;
    *pq = 0;
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = 0; q < nc; ++q) s += (double)p[r * rs + q * cs];
    if (!(s > 0)) return (FT)0;
    if (!training) {
        double s2 = 0;
        for (ptrdiff_t r = 0; r < nr; ++r)
            for (ptrdiff_t q = 0; q < nc; ++q) {
                double a = (double)p[r * rs + q * cs];
                s2 += a * a;
            }
        return (FT)(s2 / s);
    }
    const double target = u * s;
    double run = 0;
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = 0; q < nc; ++q) {
            double a = (double)p[r * rs + q * cs];
            if (a > 0) {
                run += a;
                *pr = r;
                *pq = q;
                if (target < run) return p[r * rs + q * cs];
            }
        }
    /* u * s rounded up to s: the last positive cell, where the walk ended */
    return p[*pr * rs + *pq * cs];
}

static int FN(stochastic)(const fc_pool_geom *g, const fc_pool_windows *w, const FT *x,
                          const ptrdiff_t *xs, FT *y, int64_t *idx, uint64_t seed,
                          int training, int nt)
{
    const ptrdiff_t C = g->channels, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const int nhwc = g->layout == FC_LAYOUT_NHWC;
    const ptrdiff_t items = g->batch * OH;

#pragma omp parallel for schedule(static) num_threads(nt) \
    if (nt > 1 && items * OW * C > FC_POOL_PARALLEL_MIN / 8)
    for (ptrdiff_t it = 0; it < items; ++it) {
        const ptrdiff_t n = it / OH, oh = it - n * OH;
        const ptrdiff_t nr = w->cnt_h[oh], h0 = w->lo_h[oh];
        for (ptrdiff_t c = 0; c < C; ++c) {
            const FT *plane = x + n * xs[0] + c * xs[1];
            for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                const ptrdiff_t nc = w->cnt_w[ow], w0 = w->lo_w[ow];
                /* the counter is the NCHW position of the output, whatever the layout */
                const uint64_t counter = (uint64_t)(((n * C + c) * OH + oh) * OW + ow);
                const double u = training ? fc_pool_uniform(seed, counter) : 0.0;
                ptrdiff_t pr, pq;
                FT v = FN(stochastic_cell)(plane + h0 * xs[2] + w0 * xs[3], nr, nc, xs[2], xs[3],
                                           training, u, &pr, &pq);
                const ptrdiff_t pos = nhwc ? (it * OW + ow) * C + c : ((n * C + c) * OH + oh) * OW + ow;
                y[pos] = v;
                if (idx) idx[pos] = (int64_t)((h0 + pr) * W + w0 + pq);
            }
        }
    }
    return FC_OK;
}

/* ---- scatter by index: max backward (sums) and max unpooling (assigns) ----- */

/*
 * src and idx have the pooled shape, dst the input shape; dst is overwritten:
 * zeros, then dst[plane][idx] += src (accumulate) or = src.  An index outside
 * the plane stops its item and makes the call return FC_EINVAL.
 */
static int FN(scatter)(const fc_pool_geom *g, const FT *src, const int64_t *idx, FT *dst,
                       int accumulate, int nt)
{
    const ptrdiff_t N = g->batch, C = g->channels;
    const ptrdiff_t HW = g->in_h * g->in_w, OHW = g->out_h * g->out_w;
    const uint64_t limit = (uint64_t)HW;
    int status = FC_OK;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t items = N * C;
#pragma omp parallel for schedule(static) num_threads(nt) \
    if (nt > 1 && items * (HW + OHW) > FC_POOL_PARALLEL_MIN)
        for (ptrdiff_t p = 0; p < items; ++p) {
            FT *d = dst + p * HW;
            const FT *s = src + p * OHW;
            const int64_t *ix = idx + p * OHW;
            memset(d, 0, (size_t)HW * sizeof(FT));
            for (ptrdiff_t o = 0; o < OHW; ++o) {
                const int64_t k = ix[o];
                if ((uint64_t)k >= limit) {
#pragma omp atomic write
                    status = FC_EINVAL;
                    break;
                }
                if (accumulate) d[k] += s[o];
                else d[k] = s[o];
            }
        }
        return status;
    }

    const ptrdiff_t cb = fc_pool_channel_block(N, C, nt);
    const ptrdiff_t nblk = (C + cb - 1) / cb, items = N * nblk;
#pragma omp parallel for schedule(static) num_threads(nt) \
    if (nt > 1 && items * (HW + OHW) * cb > FC_POOL_PARALLEL_MIN)
    for (ptrdiff_t it = 0; it < items; ++it) {
        const ptrdiff_t n = it / nblk, c0 = (it - n * nblk) * cb, c1 = FC_MIN(C, c0 + cb);
        FT *d = dst + n * HW * C;
        const FT *s = src + n * OHW * C;
        const int64_t *ix = idx + n * OHW * C;
        if (c0 == 0 && c1 == C) memset(d, 0, (size_t)(HW * C) * sizeof(FT));
        else
            for (ptrdiff_t px = 0; px < HW; ++px) memset(d + px * C + c0, 0, (size_t)(c1 - c0) * sizeof(FT));
        int bad = 0;
        for (ptrdiff_t o = 0; o < OHW && !bad; ++o)
            for (ptrdiff_t c = c0; c < c1; ++c) {
                const int64_t k = ix[o * C + c];
                if ((uint64_t)k >= limit) {
                    bad = 1;
                    break;
                }
                if (accumulate) d[k * C + c] += s[o * C + c];
                else d[k * C + c] = s[o * C + c];
            }
        if (bad) {
#pragma omp atomic write
            status = FC_EINVAL;
        }
    }
    return status;
}

/* ---- average backward: fixed and adaptive windows ---------------------------- */

/*
 * gx = 0, then every output's gy / divisor is added to each cell of its window
 * (PyTorch's definition).  NCHW: per output row, the row of contributions
 * along the width is built once (each output's columns) and added to every
 * input row of the window, vectorised.  NHWC: per output pixel, along the
 * channels.
 */
static int FN(avg_backward)(const fc_pool_geom *g, const fc_pool_windows *w, const FT *gy,
                            FT *gx, int nt)
{
    const ptrdiff_t N = g->batch, C = g->channels, H = g->in_h, W = g->in_w;
    const ptrdiff_t OH = g->out_h, OW = g->out_w, HW = H * W, OHW = OH * OW;
    int status = FC_OK;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t items = N * C;
#pragma omp parallel num_threads(nt) if (nt > 1 && items * (HW + OHW) > FC_POOL_PARALLEL_MIN)
        {
            FT *row = (FT *)fc_aligned_alloc((size_t)W * sizeof(FT));
            if (!row) {
#pragma omp atomic write
                status = FC_ENOMEM;
            }
#pragma omp for schedule(static)
            for (ptrdiff_t p = 0; p < items; ++p) {
                if (!row) continue;
                FT *d = gx + p * HW;
                const FT *s = gy + p * OHW;
                memset(d, 0, (size_t)HW * sizeof(FT));
                for (ptrdiff_t oh = 0; oh < OH; ++oh) {
                    const ptrdiff_t fh = w->dv_h[oh], nr = w->cnt_h[oh], h0 = w->lo_h[oh];
                    if (nr == 0) continue;
                    FN(fill)(row, (FT)0, W);
                    for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                        const FT v = s[oh * OW + ow] / (FT)(fh * w->dv_w[ow]);
                        FT *t = row + w->lo_w[ow];
                        for (ptrdiff_t q = 0; q < w->cnt_w[ow]; ++q) t[q] += v;
                    }
                    for (ptrdiff_t r = 0; r < nr; ++r) FN(cadd)(d + (h0 + r) * W, row, W);
                }
            }
            fc_aligned_free(row);
        }
        return status;
    }

    const ptrdiff_t cb = fc_pool_channel_block(N, C, nt);
    const ptrdiff_t nblk = (C + cb - 1) / cb, items = N * nblk;
#pragma omp parallel num_threads(nt) if (nt > 1 && items * (HW + OHW) * cb > FC_POOL_PARALLEL_MIN)
    {
        FT *v = (FT *)fc_aligned_alloc((size_t)cb * sizeof(FT));
        if (!v) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (ptrdiff_t it = 0; it < items; ++it) {
            if (!v) continue;
            const ptrdiff_t n = it / nblk, c0 = (it - n * nblk) * cb, nch = FC_MIN(C, c0 + cb) - c0;
            FT *d = gx + n * HW * C + c0;
            const FT *s = gy + n * OHW * C + c0;
            if (nch == C) memset(d, 0, (size_t)(HW * C) * sizeof(FT));
            else
                for (ptrdiff_t px = 0; px < HW; ++px) memset(d + px * C, 0, (size_t)nch * sizeof(FT));
            for (ptrdiff_t oh = 0; oh < OH; ++oh) {
                const ptrdiff_t fh = w->dv_h[oh], nr = w->cnt_h[oh], h0 = w->lo_h[oh];
                for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                    const FT dv = (FT)(fh * w->dv_w[ow]);
                    const FT *sp = s + (oh * OW + ow) * C;
                    for (ptrdiff_t c = 0; c < nch; ++c) v[c] = sp[c] / dv;
                    for (ptrdiff_t r = 0; r < nr; ++r)
                        for (ptrdiff_t q = 0; q < w->cnt_w[ow]; ++q)
                            FN(cadd)(d + ((h0 + r) * W + w->lo_w[ow] + q) * C, v, nch);
                }
            }
        }
        fc_aligned_free(v);
    }
    return status;
}

/* ---- average unpooling --------------------------------------------------------- */

/*
 * y (the unpooled shape) from x (the pooled shape): w describes, for each
 * unpooled row and column, the range of pooled windows covering it; a cell
 * gets the mean of x over the windows covering it, 0 when none does.
 * Every output row is independent: split over (plane, row) or (image, row).
 */
static int FN(avg_unpool)(const fc_pool_geom *g, const fc_pool_windows *w, const FT *x,
                          FT *y, int nt)
{
    const ptrdiff_t C = g->channels, H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const int nhwc = g->layout == FC_LAYOUT_NHWC;
    const ptrdiff_t items = nhwc ? g->batch * H : g->batch * C * H;
    const ptrdiff_t nrows = FC_MAX(w->max_cnt_h, 1);
    int status = FC_OK;

#pragma omp parallel num_threads(nt) if (nt > 1 && items * W * (nhwc ? C : 1) > FC_POOL_PARALLEL_MIN)
    {
        FT *buf = (FT *)fc_aligned_alloc((size_t)FC_MAX(OW, 1) * sizeof(FT));
        const FT **rows = (const FT **)malloc((size_t)nrows * sizeof(FT *));
        int ok = buf && rows;
        if (!ok) {
#pragma omp atomic write
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (ptrdiff_t it = 0; it < items; ++it) {
            if (!ok) continue;
            const ptrdiff_t ih = it % H, nr = w->cnt_h[ih], o0 = w->lo_h[ih];
            if (!nhwc) {
                const ptrdiff_t p = it / H;
                FT *yr = y + it * W;
                if (nr == 0) {
                    FN(fill)(yr, (FT)0, W);
                    continue;
                }
                for (ptrdiff_t r = 0; r < nr; ++r) rows[r] = x + (p * OH + o0 + r) * OW;
                FN(vsum)(buf, rows, nr, OW);
                for (ptrdiff_t iw = 0; iw < W; ++iw) {
                    const ptrdiff_t nc = w->cnt_w[iw];
                    const FT *t = buf + w->lo_w[iw];
                    FT acc = nc ? t[0] : (FT)0;
                    for (ptrdiff_t q = 1; q < nc; ++q) acc += t[q];
                    yr[iw] = nc ? acc / (FT)(nr * nc) : (FT)0;
                }
            } else {
                const ptrdiff_t n = it / H;
                for (ptrdiff_t iw = 0; iw < W; ++iw) {
                    FT *yp = y + (it * W + iw) * C;
                    const ptrdiff_t nc = w->cnt_w[iw], q0 = w->lo_w[iw];
                    if (nr == 0 || nc == 0) {
                        FN(fill)(yp, (FT)0, C);
                        continue;
                    }
                    for (ptrdiff_t r = 0; r < nr; ++r)
                        for (ptrdiff_t q = 0; q < nc; ++q) {
                            const FT *t = x + ((n * OH + o0 + r) * OW + q0 + q) * C;
                            if (r == 0 && q == 0) memcpy(yp, t, (size_t)C * sizeof(FT));
                            else FN(cadd)(yp, t, C);
                        }
                    const FT dv = (FT)(nr * nc);
                    for (ptrdiff_t c = 0; c < C; ++c) yp[c] /= dv;
                }
            }
        }
        fc_aligned_free(buf);
        free((void *)rows);
    }
    return status;
}

const FC_POOL_OPS_T FC_POOL_OPS = {
    FN(forward), FN(stochastic), FN(scatter), FN(avg_backward), FN(avg_unpool),
};

#undef NANMAX
#undef FN
#undef FC_PCAT
#undef FC_PCAT_

#endif /* FT */
