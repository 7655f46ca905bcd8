/*
 * pool.c -- max, average, stochastic and adaptive pooling, their backward
 * passes and unpooling, for float32 and float64, NCHW and NHWC.
 *
 * This file checks the geometry, builds the per-axis window tables once per
 * call and picks the drivers of the active ISA level; the drivers themselves
 * live in pool_impl.h, compiled here for the baseline and in
 * kernels/pool_avx2.c with AVX2 and kernels/pool_avx512.c with AVX-512 (used
 * for the index scatters only, see ops_f32; the other drivers are bound by
 * memory bandwidth, not by vector width).
 */
#include "internal.h"

#define FT float
#define FSUF _f32_generic
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_generic
#include "pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS

#define FT double
#define FSUF _f64_generic
#define FC_POOL_OPS_T fc_pool_ops_f64
#define FC_POOL_OPS fc_pool_ops_f64_generic
#include "pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS

#ifdef FC_HAVE_X86_KERNELS
extern const fc_pool_ops_f32 fc_pool_ops_f32_avx2;
extern const fc_pool_ops_f64 fc_pool_ops_f64_avx2;
extern const fc_pool_ops_f32 fc_pool_ops_f32_avx512;
extern const fc_pool_ops_f64 fc_pool_ops_f64_avx512;
#endif

/* scatter: the index scatters (max backward, max unpooling), whose direct
 * path over non-overlapping windows compares int64 indices and selects
 * float values: AVX-512's 8-lane compares into mask registers run it about
 * twice as fast as the AVX2 copy.  The other drivers measured no faster with
 * AVX-512 (they stream memory), so they keep the AVX2 copy. */
static const fc_pool_ops_f32 *ops_f32(int scatter)
{
#ifdef FC_HAVE_X86_KERNELS
    const int isa = fc_isa_active();
    if (scatter && isa >= FC_ISA_AVX512) return &fc_pool_ops_f32_avx512;
    if (isa >= FC_ISA_AVX2) return &fc_pool_ops_f32_avx2;
#else
    (void)scatter;
#endif
    return &fc_pool_ops_f32_generic;
}

static const fc_pool_ops_f64 *ops_f64(int scatter)
{
#ifdef FC_HAVE_X86_KERNELS
    const int isa = fc_isa_active();
    if (scatter && isa >= FC_ISA_AVX512) return &fc_pool_ops_f64_avx512;
    if (isa >= FC_ISA_AVX2) return &fc_pool_ops_f64_avx2;
#else
    (void)scatter;
#endif
    return &fc_pool_ops_f64_generic;
}

/* ---- geometry checks ------------------------------------------------------------ */

/* Every size below 2^31, so products of two of them (o * stride, o * in)
 * never overflow ptrdiff_t. */
#define DIM_MAX ((ptrdiff_t)1 << 31)

static int in_range(ptrdiff_t v, ptrdiff_t lo) { return v >= lo && v < DIM_MAX; }

/* Element count of a (batch, channels, h, w) array, checked; it must also be
 * addressable in bytes of the widest type. */
static int count4(const fc_pool_geom *g, ptrdiff_t h, ptrdiff_t w)
{
    size_t bc, hw, total;
    if (fc_size_mul3((size_t)g->batch, (size_t)g->channels, 1, &bc) ||
        fc_size_mul3((size_t)h, (size_t)w, 1, &hw) || fc_size_mul3(bc, hw, sizeof(double), &total) ||
        total > (size_t)PTRDIFF_MAX)
        return FC_EOVERFLOW;
    return FC_OK;
}

enum { NEED_SIZES = 0, NEED_WINDOW = 1 };

static int check_geom(const fc_pool_geom *g, int need)
{
    if (!g) return FC_EINVAL;
    if (g->layout != FC_LAYOUT_NCHW && g->layout != FC_LAYOUT_NHWC) return FC_EINVAL;
    if (g->batch < 0 || g->channels < 0 || !in_range(g->in_h, 0) || !in_range(g->in_w, 0) ||
        !in_range(g->out_h, 0) || !in_range(g->out_w, 0))
        return FC_EINVAL;
    if (need == NEED_WINDOW &&
        (!in_range(g->kernel_h, 1) || !in_range(g->kernel_w, 1) || !in_range(g->stride_h, 1) ||
         !in_range(g->stride_w, 1) || !in_range(g->dilation_h, 1) || !in_range(g->dilation_w, 1) ||
         !in_range(g->pad_top, 0) || !in_range(g->pad_bottom, 0) || !in_range(g->pad_left, 0) ||
         !in_range(g->pad_right, 0)))
        return FC_EINVAL;
    int st = count4(g, g->in_h, g->in_w);
    if (st == FC_OK) st = count4(g, g->out_h, g->out_w);
    return st;
}

