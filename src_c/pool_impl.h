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
 * FC_POOL_OPS_T (the ops type of FT) and FC_POOL_OPS (the table's name), and
 * optionally the streaming-store helpers (see "output sink" below).
 *
 * Status from inside a parallel region (a failed allocation, a bad index) is
 * set in a named critical section: OpenMP 2.0 (MSVC) has no atomic write.
 *
 * Work split (OpenMP, one parallel region per call, never nested):
 *   forward, average unpooling, NHWC average backward (a gather): every
 *     output row is independent, so the flat loop over (plane or image,
 *     output row) is split statically; batch-1 inputs still have many items.
 *   NHWC index scatter from overlapping windows: a gather (every input row
 *     written once), split over (image, input row) like the forward.
 *   scatters (max backward, unpooling by index, NCHW average backward): an
 *     input cell may receive several outputs, so each cell belongs to one
 *     thread, which applies its contributions in output order whatever the
 *     thread count: whole planes (NCHW), whole images or row bands of an
 *     image (NHWC index scatter).
 */

/* ---- once: types shared by pool.c and the per-ISA copies ---------------- */
#ifndef FC_POOL_IMPL_ONCE
#define FC_POOL_IMPL_ONCE

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

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

/* Outputs from this size on (half the L3 of the machines we tune on) are
 * written with streaming stores where available. */
#define FC_POOL_STREAM_MIN ((size_t)16 << 20)

/* Software prefetch distance of the NCHW forward pass, in bytes, and the
 * input size from which it prefetches (measured: about twice as fast for a
 * 103 MB input at one thread; no change for a 3 MB one, in cache).  16 KiB,
 * not 4: on Zen 5 one thread's 2x2/2 pooling of a 103 MB input went from
 * ~5.1 to ~3.3 ms (8 KiB: ~3.7); stride-1 windows measured the same. */
#define FC_POOL_PREFETCH 16384
#define FC_POOL_PREFETCH_MIN ((size_t)16 << 20)
#define FC_POOL_VSUM_PREFETCH_MIN ((size_t)1 << 20)
#if defined(__GNUC__) || defined(__clang__)
#define FC_POOL_CAN_PREFETCH 1
#define FC_POOL_PREFETCH_LINE(p) __builtin_prefetch((p), 0, 3)
#else
#define FC_POOL_CAN_PREFETCH 0
#define FC_POOL_PREFETCH_LINE(p) ((void)(p))
#endif

#define FC_POOL_OPS_MEMBERS(T)                                                       \
    int (*forward)(const fc_pool_geom *, const fc_pool_windows *, int op,            \
                   const T *x, const ptrdiff_t *xs, T *y, int64_t *idx, int nt);     \
    int (*stochastic)(const fc_pool_geom *, const fc_pool_windows *, const T *x,     \
                      const ptrdiff_t *xs, T *y, int64_t *idx, uint64_t seed,        \
                      int training, int nt);                                         \
    int (*scatter)(const fc_pool_geom *, const T *src, const int64_t *idx, T *dst,   \
                   int accumulate, int nt);                                          \
    int (*avg_backward)(const fc_pool_geom *, const fc_pool_windows *w,              \
                        const fc_pool_windows *cover, const T *gy, T *gx, int nt);   \
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

/* The windows the NHWC index gather assumes along one axis: output o's
 * indices lie in [o*s - p, o*s - p + k).  For cell i, the outputs [*lo, *hi]
 * (empty when *lo > *hi) are its candidates. */
typedef struct {
    ptrdiff_t s, p, k;
} fc_pool_axis;

static inline void fc_pool_cover(fc_pool_axis a, ptrdiff_t i, ptrdiff_t out, ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t u = i + a.p - a.k + 1, v = i + a.p; /* o*s in [u, v] */
    const ptrdiff_t l = u >= 0 ? (u + a.s - 1) / a.s : -((-u) / a.s);
    const ptrdiff_t h = v >= 0 ? v / a.s : -((-v + a.s - 1) / a.s);
    *lo = FC_MAX(l, 0);
    *hi = FC_MIN(h, out - 1);
}

#endif /* FC_POOL_IMPL_ONCE */

/* ---- template: one copy per FT and ISA -------------------------------------- */
#ifdef FT

#define FC_PCAT_(a, b) a##b
#define FC_PCAT(a, b) FC_PCAT_(a, b)
#define FN(name) FC_PCAT(name, FSUF)

/* PyTorch's rule: a value wins if it is greater or NaN, so NaN propagates and
 * the last NaN of the scan is the one reported.  Written so that it compiles
 * to max + compare + blend (x86 max returns its second operand on NaN, the
 * blend puts a NaN v back); a macro or a `|` of comparisons defeats the
 * vectoriser. */
static inline FT FN(nanmax)(FT a, FT v)
{
    FT m = v > a ? v : a;
    return v != v ? v : m;
}
#define NANMAX(a, v) FN(nanmax)(a, v)

/* Channel block of the NHWC pixel kernels: 128 bytes (4 ymm accumulators),
 * kept in registers across the taps of a window. */
#define CBLK ((ptrdiff_t)(128 / sizeof(FT)))

/* ---- row kernels (NCHW: along the width) ---------------------------------- */

/* Column block of the vertical passes: the destination block stays in L1
 * while many rows (adaptive and global windows) are added into it. */
#define VBLK ((ptrdiff_t)1024)

/* dst[i] = max over nr >= 1 rows; two and three rows in one pass */
static void FN(vmax)(FT *restrict dst, const FT *const *rows, ptrdiff_t nr, ptrdiff_t n)
{
    if (nr == 1) {
        memcpy(dst, rows[0], (size_t)n * sizeof(FT));
        return;
    }
    for (ptrdiff_t i0 = 0; i0 < n; i0 += VBLK) {
        const ptrdiff_t m = FC_MIN(VBLK, n - i0);
        FT *restrict y = dst + i0;
        const FT *restrict a = rows[0] + i0, *restrict b = rows[1] + i0;
        ptrdiff_t r = 2;
        if (nr == 3) {
            const FT *restrict c = rows[2] + i0;
            for (ptrdiff_t i = 0; i < m; ++i) y[i] = NANMAX(NANMAX(a[i], b[i]), c[i]);
            r = 3;
        } else {
            for (ptrdiff_t i = 0; i < m; ++i) y[i] = NANMAX(a[i], b[i]);
        }
        for (; r + 4 <= nr; r += 4) { /* four rows per pass over the block */
            const FT *restrict c0 = rows[r] + i0, *restrict c1 = rows[r + 1] + i0;
            const FT *restrict c2 = rows[r + 2] + i0, *restrict c3 = rows[r + 3] + i0;
            for (ptrdiff_t i = 0; i < m; ++i)
                y[i] = NANMAX(y[i], NANMAX(NANMAX(c0[i], c1[i]), NANMAX(c2[i], c3[i])));
        }
        for (; r < nr; ++r) {
            const FT *restrict c = rows[r] + i0;
            for (ptrdiff_t i = 0; i < m; ++i) y[i] = NANMAX(y[i], c[i]);
        }
    }
}

/* dst[i] = sum over nr >= 1 rows, in row order */
static void FN(vsum)(FT *restrict dst, const FT *const *rows, ptrdiff_t nr, ptrdiff_t n)
{
    if (nr == 1) {
        memcpy(dst, rows[0], (size_t)n * sizeof(FT));
        return;
    }
    for (ptrdiff_t i0 = 0; i0 < n; i0 += VBLK) {
        const ptrdiff_t m = FC_MIN(VBLK, n - i0);
        FT *restrict y = dst + i0;
        const FT *restrict a = rows[0] + i0, *restrict b = rows[1] + i0;
        ptrdiff_t r = 2;
        if (nr == 3) {
            const FT *restrict c = rows[2] + i0;
            for (ptrdiff_t i = 0; i < m; ++i) y[i] = (a[i] + b[i]) + c[i];
            r = 3;
        } else {
            for (ptrdiff_t i = 0; i < m; ++i) y[i] = a[i] + b[i];
        }
        for (; r + 4 <= nr; r += 4) { /* four rows per pass over the block */
            const FT *restrict c0 = rows[r] + i0, *restrict c1 = rows[r + 1] + i0;
            const FT *restrict c2 = rows[r + 2] + i0, *restrict c3 = rows[r + 3] + i0;
            for (ptrdiff_t i = 0; i < m; ++i) y[i] += (c0[i] + c1[i]) + (c2[i] + c3[i]);
        }
        for (; r < nr; ++r) {
            const FT *restrict c = rows[r] + i0;
            for (ptrdiff_t i = 0; i < m; ++i) y[i] += c[i];
        }
    }
}

/* out[o] = max_{j<k} src[o*s + j*d].  The common windows (2 or 3 taps,
 * stride 1 or 2, no dilation) in one pass; others one pass per tap over the
 * output row (it stays in L1).  Strides 1 and 2 are spelled out so that the
 * vectoriser sees a constant stride (stride 2 becomes a de-interleave). */
static void FN(hmax)(FT *restrict out, const FT *restrict t, ptrdiff_t n,
                     ptrdiff_t k, ptrdiff_t s, ptrdiff_t d)
{
    if (d == 1 && k <= 3 && s <= 2) {
        if (s == 2 && k == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(t[2 * o], t[2 * o + 1]);
        else if (s == 2 && k == 3)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(NANMAX(t[2 * o], t[2 * o + 1]), t[2 * o + 2]);
        else if (s == 1 && k == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(t[o], t[o + 1]);
        else if (s == 1 && k == 3)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(NANMAX(t[o], t[o + 1]), t[o + 2]);
        else if (s == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[2 * o];
        else
            memcpy(out, t, (size_t)n * sizeof(FT));
        return;
    }
    if (s == 1) {
        memcpy(out, t, (size_t)n * sizeof(FT));
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], u[o]);
        }
    } else if (s == 2) {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[2 * o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], u[2 * o]);
        }
    } else {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[o * s];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j * d;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = NANMAX(out[o], u[o * s]);
        }
    }
}

/* out[o] = (sum_{j<k} src[o*s + j]) / div[o] (average pooling has no
 * dilation); left-to-right sums whatever the path. */
static void FN(hsum)(FT *restrict out, const FT *restrict t, ptrdiff_t n,
                     ptrdiff_t k, ptrdiff_t s, const FT *restrict div)
{
    if (k <= 3 && s <= 2) {
        if (s == 2 && k == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = (t[2 * o] + t[2 * o + 1]) / div[o];
        else if (s == 2 && k == 3)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = ((t[2 * o] + t[2 * o + 1]) + t[2 * o + 2]) / div[o];
        else if (s == 1 && k == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = (t[o] + t[o + 1]) / div[o];
        else if (s == 1 && k == 3)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = ((t[o] + t[o + 1]) + t[o + 2]) / div[o];
        else if (s == 2)
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[2 * o] / div[o];
        else
            for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[o] / div[o];
        return;
    }
    if (s == 1) {
        memcpy(out, t, (size_t)n * sizeof(FT));
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += u[o];
        }
    } else if (s == 2) {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[2 * o];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += u[2 * o];
        }
    } else {
        for (ptrdiff_t o = 0; o < n; ++o) out[o] = t[o * s];
        for (ptrdiff_t j = 1; j < k; ++j) {
            const FT *restrict u = t + j;
            for (ptrdiff_t o = 0; o < n; ++o) out[o] += u[o * s];
        }
    }
    for (ptrdiff_t o = 0; o < n; ++o) out[o] /= div[o];
}

/* 2x2 windows, stride 2, both rows inside: read the two rows once, no row
 * buffer.  Same operation order as vmax/vsum followed by hmax/hsum. */
