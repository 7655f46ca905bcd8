/*
 * signal_impl.h -- driver of the signal-filtering engine, included once per
 * type by signal.c with FT (element type), FN(name) (name suffix) and
 * FC_BLOCK_FN_T (the block-kernel pointer type) defined; it undefines them
 * at the end.
 */

/* dst[t] = the extended input row at columns v0 + t, t < n; src < 0: a fill row */
static void FN(extend_row)(const FT *plane, ptrdiff_t src, const fc_corr2d_geom *g,
                           ptrdiff_t v0, ptrdiff_t n, FT fill, FT *dst)
{
    if (src < 0) {
        for (ptrdiff_t t = 0; t < n; ++t) dst[t] = fill;
        return;
    }
    const FT *row = plane + src * g->in_rs;
    const ptrdiff_t W = g->in_w, cs = g->in_cs;
    /* [t0, t1): the columns inside the plane, copied straight */
    const ptrdiff_t t0 = FC_MIN(FC_MAX(-v0, (ptrdiff_t)0), n);
    const ptrdiff_t t1 = FC_MAX(FC_MIN(W - v0, n), t0);
    for (ptrdiff_t t = 0; t < t0; ++t) {
        const ptrdiff_t m = fc_signal_map_index(v0 + t, W, g->boundary);
        dst[t] = m < 0 ? fill : row[m * cs];
    }
    if (t1 > t0) {
        if (cs == 1) {
            memcpy(dst + t0, row + v0 + t0, (size_t)(t1 - t0) * sizeof(FT));
        } else {
            for (ptrdiff_t t = t0; t < t1; ++t) dst[t] = row[(v0 + t) * cs];
        }
    }
    for (ptrdiff_t t = t1; t < n; ++t) {
        const ptrdiff_t m = fc_signal_map_index(v0 + t, W, g->boundary);
        dst[t] = m < 0 ? fill : row[m * cs];
    }
}

/* Output rows oh0 + [0, nr), columns ow0 + [0, ncols) of one item from its
 * extended input, gathered (boundary rule applied) into the per-thread block E
 * (channel planes che apart); yt points at the item's output (oh0, ow0). */
static void FN(tile_extended)(const fc_corr2d_geom *g, const FT *x, const ptrdiff_t *x_off,
                              const FT *k, const ptrdiff_t *ki, const FT *fill, FT *yt,
                              FC_BLOCK_FN_T block, FT *E, size_t che, ptrdiff_t item,
                              ptrdiff_t oh0, ptrdiff_t nr, ptrdiff_t ow0, ptrdiff_t ncols)
{
    const ptrdiff_t C = g->channels, M = g->outputs, KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t OW = g->out_w, lde = ncols + KW - 1;
    const int scatter = g->interleave && M > 1;
    /* rows oh0 - pad_top + [0, nr + KH - 1), columns ow0 - pad_left + [0, lde) */
    for (ptrdiff_t c = 0; c < C; ++c) {
        const FT *plane = x ? x + x_off[item * C + c] : x;
        const FT fv = g->boundary == FC_BOUNDARY_FILL ? fill[c] : (FT)0;
        FT *ec = E + (size_t)c * che;
        for (ptrdiff_t rr = 0; rr < nr + KH - 1; ++rr) {
            const ptrdiff_t src = fc_signal_map_index(oh0 - g->pad_top + rr, g->in_h, g->boundary);
            FN(extend_row)(plane, src, g, ow0 - g->pad_left, lde, fv, ec + rr * lde);
        }
    }
    for (ptrdiff_t m = 0; m < M; ++m) {
        const ptrdiff_t *km = ki + m * C;
        if (!scatter) {
            block(nr, ncols, C, E, lde, (ptrdiff_t)che, k, km, KH, KW, yt + m * g->out_h * OW, OW);
            continue;
        }
        /* interleaved outputs: computed densely, then scattered */
        FT *T = E + (size_t)C * che;
        block(nr, ncols, C, E, lde, (ptrdiff_t)che, k, km, KH, KW, T, ncols);
        for (ptrdiff_t i = 0; i < nr; ++i) {
            FT *yr = yt + i * OW * M + m;
            const FT *tr = T + i * ncols;
            for (ptrdiff_t j = 0; j < ncols; ++j) yr[j * M] = tr[j];
        }
    }
}

