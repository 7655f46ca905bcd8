/*
 * local_impl.h -- tiled / locally connected convolution and the fully
 * connected layer for one element type, included by local.c once per type
 * with FT (the type), FSUF (_f32 / _f64), FC_LOCAL_BL (blocking field: s or
 * d), FC_LOCAL_UK / FC_LOCAL_UKH (micro-kernel and its half-width
 * companion), FC_LOCAL_PACKA (optional fast A packer) and FC_LOCAL_GEMM (the
 * project's parallel GEMM) defined.
 *
 * Determinism: every output element is produced by exactly one work item
 * and summed in an order fixed by the shapes alone (kc blocks, then the
 * micro-kernel's order), so results are bitwise identical for any thread
 * count.
 */
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, FSUF)

#ifndef FC_LOCAL_CONSTANTS
#define FC_LOCAL_CONSTANTS
#define FC_LOCAL_KC 256             /* depth of a packed block: a kc x nr B micro-panel fills half of L1 */
#define FC_LOCAL_B_BYTES 131072     /* a packed B block (kc x columns) stays in L2                      */
#define FC_LOCAL_C_BYTES 65536      /* a thread's block of accumulated outputs                          */
#define FC_LOCAL_XT_ELEMS (1 << 20)   /* forward: the transposed copy of a block of images (L3)        */
#define FC_LOCAL_SKINNY 4           /* linear with at most this many rows: dot / axpy loops, no packing  */
#define FC_LOCAL_GEMV_BLOCK 2048    /* axpy form: most output columns per task                        */
#define FC_LOCAL_ROW8_BYTES (24u << 20) /* batch-1 dot form: the 8-row kernel for weights up to this size */
#endif

typedef void (*FN(local_uk_t))(ptrdiff_t, const FT *, const FT *, FT *, ptrdiff_t, int);

static size_t FN(local_aligned_elems)(size_t n)
{
    const size_t al = FC_ALIGN / sizeof(FT);
    return (n + al - 1) / al * al;
}

/* ---- packing and tiles ------------------------------------------------------ */

/* mr x kc panel of A (mr values per k), element (i, p) at a[i * rs + p * cs];
 * rows past mr_eff are zero. */
static void FN(local_pack_a)(const fc_kernel_table *kt, ptrdiff_t kc, ptrdiff_t mr_eff, int MR,
                             const FT *a, ptrdiff_t rs, ptrdiff_t cs, FT *restrict dst)
{
    if (cs == 1 && mr_eff == MR && kt->FC_LOCAL_PACKA) {
        kt->FC_LOCAL_PACKA(kc, a, rs, (FT)1, dst);
        return;
    }
    if (cs == 1) {
        for (ptrdiff_t i = 0; i < mr_eff; ++i) {
            const FT *src = a + i * rs;
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        }
    } else if (rs == 1 && mr_eff == MR && (MR == 4 || MR == 6 || MR == 8 || MR == 12)) {
        /* columns of A contiguous (A transposed): constant-length copies,
         * which the compiler turns into moves rather than memcpy calls */
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const FT *src = a + p * cs;
            FT *d = dst + p * MR;
            switch (MR) {
            case 4: for (int i = 0; i < 4; ++i) d[i] = src[i]; break;
            case 6: for (int i = 0; i < 6; ++i) d[i] = src[i]; break;
            case 8: for (int i = 0; i < 8; ++i) d[i] = src[i]; break;
            default: for (int i = 0; i < 12; ++i) d[i] = src[i]; break;
            }
        }
        return;
    } else {
        for (ptrdiff_t p = 0; p < kc; ++p)
            for (ptrdiff_t i = 0; i < mr_eff; ++i) dst[p * MR + i] = a[i * rs + p * cs];
    }
    for (ptrdiff_t p = 0; p < kc; ++p)
        for (ptrdiff_t i = mr_eff; i < MR; ++i) dst[p * MR + i] = 0;
}

/* kc x nrw panel of B (nrw values per k), element (p, j) at b[p * rs + j * cs];
 * columns past nr_eff are zero. */
static void FN(local_pack_b)(ptrdiff_t kc, ptrdiff_t nr_eff, int nrw, const FT *b, ptrdiff_t rs,
                             ptrdiff_t cs, FT *restrict dst)
{
    if (cs == 1) {
        if (nr_eff == nrw && (nrw == 4 || nrw == 8 || nrw == 16)) {
            /* constant-length row copies: moves, not memcpy calls */
            for (ptrdiff_t p = 0; p < kc; ++p) {
                const FT *src = b + p * rs;
                FT *d = dst + p * nrw;
                switch (nrw) {
                case 4: for (int j = 0; j < 4; ++j) d[j] = src[j]; break;
                case 8: for (int j = 0; j < 8; ++j) d[j] = src[j]; break;
                default: for (int j = 0; j < 16; ++j) d[j] = src[j]; break;
                }
            }
            return;
        }
        for (ptrdiff_t p = 0; p < kc; ++p) {
            const FT *src = b + p * rs;
            FT *d = dst + p * nrw;
            for (ptrdiff_t j = 0; j < nr_eff; ++j) d[j] = src[j];
            for (ptrdiff_t j = nr_eff; j < nrw; ++j) d[j] = 0;
        }
        return;
    }
    if (rs == 1) {
        for (ptrdiff_t j = 0; j < nr_eff; ++j) {
            const FT *src = b + j * cs;
            for (ptrdiff_t p = 0; p < kc; ++p) dst[p * nrw + j] = src[p];
        }
    } else {
        for (ptrdiff_t p = 0; p < kc; ++p)
            for (ptrdiff_t j = 0; j < nr_eff; ++j) dst[p * nrw + j] = b[p * rs + j * cs];
    }
    for (ptrdiff_t p = 0; p < kc; ++p)
        for (ptrdiff_t j = nr_eff; j < nrw; ++j) dst[p * nrw + j] = 0;
}

/* One tile of C from the micro-kernel: a full tile goes straight to C; an
 * edge tile through a scratch tile so that only its valid part is touched
 * (C += T rounds as the kernel's own accumulate does, so both paths agree). */
static inline void FN(local_tile)(FN(local_uk_t) uk, ptrdiff_t kc, const FT *ap, const FT *bp, FT *c,
                                  ptrdiff_t ldc, int acc, ptrdiff_t mr_eff, ptrdiff_t nr_eff, int MR,
                                  int NR, FT *scratch)
{
    if (mr_eff == MR && nr_eff == NR) {
        uk(kc, ap, bp, c, ldc, acc);
        return;
    }
    uk(kc, ap, bp, scratch, NR, 0);
    for (ptrdiff_t i = 0; i < mr_eff; ++i) {
        FT *cr = c + i * ldc;
        const FT *tr = scratch + i * NR;
        if (acc)
            for (ptrdiff_t j = 0; j < nr_eff; ++j) cr[j] += tr[j];
        else
            for (ptrdiff_t j = 0; j < nr_eff; ++j) cr[j] = tr[j];
    }
}

/*
 * C[m x n] (+)= A[m x k] . B[k x n] on the calling thread: A and B any
 * element strides, C unit column stride (row stride rs_c); acc != 0 adds to
 * C.  abuf holds mc_max x kc, bbuf kc x nc_max (nc_max a multiple of NR),
 * tile one MR x NR tile.  The loops of the BLIS algorithm without threads;
 * a last panel of at most NR / 2 columns runs the half-width kernel.
 */
