/*
 * local.c -- unshared convolutions (tiled and locally connected) and the
 * fully connected layer, forward and backward, on the project's GEMM
 * micro-kernels.  The per-type code lives in local_impl.h, included once per
 * type; this file holds what does not depend on the type.
 *
 * One engine serves both unshared convolutions: a tiled convolution with
 * tiles (th, tw) gives output position (i, j) the filter bank
 * w[i % th][j % tw]; the locally connected layer is the tiled convolution
 * whose tiles are the whole output (every position its own bank), and an
 * ordinary convolution the one with 1 x 1 tiles.  The output positions of
 * one tile class share their bank, so each class is one GEMM:
 *     Y_t[K x cols_t] = W_t[K x Ktot] . X_t[Ktot x cols_t]
 * where the columns are the (image, position) pairs of the class and X_t is
 * their im2col matrix, gathered straight into the micro-kernel's packed
 * panels block by block (never stored whole), as conv2d does.
 */
#include "internal.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- geometry shared by both types --------------------------------------- */

int fc_tiled_conv2d_check(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (g->groups != 1 || tiles_h < 1 || tiles_w < 1) return FC_EINVAL;
    /* every array the engine indexes must stay addressable: the weights
     * (tiles_h * tiles_w * out_channels * Ktot), the images and outputs */
    size_t t, ktot;
    if (fc_size_mul3((size_t)g->in_channels, (size_t)g->kernel_h, (size_t)g->kernel_w, &ktot) ||
        fc_size_mul3((size_t)tiles_h, (size_t)tiles_w, (size_t)g->out_channels, &t) ||
        fc_size_mul3(t, ktot, 1, &t) || t > (size_t)PTRDIFF_MAX / 8)
        return FC_EOVERFLOW;
    if (fc_size_mul3((size_t)g->batch, (size_t)g->in_channels, (size_t)g->in_h, &t) ||
        fc_size_mul3(t, (size_t)g->in_w, 1, &t) || t > (size_t)PTRDIFF_MAX / 8)
        return FC_EOVERFLOW;
    if (fc_size_mul3((size_t)g->batch, (size_t)g->out_channels, (size_t)g->out_h, &t) ||
        fc_size_mul3(t, (size_t)g->out_w, 1, &t) || t > (size_t)PTRDIFF_MAX / 8)
        return FC_EOVERFLOW;
    return FC_OK;
}

/*
 * The taps of a window, in weight order q = (channel, kernel row, kernel
 * column): for tap q, off[q] is its offset in x from the window's origin
 * (top-left tap of channel 0), dr[q] / ds[q] its row / column displacement
 * and coff[q] its channel's offset.  Computed once per call, so that a
 * window lying inside the image costs one load per value.
 */
typedef struct {
    ptrdiff_t *off, *dr, *ds, *coff;
    ptrdiff_t ktot;
    ptrdiff_t img;       /* elements per image                              */
    ptrdiff_t ps;        /* elements between horizontally adjacent pixels   */
    ptrdiff_t span_h, span_w; /* rows / columns a window covers, minus one   */
} fc_local_taps;

static int local_taps_init(const fc_conv_geom *g, fc_local_taps *t)
{
    const ptrdiff_t C = g->in_channels, H = g->in_h, W = g->in_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t nchw = g->layout == FC_LAYOUT_NCHW;
    const ptrdiff_t cst = nchw ? H * W : 1;
    t->ps = nchw ? 1 : C;
    t->ktot = C * KH * KW;
    t->img = C * H * W;
    t->span_h = (KH - 1) * g->dilation_h;
    t->span_w = (KW - 1) * g->dilation_w;
    size_t bytes;
    if (fc_size_mul3((size_t)t->ktot, 4 * sizeof(ptrdiff_t), 1, &bytes)) return FC_EOVERFLOW;
    ptrdiff_t *mem = (ptrdiff_t *)fc_aligned_alloc(bytes);
    if (!mem) return FC_ENOMEM;
    t->off = mem;
    t->dr = mem + t->ktot;
    t->ds = mem + 2 * t->ktot;
    t->coff = mem + 3 * t->ktot;
    ptrdiff_t q = 0;
    for (ptrdiff_t c = 0; c < C; ++c)
        for (ptrdiff_t r = 0; r < KH; ++r)
            for (ptrdiff_t s = 0; s < KW; ++s, ++q) {
                t->dr[q] = r * g->dilation_h;
                t->ds[q] = s * g->dilation_w;
                t->coff[q] = c * cst;
                t->off[q] = c * cst + (t->dr[q] * W + t->ds[q]) * t->ps;
            }
    return FC_OK;
}

static void local_taps_free(fc_local_taps *t) { fc_aligned_free(t->off); }