/* y[j] = sum_{t < K} k[t] e[j + t] for j < n (K a multiple of fold), by the
 * block kernel on the folded view described at FN(corr2d). */
static void FN(folded)(const FT *e, ptrdiff_t n, const FT *k, ptrdiff_t K, FT *y,
                       FC_BLOCK_FN_T block, ptrdiff_t fold)
{
    const ptrdiff_t zero = 0, R = K / fold, full = n / fold, rem = n % fold;
    if (full > 0) block(full, fold, 1, e, fold, 0, k, &zero, R, fold, y, fold);
    if (rem > 0) block(1, rem, 1, e + full * fold, fold, 0, k, &zero, R, fold, y + full * fold, fold);
}

/* fold > 0: single-row correlations (1-D signals) with kernel_w a multiple of
 * fold run "folded": output j = i * fold + p of a chunk is
 *   sum_r sum_t e[(i + r) * fold + p + t] * k[r * fold + t],
 * a 2-D correlation of the extended row seen as rows of fold samples (row
 * stride fold, overlapping) with the kernel seen as kernel_w / fold rows of
 * fold taps (the same memory), so the block kernel shares each input load
 * across rows as in 2-D.  Each output stays a dot product of its own terms,
 * rounding error bounded by them as NumPy's: block-wise fast algorithms
 * (Karatsuba steps, tried) err norm-wise over the whole block and lost 1e-3
 * of quiet outputs in float32 on signals spanning many magnitudes. */