static void FN(local_gemm_serial)(const fc_kernel_table *kt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                                  const FT *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                                  const FT *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                                  FT *c, ptrdiff_t rs_c, int acc,
                                  FT *abuf, ptrdiff_t mc_max, FT *bbuf, ptrdiff_t nc_max, FT *tile)
{
    const FN(local_uk_t) uk = kt->FC_LOCAL_UK, ukh = kt->FC_LOCAL_UKH;
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    for (ptrdiff_t jc = 0; jc < n; jc += nc_max) {                       /* B blocks of columns */
        const ptrdiff_t ncb = FC_MIN(nc_max, n - jc);
        const ptrdiff_t npan = (ncb + NR - 1) / NR, last = ncb - (npan - 1) * NR;
        const int half = ukh != NULL && last <= NR / 2;
        for (ptrdiff_t pc = 0; pc < k; pc += FC_LOCAL_KC) {              /* depth blocks */
            const ptrdiff_t kcb = FC_MIN((ptrdiff_t)FC_LOCAL_KC, k - pc);
            for (ptrdiff_t jp = 0; jp < npan; ++jp)
                FN(local_pack_b)(kcb, FC_MIN((ptrdiff_t)NR, ncb - jp * NR), half && jp == npan - 1 ? NR / 2 : NR,
                                 b + pc * rs_b + (jc + jp * NR) * cs_b, rs_b, cs_b, bbuf + jp * NR * kcb);
            for (ptrdiff_t ic = 0; ic < m; ic += mc_max) {               /* A blocks of rows */
                const ptrdiff_t mcb = FC_MIN(mc_max, m - ic);
                for (ptrdiff_t ip = 0; ip * MR < mcb; ++ip)
                    FN(local_pack_a)(kt, kcb, FC_MIN((ptrdiff_t)MR, mcb - ip * MR), MR,
                                     a + (ic + ip * MR) * rs_a + pc * cs_a, rs_a, cs_a, abuf + ip * MR * kcb);
                for (ptrdiff_t jp = 0; jp < npan; ++jp) {                /* NR columns */
                    const int h = half && jp == npan - 1;
                    for (ptrdiff_t ip = 0; ip * MR < mcb; ++ip)          /* MR rows */
                        FN(local_tile)(h ? ukh : uk, kcb, abuf + ip * MR * kcb, bbuf + jp * NR * kcb,
                                       c + (ic + ip * MR) * rs_c + jc + jp * NR, rs_c, acc || pc > 0,
                                       FC_MIN((ptrdiff_t)MR, mcb - ip * MR), FC_MIN((ptrdiff_t)NR, ncb - jp * NR),
                                       MR, h ? NR / 2 : NR, tile);
                }
            }
        }
    }
}

/* ---- tiled / locally connected convolution: forward -------------------------- */
/*
 * The forward pass gathers its windows from a transposed, zero-padded copy
 * of a block of images, xt[c][hp][wp][image] (padded coordinates, only the
 * rows and columns some window reads): the columns of a class are ordered
 * images innermost, so a tap of consecutive columns is a contiguous run of
 * xt -- a micro-panel's row is one vector copy, and no tap needs a bounds
 * check.  The copy costs one pass over the input per call.
 */

/* The value of tap q (tables of fc_local_taps) of the window with origin
 * (ih0, iw0) of image xn, zero outside the image. */
#define FC_LOCAL_TAP(xn, tp, q, ih0, iw0, H, W)                                           \
    ((ih0) + (tp)->dr[q] >= 0 && (ih0) + (tp)->dr[q] < (H) && (iw0) + (tp)->ds[q] >= 0 && \
             (iw0) + (tp)->ds[q] < (W)                                                    \
         ? (xn)[(tp)->coff[q] + (((ih0) + (tp)->dr[q]) * (W) + (iw0) + (tp)->ds[q]) * (tp)->ps] \
         : (FT)0)

/* xt for images [n0, n0 + nb): Hp x Wp padded planes, lanes nbx apart.
 * Work-shared by the threads of the enclosing parallel region. */
static void FN(local_fill_xt)(const fc_conv_geom *g, const FT *x, ptrdiff_t n0, ptrdiff_t nb, ptrdiff_t nbx,
                              ptrdiff_t Hp, ptrdiff_t Wp, FT *xt)
{
    const ptrdiff_t C = g->in_channels, H = g->in_h, W = g->in_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    /* image n, channel c, pixel (h, w) at x[n * img + c * cst + (h * W + w) * ps] */
    const ptrdiff_t img = C * H * W, cst = nchw ? H * W : 1, ps = nchw ? 1 : C;
#pragma omp for schedule(static)
    for (ptrdiff_t row = 0; row < C * Hp; ++row) {           /* one padded row of one channel */
        const ptrdiff_t c = row / Hp, h = row % Hp - pt;
        FT *d = xt + row * Wp * nbx;
        if (h < 0 || h >= H) {
            for (ptrdiff_t t = 0; t < Wp * nbx; ++t) d[t] = 0;
            continue;
        }
        const FT *src = x + n0 * img + c * cst + h * W * ps;
        for (ptrdiff_t wp = 0; wp < Wp; ++wp) {
            const ptrdiff_t w = wp - pl;
            FT *dp = d + wp * nbx;
            if (w < 0 || w >= W) {
                for (ptrdiff_t l = 0; l < nb; ++l) dp[l] = 0;
            } else {
                const FT *s = src + w * ps;
                for (ptrdiff_t l = 0; l < nb; ++l) dp[l] = s[l * img];
            }
        }
    }
}

/* kcb rows of a micro-panel, `width` columns each, from a run of `width`
 * contiguous values at src + off[qq]; constant widths become vector moves. */
static inline void FN(local_copy_rows)(ptrdiff_t kcb, const ptrdiff_t *restrict off, const FT *src,
                                       FT *restrict d, ptrdiff_t pw, ptrdiff_t width)
{
    if (width == pw) {
        switch (pw) {
        case 4:
            for (ptrdiff_t qq = 0; qq < kcb; ++qq) memcpy(d + qq * 4, src + off[qq], 4 * sizeof(FT));
            return;
        case 8:
            for (ptrdiff_t qq = 0; qq < kcb; ++qq) memcpy(d + qq * 8, src + off[qq], 8 * sizeof(FT));
            return;
        case 16:
            for (ptrdiff_t qq = 0; qq < kcb; ++qq) memcpy(d + qq * 16, src + off[qq], 16 * sizeof(FT));
            return;
        default:
            break;
        }
    }
    for (ptrdiff_t qq = 0; qq < kcb; ++qq) {
        const FT *s = src + off[qq];
        FT *dq = d + qq * pw;
        for (ptrdiff_t l = 0; l < width; ++l) dq[l] = s[l];
    }
}

/*
 * The B panels of columns [c0, c0 + cnt) of a class, taps [pc, pc + kcb)
 * (off: xt offsets of those taps): the implicit im2col matrix, NR columns
 * per panel, the last one edge_w wide (NR or NR / 2) and zero past the last
 * column.  A panel is copied run by run, a run being consecutive images at
 * one position.
 */
static void FN(local_gather_xt)(const FT *xt, const ptrdiff_t *off, ptrdiff_t Wp, ptrdiff_t nbx,
                                const fc_conv_geom *g, const fc_local_cols *cs, ptrdiff_t c0, ptrdiff_t cnt,
                                ptrdiff_t kcb, int NR, ptrdiff_t nfull, ptrdiff_t edge_w, FT *restrict bbuf)
{
    for (ptrdiff_t jp = 0; jp * NR < cnt; ++jp) {
        const ptrdiff_t pw = jp < nfull ? NR : edge_w;
        const ptrdiff_t lanes = FC_MIN((ptrdiff_t)NR, cnt - jp * NR);
        FT *dp = bbuf + jp * NR * kcb;
        for (ptrdiff_t lane = 0; lane < lanes;) {
            ptrdiff_t n, i, j;
            local_col(cs, c0 + jp * NR + lane, &n, &i, &j);
            const ptrdiff_t run = FC_MIN(lanes - lane, cs->n0 + cs->nb - n);
            const FT *src = xt + (i * g->stride_h * Wp + j * g->stride_w) * nbx + (n - cs->n0);
            FN(local_copy_rows)(kcb, off, src, dp + lane, pw, run);
            lane += run;
        }
        for (ptrdiff_t qq = 0; qq < kcb; ++qq)
            for (ptrdiff_t l = lanes; l < pw; ++l) dp[qq * pw + l] = 0;
    }
}

