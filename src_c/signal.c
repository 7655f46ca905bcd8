/*
 * signal.c -- direct 2-D cross-correlation of plane stacks with SciPy's
 * boundary rules: the engine of fastconv's NumPy/SciPy-compatible signal API
 * (a 1-D signal is a plane of one row).
 *
 * Work is split into tiles (an item's band of output rows x a chunk of
 * columns), spread over threads.  Each tile first gathers the extended input
 * it reads (boundary rule applied, any input strides) into a per-thread block
 * that fits in L2, then a block kernel runs a branch-free "valid"
 * correlation on it.  Every output is computed by the same operations
 * whatever its tile, so results do not depend on the thread count.  The
 * per-type driver lives in signal_impl.h.
 */
#include "signal_internal.h"

#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* The extended block a thread gathers per tile: about half of L2. */
#define FC_SIGNAL_BLOCK_BYTES ((size_t)192 * 1024)
/* Longest chunk of one output row per tile; a multiple of 96 (12 vectors of
 * 8 floats, the widest register tile). */
#define FC_SIGNAL_CHUNK 4608
/* Below this many multiply-adds a call runs on one thread. */
#define FC_SIGNAL_SERIAL_WORK 65536.0

/* Coordinate j of the extended input in a dimension of n, mapped into [0, n),
 * or -1 for the fill value.  Wrap is periodic; symm reflects with the edge
 * repeated (n = 3: ... 1 2 2 1 0 | 0 1 2 | 2 1 0 0 1 ...), as far as needed. */
static inline ptrdiff_t fc_signal_map_index(ptrdiff_t j, ptrdiff_t n, int boundary)
{
    if (j >= 0 && j < n) return j;
    if (boundary == FC_BOUNDARY_WRAP) {
        const ptrdiff_t m = j % n;
        return m < 0 ? m + n : m;
    }
    if (boundary == FC_BOUNDARY_SYMM) {
        const ptrdiff_t p = 2 * n;
        const ptrdiff_t m = j >= 0 ? j % p : (-(j + 1)) % p;
        return m >= n ? p - 1 - m : m;
    }
    return -1;
}

int fc_corr2d_geom_check(const fc_corr2d_geom *g)
{
    if (!g) return FC_EINVAL;
    if (g->items < 1 || g->channels < 1 || g->outputs < 1 || g->in_h < 0 || g->in_w < 0 ||
        g->kernel_h < 1 || g->kernel_w < 1 || g->out_h < 1 || g->out_w < 1 ||
        (g->interleave != 0 && g->interleave != 1))
        return FC_EINVAL;
    if (g->boundary != FC_BOUNDARY_FILL && g->boundary != FC_BOUNDARY_WRAP &&
        g->boundary != FC_BOUNDARY_SYMM)
        return FC_EINVAL;
    /* wrapping or reflecting needs something to wrap */
    if (g->boundary != FC_BOUNDARY_FILL && (g->in_h == 0 || g->in_w == 0)) return FC_EINVAL;
    /* every extended coordinate, out + kernel + |pad|, must fit in ptrdiff_t */
    const ptrdiff_t lim = PTRDIFF_MAX / 4;
    if (g->out_h > lim || g->out_w > lim || g->kernel_h > lim || g->kernel_w > lim ||
        g->pad_top > lim || g->pad_top < -lim || g->pad_left > lim || g->pad_left < -lim ||
        g->in_h > lim || g->in_w > lim)
        return FC_EOVERFLOW;
    return FC_OK;
}

typedef struct {
    ptrdiff_t band_rows, chunk_cols;
    int nthreads;
} fc_signal_tiling;

/* Tile sizes: a chunk of at most FC_SIGNAL_CHUNK columns, as many rows as
 * keep the extended block within FC_SIGNAL_BLOCK_BYTES, then smaller tiles
 * while there are fewer than four per thread. */
static int fc_signal_tiling_choose(const fc_corr2d_geom *g, size_t elem, fc_signal_tiling *tl)
{
    const ptrdiff_t OH = g->out_h, OW = g->out_w, KH = g->kernel_h, KW = g->kernel_w;
    const double work = (double)g->items * (double)OH * (double)OW * (double)KH * (double)KW *
                        (double)g->channels * (double)g->outputs;
    int nt = fc_resolve_threads(0);
    if (work < FC_SIGNAL_SERIAL_WORK) nt = 1;

    ptrdiff_t CW = OW <= 2 * FC_SIGNAL_CHUNK ? OW : FC_SIGNAL_CHUNK;
    const size_t row_bytes = (size_t)(CW + KW - 1) * elem * (size_t)g->channels +
                             (g->interleave && g->outputs > 1 ? (size_t)CW * elem : 0);
    ptrdiff_t budget_rows = (ptrdiff_t)(FC_SIGNAL_BLOCK_BYTES / (row_bytes ? row_bytes : 1));
    ptrdiff_t BR = budget_rows - (KH - 1);
    if (BR > 4) BR -= BR % 4;
    BR = FC_MAX(BR, (ptrdiff_t)4);
    BR = FC_MIN(BR, OH);

    const ptrdiff_t want = 4 * (ptrdiff_t)nt;
    ptrdiff_t ncc = (OW + CW - 1) / CW, nrb = (OH + BR - 1) / BR;
    if (nt > 1 && g->items * nrb * ncc < want) {
        const ptrdiff_t bands = (want + g->items * ncc - 1) / (g->items * ncc);
        BR = FC_MAX((OH + bands - 1) / bands, (ptrdiff_t)1);
        if (BR > 4) BR = (BR + 3) / 4 * 4;
        nrb = (OH + BR - 1) / BR;
        if (g->items * nrb * ncc < want && OW >= 2 * 96) {
            const ptrdiff_t chunks = (want + g->items * nrb - 1) / (g->items * nrb);
            CW = FC_MAX((OW + chunks - 1) / chunks, (ptrdiff_t)96);
            CW = FC_MIN((CW + 95) / 96 * 96, OW);
        }
    }
    tl->band_rows = BR;
    tl->chunk_cols = CW;
    tl->nthreads = nt;
    return FC_OK;
}

