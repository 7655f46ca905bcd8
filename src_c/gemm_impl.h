/*
 * gemm_impl.h -- the GEMM driver, written once and included by gemm.c once
 * per data type with FT (the element type), FSUF (a name suffix),
 * FC_GEMM_NAME (the public entry point) and the kernel-table fields to use
 * (FC_GEMM_FIELD_BLOCKING, FC_GEMM_FIELD_UKERNEL, FC_GEMM_UKERNEL_T,
 * FC_GEMM_FIELD_PACK_A, FC_GEMM_PACK_A_T, FC_GEMM_FIELD_HALF) defined.
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

/* Copy one nr-wide row of a B micro-panel.  nr is a run-time value, so a
 * plain loop becomes a memmove call per 64 bytes; constant sizes inline. */
static inline void FN(copy_nr)(FT *restrict d, const FT *restrict s, int nr)
{
    switch (nr) {
    case 8: memcpy(d, s, 8 * sizeof(FT)); break;
    case 16: memcpy(d, s, 16 * sizeof(FT)); break;
    case 32: memcpy(d, s, 32 * sizeof(FT)); break;
    default:
        for (int j = 0; j < nr; ++j) d[j] = s[j];
    }
}

/* kc x nr micro-panel of op(B), element (p, j) at b[p * rs + j * cs]; columns
 * past nr_eff are zero so edge tiles run the same kernel. */