/* Layout of an item's block of C: cnt columns in nfull NR-wide panels and
 * an edge panel edge_w wide, ldc apart; channels in mpanels MR-row panels.
 * A short last channel panel (16 channels = 6 + 6 + 4) is taken as the
 * full panel of the last MR channels, overlapping the one before, so every
 * panel goes through the fast packer; it accumulates in its own rows, so
 * channel kk sits at row kk below split and kk + shift from split on. */
typedef struct {
    ptrdiff_t nfull, edge_w, ldc, mpanels, shift, split;
    int half;
} FN(local_cblock);

static FN(local_cblock) FN(local_cblock_make)(const fc_kernel_table *kt, ptrdiff_t cnt, ptrdiff_t kcnt)
{
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    FN(local_cblock) cb;
    cb.nfull = cnt / NR;
    const ptrdiff_t rem = cnt - cb.nfull * NR;
    /* a narrow last panel (a batch of 8 against NR = 16) runs the half-width kernel */
    cb.half = rem > 0 && rem <= NR / 2 && kt->FC_LOCAL_UKH != NULL;
    cb.edge_w = rem ? (cb.half ? NR / 2 : NR) : 0;
    cb.ldc = cb.nfull * NR + cb.edge_w;
    cb.mpanels = (kcnt + MR - 1) / MR;
    cb.shift = kcnt >= MR ? cb.mpanels * MR - kcnt : 0;
    cb.split = (cb.mpanels - 1) * MR;
    return cb;
}

/*
 * The GEMM of one work item of the forward pass: output channels
 * [k0, k0 + kcnt) of columns [c0, c0 + cnt) of a class whose bank is wt
 * (out_channels x Ktot), accumulated in cbuf over the kc blocks.
 */
static void FN(local_fwd_compute)(const fc_conv_geom *g, const fc_kernel_table *kt, const FT *xt,
                                  const ptrdiff_t *off, ptrdiff_t Wp, ptrdiff_t nbx, const FT *wt,
                                  const fc_local_cols *cs, ptrdiff_t c0, ptrdiff_t cnt, ptrdiff_t k0,
                                  ptrdiff_t kcnt, const FN(local_cblock) *cb, FT *abuf, FT *bbuf, FT *cbuf)
{
    const FN(local_uk_t) uk = kt->FC_LOCAL_UK, ukh = kt->FC_LOCAL_UKH;
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    const ptrdiff_t Kt = g->in_channels * g->kernel_h * g->kernel_w;
    const ptrdiff_t nfull = cb->nfull, edge_w = cb->edge_w, ldc = cb->ldc;

    for (ptrdiff_t pc = 0; pc < Kt; pc += FC_LOCAL_KC) {                 /* k blocks */
        const ptrdiff_t kcb = FC_MIN((ptrdiff_t)FC_LOCAL_KC, Kt - pc);
        FN(local_gather_xt)(xt, off + pc, Wp, nbx, g, cs, c0, cnt, kcb, NR, nfull, edge_w, bbuf);
        for (ptrdiff_t ip = 0; ip < cb->mpanels; ++ip) {                  /* MR channels */
            const ptrdiff_t row0 = ip * MR - (ip == cb->mpanels - 1 ? cb->shift : 0);
            FN(local_pack_a)(kt, kcb, FC_MIN((ptrdiff_t)MR, kcnt - row0), MR, wt + (k0 + row0) * Kt + pc,
                             Kt, 1, abuf);
            FT *crow = cbuf + ip * MR * ldc;
            for (ptrdiff_t jp = 0; jp < nfull; ++jp)                      /* NR columns */
                uk(kcb, abuf, bbuf + jp * NR * kcb, crow + jp * NR, ldc, pc > 0);
            if (edge_w)
                (cb->half ? ukh : uk)(kcb, abuf, bbuf + nfull * NR * kcb, crow + nfull * NR, ldc, pc > 0);
        }
    }
}

/* Scatter an item's columns to their images and positions, adding the bias. */
static void FN(local_fwd_store)(const fc_conv_geom *g, const fc_local_cols *cs, ptrdiff_t c0, ptrdiff_t cnt,
                                ptrdiff_t k0, ptrdiff_t kcnt, const FN(local_cblock) *cb, const FT *cbuf,
                                const FT *bias, int bias_per_position, FT *y)
{
    const ptrdiff_t K = g->out_channels, OW = g->out_w, P = g->out_h * OW;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    for (ptrdiff_t cc = 0; cc < cnt; ++cc) {
        ptrdiff_t n, i, j;
        local_col(cs, c0 + cc, &n, &i, &j);
        const ptrdiff_t p = i * OW + j, kst = nchw ? P : 1;
        FT *yp = nchw ? y + (n * K + k0) * P + p : y + (n * P + p) * K + k0;
        const FT *src = cbuf + cc;
        for (ptrdiff_t kk = 0; kk < kcnt; ++kk) {
            FT v = src[(kk < cb->split ? kk : kk + cb->shift) * cb->ldc];
            if (bias) v += bias_per_position ? bias[(k0 + kk) * P + p] : bias[k0 + kk];
            yp[kk * kst] = v;
        }
    }
}

/* The same for a run of positions (i, j0 .. j0 + R - 1) of a locally
 * connected layer, their blocks pstride apart in cbuf, columns the images
 * n0 + c0 + cc: in NCHW each (image, channel) receives a contiguous run
 * instead of R stores a plane apart. */
static void FN(local_fwd_store_run)(const fc_conv_geom *g, ptrdiff_t i, ptrdiff_t j0, ptrdiff_t R, ptrdiff_t n0,
                                    ptrdiff_t cnt, ptrdiff_t k0, ptrdiff_t kcnt, const FN(local_cblock) *cb,
                                    const FT *cbuf, ptrdiff_t pstride, const FT *bias, int bias_per_position,
                                    FT *y)
{
    const ptrdiff_t K = g->out_channels, OW = g->out_w, P = g->out_h * OW, p0 = i * OW + j0;
    for (ptrdiff_t cc = 0; cc < cnt; ++cc) {
        const ptrdiff_t n = n0 + cc;
        for (ptrdiff_t kk = 0; kk < kcnt; ++kk) {
            const FT *src = cbuf + (kk < cb->split ? kk : kk + cb->shift) * cb->ldc + cc;
            const ptrdiff_t k = k0 + kk;
            const FT *bk = !bias ? NULL : bias_per_position ? bias + k * P + p0 : bias + k;
            const ptrdiff_t bst = bias_per_position ? 1 : 0;
            if (g->layout == FC_LAYOUT_NCHW) {
                FT *yp = y + (n * K + k) * P + p0;
                for (ptrdiff_t r = 0; r < R; ++r) yp[r] = bk ? src[r * pstride] + bk[r * bst] : src[r * pstride];
            } else {
                FT *yp = y + (n * P + p0) * K + k;
                for (ptrdiff_t r = 0; r < R; ++r)
                    yp[r * K] = bk ? src[r * pstride] + bk[r * bst] : src[r * pstride];
            }
        }
    }
}

