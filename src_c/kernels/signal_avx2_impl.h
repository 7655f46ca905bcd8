/*
 * signal_avx2_impl.h -- body of the SIMD block kernels, included once per
 * type by signal_avx2.c (AVX2 + FMA, 16 ymm registers) and signal_avx512.c
 * (AVX-512F, 32 zmm registers, with FC_WIDE_TILES defined) with FT, VT, VL,
 * V*, SFMA and FN defined (and undefined again at the end).
 *
 * Register tiles of nr output rows x nv vectors along the row.  Kernel rows
 * are taken in groups of (up to) four: for each kernel column s the group's
 * four weights are broadcast once, and each input vector loaded feeds every
 * output row of the tile that reads it with one of those kernel rows (input
 * row q serves output rows q - r), so one unaligned load feeds up to four
 * FMAs instead of one.  The main 2-D tile is 8 rows x 1 vector (8
 * accumulators + 4 weights + 1 input vector: 13 of the 16 ymm registers;
 * kernels of at most 3 rows use 4 rows x 3 vectors, 12 accumulators);
 * single rows (1-D signals) use 12 vectors to hide the FMA latency.
 * With FC_WIDE_TILES (32 registers) the tiles are larger: 8 rows x 2 vectors
 * for taller kernels, 4 x 4 for kernels of at most 3 rows, and 16 x 1 for
 * blocks one vector wide (folded 1-D signals, see signal_impl.h), and kernel
 * rows go in groups of FC_GROUP = 8 (16 accumulators + 8 weights + 1 input:
 * one load feeds up to 8 FMAs).
 *
 * Every output accumulates from zero in one fixed order, whatever tile
 * computes it: channel, group of FC_GROUP kernel rows, kernel column, kernel
 * row (FC_GROUP, 4 by default, is part of that order).  The last partial vector of a row is
 * recomputed overlapping the previous one (same operations, same bits);
 * rows shorter than a vector use scalar fma, which rounds exactly like one
 * vector lane.  So the result does not depend on the tiling.
 */
#ifndef FC_GROUP
#define FC_GROUP 4
#endif

/* the most accumulators a register tile holds */
#ifdef FC_WIDE_TILES
#define FC_TILE_ACC 16
#else
#define FC_TILE_ACC 12
#endif

/* The register tiles' constant loops must be unrolled completely, or the
 * accumulators, indexed by a loop counter, live in memory. */
#ifndef FC_UNROLL
#if defined(__GNUC__) && !defined(__clang__)
#define FC_UNROLL _Pragma("GCC unroll 32")
#else
#define FC_UNROLL
#endif
#endif

/* one group of g kernel rows (starting at kernel row r0: e and k already
 * point at it) into the nr x nv accumulators */
