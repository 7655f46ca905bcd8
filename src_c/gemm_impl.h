/*
 * gemm_impl.h -- the GEMM driver, written once and included by gemm.c once
 * per data type with FT (the element type), FSUF (a name suffix),
 * FC_GEMM_NAME (the public entry point) and the kernel-table fields to use
 * (FC_GEMM_FIELD_BLOCKING, FC_GEMM_FIELD_UKERNEL, FC_GEMM_UKERNEL_T) defined.
 *
 * The Goto/BLIS structure, loop by loop:
 *   JC: n in panels of nc columns        -> the packed B panel (kc x nc) lives in L3
 *   PC: k in blocks of kc                -> fixed order, so sums never depend on threads
 *       pack B (threads share the work and the panel)
 *   IC: a thread's rows in blocks of mc  -> its packed A block (mc x kc) lives in L2
 *       pack A (each thread its own block, alpha folded in)
 *   JR: the thread's columns, nr at a time -> a B micro-panel (kc x nr) stays in L1
 *   IR: mr rows at a time                -> the micro-kernel, an mr x nr tile in registers
 *
 * Threads split the rows (IC) and the columns (JR) of C along micro-tile
 * boundaries; every element of C is produced by exactly one thread with the
 * same sequence of operations, hence bitwise identical results for any count.
 */

#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, FSUF)

/* kc x nr micro-panel of op(B), element (p, j) at b[p * rs + j * cs]; columns
 * past nr_eff are zero so edge tiles run the same kernel. */
static void FN(pack_b_panel)(ptrdiff_t kc, ptrdiff_t nr_eff, int nr, const FT *b,
                             ptrdiff_t rs, ptrdiff_t cs, FT *restrict dst)
{
    if (cs == 1 && nr_eff == nr) {
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const FT *src = b + p * rs;
            FT *d = dst + p * nr;
            for (int j = 0; j < nr; ++j) d[j] = src[j];
        }
        return;
    }
    if (rs == 1) {
        /* op(B) stored by columns (B transposed): read each column once */
        for (ptrdiff_t j = 0; j < nr_eff; ++j) {
            const FT *src = b + j * cs;
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * nr + j] = src[p];
        }
    } else {
        for (ptrdiff_t p = 0; p < kc; ++p)
            for (ptrdiff_t j = 0; j < nr_eff; ++j) dst[p * nr + j] = b[p * rs + j * cs];
    }
    for (ptrdiff_t p = 0; p < kc; ++p)
        for (ptrdiff_t j = nr_eff; j < nr; ++j) dst[p * nr + j] = 0;
}

/* mr x kc micro-panel of alpha * op(A), element (i, p) at a[i * rs + p * cs],
 * stored k-major (mr values per k); rows past mr_eff are zero. */
static void FN(pack_a_panel)(ptrdiff_t kc, ptrdiff_t mr_eff, int mr, const FT *a,
                             ptrdiff_t rs, ptrdiff_t cs, FT alpha, FT *restrict dst)
{
    if (cs == 1) {
        /* rows of op(A) contiguous: stream each row, scatter with stride mr
         * into a panel small enough to stay in L1 */
        for (ptrdiff_t i = 0; i < mr_eff; ++i) {
            const FT *src = a + i * rs;
            if (alpha == 1)
                for (ptrdiff_t p = 0; p < kc; ++p) dst[p * mr + i] = src[p];
            else
                for (ptrdiff_t p = 0; p < kc; ++p) dst[p * mr + i] = alpha * src[p];
        }
    } else if (rs == 1 && mr_eff == mr) {
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const FT *src = a + p * cs;
            FT *d = dst + p * mr;
            for (int i = 0; i < mr; ++i) d[i] = alpha * src[i];
        }
        return;
    } else {
        for (ptrdiff_t p = 0; p < kc; ++p)
            for (ptrdiff_t i = 0; i < mr_eff; ++i) dst[p * mr + i] = alpha * a[i * rs + p * cs];
    }
    for (ptrdiff_t p = 0; p < kc; ++p)
        for (ptrdiff_t i = mr_eff; i < mr; ++i) dst[p * mr + i] = 0;
}

/* C = beta * C row by row (beta == 0 writes zeros without reading C, so
 * NaN in an uninitialised output does not survive). */