int FN(fc_tiled_conv2d_forward)(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                const FT *x, const FT *w, const FT *bias, int bias_per_position, FT *y)
{
    int st = fc_tiled_conv2d_check(g, tiles_h, tiles_w);
    if (st) return st;
    if (!x || !w || !y) return FC_EINVAL;
    if (g->batch == 0) return FC_OK;

    const fc_kernel_table *kt = fc_kernels();
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    const ptrdiff_t N = g->batch, C = g->in_channels, K = g->out_channels, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, Kt = C * KH * KW;
    /* classes that own output positions (tiles larger than the output own none past it) */
    const ptrdiff_t TH = FC_MIN(tiles_h, OH), TW = FC_MIN(tiles_w, OW), T = TH * TW;

    /* the padded rows / columns some window reads, and images per xt block
     * (the whole batch when its copy stays within the budget) */
    const ptrdiff_t Hp = (OH - 1) * g->stride_h + (KH - 1) * g->dilation_h + 1;
    const ptrdiff_t Wp = (OW - 1) * g->stride_w + (KW - 1) * g->dilation_w + 1;
    size_t img_t;
    if (fc_size_mul3((size_t)C, (size_t)Hp, (size_t)Wp, &img_t) || img_t > (size_t)PTRDIFF_MAX / 16)
        return FC_EOVERFLOW;
    ptrdiff_t nbx = N;
    if ((double)img_t * N > (double)FC_LOCAL_XT_ELEMS)
        nbx = FC_MIN(N, FC_MAX((ptrdiff_t)NR, (ptrdiff_t)(FC_LOCAL_XT_ELEMS / img_t)));
    const ptrdiff_t cols_max = nbx * ((OH + tiles_h - 1) / tiles_h) * ((OW + tiles_w - 1) / tiles_w);

    /* columns per item: a packed B block of about 128 KiB (L2) */
    const ptrdiff_t nbmax =
        FC_MAX((ptrdiff_t)NR, (ptrdiff_t)(FC_LOCAL_B_BYTES / (FC_LOCAL_KC * sizeof(FT))) / NR * NR);
    const ptrdiff_t nblk = (cols_max + nbmax - 1) / nbmax;
    /* channels per item: its accumulated block of C stays within 64 KiB */
    const ptrdiff_t Kpad = local_round_up(K, MR);
    ptrdiff_t mbk = FC_MAX((ptrdiff_t)MR, (ptrdiff_t)(FC_LOCAL_C_BYTES / sizeof(FT)) / nbmax / MR * MR);
    const ptrdiff_t kblk = (Kpad + mbk - 1) / mbk;
    mbk = local_round_up((Kpad + kblk - 1) / kblk, MR);
    /* A locally connected layer (every class a single position) takes runs
     * of up to 16 positions of a row per item, so that its NCHW stores are
     * contiguous runs: their C blocks stay within 128 KiB. */
    const int single = tiles_h >= OH && tiles_w >= OW;
    const ptrdiff_t ldc_max = FC_MIN(local_round_up(nbx, NR), nbmax);
    const ptrdiff_t run = single ? FC_MAX((ptrdiff_t)1, FC_MIN(FC_MIN((ptrdiff_t)16, OW),
                                              (ptrdiff_t)(2 * FC_LOCAL_C_BYTES / sizeof(FT)) / (mbk * ldc_max)))
                                 : 1;
    const ptrdiff_t nruns = (OW + run - 1) / run;
    const ptrdiff_t groups = single ? OH * nruns : T;
    const ptrdiff_t items = groups * nblk * kblk;
    int nt = local_threads((double)N * K * OH * OW * Kt);
    if ((ptrdiff_t)nt > items) nt = (int)items;

    size_t xsz, osz, bsz, asz, csz, per, total;
    if (fc_size_mul3(img_t, (size_t)nbx, 1, &xsz) ||
        fc_size_mul3((size_t)Kt, sizeof(ptrdiff_t), 1, &osz) ||
        fc_size_mul3((size_t)FC_LOCAL_KC, (size_t)nbmax, 1, &bsz) ||
        fc_size_mul3((size_t)FC_LOCAL_KC, (size_t)MR, 1, &asz) ||
        fc_size_mul3((size_t)mbk, (size_t)(single ? ldc_max : nbmax), (size_t)run, &csz))
        return FC_EOVERFLOW;
    xsz = FN(local_aligned_elems)(xsz);
    osz = FN(local_aligned_elems)((osz + sizeof(FT) - 1) / sizeof(FT));
    bsz = FN(local_aligned_elems)(bsz);
    asz = FN(local_aligned_elems)(asz);
    csz = FN(local_aligned_elems)(csz);
    per = bsz + asz + csz;
    if (fc_size_mul3(per, (size_t)nt, 1, &total) || total > SIZE_MAX - xsz - osz ||
        fc_size_mul3(total + xsz + osz, sizeof(FT), 1, &total))
        return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(total);
    if (!ws) return FC_ENOMEM;
    FT *const xt = ws;
    ptrdiff_t *const off = (ptrdiff_t *)(ws + xsz);
    {
        /* xt offset of each tap from its window's origin, taps ordered as the weights */
        ptrdiff_t q = 0;
        for (ptrdiff_t c = 0; c < C; ++c)
            for (ptrdiff_t r = 0; r < KH; ++r)
                for (ptrdiff_t s = 0; s < KW; ++s)
                    off[q++] = ((c * Hp + r * g->dilation_h) * Wp + s * g->dilation_w) * nbx;
    }

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const bbuf = ws + xsz + osz + (size_t)tid * per;
        FT *const abuf = bbuf + bsz;
        FT *const cbuf = abuf + asz;

        for (ptrdiff_t n0 = 0; n0 < N; n0 += nbx) {                      /* blocks of images */
            const ptrdiff_t nb = FC_MIN(nbx, N - n0);
            FN(local_fill_xt)(g, x, n0, nb, nbx, Hp, Wp, xt);
            /* (implicit barrier: xt is complete) */

            /* items: (class, block of columns, block of channels); every
             * output element belongs to exactly one */
#pragma omp for schedule(dynamic, 1)
            for (ptrdiff_t it = 0; it < items; ++it) {
                const ptrdiff_t kb = it % kblk, jb = it / kblk % nblk, grp = it / kblk / nblk;
                const ptrdiff_t k0 = kb * mbk;
                if (k0 >= K) continue;
                const ptrdiff_t kcnt = FC_MIN(mbk, K - k0);
                /* the group's classes: one, or a run of single positions */
                const ptrdiff_t a = single ? grp / nruns : grp / TW;
                const ptrdiff_t b0 = single ? grp % nruns * run : grp % TW;
                const ptrdiff_t nrun = single ? FC_MIN(run, OW - b0) : 1;
                fc_local_cols cs;
                local_cols_init(&cs, a, b0, tiles_h, tiles_w, 0, OH, OW, n0, nb);
                const ptrdiff_t ncols = local_cols_count(&cs);
                /* the class's columns in nblk near-equal blocks of whole panels */
                const ptrdiff_t cw = local_round_up((ncols + nblk - 1) / nblk, NR);
                const ptrdiff_t c0 = jb * cw;
                if (c0 >= ncols) continue;
                const ptrdiff_t cnt = FC_MIN(cw, ncols - c0);
                const FN(local_cblock) cblk = FN(local_cblock_make)(kt, cnt, kcnt);
                const ptrdiff_t pstride = cblk.mpanels * MR * cblk.ldc;
                for (ptrdiff_t r = 0; r < nrun; ++r) {
                    if (r) local_cols_init(&cs, a, b0 + r, tiles_h, tiles_w, 0, OH, OW, n0, nb);
                    FN(local_fwd_compute)(g, kt, xt, off, Wp, nbx, w + (a * tiles_w + b0 + r) * K * Kt, &cs, c0,
                                          cnt, k0, kcnt, &cblk, abuf, bbuf, cbuf + r * pstride);
                }
                if (single)
                    FN(local_fwd_store_run)(g, a, b0, nrun, n0 + c0, cnt, k0, kcnt, &cblk, cbuf, pstride, bias,
                                            bias_per_position, y);
                else
                    FN(local_fwd_store)(g, &cs, c0, cnt, k0, kcnt, &cblk, cbuf, bias, bias_per_position, y);
            }
            /* (implicit barrier: xt may be refilled) */
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

/* ---- tiled / locally connected convolution: weight gradient ------------------ */
/*
 * dW_t[K x Ktot] = dY_t[K x cols_t] . X_t[cols_t x Ktot] per class t: the
 * GEMM's depth is the class's columns, taken in kc-sized runs in a fixed
 * order; items split the output (class, channel block, tap block).
 */
int FN(fc_tiled_conv2d_backward_weight)(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                        const FT *dy, const FT *x, FT *dw)
{
    int st = fc_tiled_conv2d_check(g, tiles_h, tiles_w);
    if (st) return st;
    if (!dy || !x || !dw) return FC_EINVAL;

    const fc_kernel_table *kt = fc_kernels();
    const FN(local_uk_t) uk = kt->FC_LOCAL_UK;
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    const ptrdiff_t N = g->batch, K = g->out_channels, OH = g->out_h, OW = g->out_w, P = OH * OW;
    const ptrdiff_t Kt = g->in_channels * g->kernel_h * g->kernel_w;
    const ptrdiff_t T = tiles_h * tiles_w;
    const int nchw = g->layout == FC_LAYOUT_NCHW;

    const ptrdiff_t nqmax =
        FC_MAX((ptrdiff_t)NR, (ptrdiff_t)(FC_LOCAL_B_BYTES / (FC_LOCAL_KC * sizeof(FT))) / NR * NR);
    const ptrdiff_t qblk = (Kt + nqmax - 1) / nqmax;
    const ptrdiff_t nq = local_round_up((Kt + qblk - 1) / qblk, NR);
    /* channels per item: the packed dY block (channels x kc) within 64 KiB */
    ptrdiff_t mbw = FC_MAX((ptrdiff_t)MR, (ptrdiff_t)(FC_LOCAL_C_BYTES / sizeof(FT)) / FC_LOCAL_KC / MR * MR);
    const ptrdiff_t Kpad = local_round_up(K, MR);
    const ptrdiff_t kblk = (Kpad + mbw - 1) / mbw;
    mbw = local_round_up((Kpad + kblk - 1) / kblk, MR);
    const ptrdiff_t items = T * kblk * qblk;
    int nt = local_threads((double)N * K * P * Kt + (double)T * K * Kt);
    if ((ptrdiff_t)nt > items) nt = (int)items;

    fc_local_taps taps;
    st = local_taps_init(g, &taps);
    if (st) return st;
    size_t bsz, asz, tsz, per, total;
    if (fc_size_mul3((size_t)FC_LOCAL_KC, (size_t)nq, 1, &bsz) ||
        fc_size_mul3((size_t)FC_LOCAL_KC, (size_t)mbw, 1, &asz)) {
        local_taps_free(&taps);
        return FC_EOVERFLOW;
    }
    bsz = FN(local_aligned_elems)(bsz);
    asz = FN(local_aligned_elems)(asz);
    tsz = FN(local_aligned_elems)((size_t)MR * NR);
    per = bsz + asz + tsz;
    if (fc_size_mul3(per, (size_t)nt, sizeof(FT), &total)) {
        local_taps_free(&taps);
        return FC_EOVERFLOW;
    }
    FT *ws = (FT *)fc_aligned_alloc(total);
    if (!ws) {
        local_taps_free(&taps);
        return FC_ENOMEM;
    }

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const bbuf = ws + (size_t)tid * per;
        FT *const abuf = bbuf + bsz;
        FT *const scratch = abuf + asz;
        const ptrdiff_t H = g->in_h, W = g->in_w;

#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t it = 0; it < items; ++it) {
            const ptrdiff_t qb = it % qblk, kb = it / qblk % kblk, t = it / qblk / kblk;
            const ptrdiff_t a = t / tiles_w, b = t % tiles_w;
            const ptrdiff_t k0 = kb * mbw, q0 = qb * nq;
            if (k0 >= K || q0 >= Kt) continue;
            const ptrdiff_t kcnt = FC_MIN(mbw, K - k0), qcnt = FC_MIN(nq, Kt - q0);
            FT *dwt = dw + t * K * Kt + k0 * Kt + q0;
            fc_local_cols cs;
            local_cols_init(&cs, a, b, tiles_h, tiles_w, 0, OH, OW, 0, N);
            const ptrdiff_t ncols = a < OH && b < OW ? local_cols_count(&cs) : 0;
            if (ncols == 0) {                        /* a bank no position uses */
                for (ptrdiff_t kk = 0; kk < kcnt; ++kk)
                    for (ptrdiff_t q = 0; q < qcnt; ++q) dwt[kk * Kt + q] = 0;
                continue;
            }
            const ptrdiff_t mpanels = (kcnt + MR - 1) / MR, npanels = (qcnt + NR - 1) / NR;
            for (ptrdiff_t c0 = 0; c0 < ncols; c0 += FC_LOCAL_KC) {     /* depth: runs of columns */
                const ptrdiff_t kcb = FC_MIN((ptrdiff_t)FC_LOCAL_KC, ncols - c0);
                for (ptrdiff_t cc = 0; cc < kcb; ++cc) {
                    ptrdiff_t n, i, j;
                    local_col(&cs, c0 + cc, &n, &i, &j);
                    const ptrdiff_t p = i * OW + j;
                    /* A: dY transposed, MR channels per panel */
                    const FT *dyc = nchw ? dy + n * K * P + p : dy + (n * P + p) * K;
                    const ptrdiff_t kst = nchw ? P : 1;
                    for (ptrdiff_t ip = 0; ip < mpanels; ++ip) {
                        FT *d = abuf + ip * MR * kcb + cc * MR;
                        for (ptrdiff_t r = 0; r < MR; ++r) {
                            const ptrdiff_t k = ip * MR + r;
                            d[r] = k < kcnt ? dyc[(k0 + k) * kst] : (FT)0;
                        }
                    }
                    /* B: the column's window, taps [q0, q0 + qcnt), NR per panel */
                    const ptrdiff_t ih0 = i * g->stride_h - g->pad_top, iw0 = j * g->stride_w - g->pad_left;
                    const FT *xn = x + n * taps.img;
                    const int inside = ih0 >= 0 && ih0 + taps.span_h < H && iw0 >= 0 && iw0 + taps.span_w < W;
                    const FT *base = inside ? xn + (ih0 * W + iw0) * taps.ps : xn;
                    for (ptrdiff_t jp = 0; jp < npanels; ++jp) {
                        FT *d = bbuf + jp * NR * kcb + cc * NR;
                        const ptrdiff_t qa = q0 + jp * NR, qn = FC_MIN((ptrdiff_t)NR, qcnt - jp * NR);
                        if (inside)
                            for (ptrdiff_t l = 0; l < qn; ++l) d[l] = base[taps.off[qa + l]];
                        else
                            for (ptrdiff_t l = 0; l < qn; ++l) d[l] = FC_LOCAL_TAP(xn, &taps, qa + l, ih0, iw0, H, W);
                        for (ptrdiff_t l = qn; l < NR; ++l) d[l] = 0;
                    }
                }
                for (ptrdiff_t jp = 0; jp < npanels; ++jp)              /* NR taps */
                    for (ptrdiff_t ip = 0; ip < mpanels; ++ip)          /* MR channels */
                        FN(local_tile)(uk, kcb, abuf + ip * MR * kcb, bbuf + jp * NR * kcb,
                                       dwt + ip * MR * Kt + jp * NR, Kt, c0 > 0,
                                       FC_MIN((ptrdiff_t)MR, kcnt - ip * MR),
                                       FC_MIN((ptrdiff_t)NR, qcnt - jp * NR), MR, NR, scratch);
            }
        }
    }
    fc_aligned_free(ws);
    local_taps_free(&taps);
    return FC_OK;
}