static void FN(max2x2)(FT *restrict out, const FT *restrict r0, const FT *restrict r1, ptrdiff_t n)
{
    for (ptrdiff_t o = 0; o < n; ++o)
        out[o] = NANMAX(NANMAX(r0[2 * o], r1[2 * o]), NANMAX(r0[2 * o + 1], r1[2 * o + 1]));
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

/* 2x2 windows, stride 2, both rows inside, with indices: the four taps in
 * PyTorch's order in one pass (starting from the first tap gives the same
 * result as starting from -inf at it).  pos: plane position of r0[0]. */
static void FN(argmax2x2)(FT *restrict m, int64_t *restrict id, const FT *restrict r0,
                          const FT *restrict r1, ptrdiff_t n, int64_t pos, int64_t W)
{
    for (ptrdiff_t o = 0; o < n; ++o) {
        FT best = r0[2 * o], v;
        int64_t at = pos + 2 * o;
        v = r0[2 * o + 1];
        if (v > best || v != v) { best = v; at = pos + 2 * o + 1; }
        v = r1[2 * o];
        if (v > best || v != v) { best = v; at = pos + W + 2 * o; }
        v = r1[2 * o + 1];
        if (v > best || v != v) { best = v; at = pos + W + 2 * o + 1; }
        m[o] = best;
        id[o] = at;
    }
}

static void FN(fill)(FT *restrict y, FT v, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) y[i] = v;
}

/* y[i] = t[i] for the c channels of one pixel, inline: a call of the
 * library's memcpy per pixel (which GCC makes of a plain loop) costs more
 * than the copy of a few hundred bytes. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static inline void FN(ccopy)(FT *restrict y, const FT *restrict t, ptrdiff_t c)
{
    if (c > 1024) {
        memcpy(y, t, (size_t)c * sizeof(FT));
        return;
    }
    for (ptrdiff_t i = 0; i < c; ++i) y[i] = t[i];
}

static void FN(cadd)(FT *restrict y, const FT *restrict t, ptrdiff_t c)
{
    for (ptrdiff_t i = 0; i < c; ++i) y[i] += t[i];
}

/* ---- pixel kernels (NHWC: along the channels) ----------------------------- */

/*
 * One output pixel: y[c] = reduce over the nr x nc taps at
 * base + r*rs + q*cs (nr, nc >= 1), in row-major order.  Blocks of CBLK
 * channels accumulate in registers; the last partial block in y itself.
 */
static void FN(pixel_max)(FT *restrict y, const FT *base, ptrdiff_t nr, ptrdiff_t nc,
                          ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t C)
{
    if (nr == 2 && nc == 2) { /* the common 2x2 window: one expression per channel */
        const FT *restrict a = base, *restrict b = base + cs, *restrict c = base + rs, *restrict d = c + cs;
        for (ptrdiff_t i = 0; i < C; ++i) y[i] = NANMAX(NANMAX(a[i], b[i]), NANMAX(c[i], d[i]));
        return;
    }
    ptrdiff_t c0 = 0;
    for (; c0 + CBLK <= C; c0 += CBLK) {
        FT acc[CBLK];
        const FT *restrict t0 = base + c0;
        for (ptrdiff_t i = 0; i < CBLK; ++i) acc[i] = t0[i];
        for (ptrdiff_t r = 0; r < nr; ++r)
            for (ptrdiff_t q = (r == 0); q < nc; ++q) {
                const FT *restrict t = base + r * rs + q * cs + c0;
                for (ptrdiff_t i = 0; i < CBLK; ++i) acc[i] = NANMAX(acc[i], t[i]);
            }
        for (ptrdiff_t i = 0; i < CBLK; ++i) y[c0 + i] = acc[i];
    }
    if (c0 == C) return;
    const ptrdiff_t m = C - c0;
    memcpy(y + c0, base + c0, (size_t)m * sizeof(FT));
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = (r == 0); q < nc; ++q) {
            const FT *restrict t = base + r * rs + q * cs + c0;
            FT *restrict yc = y + c0;
            for (ptrdiff_t i = 0; i < m; ++i) yc[i] = NANMAX(yc[i], t[i]);
        }
}

/* y[c] = (sum over the taps, row-major) / div */
static void FN(pixel_avg)(FT *restrict y, const FT *base, ptrdiff_t nr, ptrdiff_t nc,
                          ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t C, FT div)
{
    if (nr == 2 && nc == 2) {
        const FT *restrict a = base, *restrict b = base + cs, *restrict c = base + rs, *restrict d = c + cs;
        for (ptrdiff_t i = 0; i < C; ++i) y[i] = (((a[i] + b[i]) + c[i]) + d[i]) / div;
        return;
    }
    ptrdiff_t c0 = 0;
    for (; c0 + CBLK <= C; c0 += CBLK) {
        FT acc[CBLK];
        const FT *restrict t0 = base + c0;
        for (ptrdiff_t i = 0; i < CBLK; ++i) acc[i] = t0[i];
        for (ptrdiff_t r = 0; r < nr; ++r)
            for (ptrdiff_t q = (r == 0); q < nc; ++q) {
                const FT *restrict t = base + r * rs + q * cs + c0;
                for (ptrdiff_t i = 0; i < CBLK; ++i) acc[i] += t[i];
            }
        for (ptrdiff_t i = 0; i < CBLK; ++i) y[c0 + i] = acc[i] / div;
    }
    if (c0 == C) return;
    const ptrdiff_t m = C - c0;
    memcpy(y + c0, base + c0, (size_t)m * sizeof(FT));
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = (r == 0); q < nc; ++q) FN(cadd)(y + c0, base + r * rs + q * cs + c0, m);
    for (ptrdiff_t i = c0; i < C; ++i) y[i] /= div;
}

/* Separable NHWC horizontal pass, one output pixel: y[c] = reduce over the
 * k buffer pixels b + j*step (the row buffer is padded, so always k taps).
 * Up to three taps in one expression per channel: no accumulator block to
 * keep in registers. */
static void FN(hpix_max)(FT *restrict y, const FT *restrict b, ptrdiff_t k, ptrdiff_t step, ptrdiff_t C)
{
    if (k == 2) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = NANMAX(b[c], b[step + c]);
    } else if (k == 3) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = NANMAX(NANMAX(b[c], b[step + c]), b[2 * step + c]);
    } else {
        memcpy(y, b, (size_t)C * sizeof(FT));
        ptrdiff_t j = 1;
        for (; j + 4 <= k; j += 4) {
            const FT *restrict t0 = b + j * step, *restrict t1 = t0 + step;
            const FT *restrict t2 = t1 + step, *restrict t3 = t2 + step;
            for (ptrdiff_t c = 0; c < C; ++c)
                y[c] = NANMAX(y[c], NANMAX(NANMAX(t0[c], t1[c]), NANMAX(t2[c], t3[c])));
        }
        for (; j < k; ++j) {
            const FT *restrict t = b + j * step;
            for (ptrdiff_t c = 0; c < C; ++c) y[c] = NANMAX(y[c], t[c]);
        }
    }
}

/* y[c] = sum of the k pixels b + j*step (k >= 1) */
static void FN(hpix_sum)(FT *restrict y, const FT *restrict b, ptrdiff_t k, ptrdiff_t step, ptrdiff_t C)
{
    if (k == 1) {
        memcpy(y, b, (size_t)C * sizeof(FT));
    } else if (k == 2) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = b[c] + b[step + c];
    } else if (k == 3) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = (b[c] + b[step + c]) + b[2 * step + c];
    } else {
        memcpy(y, b, (size_t)C * sizeof(FT));
        ptrdiff_t j = 1;
        for (; j + 4 <= k; j += 4) { /* four taps per pass */
            const FT *restrict t0 = b + j * step, *restrict t1 = t0 + step;
            const FT *restrict t2 = t1 + step, *restrict t3 = t2 + step;
            for (ptrdiff_t c = 0; c < C; ++c) y[c] += (t0[c] + t1[c]) + (t2[c] + t3[c]);
        }
        for (; j < k; ++j) FN(cadd)(y, b + j * step, C);
    }
}

static void FN(hpix_avg)(FT *restrict y, const FT *restrict b, ptrdiff_t k, ptrdiff_t step,
                         ptrdiff_t C, FT div)
{
    if (k == 2) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = (b[c] + b[step + c]) / div;
    } else if (k == 3) {
        for (ptrdiff_t c = 0; c < C; ++c) y[c] = ((b[c] + b[step + c]) + b[2 * step + c]) / div;
    } else {
        FN(hpix_sum)(y, b, k, step, C);
        for (ptrdiff_t c = 0; c < C; ++c) y[c] /= div;
    }
}

/* With indices, PyTorch's scan: m starts at -inf and id at the window's
 * first cell inside; taps with (v > m) or NaN win, in row-major order.
 * Starting from the first tap instead is the same (a -inf there leaves id at
 * it), and saves a pass.  nr, nc >= 1. */
static void FN(pixel_argmax)(FT *restrict m, int64_t *restrict id, const FT *base,
                             ptrdiff_t nr, ptrdiff_t nc, ptrdiff_t rs, ptrdiff_t cs,
                             ptrdiff_t dh, ptrdiff_t dw, ptrdiff_t C, ptrdiff_t h0,
                             ptrdiff_t w0, ptrdiff_t W)
{
    const int64_t p00 = (int64_t)(h0 * W + w0);
    if (nr == 2 && nc == 2) {
        const FT *restrict a = base, *restrict b = base + cs, *restrict c = base + rs, *restrict d = c + cs;
        const int64_t p01 = p00 + dw, p10 = p00 + dh * W, p11 = p10 + dw;
        for (ptrdiff_t i = 0; i < C; ++i) {
            FT best = a[i], v;
            int64_t at = p00;
            v = b[i];
            if (v > best || v != v) { best = v; at = p01; }
            v = c[i];
            if (v > best || v != v) { best = v; at = p10; }
            v = d[i];
            if (v > best || v != v) { best = v; at = p11; }
            m[i] = best;
            id[i] = at;
        }
        return;
    }
    memcpy(m, base, (size_t)C * sizeof(FT));
    for (ptrdiff_t c = 0; c < C; ++c) id[c] = p00;
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = (r == 0); q < nc; ++q) {
            const FT *restrict t = base + r * rs + q * cs;
            const int64_t pos = p00 + (int64_t)(r * dh * W + q * dw);
            for (ptrdiff_t c = 0; c < C; ++c) {
                FT v = t[c];
                int take = (v > m[c]) | (v != v);
                m[c] = take ? v : m[c];
                id[c] = take ? pos : id[c];
            }
        }
}

/* ---- output sink: streaming stores for outputs larger than the caches ---- */
/*
 * An output too large to stay in the last-level cache is written with
 * non-temporal stores when the including file provides them
 * (FC_POOL_STREAM_FT(dst, src, n), FC_POOL_STREAM_I64 and
 * FC_POOL_STREAM_FENCE(), for this FT): it saves the read-for-ownership of
 * every output line, a third of the traffic of an input-sized output.  Each
 * thread writes one contiguous range; rows or pixels are computed into a small
 * staging buffer (in L1) that leaves in whole 64-byte lines, since a partly
 * written line makes the write-combining buffer flush a partial line, which
 * costs more than the read it saves.  The helpers store plainly up to the
 * first line boundary and after the last one.
 */
#ifdef FC_POOL_STREAM_FT
#define CAN_STREAM 1
#define STREAM_FT(dst, src, n) FC_POOL_STREAM_FT(dst, src, n)
#define STREAM_I64(dst, src, n) FC_POOL_STREAM_I64(dst, src, n)
#define STREAM_FENCE() FC_POOL_STREAM_FENCE()
#else
#define CAN_STREAM 0
#define STREAM_FT(dst, src, n) memcpy((dst), (src), (size_t)(n) * sizeof(FT))
#define STREAM_I64(dst, src, n) memcpy((dst), (src), (size_t)(n) * sizeof(int64_t))
#define STREAM_FENCE() ((void)0)
#endif

/* Elements staged before a flush: a few KiB, so the buffer stays in L1. */
#define SINK_FLUSH 1024

/* Staged values (FT) or indices (int64) of one thread's contiguous range. */
typedef struct {
    FT *dst;          /* where buf[0] goes */
    FT *buf;
    ptrdiff_t n;      /* staged elements   */
} FN(sink);

typedef struct {
    int64_t *dst;
    int64_t *buf;
    ptrdiff_t n;
} FN(isink);