static int FN(corr2d)(const fc_corr2d_geom *g, const FT *x, const ptrdiff_t *x_off,
                      const FT *k, const ptrdiff_t *k_off, const FT *fill, FT *y,
                      FC_BLOCK_FN_T block, ptrdiff_t fold)
{
    int st = fc_corr2d_geom_check(g);
    if (st != FC_OK) return st;
    if (!x_off || !k || !k_off || !y || (g->boundary == FC_BOUNDARY_FILL && !fill)) return FC_EINVAL;
    if (!x && g->in_h > 0 && g->in_w > 0) return FC_EINVAL;

    const ptrdiff_t C = g->channels, KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t OH = g->out_h, OW = g->out_w;
    fc_signal_tiling tl;
    st = fc_signal_tiling_choose(g, sizeof(FT), &tl);
    if (st != FC_OK) return st;
    const int nt = tl.nthreads;
    const ptrdiff_t BR = tl.band_rows, CW = tl.chunk_cols;
    const ptrdiff_t nrb = (OH + BR - 1) / BR, ncc = (OW + CW - 1) / CW;
    const ptrdiff_t tiles = g->items * nrb * ncc;
    /* per thread: the extended block of every channel, BR + KH - 1 rows of CW + KW - 1
     * (and a dense tile output when outputs are interleaved) */
    const ptrdiff_t lde = CW + KW - 1, ehe = BR + KH - 1;
    const ptrdiff_t M = g->outputs;
    const int folded = fold > 0 && C == 1 && M == 1 && KH == 1 && OH == 1 &&
                       KW >= 4 * fold && KW % fold == 0;
    const int scatter = g->interleave && M > 1;
    const size_t al = FC_ALIGN / sizeof(FT);
    size_t che, per, tmp = 0, total;
    if (fc_size_mul3((size_t)lde, (size_t)ehe, 1, &che)) return FC_EOVERFLOW;
    /* a folded chunk reads (whole rows + 1 + kernel rows) * fold samples */
    const size_t fold_len = folded ? (size_t)(CW / fold + 1 + KW / fold) * (size_t)fold : 0;
    che = FC_MAX(che, fold_len);
    che = (che + al - 1) / al * al;
    /* interleaved outputs: each tile output is computed densely, then scattered */
    if (scatter && fc_size_mul3((size_t)BR, (size_t)CW, 1, &tmp)) return FC_EOVERFLOW;
    tmp = (tmp + al - 1) / al * al;
    if (fc_size_mul3(che, (size_t)C, 1, &per) || per > SIZE_MAX - tmp ||
        fc_size_mul3(per + tmp, (size_t)nt, sizeof(FT), &total))
        return FC_EOVERFLOW;
    per += tmp;
    FT *ws = (FT *)fc_aligned_alloc(total);
    if (!ws) return FC_ENOMEM;

#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (ptrdiff_t t = 0; t < tiles; ++t) {
#ifdef _OPENMP
        const int tid = nt > 1 ? omp_get_thread_num() : 0;
#else
        const int tid = 0;
#endif
        FT *const E = ws + (size_t)tid * per;
        const ptrdiff_t item = t / (nrb * ncc), rest = t % (nrb * ncc);
        const ptrdiff_t oh0 = (rest / ncc) * BR, ow0 = (rest % ncc) * CW;
        const ptrdiff_t nr = FC_MIN(BR, OH - oh0), ncols = FC_MIN(CW, OW - ow0);
        if (folded) {
            const ptrdiff_t R = KW / fold, full = ncols / fold;
            const FT *plane = x ? x + x_off[item] : x;
            const ptrdiff_t src = fc_signal_map_index(-g->pad_top, g->in_h, g->boundary);
            const ptrdiff_t v0 = ow0 - g->pad_left;
            const FT *e = E;
            if (plane && src >= 0 && g->in_cs == 1 && v0 >= 0 && v0 + ncols + KW - 1 <= g->in_w) {
                /* the window lies inside the signal: read it in place (the
                 * kernels read samples [0, ncols + KW - 1) of it only) */
                e = plane + src * g->in_rs + v0;
            } else {
                FN(extend_row)(plane, src, g, v0, (full + 1 + R) * fold,
                               g->boundary == FC_BOUNDARY_FILL ? fill[0] : (FT)0, E);
            }
            FN(folded)(e, ncols, k + k_off[item], KW, y + item * OW + ow0, block, fold);
            continue;
        }
        const ptrdiff_t *ki = k_off + item * M * C;
        FT *yt = y + (scatter ? ((item * OH + oh0) * OW + ow0) * M : (item * M * OH + oh0) * OW + ow0);
        /* A single-plane tile of a kernel of at most 3 rows whose input rows
         * all lie inside the plane reads its interior columns (every tap
         * inside) in place, saving the gather; only the columns near the left
         * and right edges are gathered.  Same operations per output either
         * way, so the same bits.  (Taller kernels use 8-row register tiles:
         * their 8 + KH - 1 input rows, a power-of-two stride apart in common
         * images, would fight over the 8 ways of an L1 set; the gathered block
         * has an odd stride.) */
        ptrdiff_t ja = ow0, jb = ow0;
        const ptrdiff_t r0 = oh0 - g->pad_top;
        if (C == 1 && M == 1 && KH <= 3 && g->in_cs == 1 && x && r0 >= 0 &&
            r0 + nr + KH - 1 <= g->in_h) {
            ja = FC_MAX(ow0, g->pad_left);
            jb = FC_MIN(ow0 + ncols, g->in_w - KW + 1 + g->pad_left);
        }
        if (jb - ja >= 32) {
            block(nr, jb - ja, 1, x + x_off[item] + r0 * g->in_rs + (ja - g->pad_left), g->in_rs, 0,
                  k, ki, KH, KW, yt + (ja - ow0), OW);
            if (ja > ow0)
                FN(tile_extended)(g, x, x_off, k, ki, fill, yt, block, E, che, item, oh0, nr, ow0, ja - ow0);
            if (jb < ow0 + ncols)
                FN(tile_extended)(g, x, x_off, k, ki, fill, yt + (jb - ow0), block, E, che, item, oh0,
                                  nr, jb, ow0 + ncols - jb);
        } else {
            FN(tile_extended)(g, x, x_off, k, ki, fill, yt, block, E, che, item, oh0, nr, ow0, ncols);
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

/* the parameters of this inclusion */
#undef FT
#undef FN
#undef FC_BLOCK_FN_T