/* ---- tiled / locally connected convolution: input gradient -------------------- */
/*
 * dx = col2im(dcol), dcol[(n, p), :] = dY[n, :, p] . W_{class(p)}.  Windows
 * overlap, so threads adding window gradients into dx could race.  Output
 * rows are coloured instead: row i gets colour i % ncol, with ncol the
 * smallest count for which two rows of one colour never read a common input
 * row ((kernel_h - 1) * dilation_h < ncol * stride_h).  Colour by colour,
 * threads take whole output rows; for each position they compute the window
 * gradient dcol_p (images x Ktot) = dY_p . W into a private buffer and add
 * it straight into dx, a kernel row at a time.  Every element of dx thus receives its terms in
 * an order fixed by the geometry alone (colour, output row, output column),
 * whatever the thread count, and no window gradient leaves the thread's
 * cache.  Images go in blocks that bound the buffer.
 */
int FN(fc_tiled_conv2d_backward_input)(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                       const FT *dy, const FT *w, FT *dx)
{
    int st = fc_tiled_conv2d_check(g, tiles_h, tiles_w);
    if (st) return st;
    if (!dy || !w || !dx) return FC_EINVAL;
    if (g->batch == 0) return FC_OK;

    const fc_kernel_table *kt = fc_kernels();
    const int MR = kt->FC_LOCAL_BL.mr, NR = kt->FC_LOCAL_BL.nr;
    const ptrdiff_t N = g->batch, C = g->in_channels, H = g->in_h, W = g->in_w;
    const ptrdiff_t K = g->out_channels, OH = g->out_h, OW = g->out_w, P = OH * OW;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, KK = KH * KW, Kt = C * KK;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dwl = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    /* dy (n, k, p) at dy[n * nst_y + k * kst_y + p * pst_y]; dx (n, c, h, w) likewise */
    const ptrdiff_t nst_y = K * P, kst_y = nchw ? P : 1, pst_y = nchw ? 1 : K;
    const ptrdiff_t nst_x = C * H * W, cst_x = nchw ? H * W : 1, pst_x = nchw ? 1 : C;
    const ptrdiff_t ncol = FC_MIN(OH, (KH - 1) * dh / sh + 1);

    /* images per block: a window gradient (Ktot x images) of at most 256 KiB */
    const ptrdiff_t nbb = FC_MAX((ptrdiff_t)1, FC_MIN(N, (ptrdiff_t)(262144 / sizeof(FT)) / Kt));
    const ptrdiff_t nc_max =
        FC_MAX((ptrdiff_t)NR, (ptrdiff_t)(FC_LOCAL_B_BYTES / (FC_LOCAL_KC * sizeof(FT))) / NR * NR);
    const ptrdiff_t mc_max = FC_MIN(local_round_up(nbb, MR), local_round_up(96, MR));
    int nt = local_threads((double)N * K * P * Kt);
    if ((ptrdiff_t)nt > (OH + ncol - 1) / ncol) nt = (int)((OH + ncol - 1) / ncol);

    size_t dsz, asz, bsz, tsz, per, total;
    if (fc_size_mul3((size_t)nbb, (size_t)Kt, 1, &dsz) ||
        fc_size_mul3((size_t)mc_max, FC_LOCAL_KC, 1, &asz) ||
        fc_size_mul3((size_t)nc_max, FC_LOCAL_KC, 1, &bsz))
        return FC_EOVERFLOW;
    dsz = FN(local_aligned_elems)(dsz);
    asz = FN(local_aligned_elems)(asz);
    bsz = FN(local_aligned_elems)(bsz);
    tsz = FN(local_aligned_elems)((size_t)MR * NR);
    per = dsz + asz + bsz + tsz;
    if (fc_size_mul3(per, (size_t)nt, sizeof(FT), &total)) return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(total);
    if (!ws) return FC_ENOMEM;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const dcol = ws + (size_t)tid * per;
        FT *const abuf = dcol + dsz;
        FT *const bbuf = abuf + asz;
        FT *const tile = bbuf + bsz;

#pragma omp for schedule(static)
        for (ptrdiff_t n = 0; n < N; ++n) memset(dx + n * nst_x, 0, sizeof(FT) * (size_t)nst_x);

        for (ptrdiff_t n0 = 0; n0 < N; n0 += nbb) {                      /* blocks of images */
            const ptrdiff_t nb = FC_MIN(nbb, N - n0);
            FT *const dxb = dx + n0 * nst_x;
            for (ptrdiff_t col = 0; col < ncol; ++col) {                /* colours, in order */
                /* rows of one colour touch disjoint input rows (implicit barrier after each) */
#pragma omp for schedule(dynamic, 1)
                for (ptrdiff_t i = col; i < OH; i += ncol) {
                    for (ptrdiff_t j = 0; j < OW; ++j) {                /* output columns, in order */
                        const ptrdiff_t p = i * OW + j;
                        const FT *wt = w + ((i % tiles_h) * tiles_w + j % tiles_w) * K * Kt;
                        /* dcol[image][q] = dY_p . W */
                        FN(local_gemm_serial)(kt, nb, Kt, K, dy + n0 * nst_y + p * pst_y, nst_y, kst_y, wt, Kt, 1,
                                              dcol, Kt, 0, abuf, mc_max, bbuf, nc_max, tile);
                        /* add the window gradient into dx: the kernel columns whose
                         * taps fall inside the image form the range [s0, s1) */
                        const ptrdiff_t ihb = i * sh - pt, iwb = j * sw - pl;
                        const ptrdiff_t s0 = iwb >= 0 ? 0 : (-iwb + dwl - 1) / dwl;
                        const ptrdiff_t s1 = W - 1 - iwb < 0 ? 0 : FC_MIN(KW, (W - 1 - iwb) / dwl + 1);
                        for (ptrdiff_t nn = 0; nn < nb; ++nn)
                            for (ptrdiff_t c = 0; c < C; ++c)
                                for (ptrdiff_t r = 0; r < KH; ++r) {
                                    const ptrdiff_t ih = ihb + r * dh;
                                    if (ih < 0 || ih >= H) continue;
                                    FT *restrict d = dxb + nn * nst_x + c * cst_x + (ih * W + iwb + s0 * dwl) * pst_x;
                                    const FT *restrict src = dcol + nn * Kt + c * KK + r * KW + s0;
                                    if (pst_x == 1 && dwl == 1)
                                        for (ptrdiff_t t = 0; t < s1 - s0; ++t) d[t] += src[t];
                                    else
                                        for (ptrdiff_t t = 0; t < s1 - s0; ++t) d[t * dwl * pst_x] += src[t];
                                }
                    }
                }
            }
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

/* db = the sum of dy over the images (per_position: (out_channels, out_h,
 * out_w)) or over the images and positions ((out_channels)). */
int FN(fc_tiled_conv2d_backward_bias)(const fc_conv_geom *g, const FT *dy, int per_position, FT *db)
{
    if (!g || g->batch < 0 || g->out_channels < 1 || g->out_h < 1 || g->out_w < 1) return FC_EINVAL;
    if (g->layout != FC_LAYOUT_NCHW && g->layout != FC_LAYOUT_NHWC) return FC_EINVAL;
    if (!dy || !db) return FC_EINVAL;
    const ptrdiff_t N = g->batch, K = g->out_channels, P = g->out_h * g->out_w;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    const ptrdiff_t kst = nchw ? P : 1, pst = nchw ? 1 : K, nst = K * P;
    const int nt = local_threads((double)N * K * P);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t k = 0; k < K; ++k) {
        const FT *dk = dy + k * kst;
        if (per_position) {
            for (ptrdiff_t p = 0; p < P; ++p) {
                FT s = 0;
                for (ptrdiff_t n = 0; n < N; ++n) s += dk[n * nst + p * pst];
                db[k * P + p] = s;
            }
        } else {
            /* per image first: shorter sums, smaller rounding error */
            FT total = 0;
            for (ptrdiff_t n = 0; n < N; ++n) {
                FT s = 0;
                for (ptrdiff_t p = 0; p < P; ++p) s += dk[n * nst + p * pst];
                total += s;
            }
            db[k] = total;
        }
    }
    return FC_OK;
}

/* ---- fully connected layer ------------------------------------------------------ */
/*
 * Few rows (a batch of 1 is a matrix-vector product, memory-bound on the
 * weight) skip the packing and stream the weight once, in one of two forms
 * by the weight's layout.  Both sum in the GEMM's order -- per block of kc
 * inputs (the active blocking) one multiply-add chain per output element
 * from zero, the block sums then added in order -- so that a row's result
 * never depends on the batch it came in.
 */

/* y[j] += xv * b[j] for j < n: compiled for the baseline and, through a
 * target attribute, for AVX2 + FMA, where the multiply-add contracts to an
 * FMA exactly as in the micro-kernels of that level. */
static inline __attribute__((always_inline)) void FN(local_axpy_body)(ptrdiff_t n, FT xv, const FT *restrict b,
                                                                       FT *restrict y)
{
    for (ptrdiff_t j = 0; j < n; ++j) y[j] += xv * b[j];
}

static void FN(local_axpy_base)(ptrdiff_t n, FT xv, const FT *restrict b, FT *restrict y)
{
    FN(local_axpy_body)(n, xv, b, y);
}

typedef void (*FN(local_axpy_fn))(ptrdiff_t, FT, const FT *restrict, FT *restrict);

#if FC_LOCAL_HAVE_AVX2_TARGET
__attribute__((target("avx2,fma"))) static void FN(local_axpy_avx2)(ptrdiff_t n, FT xv, const FT *restrict b,
                                                                    FT *restrict y)
{
    FN(local_axpy_body)(n, xv, b, y);
}
#endif

#if FC_LOCAL_HAVE_AVX2_TARGET
/* the same multiply-adds in 512-bit vectors (the weight gradient writes and
 * the input gradient reads a whole weight: fewer, wider memory operations) */
__attribute__((target("avx512f,avx2,fma,prefer-vector-width=512"))) static void
FN(local_axpy_avx512)(ptrdiff_t n, FT xv, const FT *restrict b, FT *restrict y)
{
    FN(local_axpy_body)(n, xv, b, y);
}
#endif

static FN(local_axpy_fn) FN(local_pick_axpy)(void)
{
#if FC_LOCAL_HAVE_AVX2_TARGET
    if (fc_isa_active() >= FC_ISA_AVX512) return FN(local_axpy_avx512);
    if (fc_isa_active() >= FC_ISA_AVX2) return FN(local_axpy_avx2);
#endif
    return FN(local_axpy_base);
}

/*
 * Dot form, for few rows of X: y[r][j] = x_r . bt_j (+ bias[j]) where bt_j,
 * row j of B transposed, is contiguous (row stride ldb).  The tile
 * kernels (kernels/linear_avx2.c: 8 float32 / 4 float64 columns;
 * kernels/linear_avx512.c at AVX-512: 16 float32 columns, twice the
 * outputs per FMA chain, the bound of a single row) transpose blocks of B
 * in registers so that the lanes hold outputs; threads split the tiles of
 * columns (a fixed grid, dynamic chunks: a thread slowed down by another
 * process does not hold the others up).  A last, short tile repeats its last row of B.
 * Without AVX2 the caller takes the GEMM instead.
 */
#if FC_LOCAL_HAVE_AVX2_TARGET
#define FC_LOCAL_TILE_MAX 16       /* widest tile of columns a kernel computes */
typedef void (*FN(local_tile_fn))(ptrdiff_t, ptrdiff_t, ptrdiff_t, const FT *, ptrdiff_t, const FT *const *, FT *);

/* The tile kernel of the active level and its width: all sum alike. */
static FN(local_tile_fn) FN(local_pick_tile)(ptrdiff_t *cols)
{
#ifdef FC_LOCAL_TILE512
    if (fc_isa_active() >= FC_ISA_AVX512) {
        *cols = 16;
        return FC_LOCAL_TILE512;
    }
#endif
    *cols = (ptrdiff_t)(32 / sizeof(FT));
    return FC_CAT(FN(fc_linear_tile), _avx2);
}

static void FN(local_linear_dot)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const FT *x, ptrdiff_t ldx,
                                 const FT *bt, ptrdiff_t ldb, const FT *bias, FT *y, ptrdiff_t ldy, int nt)
{
#ifdef FC_LOCAL_ROW8
    /* one row of x, at least four kc blocks, a weight that stays in cache
     * (L3): 8 outputs x 4 blocks per tile (kernels/linear_avx512.c), the
     * same sums.  Streaming from memory, the 16-row tile was measured
     * faster (9216 -> 4096: 5.7 against 7.6 ms). */
    if (m == 1 && fc_isa_active() >= FC_ISA_AVX512) {
        const ptrdiff_t kc8 = fc_kernels()->FC_LOCAL_BL.kc;
        if (k >= 4 * kc8 && (double)n * (double)k * sizeof(FT) <= (double)FC_LOCAL_ROW8_BYTES) {
            const ptrdiff_t tiles8 = (n + 7) / 8;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (nt > 1)
            for (ptrdiff_t ti = 0; ti < tiles8; ++ti) {
                const ptrdiff_t j0 = ti * 8, cnt = FC_MIN(8, n - j0);
                const FT *rows[8];
                FT out[8];
                for (ptrdiff_t l = 0; l < 8; ++l) rows[l] = bt + (j0 + FC_MIN(l, cnt - 1)) * ldb;
                FC_LOCAL_ROW8(k, kc8, x, rows, out);
                for (ptrdiff_t l = 0; l < cnt; ++l) y[j0 + l] = bias ? out[l] + bias[j0 + l] : out[l];
            }
            return;
        }
    }
#endif
    ptrdiff_t cols;
    const FN(local_tile_fn) tile_fn = FN(local_pick_tile)(&cols);
    const ptrdiff_t tiles = (n + cols - 1) / cols;
    const ptrdiff_t kc = fc_kernels()->FC_LOCAL_BL.kc;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 2) if (nt > 1)
    for (ptrdiff_t ti = 0; ti < tiles; ++ti) {
        const ptrdiff_t j0 = ti * cols, cnt = FC_MIN(cols, n - j0);
        const FT *rows[FC_LOCAL_TILE_MAX];
        FT tile[FC_LOCAL_SKINNY * FC_LOCAL_TILE_MAX];
        for (ptrdiff_t l = 0; l < cols; ++l) rows[l] = bt + (j0 + FC_MIN(l, cnt - 1)) * ldb;
        tile_fn(m, k, kc, x, ldx, rows, tile);
        for (ptrdiff_t r = 0; r < m; ++r) {
            FT *yr = y + r * ldy + j0;
            const FT *tr = tile + r * cols;
            for (ptrdiff_t l = 0; l < cnt; ++l) yr[l] = bias ? tr[l] + bias[j0 + l] : tr[l];
        }
    }
}
#undef FC_LOCAL_TILE_MAX
#endif