static void FN(scale_c)(ptrdiff_t m, ptrdiff_t n, FT beta, FT *c, ptrdiff_t rs_c, int nt)
{
    if (beta == 1) return;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t i = 0; i < m; ++i) {
        FT *ci = c + i * rs_c;
        if (beta == 0)
            for (ptrdiff_t j = 0; j < n; ++j) ci[j] = 0;
        else
            for (ptrdiff_t j = 0; j < n; ++j) ci[j] *= beta;
    }
}

/* Split `panels` micro-panels among `ways` threads as evenly as possible;
 * returns the first panel of part `t` (part t spans [first(t), first(t+1))). */
static ptrdiff_t FN(split_first)(ptrdiff_t panels, int ways, int t)
{
    ptrdiff_t base = panels / ways, extra = panels % ways;
    return t * base + (t < extra ? t : extra);
}

int FC_GEMM_NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, FT alpha,
                 const FT *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                 const FT *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                 FT beta, FT *c, ptrdiff_t rs_c, int nthreads)
{
    if (m < 0 || n < 0 || k < 0) return FC_EINVAL;
    if (m == 0 || n == 0) return FC_OK;

    const fc_kernel_table *kt = fc_kernels();
    const fc_gemm_blocking bl = kt->FC_GEMM_FIELD_BLOCKING;
    const FC_GEMM_UKERNEL_T ukernel = kt->FC_GEMM_FIELD_UKERNEL;
    const int MR = bl.mr, NR = bl.nr;

    /* Threads: never more than the work can feed (about one 64^3 block of
     * FMAs per thread is where the fork/join cost is paid back). */
    int nt = fc_resolve_threads(nthreads);
    double work = (double)m * (double)n * (double)k;
    if (work < (double)nt * 64.0 * 64.0 * 64.0) {
        int cap = (int)(work / (64.0 * 64.0 * 64.0));
        nt = FC_MAX(1, FC_MIN(nt, cap));
    }

    if (k == 0 || alpha == 0) {
        FN(scale_c)(m, n, beta, c, rs_c, nt);
        return FC_OK;
    }
    /* Fold beta into C once; afterwards the kernels only store or add. */
    int c_holds_data = beta != 0;
    if (beta != 1) FN(scale_c)(m, n, beta, c, rs_c, nt);

    const ptrdiff_t pm_total = (m + MR - 1) / MR;

    /* Choose the grid: ways_m x ways_n == nt minimising the tiles of the
     * busiest thread, preferring to split rows (no duplicated A packing). */
    ptrdiff_t ncb_max = FC_MIN((ptrdiff_t)bl.nc, ((n + NR - 1) / NR) * NR);
    int ways_m = 1, ways_n = nt;
    {
        double best = -1;
        for (int wm = nt; wm >= 1; --wm) {
            if (nt % wm) continue;
            int wn = nt / wm;
            ptrdiff_t pn = (ncb_max + NR - 1) / NR;
            double tiles = (double)((pm_total + wm - 1) / wm) * (double)((pn + wn - 1) / wn);
            if (best < 0 || tiles < best) {
                best = tiles;
                ways_m = wm;
                ways_n = wn;
            }
        }
    }

    /* Workspace: one shared B panel, per thread an A block and an edge tile. */
    const ptrdiff_t kc_max = FC_MIN((ptrdiff_t)bl.kc, k);
    const ptrdiff_t rows_max = (FN(split_first)(pm_total, ways_m, 1) - FN(split_first)(pm_total, ways_m, 0)) * MR;
    const ptrdiff_t mc_max = FC_MIN((ptrdiff_t)bl.mc, rows_max > 0 ? rows_max : MR);
    size_t b_elems, a_elems, tmp;
    if (fc_size_mul3((size_t)kc_max, (size_t)ncb_max, 1, &b_elems) ||
        fc_size_mul3((size_t)kc_max, (size_t)mc_max, 1, &a_elems))
        return FC_EOVERFLOW;
    const size_t align_elems = FC_ALIGN / sizeof(FT);
    b_elems = (b_elems + align_elems - 1) / align_elems * align_elems;
    a_elems = (a_elems + align_elems - 1) / align_elems * align_elems;
    size_t tile_elems = ((size_t)MR * NR + align_elems - 1) / align_elems * align_elems;
    size_t per_thread = a_elems + tile_elems;
    if (fc_size_mul3(per_thread, (size_t)nt, 1, &tmp) || tmp > SIZE_MAX - b_elems) return FC_EOVERFLOW;
    if (fc_size_mul3(tmp + b_elems, sizeof(FT), 1, &tmp)) return FC_EOVERFLOW;
    FT *work_mem = (FT *)fc_aligned_alloc(tmp);
    if (!work_mem) return FC_ENOMEM;
    FT *const bpack = work_mem;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        const int ti = tid / ways_n, tj = tid % ways_n;
        FT *const apack = work_mem + b_elems + (size_t)tid * per_thread;
        FT *const tile = apack + a_elems;
        const ptrdiff_t m0 = FN(split_first)(pm_total, ways_m, ti) * MR;
        const ptrdiff_t m1 = FC_MIN(m, FN(split_first)(pm_total, ways_m, ti + 1) * MR);

        for (ptrdiff_t jc = 0; jc < n; jc += bl.nc) {                    /* JC */
            const ptrdiff_t nc = FC_MIN((ptrdiff_t)bl.nc, n - jc);
            const ptrdiff_t pn = (nc + NR - 1) / NR;
            const ptrdiff_t jp0 = FN(split_first)(pn, ways_n, tj);
            const ptrdiff_t jp1 = FN(split_first)(pn, ways_n, tj + 1);

            for (ptrdiff_t pc = 0; pc < k; pc += bl.kc) {                /* PC */
                const ptrdiff_t kc = FC_MIN((ptrdiff_t)bl.kc, k - pc);
                const int acc = pc > 0 || c_holds_data;

#pragma omp for schedule(static)
                for (ptrdiff_t jp = 0; jp < pn; ++jp) {                  /* pack B */
                    ptrdiff_t j = jp * NR;
                    FN(pack_b_panel)(kc, FC_MIN((ptrdiff_t)NR, nc - j), NR,
                                     b + pc * rs_b + (jc + j) * cs_b, rs_b, cs_b,
                                     bpack + (size_t)jp * NR * kc);
                }
                /* (implicit barrier: the B panel is complete) */

                for (ptrdiff_t ic = m0; ic < m1; ic += bl.mc) {          /* IC */
                    const ptrdiff_t mc = FC_MIN((ptrdiff_t)bl.mc, m1 - ic);
                    for (ptrdiff_t i = 0; i < mc; i += MR)               /* pack A */
                        FN(pack_a_panel)(kc, FC_MIN((ptrdiff_t)MR, mc - i), MR,
                                         a + (ic + i) * rs_a + pc * cs_a, rs_a, cs_a,
                                         alpha, apack + (size_t)i * kc);

                    for (ptrdiff_t jp = jp0; jp < jp1; ++jp) {          /* JR */
                        const ptrdiff_t j = jp * NR;
                        const ptrdiff_t nr_eff = FC_MIN((ptrdiff_t)NR, nc - j);
                        const FT *bp = bpack + (size_t)jp * NR * kc;
                        for (ptrdiff_t i = 0; i < mc; i += MR) {         /* IR */
                            const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, mc - i);
                            FT *ct = c + (ic + i) * rs_c + jc + j;
                            const FT *ap = apack + (size_t)i * kc;
                            if (mr_eff == MR && nr_eff == NR) {
                                ukernel(kc, ap, bp, ct, rs_c, acc);
                            } else {
                                /* edge tile: same kernel into a scratch tile,
                                 * then only the valid part touches C */
                                ukernel(kc, ap, bp, tile, NR, 0);
                                for (ptrdiff_t ii = 0; ii < mr_eff; ++ii) {
                                    FT *cr = ct + ii * rs_c;
                                    const FT *tr = tile + ii * NR;
                                    if (acc)
                                        for (ptrdiff_t jj = 0; jj < nr_eff; ++jj) cr[jj] += tr[jj];
                                    else
                                        for (ptrdiff_t jj = 0; jj < nr_eff; ++jj) cr[jj] = tr[jj];
                                }
                            }
                        }
                    }
                }
#pragma omp barrier
                /* (every thread is done with the B panel before it is repacked) */
            }
        }
    }
    fc_aligned_free(work_mem);
    return FC_OK;
}

#undef FN
#undef FC_CAT
#undef FC_CAT_