/* The forward input: a non-empty output needs a non-empty input, and the
 * vectorised axis (w for NCHW, channels for NHWC) must have unit stride. */
static int check_input(const fc_pool_geom *g, const ptrdiff_t *xs, ptrdiff_t dense[4])
{
    if (g->out_h > 0 && g->out_w > 0 && (g->in_h == 0 || g->in_w == 0)) return FC_EINVAL;
    if (!xs) {
        if (g->layout == FC_LAYOUT_NCHW) {
            dense[3] = 1;
            dense[2] = g->in_w;
            dense[1] = g->in_h * g->in_w;
            dense[0] = g->channels * dense[1];
        } else {
            dense[1] = 1;
            dense[3] = g->channels;
            dense[2] = g->in_w * g->channels;
            dense[0] = g->in_h * dense[2];
        }
        return FC_OK;
    }
    if (g->layout == FC_LAYOUT_NCHW ? (xs[3] != 1 && g->in_w > 1) : (xs[1] != 1 && g->channels > 1))
        return FC_EINVAL;
    for (int i = 0; i < 4; ++i) dense[i] = xs[i];
    /* a size-1 axis may carry any stride: it is never stepped */
    if (g->layout == FC_LAYOUT_NCHW) dense[3] = 1;
    else dense[1] = 1;
    return FC_OK;
}

/* ---- window tables ------------------------------------------------------------ */

typedef struct {
    ptrdiff_t *mem;
    fc_pool_windows w;
} tables;

static int tables_alloc(tables *t, ptrdiff_t nh, ptrdiff_t nw)
{
    size_t bytes;
    if (fc_size_mul3((size_t)(nh + nw), 3, sizeof(ptrdiff_t), &bytes)) return FC_EOVERFLOW;
    t->mem = (ptrdiff_t *)fc_aligned_alloc(bytes);
    if (!t->mem) return FC_ENOMEM;
    ptrdiff_t *lo_h = t->mem, *cnt_h = lo_h + nh, *dv_h = cnt_h + nh;
    ptrdiff_t *lo_w = dv_h + nh, *cnt_w = lo_w + nw, *dv_w = cnt_w + nw;
    t->w.lo_h = lo_h;
    t->w.cnt_h = cnt_h;
    t->w.dv_h = dv_h;
    t->w.lo_w = lo_w;
    t->w.cnt_w = cnt_w;
    t->w.dv_w = dv_w;
    t->w.max_cnt_h = 0;
    t->w.regular = 1;
    return FC_OK;
}

static void tables_free(tables *t) { fc_aligned_free(t->mem); }

/* Fixed windows along one axis: output o starts at o*s - pad_lo and has k
 * taps spaced by d.  dv is PyTorch's average divisor factor: with the padding
 * (clipped at in + pad_hi, ceil_mode's overhang excluded) or without it. */
static void axis_fixed(ptrdiff_t in, ptrdiff_t out, ptrdiff_t k, ptrdiff_t s, ptrdiff_t d,
                       ptrdiff_t pad_lo, ptrdiff_t pad_hi, int include_pad,
                       ptrdiff_t *lo, ptrdiff_t *cnt, ptrdiff_t *dv)
{
    for (ptrdiff_t o = 0; o < out; ++o) {
        const ptrdiff_t start = o * s - pad_lo;
        const ptrdiff_t t0 = start < 0 ? (-start + d - 1) / d : 0; /* first tap inside */
        const ptrdiff_t t1 = start >= in ? 0 : FC_MIN(k, (in - start + d - 1) / d); /* taps before the end */
        lo[o] = start + t0 * d;
        cnt[o] = t1 > t0 ? t1 - t0 : 0;
        if (include_pad) dv[o] = FC_MIN(start + k, in + pad_hi) - start;
        else dv[o] = cnt[o] > 0 ? cnt[o] : 1; /* an empty window averages to 0 */
    }
}

/* Adaptive windows: [floor(o*in/out), ceil((o+1)*in/out)). */
static void axis_adaptive(ptrdiff_t in, ptrdiff_t out, ptrdiff_t *lo, ptrdiff_t *cnt, ptrdiff_t *dv)
{
    for (ptrdiff_t o = 0; o < out; ++o) {
        lo[o] = o * in / out;
        cnt[o] = ((o + 1) * in + out - 1) / out - lo[o];
        dv[o] = cnt[o];
    }
}