static inline __attribute__((always_inline)) void FN(group)(
    const int nr, const int nv, const int g, VT *acc, const FT *e, ptrdiff_t lde,
    const FT *k, ptrdiff_t kw)
{
    for (ptrdiff_t s = 0; s < kw; ++s) {
        VT w[FC_GROUP];
        FC_UNROLL
        for (int gi = 0; gi < g; ++gi) w[gi] = VSET1(k[gi * kw + s]);
        const FT *p = e + s;
        /* (the row pointer steps by lde: separate q * lde offsets would
         * each hold an integer register, and spill) */
        FC_UNROLL
        for (int q = 0; q < nr + g - 1; ++q, p += lde) {
            FC_UNROLL
            for (int v = 0; v < nv; ++v) {
                const VT x = VLOAD(p + v * VL);
                FC_UNROLL
                for (int gi = 0; gi < g; ++gi) {
                    const int i = q - gi;
                    if (i >= 0 && i < nr) acc[i * nv + v] = VFMA(w[gi], x, acc[i * nv + v]);
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void FN(tile)(
    const int nr, const int nv, const int grem, ptrdiff_t channels, const FT *e, ptrdiff_t lde,
    ptrdiff_t che, const FT *k, const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw, FT *y,
    ptrdiff_t ldy)
{
    VT acc[FC_TILE_ACC];
    FC_UNROLL
    for (int a = 0; a < nr * nv; ++a) acc[a] = VZERO();
    for (ptrdiff_t c = 0; c < channels; ++c) {
        const FT *kc = k + koff[c];
        const FT *ec = e + c * che;
        ptrdiff_t r0 = 0;
        for (; r0 + FC_GROUP <= kh; r0 += FC_GROUP)
            FN(group)(nr, nv, FC_GROUP, acc, ec + r0 * lde, lde, kc + r0 * kw, kw);
        /* the last, partial group: its size grem = kh % 4 is a compile-time
         * constant of this tile (a run-time switch here makes the compiler
         * keep the accumulators in memory) */
        if (grem > 0) FN(group)(nr, nv, grem, acc, ec + r0 * lde, lde, kc + r0 * kw, kw);
    }
    FC_UNROLL
    for (int i = 0; i < nr; ++i)
        FC_UNROLL
        for (int v = 0; v < nv; ++v) VSTORE(y + i * ldy + v * VL, acc[i * nv + v]);
}

/* one output, scalar, in the same order as a vector lane */
static FT FN(point)(ptrdiff_t channels, const FT *e, ptrdiff_t lde, ptrdiff_t che, const FT *k,
                    const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw)
{
    FT acc = 0;
    for (ptrdiff_t c = 0; c < channels; ++c) {
        const FT *kc = k + koff[c];
        const FT *ec = e + c * che;
        for (ptrdiff_t r0 = 0; r0 < kh; r0 += FC_GROUP) {
            const ptrdiff_t r1 = FC_MIN(r0 + FC_GROUP, kh);
            for (ptrdiff_t s = 0; s < kw; ++s)
                for (ptrdiff_t r = r0; r < r1; ++r) acc = SFMA(kc[r * kw + s], ec[r * lde + s], acc);
        }
    }
    return acc;
}

/* nr rows of the block: tiles of nv vectors, then single vectors, then the tail */
static inline __attribute__((always_inline)) void FN(rows)(
    const int nr, const int nv, const int grem, ptrdiff_t cols, ptrdiff_t channels, const FT *e, ptrdiff_t lde,
    ptrdiff_t che, const FT *k, const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw, FT *y,
    ptrdiff_t ldy)
{
    ptrdiff_t j = 0;
    for (; j + nv * VL <= cols; j += nv * VL)
        FN(tile)(nr, nv, grem, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
    if (nv > 1)
        for (; j + VL <= cols; j += VL)
            FN(tile)(nr, 1, grem, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
    if (j < cols) {
        if (cols >= VL) {
            FN(tile)(nr, 1, grem, channels, e + cols - VL, lde, che, k, koff, kh, kw, y + cols - VL, ldy);
        } else {
            for (int i = 0; i < nr; ++i)
                for (ptrdiff_t jj = j; jj < cols; ++jj)
                    y[i * ldy + jj] = FN(point)(channels, e + i * lde + jj, lde, che, k, koff, kh, kw);
        }
    }
}

static inline __attribute__((always_inline)) void FN(block)(
    const int grem, ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels, const FT *e, ptrdiff_t lde,
    ptrdiff_t che, const FT *k, const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw, FT *y,
    ptrdiff_t ldy)
{
    ptrdiff_t i = 0;
#ifdef FC_WIDE_TILES
    if (cols == VL && lde == VL && kw == VL && ldy == VL && channels == 1) {
        /* a folded 1-D signal (signal_impl.h): with the strides compile-time
         * constants every load and store addresses an immediate offset from
         * one pointer, which leaves the integer registers free */
        for (; i + 16 <= rows; i += 16)
            FN(rows)(16, 1, grem, VL, 1, e + i * VL, VL, 0, k, koff, kh, VL, y + i * VL, VL);
        if (i + 8 <= rows) {
            FN(rows)(8, 1, grem, VL, 1, e + i * VL, VL, 0, k, koff, kh, VL, y + i * VL, VL);
            i += 8;
        }
        for (; i < rows; ++i)
            FN(rows)(1, 1, grem, VL, 1, e + i * VL, VL, 0, k, koff, kh, VL, y + i * VL, VL);
        return;
    }
    if (kh == 1) {
        for (; i < rows; ++i)
            FN(rows)(1, 12, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
        return;
    }
    if (kh <= 3 && cols >= 4 * VL) {
        /* 4 rows x 4 vectors: 16 accumulators; each input load feeds up to kh
         * of them.  (8 x 3 measured slower on 1024-wide images: the in-place
         * path reads 10 rows a power of two apart, see signal_impl.h) */
        for (; i + 4 <= rows; i += 4)
            FN(rows)(4, 4, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
    } else if (cols >= 2 * VL) {
        for (; i + 8 <= rows; i += 8)
            FN(rows)(8, 2, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
    } else {
        /* one vector wide: 16 rows keep 16 FMA chains in flight */
        for (; i + 16 <= rows; i += 16)
            FN(rows)(16, 1, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
        if (i + 8 <= rows) {
            FN(rows)(8, 1, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
            i += 8;
        }
    }
#else
    if (kh == 1) {
        /* no rows to share: wide single-row tiles */
        for (; i < rows; ++i)
            FN(rows)(1, 12, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
        return;
    }
    if (kh <= 3 && cols >= 3 * VL) {
        /* few kernel rows to share an input load: 4 rows x 3 vectors keep
         * 12 independent accumulators in flight (1.4x the 8 x 1 tile at 3x3) */
        for (; i + 4 <= rows; i += 4)
            FN(rows)(4, 3, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
    } else {
        for (; i + 8 <= rows; i += 8)
            FN(rows)(8, 1, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
    }
#endif
    if (i + 4 <= rows) {
        FN(rows)(4, 2, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
        i += 4;
    }
    if (i + 2 <= rows) {
        FN(rows)(2, 3, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
        i += 2;
    }
    if (i < rows)
        FN(rows)(1, 4, grem, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
}

void FN(fc_corr_block)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels, const FT *e,
                       ptrdiff_t lde, ptrdiff_t che, const FT *k, const ptrdiff_t *koff,
                       ptrdiff_t kh, ptrdiff_t kw, FT *y, ptrdiff_t ldy)
{
    switch (kh % FC_GROUP) {
    case 0: FN(block)(0, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 1: FN(block)(1, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 2: FN(block)(2, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 3: FN(block)(3, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
#if FC_GROUP == 8
    case 4: FN(block)(4, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 5: FN(block)(5, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 6: FN(block)(6, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
    case 7: FN(block)(7, rows, cols, channels, e, lde, che, k, koff, kh, kw, y, ldy); break;
#endif
    }
}

/* the parameters of this inclusion */
#undef FT
#undef VT
#undef VL
#undef VZERO
#undef VSET1
#undef VLOAD
#undef VSTORE
#undef VFMA
#undef SFMA
#undef FN
#undef FC_TILE_ACC