/* Capacity of a staging buffer for pieces (rows, pixels) of up to m elements. */
static inline ptrdiff_t FN(sink_capacity)(ptrdiff_t m) { return SINK_FLUSH + 64 + m; }

/* Bytes from p down to the last 64-byte boundary at or before p + n*size. */
static inline ptrdiff_t FN(whole_lines)(const void *p, ptrdiff_t n, size_t size)
{
    const uintptr_t start = (uintptr_t)p, end = (start + (uintptr_t)n * size) & ~(uintptr_t)63;
    return end > start ? (ptrdiff_t)((end - start) / size) : 0;
}

/* Write out the staged elements up to the last line boundary (all of them
 * when final, or when the pieces are long); the rest moves to the front. */
static void FN(sink_flush)(FN(sink) *s, int final)
{
    const ptrdiff_t m = final ? s->n : FN(whole_lines)(s->dst, s->n, sizeof(FT));
    if (m == 0) return;
    STREAM_FT(s->dst, s->buf, m);
    memmove(s->buf, s->buf + m, (size_t)(s->n - m) * sizeof(FT));
    s->dst += m;
    s->n -= m;
}

static void FN(isink_flush)(FN(isink) *s, int final)
{
    const ptrdiff_t m = final ? s->n : FN(whole_lines)(s->dst, s->n, sizeof(int64_t));
    if (m == 0) return;
    STREAM_I64(s->dst, s->buf, m);
    memmove(s->buf, s->buf + m, (size_t)(s->n - m) * sizeof(int64_t));
    s->dst += m;
    s->n -= m;
}

/* n more staged values (and indices, when isk->buf): flush whole lines once
 * SINK_FLUSH are staged */
static inline void FN(sinks_advance)(FN(sink) *sk, FN(isink) *isk, ptrdiff_t n)
{
    sk->n += n;
    if (sk->n >= SINK_FLUSH) FN(sink_flush)(sk, 0);
    if (isk->buf) {
        isk->n += n;
        if (isk->n >= SINK_FLUSH) FN(isink_flush)(isk, 0);
    }
}

/* the rest of a thread's range, then the fence that orders streaming stores */
static inline void FN(sinks_finish)(FN(sink) *sk, FN(isink) *isk)
{
    FN(sink_flush)(sk, 1);
    if (isk->buf) FN(isink_flush)(isk, 1);
    STREAM_FENCE();
}

/* ---- forward: max and average, fixed or adaptive windows -------------------- */

/* What every output row of one NCHW forward call shares. */
typedef struct {
    const fc_pool_geom *g;
    const fc_pool_windows *w;
    int op, reg, in_place, fused;
    int avg3s1; /* average of 3-wide stride-1 windows, one padded column each side */
    int rowk;   /* FC_ROWK_* kind of the ISA's row kernel (FC_POOL_ROWK), 0 for none */
    ptrdiff_t kw, sw, dw, dh, pl, nfused;
    FT neutral;
    int prefetch; /* the input is larger than the caches (software prefetch) */
} FN(nchw_call);

/*
 * One NCHW output row (div: its divisors, for averages): reduce the window's input rows into a row buffer
 * (vertical pass, vectorised along the width), then each output over its
 * columns (horizontal pass).  For fixed windows the buffer is padded with the
 * neutral element (-inf or 0) on both sides, so every window is a full k-tap
 * window and the horizontal pass has no edge cases; padded cells never win a
 * max and add nothing to a sum.
 */