static ptrdiff_t floor_div(ptrdiff_t a, ptrdiff_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Unpooling: for each unpooled cell i, the pooled windows o with
 * o*s - pad <= i < o*s - pad + k, clipped to [0, out). */
static void axis_cover(ptrdiff_t in, ptrdiff_t out, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad,
                       ptrdiff_t *lo, ptrdiff_t *cnt)
{
    for (ptrdiff_t i = 0; i < in; ++i) {
        const ptrdiff_t a = FC_MAX(0, -floor_div(-(i + pad - k + 1), s)); /* ceil */
        const ptrdiff_t b = FC_MIN(out - 1, floor_div(i + pad, s));
        lo[i] = a;
        cnt[i] = b >= a ? b - a + 1 : 0;
    }
}

static ptrdiff_t max_of(const ptrdiff_t *v, ptrdiff_t n)
{
    ptrdiff_t m = 0;
    for (ptrdiff_t i = 0; i < n; ++i) m = FC_MAX(m, v[i]);
    return m;
}

/* Tables of the forward windows (and of the backward of average pooling). */
static int tables_pool(tables *t, const fc_pool_geom *g, int adaptive, int include_pad,
                       ptrdiff_t divisor_override)
{
    int st = tables_alloc(t, g->out_h, g->out_w);
    if (st) return st;
    ptrdiff_t *lo_h = (ptrdiff_t *)t->w.lo_h, *cnt_h = (ptrdiff_t *)t->w.cnt_h, *dv_h = (ptrdiff_t *)t->w.dv_h;
    ptrdiff_t *lo_w = (ptrdiff_t *)t->w.lo_w, *cnt_w = (ptrdiff_t *)t->w.cnt_w, *dv_w = (ptrdiff_t *)t->w.dv_w;
    if (adaptive) {
        axis_adaptive(g->in_h, g->out_h, lo_h, cnt_h, dv_h);
        axis_adaptive(g->in_w, g->out_w, lo_w, cnt_w, dv_w);
        t->w.regular = 0;
    } else {
        axis_fixed(g->in_h, g->out_h, g->kernel_h, g->stride_h, g->dilation_h, g->pad_top,
                   g->pad_bottom, include_pad, lo_h, cnt_h, dv_h);
        axis_fixed(g->in_w, g->out_w, g->kernel_w, g->stride_w, g->dilation_w, g->pad_left,
                   g->pad_right, include_pad, lo_w, cnt_w, dv_w);
        if (divisor_override) {
            for (ptrdiff_t o = 0; o < g->out_h; ++o) dv_h[o] = 1;
            for (ptrdiff_t o = 0; o < g->out_w; ++o) dv_w[o] = divisor_override;
        }
    }
    t->w.max_cnt_h = max_of(cnt_h, g->out_h);
    return FC_OK;
}

/* For each input cell i, the adaptive windows covering it: from the first
 * with end > i to the last with start <= i (both bounds grow with o). */
static void axis_cover_adaptive(ptrdiff_t in, ptrdiff_t out, ptrdiff_t *lo, ptrdiff_t *cnt)
{
    ptrdiff_t a = 0, b = 0;
    for (ptrdiff_t i = 0; i < in; ++i) {
        while (a < out && ((a + 1) * in + out - 1) / out <= i) ++a;
        while (b < out && b * in / out <= i) ++b;
        lo[i] = a;
        cnt[i] = b > a ? b - a : 0;
    }
}

/* Cover tables: per input row and column (of the "in" plane), the range of
 * windows covering it.  Fixed windows: kernel, stride and padding, no
 * dilation (average pooling and unpooling). */
static int tables_cover(tables *t, const fc_pool_geom *g, int adaptive)
{
    int st = tables_alloc(t, g->in_h, g->in_w);
    if (st) return st;
    ptrdiff_t *lo_h = (ptrdiff_t *)t->w.lo_h, *cnt_h = (ptrdiff_t *)t->w.cnt_h;
    ptrdiff_t *lo_w = (ptrdiff_t *)t->w.lo_w, *cnt_w = (ptrdiff_t *)t->w.cnt_w;
    if (adaptive) {
        axis_cover_adaptive(g->in_h, g->out_h, lo_h, cnt_h);
        axis_cover_adaptive(g->in_w, g->out_w, lo_w, cnt_w);
    } else {
        axis_cover(g->in_h, g->out_h, g->kernel_h, g->stride_h, g->pad_top, lo_h, cnt_h);
        axis_cover(g->in_w, g->out_w, g->kernel_w, g->stride_w, g->pad_left, lo_w, cnt_w);
    }
    t->w.max_cnt_h = max_of(cnt_h, g->in_h);
    return FC_OK;
}

/* ---- entry points -------------------------------------------------------------- */

/* Checks of a forward call and its window tables; the caller frees t on success. */
static int prepare_forward(const fc_pool_geom *g, const ptrdiff_t *x_strides, int pointers_ok,
                           int adaptive, int include_pad, ptrdiff_t divisor_override,
                           ptrdiff_t xs[4], tables *t)
{
    int st = check_geom(g, adaptive ? NEED_SIZES : NEED_WINDOW);
    if (st == FC_OK) st = check_input(g, x_strides, xs);
    if (st == FC_OK && !pointers_ok) st = FC_EINVAL;
    if (st == FC_OK) st = tables_pool(t, g, adaptive, include_pad, divisor_override);
    return st;
}

/* Checks of an average backward or unpooling call: the cover tables, and for
 * the backward (w != NULL) the windows' divisors too. */
static int prepare_average(const fc_pool_geom *g, int pointers_ok, int adaptive,
                           int include_pad, ptrdiff_t divisor_override, tables *w, tables *cover)
{
    int st = check_geom(g, adaptive ? NEED_SIZES : NEED_WINDOW);
    if (st == FC_OK && (!pointers_ok || (!adaptive && (g->dilation_h != 1 || g->dilation_w != 1))))
        st = FC_EINVAL;
    if (st == FC_OK) st = tables_cover(cover, g, adaptive);
    if (st == FC_OK && w) {
        st = tables_pool(w, g, adaptive, include_pad, divisor_override);
        if (st) tables_free(cover);
    }
    return st;
}

/* ---- entry points ---------------------------------------------------------------- */
/*
 * The float32 and float64 entry points of one operation differ only in the
 * element type: each calls one helper below with the element size, which
 * picks the table of that type (the pointers convert from void *).
 */
#define OPS_CALL(esize, fn, ...) \
    ((esize) == sizeof(float) ? ops_f32(0)->fn(__VA_ARGS__) : ops_f64(0)->fn(__VA_ARGS__))
#define OPS_CALL_SCATTER(esize, ...) \
    ((esize) == sizeof(float) ? ops_f32(1)->scatter(__VA_ARGS__) : ops_f64(1)->scatter(__VA_ARGS__))

static int run_forward(size_t esize, const fc_pool_geom *g, const void *x, const ptrdiff_t *x_strides, void *y,
                       int64_t *indices, int adaptive, int op, int include_pad, ptrdiff_t divisor_override)
{
    ptrdiff_t xs[4];
    tables t;
    int st = prepare_forward(g, x_strides, x && y, adaptive, include_pad, divisor_override, xs, &t);
    if (st) return st;
    st = OPS_CALL(esize, forward, g, &t.w, op, x, xs, y, indices, fc_resolve_threads(0));
    tables_free(&t);
    return st;
}

static int run_stochastic(size_t esize, const fc_pool_geom *g, const void *x, const ptrdiff_t *x_strides, void *y,
                          int64_t *indices, uint64_t seed, int training)
{
    ptrdiff_t xs[4];
    tables t;
    int st = prepare_forward(g, x_strides, x && y, 0, 0, 0, xs, &t);
    if (st) return st;
    st = OPS_CALL(esize, stochastic, g, &t.w, x, xs, y, indices, seed, training, fc_resolve_threads(0));
    tables_free(&t);
    return st;
}

/* max backward (accumulate = 1: sums) and max unpooling (assigns) */
static int run_scatter(size_t esize, const fc_pool_geom *g, const void *src, const int64_t *indices, void *dst,
                       int accumulate)
{
    int st = check_geom(g, NEED_SIZES);
    if (st) return st;
    if (!src || !indices || !dst) return FC_EINVAL;
    return OPS_CALL_SCATTER(esize, g, src, indices, dst, accumulate, fc_resolve_threads(0));
}

static int run_avg_backward(size_t esize, const fc_pool_geom *g, const void *grad_out, void *grad_in, int adaptive,
                            int include_pad, ptrdiff_t divisor_override)
{
    tables t, c;
    int st = prepare_average(g, grad_out && grad_in, adaptive, include_pad, divisor_override, &t, &c);
    if (st) return st;
    st = OPS_CALL(esize, avg_backward, g, &t.w, &c.w, grad_out, grad_in, fc_resolve_threads(0));
    tables_free(&t);
    tables_free(&c);
    return st;
}

static int run_avg_unpool(size_t esize, const fc_pool_geom *g, const void *x, void *y)
{
    tables t;
    int st = prepare_average(g, x && y, 0, 0, 0, NULL, &t);
    if (st) return st;
    st = OPS_CALL(esize, avg_unpool, g, &t.w, x, y, fc_resolve_threads(0));
    tables_free(&t);
    return st;
}

int fc_max_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides, float *y, int64_t *indices)
{
    return run_forward(sizeof(float), g, x, x_strides, y, indices, 0, FC_POOL_MAX, 0, 0);
}