#define FT float
#define FN(name) name##_f32
#define FC_BLOCK_FN_T fc_corr_block_f32_fn
#include "signal_impl.h"

#define FT double
#define FN(name) name##_f64
#define FC_BLOCK_FN_T fc_corr_block_f64_fn
#include "signal_impl.h"

#define FT uint32_t
#define FN(name) name##_u32
#define FC_BLOCK_FN_T fc_corr_block_u32_fn
#include "signal_impl.h"

#define FT uint64_t
#define FN(name) name##_u64
#define FC_BLOCK_FN_T fc_corr_block_u64_fn
#include "signal_impl.h"

/* A 1-D kernel of 4 to 7 rows of the AVX2 fold (32 to 63 float32 taps, 16 to
 * 31 float64) folds into fewer than 4 rows of the AVX-512 fold (16 / 8 taps),
 * where the 16-row tile's loads (16 + rows - 1 per rows x 16 FMAs, each
 * split across two cache lines) limit it; the AVX2 kernel, folding it into
 * 4 to 7 rows, measures faster (fastconv/signal.py's _fold mirrors this). */
static int fc_signal_short_1d(const fc_corr2d_geom *g, ptrdiff_t narrow_fold)
{
    return g->channels == 1 && g->outputs == 1 && g->kernel_h == 1 && g->out_h == 1 &&
           g->kernel_w >= 4 * narrow_fold && g->kernel_w < 8 * narrow_fold;
}

int fc_corr2d_f32(const fc_corr2d_geom *g, const float *x, const ptrdiff_t *x_off,
                  const float *k, const ptrdiff_t *k_off, const float *fill, float *y)
{
    fc_corr_block_f32_fn block = fc_corr_block_f32_ref;
    ptrdiff_t fold = 0;
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX512 && !(g && fc_signal_short_1d(g, 8)))
        block = fc_corr_block_f32_avx512, fold = 16;
    else if (fc_isa_active() >= FC_ISA_AVX2) block = fc_corr_block_f32_avx2, fold = 8;
#endif
    return corr2d_f32(g, x, x_off, k, k_off, fill, y, block, fold);
}

int fc_corr2d_f64(const fc_corr2d_geom *g, const double *x, const ptrdiff_t *x_off,
                  const double *k, const ptrdiff_t *k_off, const double *fill, double *y)
{
    fc_corr_block_f64_fn block = fc_corr_block_f64_ref;
    ptrdiff_t fold = 0;
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX512 && !(g && fc_signal_short_1d(g, 4)))
        block = fc_corr_block_f64_avx512, fold = 8;
    else if (fc_isa_active() >= FC_ISA_AVX2) block = fc_corr_block_f64_avx2, fold = 4;
#endif
    return corr2d_f64(g, x, x_off, k, k_off, fill, y, block, fold);
}

/* int32_t and uint32_t may alias: the kernel computes modulo 2^32 in unsigned */
int fc_corr2d_i32(const fc_corr2d_geom *g, const int32_t *x, const ptrdiff_t *x_off,
                  const int32_t *k, const ptrdiff_t *k_off, const int32_t *fill, int32_t *y)
{
    fc_corr_block_u32_fn block = fc_corr_block_u32_ref;
    ptrdiff_t fold = 0;
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX512 && !(g && fc_signal_short_1d(g, 8)))
        block = fc_corr_block_u32_avx512, fold = 16;
    else if (fc_isa_active() >= FC_ISA_AVX2) block = fc_corr_block_u32_avx2, fold = 8;
#endif
    return corr2d_u32(g, (const uint32_t *)x, x_off, (const uint32_t *)k, k_off,
                      (const uint32_t *)fill, (uint32_t *)y, block, fold);
}

/* int64_t and uint64_t may alias: the kernel computes modulo 2^64 in unsigned */
int fc_corr2d_i64(const fc_corr2d_geom *g, const int64_t *x, const ptrdiff_t *x_off,
                  const int64_t *k, const ptrdiff_t *k_off, const int64_t *fill, int64_t *y)
{
    return corr2d_u64(g, (const uint64_t *)x, x_off, (const uint64_t *)k, k_off,
                      (const uint64_t *)fill, (uint64_t *)y, fc_corr_block_u64_ref, 0);
}