static void FN(nchw_row)(const FN(nchw_call) *k, const FT **rows, ptrdiff_t oh, FT *buf,
                         FT *div, FT *yr, int64_t *ir)
{
    const fc_pool_windows *w = k->w;
    const ptrdiff_t W = k->g->in_w, OW = k->g->out_w, pl = k->pl;
    const ptrdiff_t nr = w->cnt_h[oh], h0 = w->lo_h[oh];

    if (ir) {
        /* indices: every tap in PyTorch's order (rows, then columns),
         * starting from -inf at the window's first cell inside */
#ifdef FC_POOL_ROWK
        if (k->rowk && FC_POOL_ROWK(k->rowk, yr, ir, rows, nr, W, OW, pl, div, (int64_t)(h0 * W))) return;
#endif
        ptrdiff_t o0 = 0;
        if (k->fused && nr == 2) {
            FN(argmax2x2)(yr, ir, rows[0], rows[1], k->nfused, (int64_t)(h0 * W), (int64_t)W);
            o0 = k->nfused;
            if (o0 == OW) return;
        }
        if (o0 > 0) { /* ceil_mode's last column: the one tap inside per row */
            for (ptrdiff_t o = o0; o < OW; ++o) {
                FT best = (FT)-INFINITY;
                int64_t at = (int64_t)(h0 * W + w->lo_w[o]);
                for (ptrdiff_t r = 0; r < nr; ++r) {
                    FT v = rows[r][w->lo_w[o]];
                    if (v > best || v != v) { best = v; at = (int64_t)((h0 + r) * W + w->lo_w[o]); }
                }
                yr[o] = best;
                ir[o] = at;
            }
            return;
        }
        FN(fill)(yr, (FT)-INFINITY, OW);
        for (ptrdiff_t o = 0; o < OW; ++o) ir[o] = (int64_t)(h0 * W + w->lo_w[o]);
        for (ptrdiff_t r = 0; r < nr; ++r) {
            const ptrdiff_t ih = h0 + r * k->dh;
            if (k->reg) {
                const FT *src = rows[r];
                if (!k->in_place) { /* the padded row buffer: borders stay -inf */
                    memcpy(buf + pl, rows[r], (size_t)W * sizeof(FT));
                    src = buf;
                }
                for (ptrdiff_t j = 0; j < k->kw; ++j)
                    FN(argmax_pass)(yr, ir, src + j * k->dw, OW, k->sw, (int64_t)(ih * W + j * k->dw - pl));
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
        return;
    }

    const int max = k->op == FC_POOL_MAX;
    if (nr == 0) { /* a window entirely in the padding (dilation) */
        FN(fill)(yr, k->neutral, OW);
        return;
    }
#ifdef FC_POOL_ROWK
    /* the same operations in registers (kernels/pool_rows.h) */
    if (k->rowk && FC_POOL_ROWK(k->rowk, yr, NULL, rows, nr, W, OW, pl, div, 0)) return;
#endif
#ifdef FC_POOL_AVG3S1
    /* the same sums in registers (kernels/pool_avg3.h): no row buffer */
    if (k->avg3s1 && (nr == 2 || nr == 3)) {
        FC_POOL_AVG3S1(yr, rows, nr, W, div);
        return;
    }
#endif
    ptrdiff_t o0 = 0;
    if (k->fused && nr == 2) {
        if (max) FN(max2x2)(yr, rows[0], rows[1], k->nfused);
        else FN(avg2x2)(yr, rows[0], rows[1], k->nfused, div);
        if (k->nfused == OW) return;
        o0 = k->nfused; /* ceil_mode: the last window has one column inside */
    }
    const FT *src = rows[0];
    if (nr > 1 || !k->in_place) {
        if (max) FN(vmax)(buf + pl, rows, nr, W);
#ifdef FC_POOL_VSUM
        else if (!FC_POOL_VSUM(buf + pl, rows, nr, W, k->prefetch)) FN(vsum)(buf + pl, rows, nr, W); /* pool_rows.h */
#else
        else FN(vsum)(buf + pl, rows, nr, W);
#endif
        src = buf;
    }
    if (k->reg && o0 == 0) {
        if (max) FN(hmax)(yr, src, OW, k->kw, k->sw, k->dw);
        else FN(hsum)(yr, src, OW, k->kw, k->sw, div);
        return;
    }
    /* adaptive windows, or the tail of the fused path (both have pl == 0, so
     * src is in input coordinates): each output over its columns */
    for (ptrdiff_t o = o0; o < OW; ++o) {
        const FT *t = src + w->lo_w[o];
        const ptrdiff_t nc = w->cnt_w[o];
        if (max) {
            FT acc = k->neutral;
            for (ptrdiff_t q = 0; q < nc; ++q) acc = NANMAX(acc, t[q * k->dw]);
            yr[o] = acc;
        } else {
            FT acc = nc ? t[0] : (FT)0;
            for (ptrdiff_t q = 1; q < nc; ++q) acc += t[q];
            yr[o] = acc / div[o];
        }
    }
}

static int FN(forward_nchw)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                            const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    (void)nt; /* unused without OpenMP */
    const ptrdiff_t C = g->channels, W = g->in_w, OH = g->out_h, OW = g->out_w;
    FN(nchw_call) k;
    k.g = g;
    k.w = w;
    k.op = op;
    k.reg = w->regular;
    k.kw = k.reg ? g->kernel_w : 1;
    k.sw = k.reg ? g->stride_w : 1;
    k.dw = k.reg ? g->dilation_w : 1;
    k.dh = k.reg ? g->dilation_h : 1;
    k.pl = k.reg ? g->pad_left : 0;
    /* windows that never leave the input row read it in place */
    k.in_place = !k.reg || (k.pl == 0 && (OW - 1) * k.sw + (k.kw - 1) * k.dw < W);
    k.fused = k.reg && g->kernel_h == 2 && k.kw == 2 && g->stride_h == 2 && k.sw == 2 &&
              k.dh == 1 && k.dw == 1 && k.pl == 0 && g->pad_top == 0;
    k.nfused = FC_MIN(OW, W / 2); /* outputs whose two columns are inside */
    k.avg3s1 = op == FC_POOL_AVG && k.reg && k.kw == 3 && k.sw == 1 && k.dw == 1 && k.pl == 1 && OW == W;
    k.neutral = op == FC_POOL_MAX ? (FT)-INFINITY : (FT)0;
    k.rowk = 0;
#ifdef FC_POOL_ROWK
    if (idx && FC_POOL_ROWK_READY()) {
        if (k.fused && k.nfused == OW && op == FC_POOL_MAX) k.rowk = FC_ROWK_ARGMAX2X2;
    } else if (FC_POOL_ROWK_READY()) {
        if (k.fused && k.nfused == OW) k.rowk = op == FC_POOL_MAX ? FC_ROWK_MAX2X2 : FC_ROWK_AVG2X2;
        else if (op == FC_POOL_MAX && k.reg && k.kw == 3 && k.sw == 2 && k.dw == 1 && k.pl <= 1)
            k.rowk = FC_ROWK_MAX3S2;
        else if (k.avg3s1) k.rowk = FC_ROWK_AVG3S1;
    }
#endif

    const ptrdiff_t items = g->batch * C * OH;
    /* row buffer: the input row at pl.., long enough for the last window */
    ptrdiff_t len = W + k.pl;
    if (k.reg) len = FC_MAX(len, (OW - 1) * k.sw + (k.kw - 1) * k.dw + 1);
    const ptrdiff_t nrows = FC_MAX(w->max_cnt_h, 1);
    const size_t out_bytes = (size_t)(items * OW) * (sizeof(FT) + (idx ? sizeof(int64_t) : 0));
    const int stream = CAN_STREAM && out_bytes >= FC_POOL_STREAM_MIN;
    const ptrdiff_t cap = stream ? FN(sink_capacity)(OW) : 0;
    /* inputs larger than the caches: software prefetch ahead of the rows
     * (short rows, many of them: the hardware prefetchers alone leave one
     * core at about half its copy bandwidth) */
    const int prefetch = FC_POOL_CAN_PREFETCH && g->batch * C * g->in_h * W * sizeof(FT) >= FC_POOL_PREFETCH_MIN;
    /* the vertical sums of many-row windows (adaptive ones) prefetch the next
     * window's rows once the input outgrows L2 (in L3 as well: 112 -> 7 at
     * batch 1, 1.13-1.15x at one thread, 1.19x at two) */
    k.prefetch = prefetch || (FC_POOL_CAN_PREFETCH && g->batch * C * g->in_h * W * sizeof(FT) >= FC_POOL_VSUM_PREFETCH_MIN);
    const ptrdiff_t pf_rows = k.reg ? g->stride_h : w->max_cnt_h;
    /* whole runs of rows of a plane to the row kernel: inputs in the caches
     * (no prefetch, no staged stores), one set of divisors for every row */
#ifdef FC_POOL_ROWS
    int runs = k.rowk && !stream && !prefetch;
    if (runs && op == FC_POOL_AVG)
        for (ptrdiff_t oh = 1; oh < OH; ++oh) runs &= w->dv_h[oh] == w->dv_h[0];
#endif
    /* 3x3/1 pad 1 averages of inputs in the caches: whole planes on the
     * output's alignment (kernels/pool_rows.h), the same bits as the rows */
    int avg3x3 = 0;
#ifdef FC_POOL_AVG3X3
    avg3x3 = k.rowk == FC_ROWK_AVG3S1 && !stream && !prefetch && g->kernel_h == 3 && g->stride_h == 1 &&
             g->pad_top == 1 && k.dh == 1 && OH == g->in_h && OH >= 2 && W >= 16 && xs[2] == W &&
             (g->batch == 1 || xs[0] == C * xs[1]) && w->dv_h[OH - 1] == w->dv_h[0];
    for (ptrdiff_t oh = 2; avg3x3 && oh < OH - 1; ++oh) avg3x3 = w->dv_h[oh] == w->dv_h[1];
#endif
#ifdef FC_POOL_AVG_ROWS
    /* adaptive averages of inputs that fit L3: runs of a plane's rows per call */
    const int avg_runs = op == FC_POOL_AVG && !k.reg && !idx && !stream && !prefetch && FC_POOL_ROWK_READY();
#endif
    int status = FC_OK;

#pragma omp parallel num_threads(nt) if (nt > 1 && items * (W * nrows + OW) > FC_POOL_PARALLEL_MIN)
    {
        /* avg3x3: two rows of divisors (w + 16 each) and W mask words */
        const ptrdiff_t extra = avg3x3 ? 3 * W + 32 : 0;
        FT *buf = (FT *)fc_aligned_alloc((size_t)(len + OW + cap + extra) * sizeof(FT));
        int64_t *ibuf = stream && idx ? (int64_t *)fc_aligned_alloc((size_t)cap * sizeof(int64_t)) : NULL;
        const FT **rows = (const FT **)malloc((size_t)nrows * sizeof(FT *));
        const int ok = buf && rows && (ibuf || !(stream && idx));
        ptrdiff_t lo, hi;
        fc_thread_share(items, &lo, &hi);
        if (!ok) {
#pragma omp critical(fc_pool_status)
            status = FC_ENOMEM;
            hi = lo;
        } else {
            FN(fill)(buf, idx ? (FT)-INFINITY : k.neutral, len);
        }
        FT *div = buf + len;
#ifdef FC_POOL_AVG3X3
        if (avg3x3 && ok) {
            FT *dmid = div + OW + cap, *dedge = dmid + W + 16;
            const ptrdiff_t mid = OH > 2 ? 1 : 0;
            for (ptrdiff_t o = 0; o < OW; ++o) {
                dmid[o] = (FT)(w->dv_h[mid] * w->dv_w[o]);
                dedge[o] = (FT)(w->dv_h[0] * w->dv_w[o]);
            }
            if (FC_POOL_AVG3X3(y, x, xs[1], OH, W, lo, hi, dmid, dedge, (uint32_t *)(dedge + W + 16))) hi = lo;
        }
#endif
        FN(sink) sk = {y + lo * OW, div + OW, 0};
        FN(isink) isk = {idx ? idx + lo * OW : NULL, ibuf, 0};
        ptrdiff_t div_h = -1; /* the row whose divisors div holds */

        /* (plane, output row) of item it, stepped rather than divided per row */
        ptrdiff_t p = OH > 0 ? lo / OH : 0, oh = lo - p * OH;
        const FT *plane = C > 0 ? x + (p / C) * xs[0] + (p % C) * xs[1] : x;
        for (ptrdiff_t it = lo; it < hi; ++it, ++oh) {
            if (oh == OH) {
                oh = 0;
                ++p;
                plane = x + (p / C) * xs[0] + (p % C) * xs[1];
            }
#ifdef FC_POOL_ROWS
            if (runs) { /* the rest of this plane's rows in this thread's range */
                if (op == FC_POOL_AVG && div_h < 0) {
                    for (ptrdiff_t o = 0; o < OW; ++o) div[o] = (FT)(w->dv_h[0] * w->dv_w[o]);
                    div_h = 0;
                }
                const ptrdiff_t done = FC_POOL_ROWS(k.rowk, y + it * OW, idx ? idx + it * OW : NULL, plane, xs[2],
                                                    k.dh, w->lo_h, w->cnt_h,
                                                    oh, oh + FC_MIN(hi - it, OH - oh), W, OW, k.pl, div);
                if (done > 0) {
                    it += done - 1; /* the loop steps past the last one */
                    oh += done - 1;
                    continue;
                }
            }
#endif
#ifdef FC_POOL_AVG_ROWS
            if (avg_runs) {
                const ptrdiff_t done = FC_POOL_AVG_ROWS(y + it * OW, buf, plane, xs[2], w->lo_h, w->cnt_h, w->dv_h, oh,
                                                        oh + FC_MIN(hi - it, OH - oh), W, OW, w->lo_w, w->cnt_w,
                                                        w->dv_w, k.prefetch);
                if (done > 0) {
                    it += done - 1;
                    oh += done - 1;
                    continue;
                }
            }
#endif
            const ptrdiff_t h0 = w->lo_h[oh];
            for (ptrdiff_t r = 0; r < w->cnt_h[oh]; ++r) rows[r] = plane + (h0 + r * k.dh) * xs[2];
            if (prefetch) /* the rows new to this window (its last stride_h), FC_POOL_PREFETCH bytes on */
                for (ptrdiff_t r = FC_MAX(w->cnt_h[oh] - pf_rows, 0); r < w->cnt_h[oh]; ++r)
                    for (ptrdiff_t i = 0; i < W; i += (ptrdiff_t)(64 / sizeof(FT)))
                        FC_POOL_PREFETCH_LINE((const void *)((uintptr_t)(rows[r] + i) + FC_POOL_PREFETCH));
            if (op == FC_POOL_AVG && (div_h < 0 || w->dv_h[oh] != w->dv_h[div_h])) {
                /* divisors per column, recomputed only where the row factor changes */
                const ptrdiff_t fh = w->dv_h[oh];
                for (ptrdiff_t o = 0; o < OW; ++o) div[o] = (FT)(fh * w->dv_w[o]);
                div_h = oh;
            }
            FT *yr = stream ? sk.buf + sk.n : y + it * OW;
            int64_t *ir = idx ? (stream ? isk.buf + isk.n : idx + it * OW) : NULL;
            FN(nchw_row)(&k, rows, oh, buf, div, yr, ir);
            if (stream) FN(sinks_advance)(&sk, &isk, OW);
        }
        if (stream) FN(sinks_finish)(&sk, &isk);
        fc_aligned_free(buf);
        fc_aligned_free(ibuf);
        free((void *)rows);
    }
    return status;
}

/*
 * NHWC max of 3-wide stride-2 windows (3x3/2 and the like) over nr = 2 or 3
 * input rows, one output pixel: y = max(max(carry, V(q1)), V(q2)) per
 * channel, V(q) the max of the rows' pixel q ((r0 max r1) max r2), carry
 * V(q0) from the previous pixel, and carry = V(q2) for the next one.  The
 * same operations, in the same order, as the separable pass (vmax into the
 * padded row buffer, then hpix_max), without the buffer: columns outside the
 * input point at a pixel of -inf, as the buffer's padding reads.  With two
 * rows, r2 = r1 (max(m, r1) is m when m = max(r0, r1), NaN or not).
 */
static void FN(pix_max3s2)(FT *restrict y, FT *restrict carry, const FT *restrict a1, const FT *restrict b1,
                           const FT *restrict c1, const FT *restrict a2, const FT *restrict b2,
                           const FT *restrict c2, ptrdiff_t C)
{
    for (ptrdiff_t i = 0; i < C; ++i) {
        const FT v1 = NANMAX(NANMAX(a1[i], b1[i]), c1[i]);
        const FT v2 = NANMAX(NANMAX(a2[i], b2[i]), c2[i]);
        y[i] = NANMAX(NANMAX(carry[i], v1), v2);
        carry[i] = v2;
    }
}

/*
 * NHWC average of 3-wide stride-1 windows (3x3/1 pad 1 and the like), one
 * output pixel: v = (a + b) + c (or a + b: nr = 2), the column sum of its
 * last column, and y = ((p + q) + v) / div with p, q the column sums of the
 * two before it (carried from the previous pixels; then p = v, the caller
 * swaps p and q).  The same sums in the same order as the separable pass
 * (vsum into the zero-padded row buffer, then hpix_avg); columns outside
 * the input point at a pixel of +0, as the buffer's padding reads.
 */
static void FN(pix_avg3s1)(FT *restrict y, FT *restrict p, const FT *restrict q, const FT *restrict a,
                           const FT *restrict b, const FT *restrict c, ptrdiff_t nr, ptrdiff_t C, FT div)
{
    if (nr == 3) {
        for (ptrdiff_t i = 0; i < C; ++i) {
            const FT v = (a[i] + b[i]) + c[i];
            y[i] = ((p[i] + q[i]) + v) / div;
            p[i] = v;
        }
    } else {
        for (ptrdiff_t i = 0; i < C; ++i) {
            const FT v = a[i] + b[i];
            y[i] = ((p[i] + q[i]) + v) / div;
            p[i] = v;
        }
    }
}

/* the column sum of pixel q of nr = 2 or 3 rows (+0 outside the input) into v */
static void FN(col_sum)(FT *restrict v, const FT *r0, const FT *r1, const FT *r2, ptrdiff_t nr,
                        ptrdiff_t q, ptrdiff_t W, ptrdiff_t C)
{
    if (q < 0 || q >= W) {
        FN(fill)(v, (FT)0, C);
        return;
    }
    const FT *restrict a = r0 + q * C, *restrict b = r1 + q * C, *restrict c = r2 + q * C;
    if (nr == 3)
        for (ptrdiff_t i = 0; i < C; ++i) v[i] = (a[i] + b[i]) + c[i];
    else
        for (ptrdiff_t i = 0; i < C; ++i) v[i] = a[i] + b[i];
}

/*
 * NHWC, one output row of pixels at a time: each output pixel reduces its
 * window's pixels along the channels (contiguous), in PyTorch's order (rows,
 * then columns), the channels in register blocks.  Windows larger than 2x2
 * (and adaptive ones) over dense rows are reduced separably instead, like
 * NCHW: the window's input rows first (W*C contiguous elements) into a row
 * buffer (padded with the neutral element for fixed windows), then each
 * output pixel over its buffer pixels: about half the operations of a 3x3
 * window, a sixteenth of 112 -> 7 adaptive ones.
 */
static int FN(forward_nhwc)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                            const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    (void)nt; /* unused without OpenMP */
    const ptrdiff_t C = g->channels, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const int reg = w->regular;
    const ptrdiff_t dw = reg ? g->dilation_w : 1, dh = reg ? g->dilation_h : 1;
    const ptrdiff_t rows_out = g->batch * OH;
    /* Few output rows for the threads (batch 1, adaptive 7x7): each row is
     * also split into column segments, so that the threads get even shares
     * (the vertical pass then covers only the segment's input pixels; every
     * element's operations are the same, so the result does not change). */
    const ptrdiff_t segs = nt > 1 && rows_out < 8 * (ptrdiff_t)nt
                               ? FC_MIN(OW, (8 * (ptrdiff_t)nt + rows_out - 1) / rows_out) : 1;
    const ptrdiff_t items = rows_out * segs;
    const FT neutral = op == FC_POOL_MAX ? (FT)-INFINITY : (FT)0;
    const size_t out_bytes = (size_t)(rows_out * OW * C) * (sizeof(FT) + (idx ? sizeof(int64_t) : 0));
    const int stream = CAN_STREAM && out_bytes >= FC_POOL_STREAM_MIN;
    const ptrdiff_t cap = stream ? FN(sink_capacity)(C) : 0;
    const ptrdiff_t kw = reg ? g->kernel_w : 1, sw = reg ? g->stride_w : 1, pl = reg ? g->pad_left : 0;
    /* separable over dense rows: fixed windows larger than 2x2, adaptive ones of 2+ rows */
    const int separable = !idx && (xs[3] == C || W == 1) &&
                          (reg ? g->kernel_h >= 2 && g->kernel_h * kw > 4 : w->max_cnt_h >= 2);
    /* separable row buffer, in pixels: the input row at pl.., and the reach of the last window */
    const ptrdiff_t len = !separable ? 0 : reg ? FC_MAX(W + pl, (OW - 1) * sw + (kw - 1) * dw + 1) : W;
    const ptrdiff_t nrows = separable ? FC_MAX(w->max_cnt_h, 1) : 1;
    /* max of 3-wide stride-2 windows: pix_max3s2, per pixel, no row buffer */
    const int max3s2 = separable && reg && op == FC_POOL_MAX && kw == 3 && sw == 2 && dw == 1;
    /* average of 3-wide stride-1 windows: pix_avg3s1, per pixel, no row buffer; over large
     * inputs each pixel prefetches its new column in the next output row's new row */
    const int avg3s1 = separable && reg && op == FC_POOL_AVG && kw == 3 && sw == 1 && dw == 1;
    const int pf3s1 = FC_POOL_CAN_PREFETCH && avg3s1 && g->stride_h == 1 && dh == 1 && xs[3] == C &&
                      (size_t)(g->batch * g->in_h * W * C) * sizeof(FT) >= FC_POOL_PREFETCH_MIN;
#ifdef FC_POOL_NHWC_AVG3
    /* ... inputs in the caches, written in place: whole segments in one call */
    const int avg3_segments = avg3s1 && !stream && !pf3s1 && FC_POOL_ROWK_READY();
#endif
    /* ... over inputs larger than the caches, stride 2 down: each pixel prefetches its two
     * columns in the next output row's two new input rows (one output row ahead; measured
     * on Zen 5, 32x112x112x64 float32 max 3x3/2 pad 1, 1 thread: ~6.3 -> ~3.4 ms) */
    const int pf3s2 = FC_POOL_CAN_PREFETCH && max3s2 && g->stride_h == 2 && dh == 1 && xs[3] == C &&
                      (size_t)(g->batch * g->in_h * W * C) * sizeof(FT) >= FC_POOL_PREFETCH_MIN;
    /* inputs larger than the caches, fixed windows of stride 1 (one new input row per
     * output row): the separable pass prefetches, as forward_nchw does (measured on
     * Zen 5, 32x112x112x64 float32 avg 3x3/1 pad 1 at one thread: ~11.9 -> ~8.6-9.1
     * ms; stride 2, whose rows the hardware prefetchers follow, measured no faster) */
    const int prefetch = FC_POOL_CAN_PREFETCH && separable && reg && g->stride_h == 1 && xs[3] == C &&
                         (size_t)(g->batch * g->in_h * W * C) * sizeof(FT) >= FC_POOL_PREFETCH_MIN;
    int status = FC_OK;

    /* the work grows with the input read as well as the output written (adaptive
     * 112 -> 7 windows read 256 times what they write) */
    const ptrdiff_t work = (rows_out * OW + g->batch * g->in_h * W) * C;
#pragma omp parallel num_threads(nt) if (nt > 1 && work > FC_POOL_PARALLEL_MIN)
    {
        FT *obuf = stream ? (FT *)fc_aligned_alloc((size_t)cap * sizeof(FT)) : NULL;
        int64_t *ibuf = stream && idx ? (int64_t *)fc_aligned_alloc((size_t)cap * sizeof(int64_t)) : NULL;
        /* separable: the row buffer, then (max3s2) the carried column and a pixel of -inf */
        FT *row = separable ? (FT *)fc_aligned_alloc((size_t)((len + 5) * C) * sizeof(FT)) : NULL;
        const FT **rows = (const FT **)malloc((size_t)nrows * sizeof(FT *));
        const int ok = rows && (!stream || (obuf && (ibuf || !idx))) && (!separable || row);
        ptrdiff_t lo, hi;
        fc_thread_share(items, &lo, &hi);
        if (!ok) {
#pragma omp critical(fc_pool_status)
            status = FC_ENOMEM;
            hi = lo;
        } else if (separable) {
            FN(fill)(row, neutral, (len + 5) * C);
        }
        /* max3s2: the carried column and a pixel of -inf; avg3s1: two carried columns and
         * a pixel of +0 (and two more for a second row) */
        FT *carry = separable ? row + len * C : NULL;
        const FT *ninf = separable ? carry + C : NULL;
        FT *carry2 = separable ? row + (len + 2) * C : NULL;
        /* the thread's outputs are contiguous: from its first item's first pixel */
        const ptrdiff_t first = lo < items ? (lo / segs) * OW + OW * (lo % segs) / segs : 0;
        FN(sink) sk = {y + first * C, obuf, 0};
        FN(isink) isk = {idx ? idx + first * C : NULL, ibuf, 0};

        for (ptrdiff_t it = lo; it < hi; ++it) {
            const ptrdiff_t ro = it / segs, sg = it - ro * segs;
            const ptrdiff_t n = ro / OH, oh = ro - n * OH;
            const ptrdiff_t o0 = OW * sg / segs, o1 = OW * (sg + 1) / segs;
            const FT *xn = x + n * xs[0];
            const ptrdiff_t nr = w->cnt_h[oh], h0 = w->lo_h[oh];
            const int fz = max3s2 && (nr == 2 || nr == 3) && o1 > o0;
            const int fa = avg3s1 && (nr == 2 || nr == 3) && o1 > o0;
            const int sep = separable && nr > 0 && o1 > o0 && !fz && !fa;
            const FT *fr0 = NULL, *fr1 = NULL, *fr2 = NULL;
            FT *cp = carry, *cq = carry2; /* avg3s1: column sums of the window's first two columns */
            if (fa) {
                fr0 = xn + h0 * xs[2];
                fr1 = xn + (h0 + dh) * xs[2];
                fr2 = nr == 3 ? xn + (h0 + 2 * dh) * xs[2] : fr1;
                FN(col_sum)(cp, fr0, fr1, fr2, nr, o0 - pl, W, C);
                FN(col_sum)(cq, fr0, fr1, fr2, nr, o0 - pl + 1, W, C);
#ifdef FC_POOL_NHWC_AVG3X2
                /* with the next output row, when it is this one's next three rows:
                 * each input pixel read once for both (kernels/pool_rows.h) */
                if (avg3_segments && nr == 3 && dh == 1 && segs == 1 && it + 1 < hi && oh + 1 < OH &&
                    w->cnt_h[oh + 1] == 3 && w->lo_h[oh + 1] == h0 + 1 && w->dv_h[oh + 1] == w->dv_h[oh]) {
                    const FT *fr3 = xn + (h0 + 3) * xs[2];
                    FT *carry3 = carry2 + C, *carry4 = carry2 + 2 * C; /* the second row's */
                    FN(col_sum)(carry3, fr1, fr2, fr3, 3, o0 - pl, W, C);
                    FN(col_sum)(carry4, fr1, fr2, fr3, 3, o0 - pl + 1, W, C);
                    if (FC_POOL_NHWC_AVG3X2(y + (ro * OW + o0) * C, y + ((ro + 1) * OW + o0) * C, fr0, fr1, fr2, fr3,
                                            o0 - pl, o1 - o0, W, C, cp, cq, carry3, carry4, w->dv_h[oh],
                                            w->dv_w + o0)) {
                        ++it; /* the loop steps past the second row */
                        continue;
                    }
                }
#endif
#ifdef FC_POOL_NHWC_AVG3
                /* the segment's pixels with the carried sums in registers (kernels/pool_rows.h) */
                if (avg3_segments &&
                    FC_POOL_NHWC_AVG3(y + (ro * OW + o0) * C, fr0, fr1, fr2, nr, o0 - pl, o1 - o0, W, C, cp, cq,
                                      w->dv_h[oh], w->dv_w + o0))
                    continue;
#endif
            }
            if (fz) {
                fr0 = xn + h0 * xs[2];
                fr1 = xn + (h0 + dh) * xs[2];
                fr2 = nr == 3 ? xn + (h0 + 2 * dh) * xs[2] : fr1;
                const ptrdiff_t q0 = o0 * sw - pl; /* the first window's first column */
                if (q0 >= 0 && q0 < W) {
                    const FT *restrict a = fr0 + q0 * C, *restrict b = fr1 + q0 * C, *restrict c = fr2 + q0 * C;
                    for (ptrdiff_t i = 0; i < C; ++i) carry[i] = NANMAX(NANMAX(a[i], b[i]), c[i]);
                } else {
                    FN(fill)(carry, neutral, C);
                }
#ifdef FC_POOL_NHWC_MAX3S2
                /* inputs in the caches, written in place: the segment's pixels with the
                 * carried column in registers (kernels/pool_rows.h) */
                if (!stream && !pf3s2 && FC_POOL_ROWK_READY() &&
                    FC_POOL_NHWC_MAX3S2(y + (ro * OW + o0) * C, fr0, fr1, fr2, o0 * sw - pl + 1, o1 - o0, W, C, carry))
                    continue;
#endif
            }
            if (sep) {
                /* input pixels [a, b) that the segment's windows read */
                ptrdiff_t a = 0, b = W;
                if (segs > 1) {
                    a = reg ? o0 * sw - pl : w->lo_w[o0];
                    b = reg ? (o1 - 1) * sw + (kw - 1) * dw + 1 - pl : w->lo_w[o1 - 1] + w->cnt_w[o1 - 1];
                    a = FC_MAX(a, 0);
                    b = FC_MIN(b, W);
                }
                if (b > a && prefetch) {
                    /* in VBLK pieces, each after prefetching the window's last (new) row
                     * FC_POOL_PREFETCH bytes on, as the NCHW pass does */
                    const ptrdiff_t len_r = (b - a) * C;
                    for (ptrdiff_t i0 = 0; i0 < len_r; i0 += VBLK) {
                        const ptrdiff_t m = FC_MIN(VBLK, len_r - i0);
                        for (ptrdiff_t r = 0; r < nr; ++r) rows[r] = xn + (h0 + r * dh) * xs[2] + a * C + i0;
                        for (ptrdiff_t i = 0; i < m; i += (ptrdiff_t)(64 / sizeof(FT)))
                            FC_POOL_PREFETCH_LINE((const void *)((uintptr_t)(rows[nr - 1] + i) + FC_POOL_PREFETCH));
                        if (op == FC_POOL_MAX) FN(vmax)(row + (pl + a) * C + i0, rows, nr, m);
                        else FN(vsum)(row + (pl + a) * C + i0, rows, nr, m);
                    }
                } else if (b > a) {
                    for (ptrdiff_t r = 0; r < nr; ++r) rows[r] = xn + (h0 + r * dh) * xs[2] + a * C;
                    if (op == FC_POOL_MAX) FN(vmax)(row + (pl + a) * C, rows, nr, (b - a) * C);
                    else FN(vsum)(row + (pl + a) * C, rows, nr, (b - a) * C);
                }
            }
            for (ptrdiff_t ow = o0; ow < o1; ++ow) {
                FT *yp = stream ? sk.buf + sk.n : y + (ro * OW + ow) * C;
                int64_t *ip = idx ? (stream ? isk.buf + isk.n : idx + (ro * OW + ow) * C) : NULL;
                const ptrdiff_t nc = w->cnt_w[ow], w0 = w->lo_w[ow];
                const FT *base = xn + h0 * xs[2] + w0 * xs[3];
                /* separable: fixed windows span kw padded buffer pixels from ow*sw,
                 * adaptive ones their nc pixels from w0 */
                const FT *hb = reg ? row + ow * sw * C : row + w0 * C;
                const ptrdiff_t hk = reg ? kw : nc;
                if (fa) {
                    const ptrdiff_t q2 = ow - pl + 2;
                    const FT *zero = carry + C; /* a pixel of +0 (the row's neutral) */
                    const int in2 = q2 >= 0 && q2 < W;
                    if (pf3s1 && nr == 3 && in2 && h0 + 3 < g->in_h)
                        for (ptrdiff_t i = 0; i < C; i += (ptrdiff_t)(64 / sizeof(FT)))
                            FC_POOL_PREFETCH_LINE((const void *)(fr2 + xs[2] + q2 * C + i));
                    FN(pix_avg3s1)(yp, cp, cq, in2 ? fr0 + q2 * C : zero, in2 ? fr1 + q2 * C : zero,
                                   in2 ? fr2 + q2 * C : zero, nr, C, (FT)(w->dv_h[oh] * w->dv_w[ow]));
                    FT *t = cp; /* cp now holds the newest column: it becomes the second */
                    cp = cq;
                    cq = t;
                } else if (fz) {
                    const ptrdiff_t q1 = ow * sw - pl + 1, q2 = q1 + 1;
                    const int in1 = q1 >= 0 && q1 < W, in2 = q2 >= 0 && q2 < W;
                    if (pf3s2 && nr == 3 && in2 && h0 + 4 < g->in_h) /* the next output row's two new rows */
                        for (ptrdiff_t i = 0; i < 2 * C; i += (ptrdiff_t)(64 / sizeof(FT))) {
                            FC_POOL_PREFETCH_LINE((const void *)(fr2 + xs[2] + q1 * C + i));
                            FC_POOL_PREFETCH_LINE((const void *)(fr2 + 2 * xs[2] + q1 * C + i));
                        }
                    FN(pix_max3s2)(yp, carry, in1 ? fr0 + q1 * C : ninf, in1 ? fr1 + q1 * C : ninf,
                                   in1 ? fr2 + q1 * C : ninf, in2 ? fr0 + q2 * C : ninf,
                                   in2 ? fr1 + q2 * C : ninf, in2 ? fr2 + q2 * C : ninf, C);
                } else if (sep && op == FC_POOL_MAX)
                    FN(hpix_max)(yp, hb, hk, dw * C, C);
                else if (sep)
                    FN(hpix_avg)(yp, hb, hk, dw * C, C, (FT)(w->dv_h[oh] * w->dv_w[ow]));
                else if (nr == 0 || nc == 0) { /* a window entirely in the padding (dilation) */
                    FN(fill)(yp, neutral, C);
                    if (idx)
                        for (ptrdiff_t c = 0; c < C; ++c) ip[c] = (int64_t)(h0 * W + w0);
                } else if (idx)
                    FN(pixel_argmax)(yp, ip, base, nr, nc, dh * xs[2], dw * xs[3], dh, dw, C, h0, w0, W);
                else if (op == FC_POOL_MAX)
                    FN(pixel_max)(yp, base, nr, nc, dh * xs[2], dw * xs[3], C);
                else
                    FN(pixel_avg)(yp, base, nr, nc, xs[2], xs[3], C, (FT)(w->dv_h[oh] * w->dv_w[ow]));
                if (stream) FN(sinks_advance)(&sk, &isk, C);
            }
        }
        if (stream) FN(sinks_finish)(&sk, &isk);
        fc_aligned_free(obuf);
        fc_aligned_free(ibuf);
        fc_aligned_free(row);
        free((void *)rows);
    }
    return status;
}