/*
 * The columns of one tile class within output rows [i0, i1) and images
 * [n0, n0 + nb), images innermost: column c is image n0 + c % nb at the
 * class's position c / nb, that is output row i_first + th * (c / nb / cw)
 * and output column j_first + tw * (c / nb % cw).  Consecutive columns are
 * then, mostly, consecutive images at one position.
 */
typedef struct {
    ptrdiff_t n0, nb;
    ptrdiff_t i_first, j_first, ch, cw;
    ptrdiff_t th, tw;
} fc_local_cols;

/* Rows of class a (a < th) among [i0, i1): the first and the count. */
static void class_range(ptrdiff_t a, ptrdiff_t th, ptrdiff_t i0, ptrdiff_t i1,
                        ptrdiff_t *first, ptrdiff_t *count)
{
    ptrdiff_t f = i0 + ((a - i0 % th) % th + th) % th;
    *first = f;
    *count = f < i1 ? (i1 - f + th - 1) / th : 0;
}

static void local_cols_init(fc_local_cols *cs, ptrdiff_t a, ptrdiff_t b, ptrdiff_t th, ptrdiff_t tw,
                            ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t out_w, ptrdiff_t n0, ptrdiff_t nb)
{
    cs->n0 = n0;
    cs->nb = nb;
    cs->th = th;
    cs->tw = tw;
    class_range(a, th, i0, i1, &cs->i_first, &cs->ch);
    class_range(b, tw, 0, out_w, &cs->j_first, &cs->cw);
}

static inline ptrdiff_t local_cols_count(const fc_local_cols *cs) { return cs->nb * cs->ch * cs->cw; }

static inline void local_col(const fc_local_cols *cs, ptrdiff_t c, ptrdiff_t *n, ptrdiff_t *i, ptrdiff_t *j)
{
    const ptrdiff_t pos = c / cs->nb;
    *n = cs->n0 + c % cs->nb;
    *i = cs->i_first + pos / cs->cw * cs->th;
    *j = cs->j_first + pos % cs->cw * cs->tw;
}

static ptrdiff_t local_round_up(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b * b; }

/* Threads for a call of `work` multiply-adds: never more than the work can
 * feed (about 64^3 per thread pays for waking a thread team), as the GEMM. */
static int local_threads(double work)
{
    int nt = fc_resolve_threads(0);
    const double cap = work / (64.0 * 64.0 * 64.0);
    if (cap < (double)nt) nt = cap < 1.0 ? 1 : (int)cap;
    return nt;
}

/* AVX2 + FMA builds of the fully connected layer's dot / axpy loops through
 * a target attribute (x86-64, GCC or Clang); elsewhere the baseline only. */
#if defined(FC_HAVE_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(_M_X64))
#define FC_LOCAL_HAVE_AVX2_TARGET 1
#else
#define FC_LOCAL_HAVE_AVX2_TARGET 0
#endif

#if FC_LOCAL_HAVE_AVX2_TARGET
/* kernels/linear_avx2.c: the few-row fully connected layer, a tile of
 * 32 bytes of outputs for m <= 4 rows of x, in the GEMM's summation order */
void fc_linear_tile_f32_avx2(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const float *x, ptrdiff_t ldx,
                             const float *const *w, float *tile);
void fc_linear_tile_f64_avx2(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const double *x, ptrdiff_t ldx,
                             const double *const *w, double *tile);
/* kernels/linear_avx512.c: the same sums, float32, a tile of 16 columns
 * (one vector of outputs: twice the AVX2 tile's chain for a single row) */
void fc_linear_tile_f32_avx512(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const float *x, ptrdiff_t ldx,
                               const float *const *w, float *tile);
/* kernels/linear_avx512.c: the same sums for one row of x, 8 outputs
 * (w[0..7]) x 4 kc blocks at once (k >= 4 kc) */
void fc_linear_row8_f32_avx512(ptrdiff_t k, ptrdiff_t kc, const float *x, const float *const *w, float *out);
/* kernels/linear_avx512.c and linear_avx2.c: the default few-row path, one
 * dot product per output in a fixed order (16 partial sums), the same bits
 * at both levels, not the GEMM's sums */
void fc_linear_gemv_f32_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *x, ptrdiff_t ldx,
                               const float *w, ptrdiff_t ldw, const float *bias, float *y, ptrdiff_t ldy, int big);
void fc_linear_gemv_f32_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *x, ptrdiff_t ldx,
                             const float *w, ptrdiff_t ldw, const float *bias, float *y, ptrdiff_t ldy, int big);
#endif

/* ---- the per-type code ------------------------------------------------------ */