/*
 * Axpy form, for few rows of X: y[r][j] = sum_p x[r][p] * b[p][j] (+ bias[j])
 * where row p of B is contiguous (row stride ldb): the input gradient of a
 * batch-1 layer, W^T g.  Each thread takes one range of columns and streams
 * its part of every row of B in order, whole (a batch-1 call reads B once,
 * sequentially: short pieces of rows far apart starve the hardware
 * prefetchers, measured twice as slow); per kc block of p, the first block
 * accumulates in y, the others in a scratch row per row of x (heap: up to
 * m x n elements per thread, in L2) added to y.  The ranges never change a
 * sum.
 */
static int FN(local_linear_axpy)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const FT *x, ptrdiff_t ldx,
                                 const FT *b, ptrdiff_t ldb, const FT *bias, FT *y, ptrdiff_t ldy, int nt)
{
    const FN(local_axpy_fn) axpy = FN(local_pick_axpy)();
    const ptrdiff_t kc = fc_kernels()->FC_LOCAL_BL.kc;
    /* ranges of whole lines (64 elements: aligned for either type) */
    const ptrdiff_t JB = FC_MAX((ptrdiff_t)64, local_round_up((n + nt - 1) / nt, 64));
    const ptrdiff_t blocks = (n + JB - 1) / JB;
    FT *scratch = NULL;
    if (k > kc) {
        size_t sz;
        if (fc_size_mul3((size_t)blocks * (size_t)m, (size_t)JB, sizeof(FT), &sz)) return FC_EOVERFLOW;
        scratch = (FT *)fc_aligned_alloc(sz);
        if (!scratch) return FC_ENOMEM;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1 && blocks > 1)
    for (ptrdiff_t bi = 0; bi < blocks; ++bi) {
        const ptrdiff_t j0 = bi * JB, jn = FC_MIN(JB, n - j0);
        FT *const part = scratch ? scratch + (size_t)bi * (size_t)m * (size_t)JB : NULL;
        for (ptrdiff_t pc = 0; pc < k; pc += kc) {
            const ptrdiff_t pe = FC_MIN(k, pc + kc);
            FT *const acc = pc == 0 ? y + j0 : part;
            const ptrdiff_t lda = pc == 0 ? ldy : JB;
            for (ptrdiff_t r = 0; r < m; ++r)
                for (ptrdiff_t j = 0; j < jn; ++j) acc[r * lda + j] = 0;
            for (ptrdiff_t p = pc; p < pe; ++p)
                for (ptrdiff_t r = 0; r < m; ++r) axpy(jn, x[r * ldx + p], b + p * ldb + j0, acc + r * lda);
            if (pc > 0)
                for (ptrdiff_t r = 0; r < m; ++r) {
                    FT *yr = y + r * ldy + j0;
                    for (ptrdiff_t j = 0; j < jn; ++j) yr[j] += part[r * JB + j];
                }
        }
        if (bias)
            for (ptrdiff_t r = 0; r < m; ++r) {
                FT *yr = y + r * ldy + j0;
                for (ptrdiff_t j = 0; j < jn; ++j) yr[j] += bias[j0 + j];
            }
    }
    fc_aligned_free(scratch);
    return FC_OK;
}