int fc_max_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides, double *y,
                      int64_t *indices)
{
    return run_forward(sizeof(double), g, x, x_strides, y, indices, 0, FC_POOL_MAX, 0, 0);
}

int fc_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides, float *y,
                      int count_include_pad, ptrdiff_t divisor_override)
{
    return run_forward(sizeof(float), g, x, x_strides, y, NULL, 0, FC_POOL_AVG, count_include_pad, divisor_override);
}

int fc_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides, double *y,
                      int count_include_pad, ptrdiff_t divisor_override)
{
    return run_forward(sizeof(double), g, x, x_strides, y, NULL, 0, FC_POOL_AVG, count_include_pad, divisor_override);
}

int fc_adaptive_max_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides, float *y,
                               int64_t *indices)
{
    return run_forward(sizeof(float), g, x, x_strides, y, indices, 1, FC_POOL_MAX, 0, 0);
}

int fc_adaptive_max_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides, double *y,
                               int64_t *indices)
{
    return run_forward(sizeof(double), g, x, x_strides, y, indices, 1, FC_POOL_MAX, 0, 0);
}

int fc_adaptive_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides, float *y)
{
    return run_forward(sizeof(float), g, x, x_strides, y, NULL, 1, FC_POOL_AVG, 0, 0);
}