#define FT float
#define FSUF _f32
#define FC_LOCAL_BL s
#define FC_LOCAL_UK sgemm
#define FC_LOCAL_UKH sgemm_half
#define FC_LOCAL_PACKA spack_a
#define FC_LOCAL_GEMM fc_sgemm
#if FC_LOCAL_HAVE_AVX2_TARGET
#define FC_LOCAL_TILE512 fc_linear_tile_f32_avx512 /* its AVX-512 tile kernel (float32 only) */
#define FC_LOCAL_ROW8 fc_linear_row8_f32_avx512     /* and its batch-1 kernel */
#endif
#include "local_impl.h"
#undef FC_LOCAL_TILE512
#undef FC_LOCAL_ROW8
#undef FT
#undef FSUF
#undef FC_LOCAL_BL
#undef FC_LOCAL_UK
#undef FC_LOCAL_UKH
#undef FC_LOCAL_PACKA
#undef FC_LOCAL_GEMM

#define FT double
#define FSUF _f64
#define FC_LOCAL_BL d
#define FC_LOCAL_UK dgemm
#define FC_LOCAL_UKH dgemm_half
#define FC_LOCAL_PACKA dpack_a
#define FC_LOCAL_GEMM fc_dgemm
#include "local_impl.h"
#undef FT
#undef FSUF
#undef FC_LOCAL_BL
#undef FC_LOCAL_UK
#undef FC_LOCAL_UKH
#undef FC_LOCAL_PACKA
#undef FC_LOCAL_GEMM

/* ---- the fully connected layer, default (not batch-invariant) form --------- */
/*
 * float32 with at most FC_LINEAR_GEMV_ROWS rows, contiguous rows of x and w,
 * AVX2 or above: fc_linear_gemv_f32_* (each output one dot product in a
 * fixed order, whatever m, the ISA level or the thread count); threads take
 * ranges of outputs, each range every group of 4 rows of x in turn.  The
 * GEMM is far slower on 5-16 rows (1 thread, 4096 -> 1000: 1.17 ms for 5
 * to 1.32 ms for 16 rows, against 0.30 ms for 4 here).  Anything else:
 * fc_linear_forward, whose rows equal the batched GEMM's.
 */
#define FC_LINEAR_GEMV_ROWS 16      /* rows of x: up to 4 per kernel call, groups of 4 over a chunk */
#define FC_LINEAR_GEMV_CHUNK 64     /* most outputs per task (a multiple of 8) */
#define FC_LINEAR_GEMV_CHUNK_BYTES (1u << 20) /* a chunk of w stays in L2 for the next group of rows */
#define FC_LINEAR_GEMV_L3 (24u << 20) /* a larger weight streams from memory (fewer rows at once) */

int fc_linear_forward_gemv_f32(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                               const float *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                               const float *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const float *bias, float *y)
{
#if FC_LOCAL_HAVE_AVX2_TARGET
    if (m >= 1 && m <= FC_LINEAR_GEMV_ROWS && in_features > 0 && out_features > 0 && x && w && y &&
        cs_x == 1 && cs_w == 1 && fc_isa_active() >= FC_ISA_AVX2) {
        const ptrdiff_t n = out_features, k = in_features;
        void (*fn)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, const float *, ptrdiff_t,
                   const float *, float *, ptrdiff_t, int) =
            fc_isa_active() >= FC_ISA_AVX512 ? fc_linear_gemv_f32_avx512 : fc_linear_gemv_f32_avx2;
        const int nt = local_threads((double)m * n * k);
        const int big = (double)n * (double)k * sizeof(float) > (double)FC_LINEAR_GEMV_L3;
        /* outputs per chunk: up to 64, fewer when more than 1 MiB of w (8 at least) */
        ptrdiff_t cw = (ptrdiff_t)(FC_LINEAR_GEMV_CHUNK_BYTES / ((size_t)k * sizeof(float))) / 8 * 8;
        cw = cw < 8 ? 8 : cw > FC_LINEAR_GEMV_CHUNK ? FC_LINEAR_GEMV_CHUNK : cw;
        const ptrdiff_t chunks = (n + cw - 1) / cw;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1 && chunks > 1)
        for (ptrdiff_t c = 0; c < chunks; ++c) {
            const ptrdiff_t j0 = c * cw, cnt = FC_MIN(cw, n - j0);
            for (ptrdiff_t r0 = 0; r0 < m; r0 += 4)     /* groups of rows: the chunk of w read again from L2 */
                fn(FC_MIN((ptrdiff_t)4, m - r0), cnt, k, x + r0 * rs_x, rs_x, w + j0 * rs_w, rs_w,
                   bias ? bias + j0 : NULL, y + r0 * n + j0, n, big);
        }
        return FC_OK;
    }
#endif
    return fc_linear_forward_f32(m, in_features, out_features, x, rs_x, cs_x, w, rs_w, cs_w, bias, y);
}

int fc_linear_forward_gemv_f64(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                               const double *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                               const double *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const double *bias, double *y)
{
    return fc_linear_forward_f64(m, in_features, out_features, x, rs_x, cs_x, w, rs_w, cs_w, bias, y);
}