/*
 * y[m x n] = x[m x k] . B[k x n] (+ bias) with B given by element strides:
 * dot or axpy loops for few rows (no packing: B is read once, which is what
 * a batch-1 layer costs), the GEMM otherwise.  y is dense (row stride n).
 * A row's result does not depend on the number of rows: the GEMM's sums do
 * not, the few-row loops sum in the GEMM's order, and the bias comes last.
 */
static int FN(local_linear_apply)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const FT *x, ptrdiff_t rs_x,
                                  ptrdiff_t cs_x, const FT *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                                  const FT *bias, FT *y)
{
    const int nt = local_threads((double)m * n * k);
    if (k == 0) {
        for (ptrdiff_t r = 0; r < m; ++r)
            for (ptrdiff_t j = 0; j < n; ++j) y[r * n + j] = bias ? bias[j] : (FT)0;
        return FC_OK;
    }
#if FC_LOCAL_HAVE_AVX2_TARGET
    if (m <= FC_LOCAL_SKINNY && cs_x == 1 && rs_b == 1 && fc_isa_active() >= FC_ISA_AVX2) {
        FN(local_linear_dot)(m, n, k, x, rs_x, b, cs_b, bias, y, n, nt);
        return FC_OK;
    }
#endif
    if (m <= FC_LOCAL_SKINNY && cs_x == 1 && cs_b == 1) {
        return FN(local_linear_axpy)(m, n, k, x, rs_x, b, rs_b, bias, y, n, nt);
    }
    if (m < n && rs_b == 1) {
        /* Y^T = B^T . X^T in blocks of rows of Y: B^T (rows contiguous) is the
         * A operand, packed by the fast transposing packer, instead of a
         * scalar transposition of all of B; then transpose Y^T back. */
        const ptrdiff_t mb_max = FC_MIN(m, (ptrdiff_t)256);
        size_t tsz;
        if (fc_size_mul3((size_t)n, (size_t)mb_max, sizeof(FT), &tsz)) return FC_EOVERFLOW;
        FT *yt = (FT *)fc_aligned_alloc(tsz);
        if (!yt) return FC_ENOMEM;
        int st = FC_OK;
        for (ptrdiff_t r0 = 0; r0 < m && st == FC_OK; r0 += mb_max) {
            const ptrdiff_t mb = FC_MIN(mb_max, m - r0);
            st = FC_LOCAL_GEMM(n, mb, k, 1, b, cs_b, rs_b, x + r0 * rs_x, cs_x, rs_x, 0, yt, mb, 0);
            if (st) break;
            const ptrdiff_t JB = 64, blocks = (n + JB - 1) / JB;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (ptrdiff_t bi = 0; bi < blocks; ++bi) {
                const ptrdiff_t j0 = bi * JB, j1 = FC_MIN(n, j0 + JB);
                for (ptrdiff_t r = 0; r < mb; ++r) {
                    FT *yr = y + (r0 + r) * n;
                    for (ptrdiff_t j = j0; j < j1; ++j) yr[j] = bias ? yt[j * mb + r] + bias[j] : yt[j * mb + r];
                }
            }
        }
        fc_aligned_free(yt);
        return st;
    }
    /* the bias is added last, as in the other orientation: a row's result
     * is then the same whichever GEMM orientation the batch size picks */
    const int st = FC_LOCAL_GEMM(m, n, k, 1, x, rs_x, cs_x, b, rs_b, cs_b, 0, y, n, 0);
    if (st || !bias) return st;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t r = 0; r < m; ++r) {
        FT *yr = y + r * n;
        for (ptrdiff_t j = 0; j < n; ++j) yr[j] += bias[j];
    }
    return FC_OK;
}