static int FN(forward)(const fc_pool_geom *g, const fc_pool_windows *w, int op,
                       const FT *x, const ptrdiff_t *xs, FT *y, int64_t *idx, int nt)
{
    (void)nt; /* unused without OpenMP */
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
    (void)nt; /* unused without OpenMP */
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

/* Smallest and largest of n >= 1 indices (a vectorised pass: the scatter
 * loop itself then needs no range check). */
static inline void FN(index_range)(const int64_t *restrict ix, ptrdiff_t n, int64_t *mn, int64_t *mx)
{
    int64_t a = ix[0], b = ix[0];
    for (ptrdiff_t i = 1; i < n; ++i) {
        a = ix[i] < a ? ix[i] : a;
        b = ix[i] > b ? ix[i] : b;
    }
    *mn = a;
    *mx = b;
}

/*
 * Tiles: the direct path of the scatter.  Indices from a pooling whose
 * windows do not overlap (stride = kernel, the common case) name, for output
 * (oh, ow), a cell of the tile of rows [oh*kh, oh*kh + kh) and columns
 * [ow*kw, ow*kw + kw), with kh = in_h / out_h and kw = in_w / out_w; the
 * tiles of one output row are disjoint.  Such a row is written directly, in
 * one pass over its kh input rows: each cell gets its output's value where
 * the index names it and 0 elsewhere, with no zeroing pass and no random
 * access.  The pass counts the indices that named a cell of their own tile;
 * a row with a miss (overlapping windows, padding, arbitrary indices) is
 * zeroed again and scattered instead.
 *
 * The result is the scatter's, bit for bit: a cell of a tile receives at most
 * one contribution from its output row, and the scatter's 0 + g is computed as
 * g + 0 (which turns -0 into +0 like the scatter; unpooling assigns g itself).
 * A tile is written directly only when no earlier output row has touched its
 * rows (the scatter's "ready" mark is at or before it), so every cell still
 * sees its contributions in output order.
 */

/* The kh rows of one NCHW output row's tiles (d: the tiles' first row, at
 * plane position pos0); returns the number of indices inside their tile. */
static ptrdiff_t FN(tile_rows_nchw)(FT *restrict d, const FT *restrict s, const int64_t *restrict ix,
                                    ptrdiff_t OW, ptrdiff_t W, ptrdiff_t kh, ptrdiff_t kw,
                                    int64_t pos0, int accumulate)
{
    ptrdiff_t hits = 0;
    for (ptrdiff_t r = 0; r < kh; ++r) {
        FT *restrict dr = d + r * W;
        const int64_t p = pos0 + (int64_t)(r * W);
        if (kw == 2) {
#ifdef FC_POOL_TILE2
            /* the including file's kernel for this FT (AVX2: the vectoriser's
             * int64 compares narrowed to float masks cost more than the pass) */
            hits += FC_POOL_TILE2(dr, s, ix, OW, p, accumulate);
#else
            if (accumulate)
                for (ptrdiff_t o = 0; o < OW; ++o) {
                    const int64_t rel = ix[o] - (p + 2 * o);
                    const FT v = s[o] + (FT)0;
                    dr[2 * o] = rel == 0 ? v : (FT)0;
                    dr[2 * o + 1] = rel == 1 ? v : (FT)0;
                    hits += (rel == 0) + (rel == 1);
                }
            else
                for (ptrdiff_t o = 0; o < OW; ++o) {
                    const int64_t rel = ix[o] - (p + 2 * o);
                    dr[2 * o] = rel == 0 ? s[o] : (FT)0;
                    dr[2 * o + 1] = rel == 1 ? s[o] : (FT)0;
                    hits += (rel == 0) + (rel == 1);
                }
#endif
        } else {
            for (ptrdiff_t o = 0; o < OW; ++o) {
                const int64_t rel = ix[o] - (p + o * kw);
                const FT v = accumulate ? s[o] + (FT)0 : s[o];
                FT *restrict t = dr + o * kw;
                for (ptrdiff_t q = 0; q < kw; ++q) {
                    t[q] = rel == q ? v : (FT)0;
                    hits += rel == q;
                }
            }
        }
        for (ptrdiff_t i = OW * kw; i < W; ++i) dr[i] = (FT)0;
    }
    return hits;
}

/* The same for NHWC: d is the tiles' first row (W*C elements a row), s and
 * ix the output row (OW*C); returns the number of indices inside their tile. */
static ptrdiff_t FN(tile_rows_nhwc)(FT *restrict d, const FT *restrict s, const int64_t *restrict ix,
                                    ptrdiff_t OW, ptrdiff_t W, ptrdiff_t C, ptrdiff_t kh,
                                    ptrdiff_t kw, int64_t pos0, int accumulate)
{
    ptrdiff_t hits = 0;
    if (kh == 2 && kw == 2) { /* the common 2x2 tile: its four pixels in one pass over the channels */
        for (ptrdiff_t o = 0; o < OW; ++o) {
            const FT *restrict so = s + o * C;
            const int64_t *restrict io = ix + o * C;
            FT *restrict t00 = d + 2 * o * C, *restrict t01 = t00 + C;
            FT *restrict t10 = t00 + W * C, *restrict t11 = t10 + C;
            const int64_t p00 = pos0 + 2 * o, p10 = p00 + W;
            ptrdiff_t h = 0;
            for (ptrdiff_t c = 0; c < C; ++c) {
                const int64_t k = io[c];
                const FT v = accumulate ? so[c] + (FT)0 : so[c];
                t00[c] = k == p00 ? v : (FT)0;
                t01[c] = k == p00 + 1 ? v : (FT)0;
                t10[c] = k == p10 ? v : (FT)0;
                t11[c] = k == p10 + 1 ? v : (FT)0;
                h += (k == p00) + (k == p00 + 1) + (k == p10) + (k == p10 + 1);
            }
            hits += h;
        }
        if (OW * 2 < W)
            for (ptrdiff_t r = 0; r < 2; ++r)
                memset(d + (r * W + OW * 2) * C, 0, (size_t)((W - OW * 2) * C) * sizeof(FT));
        return hits;
    }
    for (ptrdiff_t r = 0; r < kh; ++r) {
        FT *restrict dr = d + r * W * C;
        for (ptrdiff_t o = 0; o < OW; ++o) {
            const FT *restrict so = s + o * C;
            const int64_t *restrict io = ix + o * C;
            for (ptrdiff_t q = 0; q < kw; ++q) {
                const int64_t p = pos0 + (int64_t)(r * W + o * kw + q);
                FT *restrict t = dr + (o * kw + q) * C;
                if (accumulate)
                    for (ptrdiff_t c = 0; c < C; ++c) {
                        const int m = io[c] == p;
                        t[c] = m ? so[c] + (FT)0 : (FT)0;
                        hits += m;
                    }
                else
                    for (ptrdiff_t c = 0; c < C; ++c) {
                        const int m = io[c] == p;
                        t[c] = m ? so[c] : (FT)0;
                        hits += m;
                    }
            }
        }
        if (OW * kw < W) memset(dr + OW * kw * C, 0, (size_t)((W - OW * kw) * C) * sizeof(FT));
    }
    return hits;
}

/*
 * The NHWC scatter of overlapping windows turned into a gather (no zeroing
 * pass, no random writes): each input cell is written once, with the sum (or
 * for unpooling the last) of the values of the outputs whose index names it,
 * taken in output order.  The window is not known here, so it is guessed
 * from the shapes: output (oh, ow)'s indices are taken to lie in rows
 * [oh*sh - 1, oh*sh + sh] and columns [ow*sw - 1, ow*sw + sw], sh and sw
 * being H/OH and W/OW rounded (any kernel <= stride + 2 with padding <= 1:
 * 3x3/2 pad 1, 3x3/1 pad 1, 3x3/2, 2x2/1, ...).  Each input pixel then has at
 * most 2 (stride >= 2) or 3 (stride 1) candidate outputs per axis; for each
 * channel it adds the candidate's value where the candidate's index equals
 * the cell, +0 elsewhere.  The sum starts at +0 and is never -0, so adding +0
 * changes no bit: the result is the scatter's 0 + v1 + v2 + ... exactly.
 * Matches are counted; unless every (output, channel) matched once, some
 * index lay outside its guessed window (or outside the plane: indices are
 * first converted to int32, invalid ones to -1, which matches nothing) and
 * the caller scatters instead.
 *
 * Rows of converted indices are kept in a small ring per thread (the
 * candidate output rows of consecutive input rows overlap); the input rows
 * (image, row) are split statically between the threads.
 */

/* One block of m <= CBLK channels of one input pixel: y = the contributions
 * of the candidates (rows 0..nr-1 of the ring, columns q0..q1), cnt += matches. */
static inline void FN(gather_block)(FT *restrict y, const int32_t *const *ring, const FT *const *gyr,
                                    ptrdiff_t nr, ptrdiff_t q0, ptrdiff_t q1, ptrdiff_t C, ptrdiff_t c0,
                                    int32_t t, ptrdiff_t m, int accumulate, int64_t *cnt)
{
    FT acc[CBLK];
    int32_t hit[CBLK];
    for (ptrdiff_t i = 0; i < m; ++i) {
        acc[i] = (FT)0;
        hit[i] = 0;
    }
    for (ptrdiff_t r = 0; r < nr; ++r)
        for (ptrdiff_t q = q0; q <= q1; ++q) {
            const int32_t *restrict ix = ring[r] + q * C + c0;
            const FT *restrict v = gyr[r] + q * C + c0;
            if (accumulate)
                for (ptrdiff_t i = 0; i < m; ++i) {
                    const int32_t e = ix[i] == t;
                    acc[i] += e ? v[i] : (FT)0;
                    hit[i] += e;
                }
            else
                for (ptrdiff_t i = 0; i < m; ++i) {
                    const int32_t e = ix[i] == t;
                    acc[i] = e ? v[i] : acc[i];
                    hit[i] += e;
                }
        }
    int32_t h = 0;
    for (ptrdiff_t i = 0; i < m; ++i) {
        y[i] = acc[i];
        h += hit[i];
    }
    *cnt += h;
}

/* One input row d (W pixels of C channels, cell numbers t0..): every pixel
 * from its candidates (rows 0..nr-1 of the ring, columns qlo[w]..qhi[w]);
 * returns the number of matches.  An ISA file may provide this row as
 * FC_POOL_GATHER_ROW (same arguments, float only). */
static int64_t FN(gather_row)(FT *restrict d, const int32_t *const *ring, const FT *const *gyr, ptrdiff_t nr,
                              const ptrdiff_t *qlo, const ptrdiff_t *qhi, ptrdiff_t W, ptrdiff_t C,
                              int32_t t0, int accumulate)
{
#ifdef FC_POOL_GATHER_ROW
    return FC_POOL_GATHER_ROW(d, ring, gyr, nr, qlo, qhi, W, C, t0, accumulate);
#else
    int64_t cnt = 0;
    for (ptrdiff_t w = 0; w < W; ++w) {
        FT *y = d + w * C;
        const ptrdiff_t q0 = qlo[w], q1 = qhi[w];
        const int32_t t = t0 + (int32_t)w;
        if (q0 > q1) {
            FN(fill)(y, (FT)0, C);
            continue;
        }
        ptrdiff_t c0 = 0;
        for (; c0 + CBLK <= C; c0 += CBLK)
            FN(gather_block)(y + c0, ring, gyr, nr, q0, q1, C, c0, t, CBLK, accumulate, &cnt);
        if (c0 < C) FN(gather_block)(y + c0, ring, gyr, nr, q0, q1, C, c0, t, C - c0, accumulate, &cnt);
    }
    return cnt;
#endif
}

/* 1: dst written; 0: some index was not where the guess put it (dst is
 * garbage, scatter instead); or FC_ENOMEM. */
static int FN(gather_nhwc)(const fc_pool_geom *g, const FT *src, const int64_t *idx, FT *dst,
                           int accumulate, int nt, fc_pool_axis ah, fc_pool_axis aw)
{
    (void)nt; /* unused without OpenMP */
    const ptrdiff_t N = g->batch, C = g->channels, H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t HW = H * W, RC = OW * C, items = N * H;
    const ptrdiff_t ring_n = (ah.k + ah.s - 1) / ah.s; /* candidate rows of one input row, at most (<= 4) */
    int64_t hits = 0;
    int status = FC_OK;

    /* candidate output columns of each input column */
    ptrdiff_t *qlo = (ptrdiff_t *)malloc((size_t)(2 * W) * sizeof(ptrdiff_t));
    if (!qlo) return FC_ENOMEM;
    ptrdiff_t *qhi = qlo + W;
    for (ptrdiff_t w = 0; w < W; ++w) fc_pool_cover(aw, w, OW, qlo + w, qhi + w);

#pragma omp parallel num_threads(nt) if (nt > 1 && N * (HW + OH * OW) * C > FC_POOL_PARALLEL_MIN)
    {
        int32_t *conv = (int32_t *)fc_aligned_alloc((size_t)(ring_n * RC) * sizeof(int32_t));
        ptrdiff_t key[4] = {-1, -1, -1, -1};
        const int32_t *ring[4]; /* by candidate row: its converted indices */
        const FT *gyr[4];       /* and its values */
        int64_t mine = 0;
        ptrdiff_t lo, hi;
        fc_thread_share(items, &lo, &hi);
        if (!conv) {
#pragma omp critical(fc_pool_status)
            status = FC_ENOMEM;
            hi = lo;
        }
        for (ptrdiff_t it = lo; it < hi; ++it) {
            const ptrdiff_t n = it / H, h = it - n * H;
            FT *restrict d = dst + it * W * C;
            ptrdiff_t a, b;
            fc_pool_cover(ah, h, OH, &a, &b);
            if (a > b) { /* no candidate: zeros (a stray index would go unmatched) */
                FN(fill)(d, (FT)0, W * C);
                continue;
            }
            for (ptrdiff_t oh = a; oh <= b; ++oh) {
                const ptrdiff_t slot = oh % ring_n; /* consecutive rows: distinct slots */
                int32_t *cr = conv + slot * RC;
                if (key[slot] != n * OH + oh) {
                    const int64_t *restrict ix = idx + (n * OH + oh) * RC;
                    for (ptrdiff_t i = 0; i < RC; ++i) {
                        const int64_t k = ix[i];
                        cr[i] = k >= 0 && k < HW ? (int32_t)k : -1;
                    }
                    key[slot] = n * OH + oh;
                }
                ring[oh - a] = cr;
                gyr[oh - a] = src + (n * OH + oh) * RC;
            }
            mine += FN(gather_row)(d, ring, gyr, b - a + 1, qlo, qhi, W, C, (int32_t)(h * W), accumulate);
        }
#pragma omp critical(fc_pool_status)
        hits += mine;
        fc_aligned_free(conv);
    }
    free(qlo);
    if (status) return status;
    return hits == N * OH * OW * C;
}

/*
 * The windows gather_nhwc assumes, learnt from the indices of up to 8 pixels
 * (away from the edges) of the middle output row of image 0: per axis, the
 * stride is in/out rounded, and the offsets of the indices' rows and columns
 * from oh*sh and ow*sw give the padding and the extent.  The smallest guess
 * that covers what the sample shows gives the fewest candidates; a guess the
 * other pixels do not fit only costs the gather (it counts every match and
 * the scatter takes over).  Returns 0 when the sample is unusable (an index
 * outside the plane or far from its window, or windows of more than 4 rows
 * a stride).
 */
static int FN(gather_learn)(const int64_t *idx, ptrdiff_t H, ptrdiff_t W, ptrdiff_t C, ptrdiff_t OH,
                            ptrdiff_t OW, fc_pool_axis *ah, fc_pool_axis *aw)
{
    const ptrdiff_t sh = FC_MAX((H + OH / 2) / OH, 1), sw = FC_MAX((W + OW / 2) / OW, 1);
    const ptrdiff_t oh = OH / 2, o0 = OW > 2 ? 1 : 0, o1 = FC_MIN(OW > 2 ? OW - 1 : OW, o0 + 8);
    const double inv_w = 1.0 / (double)W;
    ptrdiff_t r_min = H, r_max = -1, c_min = W, c_max = -W;
    for (ptrdiff_t ow = o0; ow < o1; ++ow) {
        const int64_t *ix = idx + (oh * OW + ow) * C;
        for (ptrdiff_t c = 0; c < C; ++c) {
            const int64_t k = ix[c];
            if (k < 0 || k >= (int64_t)H * W) return 0;
            ptrdiff_t r = (ptrdiff_t)((double)k * inv_w); /* k / W, then exact */
            if ((int64_t)r * W > k) --r;
            else if ((int64_t)(r + 1) * W <= k) ++r;
            const ptrdiff_t dc = (ptrdiff_t)(k - (int64_t)r * W) - ow * sw;
            r_min = FC_MIN(r_min, r);
            r_max = FC_MAX(r_max, r);
            c_min = FC_MIN(c_min, dc);
            c_max = FC_MAX(c_max, dc);
        }
    }
    if (r_max < 0) return 0;
    ah->s = sh;
    ah->p = oh * sh - r_min;
    ah->k = r_max - r_min + 1;
    aw->s = sw;
    aw->p = -c_min;
    aw->k = c_max - c_min + 1;
    return ah->k <= 4 * sh && aw->k <= 4 * sw;
}

/* Whether the first output pixels (up to 4) of the first row of image 0 keep
 * their indices inside their kh x kw tiles: the probe that tells the common
 * non-overlapping windows (tiles) from overlapping ones (gather) before
 * either is tried; either path still checks every index. */
static int FN(tiles_probe_nhwc)(const int64_t *idx, ptrdiff_t OW, ptrdiff_t W, ptrdiff_t C,
                                ptrdiff_t kh, ptrdiff_t kw)
{
    for (ptrdiff_t o = 0; o < FC_MIN(OW, 4); ++o) {
        ptrdiff_t in = 0;
        for (ptrdiff_t c = 0; c < C; ++c) {
            const int64_t k = idx[o * C + c];
            int hit = 0;
            for (ptrdiff_t r = 0; r < kh; ++r) hit |= (uint64_t)k - (uint64_t)(r * W + o * kw) < (uint64_t)kw;
            in += hit;
        }
        if (in != C) return 0;
    }
    return 1;
}

/*
 * src and idx have the pooled shape, dst the input shape; dst is overwritten:
 * zeros, then dst[plane][idx] += src (accumulate) or = src, in row-major
 * order.  Output rows are taken in order; a row whose indices all lie in
 * their tiles (above) writes its tile rows directly.  From the first row that
 * does not, NCHW does what PyTorch does for the rest of the plane: one
 * vectorised range check of its indices, zeros, then a tight loop of adds.
 * NHWC goes on per output pixel: its indices are range-checked and the input
 * rows up to the largest zeroed, whole rows at a time (a row is always zeroed
 * before its first write, whatever the indices; indices normally advance
 * with the output rows, so the zeros are written in cache next to the adds).
 * An index outside the plane stops its item and makes the call return
 * FC_EINVAL.  A thread whose direct attempt misses stops trying for the rest
 * of the call (the indices are then most likely from overlapping windows);
 * the path never changes the result.  NHWC indices that are not tiled (a
 * probe of the first pixels tells) go to the gather above first, and come
 * here only when it could not place them all.
 */
static int FN(scatter)(const fc_pool_geom *g, const FT *src, const int64_t *idx, FT *dst,
                       int accumulate, int nt)
{
    (void)nt; /* unused without OpenMP */
    const ptrdiff_t N = g->batch, C = g->channels, H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t HW = H * W, OHW = OH * OW;
    const ptrdiff_t kh = OH > 0 ? H / OH : 0, kw = OW > 0 ? W / OW : 0;
    int tiles = kh >= 1 && kw >= 1;
    int status = FC_OK;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t items = N * C;
#pragma omp parallel num_threads(nt) if (nt > 1 && items * (HW + OHW) > FC_POOL_PARALLEL_MIN)
        {
            int try_tiles = tiles;
#pragma omp for schedule(static)
            for (ptrdiff_t p = 0; p < items; ++p) {
                FT *restrict d = dst + p * HW;
                ptrdiff_t ready = 0; /* cells [0, ready) are zeroed */
                ptrdiff_t oh = 0;
                for (; try_tiles && oh < OH; ++oh) {
                    const ptrdiff_t t0 = oh * kh * W;
                    ready = t0 + kh * W;
                    if (FN(tile_rows_nchw)(d + t0, src + p * OHW + oh * OW, idx + p * OHW + oh * OW, OW, W,
                                           kh, kw, (int64_t)t0, accumulate) != OW) {
                        memset(d + t0, 0, (size_t)(kh * W) * sizeof(FT)); /* a miss: scatter from here */
                        try_tiles = 0;
                        break;
                    }
                }
                /* the other rows as PyTorch does, with the range check in one
                 * vectorised pass: zeros, then a tight loop of adds */
                int bad = 0;
                if (oh < OH) {
                    const ptrdiff_t n = (OH - oh) * OW;
                    const FT *restrict s = src + p * OHW + oh * OW;
                    const int64_t *restrict ix = idx + p * OHW + oh * OW;
                    int64_t mn, mx;
                    FN(index_range)(ix, n, &mn, &mx);
                    bad = mn < 0 || mx >= HW;
                    if (!bad) {
                        memset(d + ready, 0, (size_t)(HW - ready) * sizeof(FT));
                        ready = HW;
                        if (accumulate)
                            for (ptrdiff_t o = 0; o < n; ++o) d[ix[o]] += s[o];
                        else
                            for (ptrdiff_t o = 0; o < n; ++o) d[ix[o]] = s[o];
                    }
                }
                if (bad) {
#pragma omp critical(fc_pool_status)
                    status = FC_EINVAL;
                } else {
                    memset(d + ready, 0, (size_t)(HW - ready) * sizeof(FT));
                }
            }
        }
        return status;
    }

    /* NHWC: each image is split into row bands when there are fewer images
     * than threads: a band's thread scans every output row but writes only
     * the cells it owns, so no cache line is written by two threads and every
     * cell still sees its contributions in output order.  With tiles, band
     * edges fall on tile edges: a tiled output row belongs to one band, and
     * the others skip it after a range check of its indices.  Otherwise,
     * per output pixel, one vectorised pass turns the indices into element
     * offsets and finds their range (pixels whose range misses the band are
     * skipped); the scatter then only adds. */
    if (OH > 0 && OW > 0 && N > 0 && C > 0 && HW <= (ptrdiff_t)INT32_MAX &&
        (!tiles || !FN(tiles_probe_nhwc)(idx, OW, W, C, kh, kw))) {
        /* overlapping windows (or tiles that are not): the gather, when the guessed windows hold every index */
        fc_pool_axis ah, aw;
        if (FN(gather_learn)(idx, H, W, C, OH, OW, &ah, &aw)) {
            const int done = FN(gather_nhwc)(g, src, idx, dst, accumulate, nt, ah, aw);
            if (done) return done < 0 ? done : FC_OK;
        }
        tiles = 0;
    }
    const ptrdiff_t bands = N >= nt ? 1 : FC_MIN((nt + N - 1) / N, H);
    const ptrdiff_t items = N * bands;
#pragma omp parallel num_threads(nt) if (nt > 1 && N * (HW + OHW) * C > FC_POOL_PARALLEL_MIN)
    {
        int64_t *off = (int64_t *)fc_aligned_alloc((size_t)C * sizeof(int64_t));
        int try_tiles = tiles;
        if (!off) {
#pragma omp critical(fc_pool_status)
            status = FC_ENOMEM;
        }
#pragma omp for schedule(static)
        for (ptrdiff_t it = 0; it < items; ++it) {
            if (!off) continue;
            const ptrdiff_t n = it / bands, b = it - n * bands;
            /* owned cells [lo, hi), in pixels */
            const ptrdiff_t lo = (tiles ? OH * b / bands * kh : H * b / bands) * W;
            const ptrdiff_t hi = (b == bands - 1 ? H : tiles ? OH * (b + 1) / bands * kh : H * (b + 1) / bands) * W;
            FT *restrict d = dst + n * HW * C;
            ptrdiff_t ready = lo; /* owned pixels [lo, ready) are zeroed */
            int bad = 0;
            for (ptrdiff_t oh = 0; oh < OH && !bad; ++oh) {
                const FT *restrict srow = src + (n * OHW + oh * OW) * C;
                const int64_t *restrict irow = idx + (n * OHW + oh * OW) * C;
                if (tiles) {
                    const ptrdiff_t t0 = oh * kh * W, t1 = t0 + kh * W;
                    if (t0 >= lo && t1 <= hi) { /* this band's tile rows */
                        if (try_tiles && ready <= t0) {
                            if (ready < t0) memset(d + ready * C, 0, (size_t)((t0 - ready) * C) * sizeof(FT));
                            ready = t1;
                            if (FN(tile_rows_nhwc)(d + t0 * C, srow, irow, OW, W, C, kh, kw, (int64_t)t0,
                                                   accumulate) == OW * C)
                                continue;
                            memset(d + t0 * C, 0, (size_t)((t1 - t0) * C) * sizeof(FT)); /* a miss */
                            try_tiles = 0;
                        }
                    } else if (t1 <= lo || t0 >= hi) { /* another band's: skip it if it stays there */
                        int64_t mn, mx;
                        FN(index_range)(irow, OW * C, &mn, &mx);
                        if (mn >= t0 && mx < t1) continue;
                    }
                }
                for (ptrdiff_t o = 0; o < OW; ++o) {
                    const FT *restrict s = srow + o * C;
                    const int64_t *restrict ix = irow + o * C;
                    int64_t mn = ix[0], mx = ix[0];
                    for (ptrdiff_t c = 0; c < C; ++c) {
                        const int64_t k = ix[c];
                        mn = k < mn ? k : mn;
                        mx = k > mx ? k : mx;
                        off[c] = k * C + c;
                    }
                    if (mn < 0 || mx >= HW) {
                        bad = 1;
                        break;
                    }
                    if (mx < lo || mn >= hi) continue; /* nothing in this band */
                    if (mx >= ready) {
                        const ptrdiff_t end = FC_MIN(((ptrdiff_t)mx / W + 1) * W, hi);
                        memset(d + ready * C, 0, (size_t)((end - ready) * C) * sizeof(FT));
                        ready = end;
                    }
                    if (mn >= lo && mx < hi) {
                        if (accumulate)
                            for (ptrdiff_t c = 0; c < C; ++c) d[off[c]] += s[c];
                        else
                            for (ptrdiff_t c = 0; c < C; ++c) d[off[c]] = s[c];
                    } else {
                        for (ptrdiff_t c = 0; c < C; ++c) {
                            const int64_t k = ix[c];
                            if (k < lo || k >= hi) continue;
                            if (accumulate) d[off[c]] += s[c];
                            else d[off[c]] = s[c];
                        }
                    }
                }
            }
            if (bad) {
#pragma omp critical(fc_pool_status)
                status = FC_EINVAL;
            } else {
                memset(d + ready * C, 0, (size_t)((hi - ready) * C) * sizeof(FT));
            }
        }
        fc_aligned_free(off);
    }
    return status;
}