int fc_adaptive_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides, double *y)
{
    return run_forward(sizeof(double), g, x, x_strides, y, NULL, 1, FC_POOL_AVG, 0, 0);
}

int fc_stochastic_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides, float *y,
                             int64_t *indices, uint64_t seed, int training)
{
    return run_stochastic(sizeof(float), g, x, x_strides, y, indices, seed, training);
}

int fc_stochastic_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides, double *y,
                             int64_t *indices, uint64_t seed, int training)
{
    return run_stochastic(sizeof(double), g, x, x_strides, y, indices, seed, training);
}

int fc_max_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, const int64_t *indices,
                               float *grad_in)
{
    return run_scatter(sizeof(float), g, grad_out, indices, grad_in, 1);
}

int fc_max_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, const int64_t *indices,
                               double *grad_in)
{
    return run_scatter(sizeof(double), g, grad_out, indices, grad_in, 1);
}

int fc_max_unpool2d_f32(const fc_pool_geom *g, const float *x, const int64_t *indices, float *y)
{
    return run_scatter(sizeof(float), g, x, indices, y, 0);
}

int fc_max_unpool2d_f64(const fc_pool_geom *g, const double *x, const int64_t *indices, double *y)
{
    return run_scatter(sizeof(double), g, x, indices, y, 0);
}

int fc_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in,
                               int count_include_pad, ptrdiff_t divisor_override)
{
    return run_avg_backward(sizeof(float), g, grad_out, grad_in, 0, count_include_pad, divisor_override);
}

int fc_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in,
                               int count_include_pad, ptrdiff_t divisor_override)
{
    return run_avg_backward(sizeof(double), g, grad_out, grad_in, 0, count_include_pad, divisor_override);
}

int fc_adaptive_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in)
{
    return run_avg_backward(sizeof(float), g, grad_out, grad_in, 1, 0, 0);
}

int fc_adaptive_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in)
{
    return run_avg_backward(sizeof(double), g, grad_out, grad_in, 1, 0, 0);
}

int fc_avg_unpool2d_f32(const fc_pool_geom *g, const float *x, float *y)
{
    return run_avg_unpool(sizeof(float), g, x, y);
}

int fc_avg_unpool2d_f64(const fc_pool_geom *g, const double *x, double *y)
{
    return run_avg_unpool(sizeof(double), g, x, y);
}
