/*
 * signal_avx2_impl.h -- body of the AVX2 + FMA block kernel, included once
 * per type by signal_avx2.c with FT, VT, VL, V* and FN defined.
 *
 * Register tiles of NR output rows x NV vectors along the row: for each tap
 * one broadcast weight feeds NR * NV independent FMAs whose input vectors
 * are unaligned loads from the extended block (memory operands of the FMA).
 * 12 accumulators hide the FMA latency (4 cycles, 2 per cycle); 2-D blocks
 * use 4 rows x 3 vectors, single rows (1-D signals) 12 vectors.  The last
 * partial vector of a row is recomputed overlapping the previous one (same
 * operations, same bits); rows shorter than a vector use scalar fma, which
 * rounds exactly like one vector lane.
 */

static inline __attribute__((always_inline)) void FN(tile)(
    const int nr, const int nv, ptrdiff_t channels, const FT *e, ptrdiff_t lde, ptrdiff_t che,
    const FT *k, const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw, FT *y, ptrdiff_t ldy)
{
    VT acc[12];
    for (int a = 0; a < nr * nv; ++a) acc[a] = VZERO();
    for (ptrdiff_t c = 0; c < channels; ++c) {
        const FT *kc = k + koff[c];
        const FT *ec = e + c * che;
        for (ptrdiff_t r = 0; r < kh; ++r) {
            const FT *kr = kc + r * kw;
            const FT *er = ec + r * lde;
            for (ptrdiff_t s = 0; s < kw; ++s) {
                const VT w = VSET1(kr[s]);
                const FT *es = er + s;
                for (int i = 0; i < nr; ++i)
                    for (int v = 0; v < nv; ++v)
                        acc[i * nv + v] = VFMA(w, VLOAD(es + i * lde + v * VL), acc[i * nv + v]);
            }
        }
    }
    for (int i = 0; i < nr; ++i)
        for (int v = 0; v < nv; ++v) VSTORE(y + i * ldy + v * VL, acc[i * nv + v]);
}

/* one output, scalar, same operation order as a vector lane */
static FT FN(point)(ptrdiff_t channels, const FT *e, ptrdiff_t lde, ptrdiff_t che, const FT *k,
                    const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw)
{
    FT acc = 0;
    for (ptrdiff_t c = 0; c < channels; ++c) {
        const FT *kc = k + koff[c];
        for (ptrdiff_t r = 0; r < kh; ++r) {
            const FT *er = e + c * che + r * lde;
            for (ptrdiff_t s = 0; s < kw; ++s) acc = SFMA(kc[r * kw + s], er[s], acc);
        }
    }
    return acc;
}

/* nr (4 or 1) rows of the block: wide tiles, then single vectors, then the tail */
static inline __attribute__((always_inline)) void FN(rows)(
    const int nr, ptrdiff_t cols, ptrdiff_t channels, const FT *e, ptrdiff_t lde, ptrdiff_t che,
    const FT *k, const ptrdiff_t *koff, ptrdiff_t kh, ptrdiff_t kw, FT *y, ptrdiff_t ldy)
{
    ptrdiff_t j = 0;
    if (nr == 4) {
        for (; j + 3 * VL <= cols; j += 3 * VL)
            FN(tile)(4, 3, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
    } else {
        for (; j + 12 * VL <= cols; j += 12 * VL)
            FN(tile)(1, 12, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
        for (; j + 4 * VL <= cols; j += 4 * VL)
            FN(tile)(1, 4, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
    }
    for (; j + VL <= cols; j += VL)
        FN(tile)(nr, 1, channels, e + j, lde, che, k, koff, kh, kw, y + j, ldy);
    if (j < cols) {
        if (cols >= VL) {
            FN(tile)(nr, 1, channels, e + cols - VL, lde, che, k, koff, kh, kw, y + cols - VL, ldy);
        } else {
            for (int i = 0; i < nr; ++i)
                for (ptrdiff_t jj = j; jj < cols; ++jj)
                    y[i * ldy + jj] = FN(point)(channels, e + i * lde + jj, lde, che, k, koff, kh, kw);
        }
    }
}

void FN(fc_corr_block)(ptrdiff_t rows, ptrdiff_t cols, ptrdiff_t channels, const FT *e,
                       ptrdiff_t lde, ptrdiff_t che, const FT *k, const ptrdiff_t *koff,
                       ptrdiff_t kh, ptrdiff_t kw, FT *y, ptrdiff_t ldy)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= rows; i += 4)
        FN(rows)(4, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
    for (; i < rows; ++i)
        FN(rows)(1, cols, channels, e + i * lde, lde, che, k, koff, kh, kw, y + i * ldy, ldy);
}