int FN(fc_linear_forward)(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                          const FT *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                          const FT *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const FT *bias, FT *y)
{
    if (m < 0 || in_features < 0 || out_features < 0) return FC_EINVAL;
    if (m == 0 || out_features == 0) return FC_OK;
    if (!x || !w || !y) return FC_EINVAL;
    /* B = w^T: element (p, j) at w[j * rs_w + p * cs_w] */
    return FN(local_linear_apply)(m, out_features, in_features, x, rs_x, cs_x, w, cs_w, rs_w, bias, y);
}

int FN(fc_linear_backward_input)(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                 const FT *dy, const FT *w, ptrdiff_t rs_w, ptrdiff_t cs_w, FT *dx)
{
    if (m < 0 || in_features < 0 || out_features < 0) return FC_EINVAL;
    if (m == 0 || in_features == 0) return FC_OK;
    if (!dy || !w || !dx) return FC_EINVAL;
    /* dx = dy . w: B = w, (p, j) at w[p * rs_w + j * cs_w] */
    return FN(local_linear_apply)(m, in_features, out_features, dy, out_features, 1, w, rs_w, cs_w, NULL, dx);
}

int FN(fc_linear_backward_weight)(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                  const FT *dy, const FT *x, ptrdiff_t rs_x, ptrdiff_t cs_x, FT *dw)
{
    if (m < 0 || in_features < 0 || out_features < 0) return FC_EINVAL;
    if (out_features == 0 || in_features == 0) return FC_OK;
    if (!dw || (m > 0 && (!dy || !x))) return FC_EINVAL;
    if (m <= FC_LOCAL_SKINNY && (cs_x == 1 || m == 0)) {
        /* a sum of m outer products, row by row of dw: each row is written
         * once (in cache while its m terms accumulate), which is what a
         * batch-1 gradient costs; the GEMM would clear dw first */
        const FN(local_axpy_fn) axpy = FN(local_pick_axpy)();
        const int nt = local_threads((double)(m + 1) * out_features * in_features);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) if (nt > 1)
        for (ptrdiff_t o = 0; o < out_features; ++o) {
            FT *d = dw + o * in_features;
            for (ptrdiff_t j = 0; j < in_features; ++j) d[j] = 0;
            for (ptrdiff_t r = 0; r < m; ++r) axpy(in_features, dy[r * out_features + o], x + r * rs_x, d);
        }
        return FC_OK;
    }
    /* dw = dy^T . x */
    return FC_LOCAL_GEMM(out_features, in_features, m, 1, dy, 1, out_features, x, rs_x, cs_x, 0, dw,
                         in_features, 0);
}

int FN(fc_linear_backward_bias)(ptrdiff_t m, ptrdiff_t out_features, const FT *dy, FT *db)
{
    if (m < 0 || out_features < 0) return FC_EINVAL;
    if (out_features == 0) return FC_OK;
    if (!db || (m > 0 && !dy)) return FC_EINVAL;
    const int nt = local_threads((double)m * out_features);
    const ptrdiff_t JB = FC_LOCAL_GEMV_BLOCK, blocks = (out_features + JB - 1) / JB;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t bi = 0; bi < blocks; ++bi) {
        const ptrdiff_t j0 = bi * JB, jn = FC_MIN(JB, out_features - j0);
        FT *d = db + j0;
        for (ptrdiff_t j = 0; j < jn; ++j) d[j] = 0;
        for (ptrdiff_t r = 0; r < m; ++r) {
            const FT *g = dy + r * out_features + j0;
            for (ptrdiff_t j = 0; j < jn; ++j) d[j] += g[j];
        }
    }
    return FC_OK;
}

#undef FC_LOCAL_TAP
#undef FN
#undef FC_CAT
#undef FC_CAT_