/* ---- average backward: fixed and adaptive windows ---------------------------- */

/*
 * gx = every output's gy / divisor added to each cell of its window
 * (PyTorch's definition); w holds the windows (divisors), cv the cover tables
 * (for each input row and column, the range of windows covering it).
 *
 * NCHW, per plane: zeros, then per output row the row of contributions along
 * the width (each output's columns) is built once and added to every input
 * row of its window, vectorised along the width.
 *
 * NHWC, as a gather, one input row at a time: the gradient rows of the
 * windows covering it, divided by their divisors (kept in a small ring, so
 * each is divided once per image), are summed along W*C, then each input
 * pixel sums the pixels of the windows covering it along the channels.  Every
 * input row is written once, so (image, row) items split freely.
 */
static int FN(avg_backward)(const fc_pool_geom *g, const fc_pool_windows *w,
                            const fc_pool_windows *cv, const FT *gy, FT *gx, int nt)
{
    (void)nt; /* unused without OpenMP */
    const ptrdiff_t N = g->batch, C = g->channels, H = g->in_h, W = g->in_w;
    const ptrdiff_t OH = g->out_h, OW = g->out_w, HW = H * W, OHW = OH * OW;
    int status = FC_OK;

    if (g->layout == FC_LAYOUT_NCHW) {
        const ptrdiff_t items = N * C;
#pragma omp parallel num_threads(nt) if (nt > 1 && items * (HW + OHW) > FC_POOL_PARALLEL_MIN)
        {
            FT *row = (FT *)fc_aligned_alloc((size_t)W * sizeof(FT));
            if (!row) {
#pragma omp critical(fc_pool_status)
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

    const ptrdiff_t items = N * H, ring = FC_MAX(cv->max_cnt_h, 1), RC = OW * C;
#pragma omp parallel num_threads(nt) if (nt > 1 && items * W * C > FC_POOL_PARALLEL_MIN)
    {
        FT *scaled = (FT *)fc_aligned_alloc((size_t)((ring + 1) * RC) * sizeof(FT));
        ptrdiff_t *key = (ptrdiff_t *)malloc((size_t)ring * sizeof(ptrdiff_t));
        const FT **rows = (const FT **)malloc((size_t)ring * sizeof(FT *));
        const int ok = scaled && key && rows;
        FT *sum = scaled ? scaled + ring * RC : NULL;
        ptrdiff_t lo, hi;
        fc_thread_share(items, &lo, &hi);
        if (!ok) {
#pragma omp critical(fc_pool_status)
            status = FC_ENOMEM;
            hi = lo;
        } else {
            for (ptrdiff_t i = 0; i < ring; ++i) key[i] = -1;
        }
        for (ptrdiff_t it = lo; it < hi; ++it) {
            const ptrdiff_t n = it / H, ih = it - n * H;
            const ptrdiff_t nr = cv->cnt_h[ih], o0 = cv->lo_h[ih];
            FT *d = gx + it * W * C;
            if (nr == 0) {
                FN(fill)(d, (FT)0, W * C);
                continue;
            }
            for (ptrdiff_t r = 0; r < nr; ++r) {
                /* the covering windows of one row are consecutive: distinct slots */
                const ptrdiff_t oh = o0 + r, slot = oh % ring;
                FT *sr = scaled + slot * RC;
                if (key[slot] != n * OH + oh) {
                    const FT *s = gy + (n * OH + oh) * RC;
                    const ptrdiff_t fh = w->dv_h[oh];
                    for (ptrdiff_t ow = 0; ow < OW; ++ow) {
                        const FT dv = (FT)(fh * w->dv_w[ow]);
                        for (ptrdiff_t c = 0; c < C; ++c) sr[ow * C + c] = s[ow * C + c] / dv;
                    }
                    key[slot] = n * OH + oh;
                }
                rows[r] = sr;
            }
            const FT *src = rows[0]; /* one covering row (non-overlapping windows): no sum */
            if (nr > 1) {
                FN(vsum)(sum, rows, nr, RC);
                src = sum;
            }
            for (ptrdiff_t iw = 0; iw < W; ++iw) {
                const ptrdiff_t nc = cv->cnt_w[iw];
                if (nc == 0) FN(fill)(d + iw * C, (FT)0, C);
                else if (nc == 1) FN(ccopy)(d + iw * C, src + cv->lo_w[iw] * C, C);
                else FN(hpix_sum)(d + iw * C, src + cv->lo_w[iw] * C, nc, C, C);
            }
        }
        fc_aligned_free(scaled);
        free(key);
        free((void *)rows);
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
    (void)nt; /* unused without OpenMP */
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
#pragma omp critical(fc_pool_status)
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
#undef CBLK
#undef VBLK
#undef CAN_STREAM
#undef STREAM_FT
#undef STREAM_I64
#undef STREAM_FENCE
#undef SINK_FLUSH
#undef FC_POOL_TILE2
#undef FC_POOL_AVG3S1
#undef FC_POOL_VSUM
#undef FC_POOL_ROWK
#undef FC_POOL_ROWK_READY
#undef FC_POOL_ROWS
#undef FC_POOL_AVG3X3
#undef FC_POOL_AVG_ROWS
#undef FC_POOL_NHWC_AVG3
#undef FC_POOL_NHWC_AVG3X2
#undef FC_POOL_NHWC_MAX3S2
#undef FC_POOL_GATHER_ROW
#undef FN
#undef FC_PCAT
#undef FC_PCAT_

#endif /* FT */