static void FN(pack_b_panel)(ptrdiff_t kc, ptrdiff_t nr_eff, int nr, const FT *b,
                             ptrdiff_t rs, ptrdiff_t cs, FT *restrict dst)
{
    if (cs == 1 && nr_eff == nr) {
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const FT *src = b + p * rs;
            if (p + 8 < kc) FC_PREFETCH(src + 8 * rs); /* rows are far apart */
            FN(copy_nr)(dst + p * nr, src, nr);
        }
        return;
    }
    if (rs == 1) {
        /* op(B) stored by columns (B transposed): read each column once */
#ifdef FC_GEMM_PACK_BT
        if (nr_eff == nr && nr % 8 == 0 && fc_isa_active() >= FC_ISA_AVX2) {
            FC_GEMM_PACK_BT(kc, nr, b, cs, dst);
            return;
        }
#endif
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

/* Micro-panels jp0..jp1-1 of a kc x nc block of op(B) into dst (panel jp at
 * dst + jp * nr * kc).  With unit column stride, each row of B is read once,
 * contiguously, and scattered to the panels: packing panel by panel instead
 * would read one 64-byte piece per row, a whole row of B apart, which the
 * hardware prefetchers do not follow. */
static void FN(pack_b_block)(ptrdiff_t kc, ptrdiff_t nc, int nr, int nr_edge, ptrdiff_t jp0, ptrdiff_t jp1,
                             const FT *b, ptrdiff_t rs, ptrdiff_t cs, FT *restrict dst)
{
    /* nr_edge: the width the edge panel (nc % nr columns) is padded to,
     * nr or nr / 2 when the half-width kernel computes it */
    if (cs != 1) {
        for (ptrdiff_t jp = jp0; jp < jp1; ++jp) {
            ptrdiff_t w = FC_MIN((ptrdiff_t)nr, nc - jp * nr);
            FN(pack_b_panel)(kc, w, w < nr ? nr_edge : nr, b + jp * nr * cs, rs, cs,
                             dst + (size_t)jp * nr * kc);
        }
        return;
    }
    const ptrdiff_t full_end = FC_MIN(jp1, nc / nr); /* panels without an edge */
    for (ptrdiff_t p = 0; p < kc; ++p) {
        const FT *src = b + p * rs;
        ptrdiff_t jp = jp0;
        for (; jp < full_end; ++jp) {
            FN(copy_nr)(dst + (size_t)jp * nr * kc + (size_t)p * nr, src + jp * nr, nr);
        }
        for (; jp < jp1; ++jp) {
            const ptrdiff_t nr_eff = nc - jp * nr;
            const FT *s = src + jp * nr;
            FT *d = dst + (size_t)jp * nr * kc + (size_t)p * nr_edge;
            for (ptrdiff_t j = 0; j < nr_eff; ++j) d[j] = s[j];
            for (ptrdiff_t j = nr_eff; j < nr_edge; ++j) d[j] = 0;
        }
    }
}

/* mr x kc micro-panel of alpha * op(A), element (i, p) at a[i * rs + p * cs],
 * stored k-major (mr values per k); rows past mr_eff are zero. */
static void FN(pack_a_panel)(ptrdiff_t kc, ptrdiff_t mr_eff, int mr, const FT *a,
                             ptrdiff_t rs, ptrdiff_t cs, FT alpha, FT *restrict dst)
{
    if (cs == 1) {
        /* rows of op(A) contiguous: walk all mr rows together (mr streams
         * keep many cache misses in flight) and write the panel in order */
        const FT *src[32];
        for (ptrdiff_t i = 0; i < mr_eff; ++i) src[i] = a + i * rs;
        for (ptrdiff_t p = 0; p < kc; ++p) {
            FT *d = dst + p * mr;
            if ((p & 15) == 0)
                for (ptrdiff_t i = 0; i < mr_eff; ++i) FC_PREFETCH(src[i] + p + 64);
            if (alpha == 1)
                for (ptrdiff_t i = 0; i < mr_eff; ++i) d[i] = src[i][p];
            else
                for (ptrdiff_t i = 0; i < mr_eff; ++i) d[i] = alpha * src[i][p];
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

/* Grid of threads ways_m x ways_n == team minimising the tiles of the
 * busiest thread; rows are split first (no duplicated A packing).  Fused
 * mode splits the columns only. */
static void FN(choose_grid)(int team, int fused, ptrdiff_t pm, ptrdiff_t pn, int *ways_m, int *ways_n)
{
    *ways_m = 1;
    *ways_n = team;
    if (fused) return;
    double best = -1;
    for (int wm = team; wm >= 1; --wm) {
        if (team % wm) continue;
        int wn = team / wm;
        double tiles = (double)((pm + wm - 1) / wm) * (double)((pn + wn - 1) / wn);
        if (best < 0 || tiles < best) {
            best = tiles;
            *ways_m = wm;
            *ways_n = wn;
        }
    }
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
    const FC_GEMM_PACK_A_T pack_a_fast = kt->FC_GEMM_FIELD_PACK_A;
    const FC_GEMM_UKERNEL_T ukernel_half = kt->FC_GEMM_FIELD_HALF;
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

    /* Two schedules.  When every row of C fits one mc block (small m), a B
     * micro-panel is used by a single IR sweep only: each thread packs it
     * right before use into a private L1 buffer ("fused"), which saves the
     * round trip of a whole packed B panel through L3.  Otherwise threads
     * share one packed B panel, as in BLIS.  Both give identical arithmetic,
     * so the choice never changes a result. */
    int fused = m <= bl.mc;
    /* A little more than one mc block of rows on several threads (a
     * 256-row layer on two): split the rows so each thread's share is one
     * block and run fused on it -- B packed privately (a small duplicated
     * cost) instead of a shared panel with two barriers per kc block. */
    int fused_rows = 0;
    if (!fused && nt > 1 && (pm_total + nt - 1) / nt * MR <= bl.mc) fused = fused_rows = 1;
    /* micro-panels packed together in fused mode: about 192 KiB, in L2 */
    const ptrdiff_t fused_nb =
        FC_MAX(1, (ptrdiff_t)(192 * 1024 / ((size_t)NR * FC_MIN((ptrdiff_t)bl.kc, k) * sizeof(FT))));

    ptrdiff_t ncb_max = FC_MIN((ptrdiff_t)bl.nc, ((n + NR - 1) / NR) * NR);

    /* Workspace: the shared B panel (not in fused mode); per thread an A
     * block, a B micro-panel buffer and an edge tile. */
    const ptrdiff_t kc_max = FC_MIN((ptrdiff_t)bl.kc, k);
    const ptrdiff_t mc_max = FC_MIN((ptrdiff_t)bl.mc, pm_total * MR);
    const size_t align_elems = FC_ALIGN / sizeof(FT);
#define FC_ROUND_UP(x) (((x) + align_elems - 1) / align_elems * align_elems)
    size_t b_elems = 0, a_elems, bbuf_elems, tmp;
    if ((!fused && fc_size_mul3((size_t)kc_max, (size_t)ncb_max, 1, &b_elems)) ||
        fc_size_mul3((size_t)kc_max, (size_t)mc_max, 1, &a_elems) ||
        fc_size_mul3((size_t)kc_max, (size_t)NR, (size_t)fused_nb, &bbuf_elems) ||
        a_elems > SIZE_MAX / 2 || b_elems > SIZE_MAX / 2 || bbuf_elems > SIZE_MAX / 2)
        return FC_EOVERFLOW;
    b_elems = FC_ROUND_UP(b_elems);
    a_elems = FC_ROUND_UP(a_elems);
    bbuf_elems = fused ? FC_ROUND_UP(bbuf_elems) : 0;
    const size_t tile_elems = FC_ROUND_UP((size_t)MR * NR);
#undef FC_ROUND_UP
    const size_t per_thread = a_elems + bbuf_elems + tile_elems;
    if (per_thread < a_elems || fc_size_mul3(per_thread, (size_t)nt, 1, &tmp) || tmp > SIZE_MAX - b_elems)
        return FC_EOVERFLOW;
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
#ifdef _OPENMP
        const int team = omp_get_num_threads(); /* may be below nt under OMP_THREAD_LIMIT */
#else
        const int team = 1;
#endif
        int ways_m, ways_n;
        FN(choose_grid)(team, fused && !fused_rows, pm_total, (ncb_max + NR - 1) / NR, &ways_m, &ways_n);
        const int ti = tid / ways_n, tj = tid % ways_n;
        FT *const apack = work_mem + b_elems + (size_t)tid * per_thread;
        FT *const bbuf = apack + a_elems;
        FT *const tile = bbuf + bbuf_elems;
        const ptrdiff_t m0 = FN(split_first)(pm_total, ways_m, ti) * MR;
        const ptrdiff_t m1 = FC_MIN(m, FN(split_first)(pm_total, ways_m, ti + 1) * MR);
        /* equal IC blocks: 1024 rows as 8 x 128, not 7 x 144 + 16 */
        const ptrdiff_t nblk = (m1 - m0 + bl.mc - 1) / bl.mc;
        const ptrdiff_t mc_bal = nblk > 0 ? ((m1 - m0 + nblk - 1) / nblk + MR - 1) / MR * MR : MR;
        /* fused mode splits all of n among threads; shared mode each nc panel */
        const ptrdiff_t jc_step = fused ? n : bl.nc;

        for (ptrdiff_t jc = 0; jc < n; jc += jc_step) {                  /* JC */
            const ptrdiff_t nc = FC_MIN(jc_step, n - jc);
            const ptrdiff_t pn = (nc + NR - 1) / NR;
            const ptrdiff_t jp0 = FN(split_first)(pn, ways_n, tj);
            const ptrdiff_t jp1 = FN(split_first)(pn, ways_n, tj + 1);
            /* a narrow last panel (49 = 3 x 16 + 1 columns) runs the
             * half-width kernel: less padding computed for nothing */
            const int half_last = ukernel_half && nc - (pn - 1) * NR <= NR / 2;
            const int nr_edge = half_last ? NR / 2 : NR;

            for (ptrdiff_t pc = 0; pc < k; pc += bl.kc) {                /* PC */
                const ptrdiff_t kc = FC_MIN((ptrdiff_t)bl.kc, k - pc);
                const int acc = pc > 0 || c_holds_data;

                if (!fused) {
                    /* pack B: every thread a contiguous share of the panels */
                    FN(pack_b_block)(kc, nc, NR, nr_edge, FN(split_first)(pn, team, tid),
                                     FN(split_first)(pn, team, tid + 1),
                                     b + pc * rs_b + jc * cs_b, rs_b, cs_b, bpack);
#pragma omp barrier
                    /* (the B panel is complete) */
                }

                for (ptrdiff_t ic = m0; ic < m1; ic += mc_bal) {         /* IC */
                    const ptrdiff_t mc = FC_MIN(mc_bal, m1 - ic);
                    for (ptrdiff_t i = 0; i < mc; i += MR) {             /* pack A */
                        const FT *ai = a + (ic + i) * rs_a + pc * cs_a;
                        if (pack_a_fast && cs_a == 1 && mc - i >= MR)
                            pack_a_fast(kc, ai, rs_a, alpha, apack + (size_t)i * kc);
                        else
                            FN(pack_a_panel)(kc, FC_MIN((ptrdiff_t)MR, mc - i), MR, ai, rs_a, cs_a,
                                             alpha, apack + (size_t)i * kc);
                    }

                    for (ptrdiff_t jp = jp0; jp < jp1; ++jp) {          /* JR */
                        const ptrdiff_t j = jp * NR;
                        const ptrdiff_t nr_eff = FC_MIN((ptrdiff_t)NR, nc - j);
                        const FT *bp;
                        if (fused) {
                            /* pack the next fused_nb micro-panels together: rows
                             * of B are read in runs of fused_nb * nr values
                             * instead of one cache line per row and page */
                            const ptrdiff_t q = (jp - jp0) % fused_nb;
                            if (q == 0)
                                FN(pack_b_block)(kc, FC_MIN(nc - j, fused_nb * NR), NR, nr_edge, 0,
                                                 FC_MIN(fused_nb, jp1 - jp),
                                                 b + pc * rs_b + (jc + j) * cs_b, rs_b, cs_b, bbuf);
                            bp = bbuf + (size_t)q * NR * kc;
                            /* while this chunk computes, pull a share of the
                             * next chunk's rows of B towards L2 */
                            const ptrdiff_t jn = j + (fused_nb - q) * NR;
                            if (cs_b == 1 && jn < nc) {
                                const ptrdiff_t w = FC_MIN(nc - jn, fused_nb * NR);
                                const ptrdiff_t p0 = q * kc / fused_nb, p1 = (q + 1) * kc / fused_nb;
                                for (ptrdiff_t p = p0; p < p1; ++p) {
                                    const FT *row = b + (pc + p) * rs_b + jc + jn;
                                    for (ptrdiff_t x = 0; x < w; x += FC_ALIGN / sizeof(FT))
                                        FC_PREFETCH_L2(row + x);
                                }
                            }
                        } else {
                            bp = bpack + (size_t)jp * NR * kc;
                        }
                        const int half = half_last && jp == pn - 1;
                        const FC_GEMM_UKERNEL_T kern = half ? ukernel_half : ukernel;
                        const ptrdiff_t nr_k = half ? NR / 2 : NR;
                        for (ptrdiff_t i = 0; i < mc; i += MR) {         /* IR */
                            const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, mc - i);
                            FT *ct = c + (ic + i) * rs_c + jc + j;
                            const FT *ap = apack + (size_t)i * kc;
                            if (mr_eff == MR && nr_eff == nr_k) {
                                kern(kc, ap, bp, ct, rs_c, acc);
                            } else {
                                /* edge tile: same kernel into a scratch tile,
                                 * then only the valid part touches C */
                                kern(kc, ap, bp, tile, nr_k, 0);
                                for (ptrdiff_t ii = 0; ii < mr_eff; ++ii) {
                                    FT *cr = ct + ii * rs_c;
                                    const FT *tr = tile + ii * nr_k;
                                    if (acc)
                                        for (ptrdiff_t jj = 0; jj < nr_eff; ++jj) cr[jj] += tr[jj];
                                    else
                                        for (ptrdiff_t jj = 0; jj < nr_eff; ++jj) cr[jj] = tr[jj];
                                }
                            }
                        }
                    }
                }
                if (!fused) {
#pragma omp barrier
                    /* (every thread is done with the B panel before it is repacked) */
                }
            }
        }
    }
    fc_aligned_free(work_mem);
    return FC_OK;
}

#undef FN
#undef FC_CAT
#undef FC_CAT_
