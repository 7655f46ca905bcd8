/*
 * conv_impl.h -- convolution drivers for one element type, included by
 * conv.c once per type with FT (the type), FSUF (_f32 / _f64), FC_CONV_BL
 * (the kernel-table blocking field: s or d) and FC_CONV_UK (the micro-kernel
 * field: sgemm or dgemm) defined.
 *
 * Forward convolution is an implicit GEMM on the project's micro-kernels:
 *   NCHW  Y_g[Kg x P] = W_g[Kg x Ktot] . col_g[Ktot x P]    weights are A
 *   NHWC  Y_g[P x Kg] = col_g[P x Ktot] . W_g^T[Ktot x Kg]  weights are B
 * (P output pixels, Ktot = Cg * kh * kw).  The weights are packed once per
 * call; the im2col matrix never exists: its micro-panels are gathered from
 * the image straight into the packed layout the micro-kernel reads, one
 * cache-sized block at a time.  Work items are (image, group, block of
 * pixels, block of output channels): every output element belongs to exactly
 * one item and is summed in the same order (kc blocks, then the kernel's
 * order) whatever thread runs it, so results are bitwise identical for any
 * thread count, and the workspace is a few cache-sized blocks per thread.
 */
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, FSUF)

typedef void (*FN(ukernel_t))(ptrdiff_t, const FT *, const FT *, FT *, ptrdiff_t, int);

/* ---- packing helpers ---------------------------------------------------- */

/* Store `len` values src[0], src[st], ... at positions jj.. of one k row of a
 * sequence of NR-wide micro-panels (bk: the row in panel 0; pstride: the
 * distance between panels). */
static inline void FN(put_run)(FT *bk, ptrdiff_t pstride, int NR, ptrdiff_t jj,
                               ptrdiff_t len, const FT *src, ptrdiff_t st)
{
    while (len > 0) {
        const ptrdiff_t lane = jj % NR, take = FC_MIN((ptrdiff_t)NR - lane, len);
        FT *d = bk + (jj / NR) * pstride + lane;
        if (st == 1)
            for (ptrdiff_t t = 0; t < take; ++t) d[t] = src[t];
        else
            for (ptrdiff_t t = 0; t < take; ++t) d[t] = src[t * st];
        src += take * st;
        jj += take;
        len -= take;
    }
}

static inline void FN(put_zero)(FT *bk, ptrdiff_t pstride, int NR, ptrdiff_t jj, ptrdiff_t len)
{
    while (len > 0) {
        const ptrdiff_t lane = jj % NR, take = FC_MIN((ptrdiff_t)NR - lane, len);
        FT *d = bk + (jj / NR) * pstride + lane;
        for (ptrdiff_t t = 0; t < take; ++t) d[t] = 0;
        jj += take;
        len -= take;
    }
}

/* NCHW: the B micro-panels (kcb x NR, NR values per k) of the implicit im2col
 * matrix of one image and group (x: its first channel): rows k in
 * [pc, pc + kcb) ordered (c, r, s), columns the output pixels [j0, j0 + nb).
 * Each k row is a shifted copy of input rows: walk the output rows the pixel
 * block covers and copy the part whose taps fall inside the image. */
static void FN(pack_b_nchw)(const fc_conv_geom *g, const FT *x, ptrdiff_t pc, ptrdiff_t kcb,
                            ptrdiff_t j0, ptrdiff_t nb, int NR, FT *bp)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const ptrdiff_t pstride = kcb * NR;
    const ptrdiff_t nb_pad = (nb + NR - 1) / NR * NR;
    ptrdiff_t s = pc % KW, r = (pc / KW) % KH, c = pc / (KW * KH);

    for (ptrdiff_t p = 0; p < kcb; ++p) {
        const ptrdiff_t off_w = s * dw - pl;
        ptrdiff_t lo, hi;
        fc_valid_range(OW, W, sw, off_w, &lo, &hi);
        const FT *xc = x + c * H * W;
        FT *bk = bp + p * NR;
        ptrdiff_t jj = 0, oh = j0 / OW, ow0 = j0 % OW;
        while (jj < nb) {                       /* one output row at a time */
            const ptrdiff_t len = FC_MIN(OW - ow0, nb - jj);
            const ptrdiff_t ih = oh * sh - pt + r * dh;
            const ptrdiff_t a = FC_MAX(ow0, lo), b = FC_MIN(ow0 + len, hi);
            if (ih < 0 || ih >= H || a >= b) {
                FN(put_zero)(bk, pstride, NR, jj, len);
            } else {
                const FT *xr = xc + ih * W + off_w;
                FN(put_zero)(bk, pstride, NR, jj, a - ow0);
                FN(put_run)(bk, pstride, NR, jj + a - ow0, b - a, xr + a * sw, sw);
                FN(put_zero)(bk, pstride, NR, jj + b - ow0, ow0 + len - b);
            }
            jj += len;
            ++oh;
            ow0 = 0;
        }
        FN(put_zero)(bk, pstride, NR, nb, nb_pad - nb);
        if (++s == KW) {                        /* next k row: (c, r, s) odometer */
            s = 0;
            if (++r == KH) {
                r = 0;
                ++c;
            }
        }
    }
}

/* NHWC: the A micro-panels (kcb x MR, MR values per k) of the implicit im2col
 * matrix of one image and group (x: the image, at the group's first channel):
 * rows the output pixels [i0, i0 + mb), columns k in [pc, pc + kcb) ordered
 * (r, s, c).  tab holds 4 * kcb offsets computed once per block so that a
 * pixel whose whole window is inside the image costs one load per value. */
static void FN(pack_a_nhwc)(const fc_conv_geom *g, const FT *x, ptrdiff_t pc, ptrdiff_t kcb,
                            ptrdiff_t i0, ptrdiff_t mb, int MR, FT *ap, ptrdiff_t *tab)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, C = g->in_channels;
    const ptrdiff_t Cg = C / g->groups, KW = g->kernel_w;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    ptrdiff_t *tr = tab, *ts = tab + kcb, *tc = tab + 2 * kcb, *toff = tab + 3 * kcb;
    ptrdiff_t rmax = 0, smax = 0;
    {
        ptrdiff_t c = pc % Cg, rs = pc / Cg;
        ptrdiff_t s = rs % KW, r = rs / KW;
        for (ptrdiff_t p = 0; p < kcb; ++p) {
            tr[p] = r * dh;
            ts[p] = s * dw;
            tc[p] = c;
            toff[p] = (r * dh * W + s * dw) * C + c;
            rmax = FC_MAX(rmax, tr[p]);
            smax = FC_MAX(smax, ts[p]);
            if (++c == Cg) {
                c = 0;
                if (++s == KW) {
                    s = 0;
                    ++r;
                }
            }
        }
    }
    const ptrdiff_t mb_pad = (mb + MR - 1) / MR * MR;
    for (ptrdiff_t i = 0; i < mb_pad; ++i) {
        FT *d = ap + (i / MR) * kcb * MR + i % MR;
        if (i >= mb) {
            for (ptrdiff_t p = 0; p < kcb; ++p) d[p * MR] = 0;
            continue;
        }
        const ptrdiff_t j = i0 + i, oh = j / OW, ow = j % OW;
        const ptrdiff_t ih0 = oh * sh - pt, iw0 = ow * sw - pl;
        if (ih0 >= 0 && ih0 + rmax < H && iw0 >= 0 && iw0 + smax < W) {
            const FT *base = x + (ih0 * W + iw0) * C;
            for (ptrdiff_t p = 0; p < kcb; ++p) d[p * MR] = base[toff[p]];
        } else {
            for (ptrdiff_t p = 0; p < kcb; ++p) {
                const ptrdiff_t ih = ih0 + tr[p], iw = iw0 + ts[p];
                d[p * MR] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[(ih * W + iw) * C + tc[p]] : 0;
            }
        }
    }
}

/* ---- the implicit-GEMM drivers ------------------------------------------ */

#define FC_CONV_KC 256    /* depth of a packed block: a kc x nr B micro-panel fills half of L1 */

/* C tile update from the micro-kernel: full tiles go straight to C; edge tiles
 * through a scratch tile so only the valid part is touched (C += T has the
 * same rounding as the kernel's own accumulate, so the two paths agree). */
static inline void FN(tile)(FN(ukernel_t) uk, ptrdiff_t kcb, const FT *ap, const FT *bp, FT *c,
                            ptrdiff_t ldc, int acc, ptrdiff_t mr_eff, ptrdiff_t nr_eff,
                            int MR, int NR, FT *scratch)
{
    if (mr_eff == MR && nr_eff == NR) {
        uk(kcb, ap, bp, c, ldc, acc);
        return;
    }
    uk(kcb, ap, bp, scratch, NR, 0);
    for (ptrdiff_t i = 0; i < mr_eff; ++i) {
        FT *cr = c + i * ldc;
        const FT *tr = scratch + i * NR;
        if (acc)
            for (ptrdiff_t j = 0; j < nr_eff; ++j) cr[j] += tr[j];
        else
            for (ptrdiff_t j = 0; j < nr_eff; ++j) cr[j] = tr[j];
    }
}

/* Split `panels` into chunks so that items * chunks reaches a few per thread. */
static ptrdiff_t FN(chunk_panels)(ptrdiff_t panels, ptrdiff_t items, int nt)
{
    ptrdiff_t chunks = 1;
    while (items * chunks < 3 * (ptrdiff_t)nt && chunks * 2 <= panels) chunks *= 2;
    return (panels + chunks - 1) / chunks;
}

static ptrdiff_t FN(round_up)(ptrdiff_t a, ptrdiff_t b) { return (a + b - 1) / b * b; }

/* Pixel blocks of about `bytes` of packed operand per kc block, whole
 * `unit`-pixel panels, balanced: returns the block size, *count the blocks. */
static ptrdiff_t FN(pixel_block)(ptrdiff_t P, size_t bytes, ptrdiff_t unit, ptrdiff_t *count)
{
    const ptrdiff_t target = FC_MAX(unit, (ptrdiff_t)(bytes / (FC_CONV_KC * sizeof(FT))) / unit * unit);
    const ptrdiff_t n = (P + target - 1) / target;
    const ptrdiff_t B = FN(round_up)((P + n - 1) / n, unit);
    *count = (P + B - 1) / B;
    return B;
}

/* The implicit-GEMM drivers' workspace: the packed weights (G x rows_pad x
 * Ktot) then nt per-thread slices of a kc-deep block of `blk` pixels, an
 * MR x NR tile and `extra` bytes, each part in whole cache lines.  *wsz and
 * *per: the weights' and a slice's sizes in elements; NULL and *status set
 * on overflow or failure. */
static FT *FN(gemm_workspace)(ptrdiff_t G, ptrdiff_t rows_pad, ptrdiff_t Ktot, ptrdiff_t blk, int MR, int NR,
                              size_t extra, int nt, size_t *wsz, size_t *per, int *status)
{
    const size_t al = FC_ALIGN / sizeof(FT);
    size_t w, b, total;
    *status = FC_EOVERFLOW;
    if (fc_size_mul3((size_t)G, (size_t)rows_pad, (size_t)Ktot, &w) ||
        fc_size_mul3((size_t)FC_MIN(FC_CONV_KC, Ktot), (size_t)blk, 1, &b))
        return NULL;
    *wsz = (w + al - 1) / al * al;
    *per = (b + al - 1) / al * al + ((size_t)MR * NR + al - 1) / al * al +
           (extra + FC_ALIGN - 1) / FC_ALIGN * FC_ALIGN / sizeof(FT);
    if (fc_size_mul3(*per, (size_t)nt, 1, &total) || total > SIZE_MAX - *wsz ||
        fc_size_mul3(total + *wsz, sizeof(FT), 1, &total))
        return NULL;
    FT *ws = (FT *)fc_aligned_alloc(total);
    *status = ws ? FC_OK : FC_ENOMEM;
    return ws;
}

static int FN(conv_fwd_gemm_nchw)(const fc_conv_geom *g, const FT *x, const FT *w,
                                  const FT *bias, FT *y, int nt)
{
    const fc_kernel_table *kt = fc_kernels();
    const FN(ukernel_t) uk = kt->FC_CONV_UK;
    const int MR = kt->FC_CONV_BL.mr, NR = kt->FC_CONV_BL.nr;
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, HW = g->in_h * g->in_w;
    const ptrdiff_t P = g->out_h * g->out_w, Ktot = Cg * g->kernel_h * g->kernel_w;
    const ptrdiff_t KC = FC_CONV_KC, Kg_pad = FN(round_up)(Kg, MR);

    /* pixel blocks of about 128 KiB of packed B per kc block (L2), in whole micro-panels */
    ptrdiff_t nblk;
    const ptrdiff_t NB = FN(pixel_block)(P, 131072, NR, &nblk);
    const ptrdiff_t mpanels = Kg_pad / MR;
    const ptrdiff_t mchunk = FN(chunk_panels)(mpanels, N * G * nblk, nt);
    const ptrdiff_t msplit = (mpanels + mchunk - 1) / mchunk;
    const ptrdiff_t items = N * G * nblk * msplit;

    size_t wsz, per;
    int status;
    FT *ws = FN(gemm_workspace)(G, Kg_pad, Ktot, NB, MR, NR, 0, nt, &wsz, &per, &status);
    if (!ws) return status;
    FT *const wpack = ws;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const bpack = ws + wsz + (size_t)tid * per;
        FT *const scratch = bpack + FN(round_up)(FC_MIN(KC, Ktot) * NB, FC_ALIGN / sizeof(FT));

        /* pack the weights: per group, per kc block, MR-row panels (kc x MR) */
#pragma omp for schedule(static)
        for (ptrdiff_t gp = 0; gp < G * mpanels; ++gp) {
            const ptrdiff_t gi = gp / mpanels, ip = gp % mpanels;
            for (ptrdiff_t pc = 0; pc < Ktot; pc += KC) {
                const ptrdiff_t kcb = FC_MIN(KC, Ktot - pc);
                FT *dst = wpack + gi * Kg_pad * Ktot + pc * Kg_pad + ip * MR * kcb;
                for (ptrdiff_t i = 0; i < MR; ++i) {
                    const ptrdiff_t row = ip * MR + i;
                    if (row < Kg) {
                        const FT *src = w + (gi * Kg + row) * Ktot + pc;
                        for (ptrdiff_t p = 0; p < kcb; ++p) dst[p * MR + i] = src[p];
                    } else {
                        for (ptrdiff_t p = 0; p < kcb; ++p) dst[p * MR + i] = 0;
                    }
                }
            }
        }
        /* (implicit barrier: the packed weights are complete) */

#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t it = 0; it < items; ++it) {
            ptrdiff_t rest = it;
            const ptrdiff_t mb = rest % msplit; rest /= msplit;
            const ptrdiff_t jb = rest % nblk; rest /= nblk;
            const ptrdiff_t gi = rest % G;
            const ptrdiff_t n = rest / G;
            const ptrdiff_t j0 = jb * NB, nb = FC_MIN(NB, P - j0);
            const ptrdiff_t ip0 = mb * mchunk, ip1 = FC_MIN(mpanels, ip0 + mchunk);
            const FT *xg = x + (n * C + gi * Cg) * HW;
            FT *yg = y + (n * K + gi * Kg) * P;

            for (ptrdiff_t pc = 0; pc < Ktot; pc += KC) {               /* k blocks */
                const ptrdiff_t kcb = FC_MIN(KC, Ktot - pc);
                FN(pack_b_nchw)(g, xg, pc, kcb, j0, nb, NR, bpack);      /* implicit im2col */
                const FT *wp = wpack + gi * Kg_pad * Ktot + pc * Kg_pad;
                for (ptrdiff_t ip = ip0; ip < ip1; ++ip) {              /* MR output channels */
                    const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, Kg - ip * MR);
                    const FT *ap = wp + ip * MR * kcb;
                    for (ptrdiff_t jp = 0; jp * NR < nb; ++jp) {        /* NR pixels */
                        const ptrdiff_t nr_eff = FC_MIN((ptrdiff_t)NR, nb - jp * NR);
                        FN(tile)(uk, kcb, ap, bpack + jp * NR * kcb,
                                 yg + ip * MR * P + j0 + jp * NR, P, pc > 0,
                                 mr_eff, nr_eff, MR, NR, scratch);
                    }
                }
            }
            if (bias) {
                for (ptrdiff_t row = ip0 * MR; row < FC_MIN(Kg, ip1 * MR); ++row) {
                    const FT b = bias[gi * Kg + row];
                    FT *yr = yg + row * P + j0;
                    for (ptrdiff_t j = 0; j < nb; ++j) yr[j] += b;
                }
            }
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

static int FN(conv_fwd_gemm_nhwc)(const fc_conv_geom *g, const FT *x, const FT *w,
                                  const FT *bias, FT *y, int nt)
{
    const fc_kernel_table *kt = fc_kernels();
    const FN(ukernel_t) uk = kt->FC_CONV_UK;
    const int MR = kt->FC_CONV_BL.mr, NR = kt->FC_CONV_BL.nr;
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, HWC = g->in_h * g->in_w * C;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t P = g->out_h * g->out_w, Ktot = Cg * KH * KW;
    const ptrdiff_t KC = FC_CONV_KC, Kg_pad = FN(round_up)(Kg, NR);

    /* pixel blocks: an A block of about 144 KiB per kc block (L2), whole MR panels */
    ptrdiff_t mblk;
    const ptrdiff_t MB = FN(pixel_block)(P, 147456, MR, &mblk);
    const ptrdiff_t npanels = Kg_pad / NR;
    const ptrdiff_t nchunk = FN(chunk_panels)(npanels, N * G * mblk, nt);
    const ptrdiff_t nsplit = (npanels + nchunk - 1) / nchunk;
    const ptrdiff_t items = N * G * mblk * nsplit;

    size_t wsz, per;
    int status;
    FT *ws = FN(gemm_workspace)(G, Kg_pad, Ktot, MB, MR, NR, (size_t)4 * KC * sizeof(ptrdiff_t), nt, &wsz, &per,
                                &status);
    if (!ws) return status;
    FT *const wpack = ws;

#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const apack = ws + wsz + (size_t)tid * per;
        FT *const scratch = apack + FN(round_up)(FC_MIN(KC, Ktot) * MB, FC_ALIGN / sizeof(FT));
        ptrdiff_t *const tab = (ptrdiff_t *)(scratch + FN(round_up)((ptrdiff_t)MR * NR, FC_ALIGN / sizeof(FT)));

        /* pack the weights as B: per group, per kc block, NR-column panels
         * (kc x NR); B(k, j) = w[j][c][r][s] with k = (r, s, c) */
#pragma omp for schedule(static)
        for (ptrdiff_t gp = 0; gp < G * npanels; ++gp) {
            const ptrdiff_t gi = gp / npanels, jp = gp % npanels;
            ptrdiff_t c = 0, s = 0, r = 0;
            for (ptrdiff_t pc = 0; pc < Ktot; pc += KC) {
                const ptrdiff_t kcb = FC_MIN(KC, Ktot - pc);
                FT *dst = wpack + gi * Kg_pad * Ktot + pc * Kg_pad + jp * NR * kcb;
                for (ptrdiff_t p = 0; p < kcb; ++p) {
                    const ptrdiff_t idx = (c * KH + r) * KW + s;
                    for (ptrdiff_t j = 0; j < NR; ++j) {
                        const ptrdiff_t col = jp * NR + j;
                        dst[p * NR + j] = col < Kg ? w[(gi * Kg + col) * Ktot + idx] : 0;
                    }
                    if (++c == Cg) {
                        c = 0;
                        if (++s == KW) {
                            s = 0;
                            ++r;
                        }
                    }
                }
            }
        }
        /* (implicit barrier: the packed weights are complete) */

#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t it = 0; it < items; ++it) {
            ptrdiff_t rest = it;
            const ptrdiff_t nbk = rest % nsplit; rest /= nsplit;
            const ptrdiff_t ib = rest % mblk; rest /= mblk;
            const ptrdiff_t gi = rest % G;
            const ptrdiff_t n = rest / G;
            const ptrdiff_t i0 = ib * MB, mb = FC_MIN(MB, P - i0);
            const ptrdiff_t jp0 = nbk * nchunk, jp1 = FC_MIN(npanels, jp0 + nchunk);
            const FT *xg = x + n * HWC + gi * Cg;
            FT *yg = y + (n * P + i0) * K + gi * Kg;

            for (ptrdiff_t pc = 0; pc < Ktot; pc += KC) {               /* k blocks */
                const ptrdiff_t kcb = FC_MIN(KC, Ktot - pc);
                FN(pack_a_nhwc)(g, xg, pc, kcb, i0, mb, MR, apack, tab);  /* implicit im2col */
                const FT *wp = wpack + gi * Kg_pad * Ktot + pc * Kg_pad;
                for (ptrdiff_t jp = jp0; jp < jp1; ++jp) {              /* NR output channels */
                    const ptrdiff_t nr_eff = FC_MIN((ptrdiff_t)NR, Kg - jp * NR);
                    const FT *bp = wp + jp * NR * kcb;
                    for (ptrdiff_t ip = 0; ip * MR < mb; ++ip) {        /* MR pixels */
                        const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, mb - ip * MR);
                        FN(tile)(uk, kcb, apack + ip * MR * kcb, bp,
                                 yg + ip * MR * K + jp * NR, K, pc > 0,
                                 mr_eff, nr_eff, MR, NR, scratch);
                    }
                }
            }
            if (bias) {
                const ptrdiff_t c0 = jp0 * NR, c1 = FC_MIN(Kg, jp1 * NR);
                const FT *bg = bias + gi * Kg;
                for (ptrdiff_t i = 0; i < mb; ++i) {
                    FT *yr = yg + i * K;
                    for (ptrdiff_t j = c0; j < c1; ++j) yr[j] += bg[j];
                }
            }
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
/* ---- indirect convolution (AVX2, float32) ------------------------------------ */
/*
 * Y[pixels x Kg] = A . W_g^T with A never formed: the micro-kernel
 * (kernels/convk_avx2_6x16.c) reads each output pixel's input through a
 * pointer per kernel tap, so neither im2col nor A packing exists; only the
 * weights are packed (once per call, as B panels of 16 output channels).
 * k runs over (channel chunk, tap, channel); a segment is one tap's run of
 * channels, contiguous for NHWC and one plane apart for NCHW.  NHWC taps
 * outside the image point at zeros; NCHW images with padding are first
 * copied into zero-bordered planes, a chunk of images at a time.  NCHW
 * output tiles (pixels x channels) are transposed into y at the end of an
 * item.  Items: (image, group, block of pixels, block of 16-channel panels).
 */
#define FC_IND_MR 6
#define FC_IND_NR 16
#define FC_IND_FLY_PIXELS 512
#define FC_IND_WROW_MAX_C 32   /* window-row segments below this many channels (NHWC) */

static int conv_fwd_indirect_f32(const fc_conv_geom *g, const float *x, const float *w,
                                 const float *bias, float *y, int nt)
{
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, H = g->in_h, W = g->in_w, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, T = KH * KW, Ktot = Cg * T;
    const ptrdiff_t P = g->out_h * OW, U = N * P;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    /* Few input channels: a segment is a run of kernel_w taps along one
     * input row of one channel (element stride dilation_w) instead of a run
     * of channels at one tap, so the kernel's inner loop is kernel_w long
     * rather than C; k then keeps the weights' own order (c, r, s).  The
     * kernel then reads planes: an NHWC image (grouped or dilated) is first
     * copied into (zero-bordered) planes, as a padded NCHW one is; the output
     * keeps its layout.
     * NHWC with one group, undilated rows and few channels instead takes a
     * row of the window as a segment: kernel_w pixels of all C channels,
     * contiguous in the image itself wherever the row lies inside it; k runs
     * in the order (r, s, c), kernel_h segments of kernel_w * C values.  Rows
     * above or below the image point at zeros; windows over the left or
     * right border read per-row edge strips: padded columns [-pad_left,
     * kernel_w - 1) and [max(0, W - kernel_w + 1), W + pad_right) of the row,
     * zeros outside the image, built per chunk of images. */
    const int wrow = !nchw && Cg < FC_MAX(KW, (ptrdiff_t)FC_IND_WROW_MAX_C) && G == 1 && dw == 1;
    const int rows = Cg < KW && !wrow;
    const int whole = rows || wrow;                      /* one channel chunk */
    const int pin = nchw || rows;                        /* the kernel reads planes */
    const int padded = nchw ? (g->pad_top | g->pad_bottom | g->pad_left | g->pad_right) != 0 : rows;
    const ptrdiff_t Hp = padded ? H + pt + g->pad_bottom : H, Wp = padded ? W + pl + g->pad_right : W;
    const ptrdiff_t cs = pin ? Hp * Wp : 1;
    const ptrdiff_t sl = pl + KW - 1, rs0 = FC_MAX((ptrdiff_t)0, W - KW + 1);
    const ptrdiff_t spix = wrow ? sl + W + g->pad_right - rs0 : 0;   /* edge-strip pixels per row */
    const int prep = padded || wrow;                     /* each chunk of images is prepared first */
    const int MR = FC_IND_MR, NR = FC_IND_NR;
    const int wide = fc_isa_active() >= FC_ISA_AVX512;   /* 6 x 32 tiles */
    const double img_bytes = wrow ? (double)H * spix * C * sizeof(float) : (double)C * Hp * Wp * sizeof(float);
    const ptrdiff_t S = wrow ? KH : rows ? Cg * KH : T;  /* segments per pixel and channel chunk */
    const ptrdiff_t es = rows ? dw : cs;                 /* element stride within a segment */

    /* Few output pixels (all of them one block): each item packs the weight
     * panels it owns on the fly, a channel chunk at a time, so the weights
     * are read once and their packed copy never leaves the cache.  Otherwise
     * the weights are packed once up front and shared by all pixel blocks. */
    const int fly = U <= FC_IND_FLY_PIXELS && (!prep || N * img_bytes <= (double)(32 << 20));

    /* k blocks: channel chunks of Lc, tg taps per block (about KCT values of k) */
    const ptrdiff_t KCT = pin ? 128 : 256;
    const ptrdiff_t Lc = wrow ? KW * C : rows ? KW : FC_MIN(Cg, fly ? FC_MAX((ptrdiff_t)32, KCT / T) : KCT);
    const ptrdiff_t ncc = whole ? 1 : (Cg + Lc - 1) / Lc;
    /* segments per k block: about KCT values of k, the blocks balanced */
    const ptrdiff_t tg0 = FC_MAX((ptrdiff_t)1, KCT / Lc), nkb = (S + tg0 - 1) / tg0;
    const ptrdiff_t tg = (S + nkb - 1) / nkb;
    const ptrdiff_t Kg_pad = (Kg + NR - 1) / NR * NR, npan = Kg_pad / NR;

    /* pixel blocks over all images' pixels: 96 pixels (whole tiles of 6) */
    const ptrdiff_t MB = fly ? (U + MR - 1) / MR * MR : 96;
    const ptrdiff_t tiles = MB / MR;
    ptrdiff_t nchunk = FN(chunk_panels)(npan, G * ((U + MB - 1) / MB), nt);
    if (wide && nchunk % 2 && nchunk < npan) ++nchunk;  /* whole pairs for the 6x32 kernel */
    const ptrdiff_t nsplit = (npan + nchunk - 1) / nchunk;
    const ptrdiff_t cb_ld = nchunk * NR;                 /* NCHW tile buffer / fly panel row */

    /* images prepared per chunk: at most 32 MiB of copies (at least one image) */
    const ptrdiff_t chunk_imgs = !prep || fly ? N
                                 : FC_MAX((ptrdiff_t)1, FC_MIN(N, (ptrdiff_t)((double)(32 << 20) / img_bytes)));

    const size_t al = FC_ALIGN / sizeof(float);
#define FC_RUP(v) (((size_t)(v) + al - 1) / al * al)
    const size_t pw = sizeof(ptrdiff_t) / sizeof(float);      /* floats per pointer / index */
    size_t wsz = 0, padsz = 0, per, total;
    if (!fly && fc_size_mul3((size_t)G, (size_t)Kg_pad, (size_t)Ktot, &wsz)) return FC_EOVERFLOW;
    if (padded && fc_size_mul3((size_t)chunk_imgs, (size_t)C, (size_t)(Hp * Wp), &padsz)) return FC_EOVERFLOW;
    if (wrow && fc_size_mul3((size_t)chunk_imgs * H, (size_t)spix, (size_t)C, &padsz)) return FC_EOVERFLOW;
    wsz = FC_RUP(wsz);
    padsz = prep ? FC_RUP(padsz + 16) : 0;
    const size_t zsz = FC_RUP((wrow ? KW * C : Cg) + 16);
    const ptrdiff_t qcols = fly ? Lc * S : Ktot;               /* one index table per chunk width */
    const size_t qsz = FC_RUP((size_t)4 * qcols * pw);
    const size_t ptab_elems = FC_RUP((size_t)tiles * S * MR * pw);
    const size_t cbsz = nchw ? FC_RUP((size_t)MB * cb_ld) : 0;
    const size_t bbsz = fly ? FC_RUP((size_t)cb_ld * Lc * S) : 0;
    per = ptab_elems + FC_RUP(MR * 2 * NR) + cbsz + bbsz;
    if (fc_size_mul3(per, (size_t)nt, 1, &total) || total > SIZE_MAX / 2 - wsz - padsz - zsz - qsz ||
        fc_size_mul3(total + wsz + padsz + zsz + qsz, sizeof(float), 1, &total))
        return FC_EOVERFLOW;
    float *ws = (float *)fc_aligned_alloc(total);
    if (!ws) return FC_ENOMEM;
    float *const wpack = ws, *const xpad = ws + wsz, *const zeros = xpad + padsz;
    ptrdiff_t *const qtab = (ptrdiff_t *)(zeros + zsz);
    float *const thread_ws = zeros + zsz + qsz;
    for (size_t i = 0; i < zsz; ++i) zeros[i] = 0;

    /* Where weight column q (channel c, tap t: q = c * T + t; in rows mode
     * segment t = (c, r), element e = s: q = t * KW + e) lands in a
     * packed block: qbase = the block's start + its row in the block (16
     * values a row), qkcb = the block's depth.  Prepacked: one table over
     * all columns, blocks at their k offset times Kg_pad.  On the fly: a
     * table per chunk width (the last chunk may be narrower), relative to
     * the chunk, the item's panels side by side (cb_ld values a row). */
    ptrdiff_t *qb[2], *qk[2];
    for (int v = 0; v < (fly ? 2 : 1); ++v) {
        qb[v] = qtab + (size_t)2 * v * qcols;
        qk[v] = qb[v] + qcols;
    }
    if (!fly) {
        for (ptrdiff_t cc = 0; cc < ncc; ++cc) {
            const ptrdiff_t L = whole ? Lc : FC_MIN(Lc, Cg - cc * Lc);
            for (ptrdiff_t t0 = 0; t0 < S; t0 += tg) {
                const ptrdiff_t nseg = FC_MIN(tg, S - t0), kcb = nseg * L, koff = cc * Lc * S + t0 * L;
                for (ptrdiff_t q = 0; q < nseg; ++q)
                    for (ptrdiff_t e = 0; e < L; ++e) {
                        const ptrdiff_t col = wrow ? (e % C) * T + (t0 + q) * KW + e / C
                                              : rows ? (t0 + q) * KW + e : (cc * Lc + e) * T + t0 + q;
                        qb[0][col] = koff * Kg_pad + (q * L + e) * NR;
                        qk[0][col] = kcb;
                    }
            }
        }
        const ptrdiff_t rblocks = Kg_pad / 8;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t gr = 0; gr < G * rblocks; ++gr) {
            const ptrdiff_t gi = gr / rblocks, r0 = (gr % rblocks) * 8;
            fc_conv_pack_b8_avx2(w + (gi * Kg + r0) * Ktot, Ktot, Kg - r0, Ktot, r0 / NR, r0 % NR,
                                 qb[0], qk[0], wpack + gi * Kg_pad * Ktot);
        }
    } else {
        for (int v = 0; v < (whole ? 1 : 2); ++v) {
            const ptrdiff_t L = v == 0 ? Lc : Cg - (ncc - 1) * Lc;
            for (ptrdiff_t e = 0; e < L; ++e)
                for (ptrdiff_t t = 0; t < S; ++t) {
                    const ptrdiff_t t0 = t / tg * tg, nseg = FC_MIN(tg, S - t0);
                    const ptrdiff_t col = wrow ? (e % C) * T + t * KW + e / C : rows ? t * KW + e : e * T + t;
                    qb[v][col] = t0 * L * cb_ld + ((t - t0) * L + e) * NR;
                    qk[v][col] = nseg * L;
                }
        }
    }

    for (ptrdiff_t n0 = 0; n0 < N; n0 += chunk_imgs) {
        const ptrdiff_t n1 = FC_MIN(N, n0 + chunk_imgs);
        const ptrdiff_t u_begin = n0 * P, u_count = (n1 - n0) * P;
        const ptrdiff_t ublk = (u_count + MB - 1) / MB;
        const ptrdiff_t items = G * ublk * nsplit;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            float *const tws = thread_ws + (size_t)tid * per;
            const float **const ptab = (const float **)tws;
            float *const scratch = tws + ptab_elems;
            float *const cbuf = scratch + FC_RUP(MR * 2 * NR);
            float *const bbuf = cbuf + cbsz;

            if (wrow) {                                  /* edge strips, one pair per image row */
                const ptrdiff_t nimg = n1 - n0;
#pragma omp for schedule(static)
                for (ptrdiff_t task = 0; task < nimg * H; ++task) {
                    const float *sr = x + (n0 * H + task) * W * C;
                    float *d = xpad + task * spix * C;
                    for (ptrdiff_t j = 0; j < spix; ++j) {
                        const ptrdiff_t col = j < sl ? j - pl : rs0 + j - sl;
                        for (ptrdiff_t c = 0; c < C; ++c) d[j * C + c] = col >= 0 && col < W ? sr[col * C + c] : 0;
                    }
                }
                /* (implicit barrier: the chunk's strips are built) */
            } else if (padded) {                         /* zero-bordered planes */
                const ptrdiff_t nimg = n1 - n0, plane = Hp * Wp;
                /* the zero rows above and below each plane */
#pragma omp for schedule(static) nowait
                for (ptrdiff_t pl_i = 0; pl_i < nimg * C; ++pl_i) {
                    float *d = xpad + pl_i * plane;
                    for (ptrdiff_t i = 0; i < pt * Wp; ++i) d[i] = 0;
                    for (ptrdiff_t i = (H + pt) * Wp; i < plane; ++i) d[i] = 0;
                }
                /* then image rows: one task per (image, input row) -- every
                 * channel's row of it (an NHWC row is read once, contiguously,
                 * and dealt out to the planes); rows balance the threads where
                 * planes (three for an RGB image) would not */
#pragma omp for schedule(static)
                for (ptrdiff_t task = 0; task < nimg * H; ++task) {
                    const ptrdiff_t ni = task / H, ih = task % H;
                    float *d0 = xpad + ni * C * plane + (ih + pt) * Wp;
                    for (ptrdiff_t c = 0; c < C; ++c) {
                        float *dr = d0 + c * plane;
                        for (ptrdiff_t i = 0; i < pl; ++i) dr[i] = 0;
                        for (ptrdiff_t i = pl + W; i < Wp; ++i) dr[i] = 0;
                    }
                    if (nchw) {
                        for (ptrdiff_t c = 0; c < C; ++c) {
                            const float *sr = x + ((n0 + ni) * C + c) * H * W + ih * W;
                            float *dr = d0 + c * plane + pl;
                            for (ptrdiff_t i = 0; i < W; ++i) dr[i] = sr[i];
                        }
                    } else {
                        const float *sr = x + ((n0 + ni) * H + ih) * W * C;
                        for (ptrdiff_t i = 0; i < W; ++i)
                            for (ptrdiff_t c = 0; c < C; ++c) d0[c * plane + pl + i] = sr[i * C + c];
                    }
                }
                /* (implicit barrier: the chunk is padded) */
            }

#pragma omp for schedule(dynamic, 1)
            for (ptrdiff_t it = 0; it < items; ++it) {
                ptrdiff_t rest = it;
                const ptrdiff_t nbk = rest % nsplit; rest /= nsplit;
                const ptrdiff_t ib = rest % ublk;
                const ptrdiff_t gi = rest / ublk;
                const ptrdiff_t u0 = u_begin + ib * MB, mb = FC_MIN(MB, u_begin + u_count - u0);
                const ptrdiff_t jp0 = nbk * nchunk, jp1 = FC_MIN(npan, jp0 + nchunk);
                if (jp0 >= jp1) continue;

                /* pointer table: ptab[(tile * S + t) * 6 + i] = pixel's input at
                 * segment t; the pixels in order, (image, row, column) stepped
                 * rather than divided out per pixel */
                ptrdiff_t rn = u0 / P, roh = (u0 - rn * P) / OW, row = u0 - rn * P - roh * OW;
                for (ptrdiff_t tl = 0; tl < tiles; ++tl)
                    for (ptrdiff_t i = 0; i < MR; ++i) {
                        const ptrdiff_t u = u0 + tl * MR + i;
                        const float **pp = ptab + tl * S * MR + i;
                        const ptrdiff_t n = rn, oh = roh, ow = row;
                        /* step to the next pixel (never past the block's last) */
                        if (u + 1 < u0 + mb && ++row == OW) {
                            row = 0;
                            if (++roh == g->out_h) {
                                roh = 0;
                                ++rn;
                            }
                        }
                        const float *xs = pin ? (padded ? xpad + (n - n0) * C * Hp * Wp : x + n * C * H * W) + gi * Cg * cs
                                              : x + n * H * W * C + gi * Cg;
                        if (u >= u0 + mb) {              /* beyond the block: any readable data */
                            for (ptrdiff_t t = 0; t < S; ++t) pp[t * MR] = pin ? xs : zeros;
                            continue;
                        }
                        if (wrow) {                      /* segment r: row r of the window, all channels */
                            const ptrdiff_t iw = ow * sw - pl;
                            const float *strips = xpad + (n - n0) * H * spix * C;
                            for (ptrdiff_t r = 0; r < KH; ++r) {
                                const ptrdiff_t ih = oh * sh - pt + r * dh;
                                pp[r * MR] = ih < 0 || ih >= H ? zeros
                                             : iw < 0          ? strips + (ih * spix + iw + pl) * C
                                             : iw + KW > W     ? strips + (ih * spix + sl + iw - rs0) * C
                                                               : xs + (ih * W + iw) * C;
                            }
                            continue;
                        }
                        if (rows) {                      /* segment (c, r): row r of the window in plane c */
                            for (ptrdiff_t c = 0, t = 0; c < Cg; ++c)
                                for (ptrdiff_t r = 0; r < KH; ++r, ++t)
                                    pp[t * MR] = xs + c * cs + (oh * sh + r * dh) * Wp + ow * sw;
                            continue;
                        }
                        for (ptrdiff_t r = 0, t = 0; r < KH; ++r)
                            for (ptrdiff_t s = 0; s < KW; ++s, ++t) {
                                if (pin) {               /* padded (or unpadded) planes: always inside */
                                    pp[t * MR] = xs + (oh * sh + r * dh) * Wp + ow * sw + s * dw;
                                } else {
                                    const ptrdiff_t ih = oh * sh - pt + r * dh, iw = ow * sw - pl + s * dw;
                                    pp[t * MR] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xs + (ih * W + iw) * C
                                                                                          : zeros;
                                }
                            }
                    }

                for (ptrdiff_t cc = 0; cc < ncc; ++cc) {           /* channel chunks */
                    const ptrdiff_t L = whole ? Lc : FC_MIN(Lc, Cg - cc * Lc);
                    if (fly) {                                     /* this chunk's panels */
                        const int v = L == Lc ? 0 : 1;
                        for (ptrdiff_t r0 = jp0 * NR; r0 < jp1 * NR; r0 += 8)
                            fc_conv_pack_b8_avx2(w + (gi * Kg + r0) * Ktot + cc * Lc * S, Ktot, Kg - r0, L * S,
                                                 r0 / NR - jp0, r0 % NR, qb[v], qk[v], bbuf);
                    }
                    for (ptrdiff_t t0 = 0; t0 < S; t0 += tg) {     /* k blocks: tg segments */
                        const ptrdiff_t nseg = FC_MIN(tg, S - t0), kcb = nseg * L;
                        const int acc = cc > 0 || t0 > 0;
                        const ptrdiff_t aoff = cc * Lc * cs;
                        for (ptrdiff_t jp = jp0; jp < jp1; ++jp) {  /* 16 (AVX-512: 32) output channels */
                            const float *bp = fly ? bbuf + t0 * L * cb_ld + (jp - jp0) * NR * kcb
                                                  : wpack + gi * Kg_pad * Ktot + (cc * Lc * S + t0 * L) * Kg_pad + jp * NR * kcb;
                            /* two adjacent panels at once (the AVX-512 kernel) */
                            const int pair = wide && jp + 1 < jp1;
                            for (ptrdiff_t tl = 0; tl * MR < mb; ++tl) {  /* 6 pixels */
                                const float *const *pp = ptab + (tl * S + t0) * MR;
                                if (nchw) {
                                    float *ct = cbuf + tl * MR * cb_ld + (jp - jp0) * NR;
                                    if (pair)
                                        fc_conv_ukernel_6x32_avx512(nseg, L, es, aoff, pp, bp, NR * kcb, ct, cb_ld, acc);
                                    else
                                        fc_conv_ukernel_6x16_avx2(nseg, L, es, aoff, pp, bp, ct, cb_ld, acc);
                                    continue;
                                }
                                const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, mb - tl * MR);
                                /* a partial tile (the block's last pixels, the
                                 * last channels) goes through the scratch tile */
                                const ptrdiff_t nw = pair ? 2 * NR : NR;
                                const ptrdiff_t nr_eff = FC_MIN(nw, Kg - jp * NR);
                                const int whole = mr_eff == MR && nr_eff == nw;
                                float *ct = y + (u0 + tl * MR) * K + gi * Kg + jp * NR;
                                float *dst = whole ? ct : scratch;
                                if (pair)
                                    fc_conv_ukernel_6x32_avx512(nseg, L, es, aoff, pp, bp, NR * kcb, dst,
                                                                whole ? K : nw, whole && acc);
                                else
                                    fc_conv_ukernel_6x16_avx2(nseg, L, es, aoff, pp, bp, dst, whole ? K : nw,
                                                              whole && acc);
                                if (!whole)
                                    for (ptrdiff_t i = 0; i < mr_eff; ++i)
                                        for (ptrdiff_t jj = 0; jj < nr_eff; ++jj) {
                                            if (acc) ct[i * K + jj] += scratch[i * nw + jj];
                                            else ct[i * K + jj] = scratch[i * nw + jj];
                                        }
                            }
                            jp += pair;
                        }
                    }
                }
                const ptrdiff_t c0 = jp0 * NR, c1 = FC_MIN(Kg, jp1 * NR);
                if (nchw) {                              /* transpose the tiles into y, + bias */
                    ptrdiff_t i = 0;
                    while (i < mb) {                     /* one image's run of pixels at a time */
                        const ptrdiff_t u = u0 + i, n = u / P, j0 = u - n * P;
                        const ptrdiff_t run = FC_MIN(mb - i, P - j0);
                        fc_conv_tile_to_nchw_avx2(cbuf + i * cb_ld, cb_ld, run, c1 - c0,
                                                  bias ? bias + gi * Kg + c0 : NULL,
                                                  y + (n * K + gi * Kg + c0) * P + j0, P);
                        i += run;
                    }
                } else if (bias) {
                    const float *bg = bias + gi * Kg;
                    for (ptrdiff_t i = 0; i < mb; ++i) {
                        float *yr = y + (u0 + i) * K + gi * Kg;
                        for (ptrdiff_t j = c0; j < c1; ++j) yr[j] += bg[j];
                    }
                }
            }
        }
    }
#undef FC_RUP
    fc_aligned_free(ws);
    return FC_OK;
}
#endif

/* ---- direct convolution by planes ------------------------------------------ */
/*
 * For depthwise layers (in_channels / groups == 1, any channel multiplier)
 * and for groups with one output channel and a few input channels (the input
 * gradient of a depthwise layer with a multiplier): output plane k is bias,
 * then for each input channel c of its group, in order, the taps of
 * w[k][c] added in (r, s) order -- in the portable loops and the SIMD
 * kernels alike.
 */

/* One NCHW output plane: yp = bias + sum over taps of w[r][s] * shifted xp
 * (accumulate: yp += the taps). */
static void FN(dw_plane_nchw)(const fc_conv_geom *g, const FT *xp, const FT *wk, FT b, FT *yp, int accumulate)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    for (ptrdiff_t oh = 0; oh < OH; ++oh) {
        FT *yr = yp + oh * OW;
        if (!accumulate)
            for (ptrdiff_t ow = 0; ow < OW; ++ow) yr[ow] = b;
        for (ptrdiff_t r = 0; r < KH; ++r) {
            const ptrdiff_t ih = oh * sh - pt + r * dh;
            if (ih < 0 || ih >= H) continue;
            const FT *xr = xp + ih * W;
            for (ptrdiff_t s = 0; s < KW; ++s) {
                const ptrdiff_t off = s * dw - pl;
                ptrdiff_t lo, hi;
                fc_valid_range(OW, W, sw, off, &lo, &hi);
                const FT wv = wk[r * KW + s];
                const FT *xo = xr + off;
                if (sw == 1)
                    for (ptrdiff_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xo[ow];
                else
                    for (ptrdiff_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xo[ow * sw];
            }
        }
    }
}

/* One NHWC output row (oh) of image x: wt holds the weights as
 * [kernel_h * kernel_w][out_channels]. */
static void FN(dw_row_nhwc)(const fc_conv_geom *g, const FT *x, const FT *wt, const FT *bias,
                            ptrdiff_t oh, FT *yrow)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, M = K / C;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    for (ptrdiff_t ow = 0; ow < OW; ++ow) {
        FT *yp = yrow + ow * K;
        if (bias)
            for (ptrdiff_t k = 0; k < K; ++k) yp[k] = bias[k];
        else
            for (ptrdiff_t k = 0; k < K; ++k) yp[k] = 0;
        for (ptrdiff_t r = 0; r < KH; ++r) {
            const ptrdiff_t ih = oh * sh - pt + r * dh;
            if (ih < 0 || ih >= H) continue;
            for (ptrdiff_t s = 0; s < KW; ++s) {
                const ptrdiff_t iw = ow * sw - pl + s * dw;
                if (iw < 0 || iw >= W) continue;
                const FT *xp = x + (ih * W + iw) * C;
                const FT *wr = wt + (r * KW + s) * K;
                if (M == 1)
                    for (ptrdiff_t k = 0; k < K; ++k) yp[k] += wr[k] * xp[k];
                else
                    for (ptrdiff_t k = 0; k < K; ++k) yp[k] += wr[k] * xp[k / M];
            }
        }
    }
}

static int FN(conv_fwd_direct)(const fc_conv_geom *g, const FT *x, const FT *w,
                               const FT *bias, FT *y, int nt)
{
    const ptrdiff_t N = g->batch, C = g->in_channels, K = g->out_channels, G = g->groups;
    const ptrdiff_t Cg = C / G, Kg = K / G, M = K / C;
    const ptrdiff_t HW = g->in_h * g->in_w, P = g->out_h * g->out_w, OH = g->out_h;
    const ptrdiff_t T = g->kernel_h * g->kernel_w;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
    const int simd = fc_isa_active() >= FC_ISA_AVX2;
    const int wide = fc_isa_active() >= FC_ISA_AVX512;
    const size_t pad_elems = simd ? fc_dwconv_pad_elems(g) : 0;
#else
    const int simd = 0;
    const size_t pad_elems = 0;
#endif
    (void)simd;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    /* NHWC runs by planes too unless it is a plain depthwise layer with
     * enough channels to vectorise along them: per group, gather its input
     * planes, compute its output planes, scatter them */
    const int planes = nchw || Cg > 1 || M > 1 || C < 8;
    const size_t al = FC_ALIGN / sizeof(FT);
    size_t per = (pad_elems + al - 1) / al * al, bytes, wt_elems = 0;
    if (!nchw && planes) per += ((size_t)Cg * HW + al - 1) / al * al + ((size_t)Kg * P + al - 1) / al * al;
    if (!planes && fc_size_mul3((size_t)T, (size_t)K, 1, &wt_elems)) return FC_EOVERFLOW;
    if (fc_size_mul3(per, (size_t)nt, 1, &bytes) || bytes > SIZE_MAX - wt_elems ||
        fc_size_mul3(bytes + wt_elems + al, sizeof(FT), 1, &bytes))
        return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(bytes);
    if (!ws) return FC_ENOMEM;

    if (planes) {
        const ptrdiff_t tasks = nchw ? N * K : N * G;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            FT *const pad = ws + (size_t)tid * per;
            FT *const xin = pad + (pad_elems + al - 1) / al * al;
            FT *const yout = xin + ((size_t)Cg * HW + al - 1) / al * al;
            (void)xin;
            (void)yout;
#pragma omp for schedule(static)
            for (ptrdiff_t task = 0; task < tasks; ++task) {
                /* NCHW: one output plane; NHWC: one group of one image */
                const ptrdiff_t n = nchw ? task / K : task / G;
                const ptrdiff_t gi = nchw ? (task % K) / Kg : task % G;
                const FT *xg;
                if (nchw) {
                    xg = x + (n * C + gi * Cg) * HW;
                } else if (C == 1) {                     /* one channel: already a plane */
                    xg = x + n * HW;
                } else {
                    const FT *xs = x + n * HW * C + gi * Cg;
                    for (ptrdiff_t i = 0; i < HW; ++i)
                        for (ptrdiff_t c = 0; c < Cg; ++c) xin[c * HW + i] = xs[i * C + c];
                    xg = xin;
                }
                const ptrdiff_t k0 = nchw ? task % K : gi * Kg, k1 = nchw ? k0 + 1 : k0 + Kg;
                for (ptrdiff_t k = k0; k < k1; ++k) {
                    FT *yp = nchw ? y + (n * K + k) * P : yout + (k - k0) * P;
                    const FT b = bias ? bias[k] : 0;
                    for (ptrdiff_t c = 0; c < Cg; ++c) {
                        const FT *xp = xg + c * HW;
                        const FT *wk = w + (k * Cg + c) * T;
                        int done = 0;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                        /* prefetch the next plane this task or the next reads */
                        const FT *next = !nchw ? NULL
                                         : c + 1 < Cg ? xp + HW
                                         : ((k + 1) % Kg == 0 && task + 1 < tasks) ? xg + Cg * HW : NULL;
                        done = simd && ((wide && fc_dwconv_plane3x3_nchw_avx512_f32(g, xp, wk, b, yp, pad, next, c > 0)) ||
                                        fc_dwconv_plane_nchw_avx2_f32(g, xp, wk, b, yp, pad, next, c > 0));
#endif
                        if (!done) FN(dw_plane_nchw)(g, xp, wk, b, yp, c > 0);
                    }
                }
                if (!nchw) {                             /* the group's planes into its pixels */
                    FT *yd = y + n * P * K + k0;
                    ptrdiff_t j = 0;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                    if (simd) j = fc_conv_planes_to_pixels_avx2(yout, P, Kg, yd, K);
#endif
                    for (; j < P; ++j)
                        for (ptrdiff_t kk = 0; kk < Kg; ++kk) yd[j * K + kk] = yout[kk * P + j];
                }
            }
        }
        fc_aligned_free(ws);
        return FC_OK;
    }
    /* NHWC depthwise, multiplier 1: rows of pixels vectorised along channels,
     * the weights transposed to [tap][channel] */
    FT *wt = ws + (size_t)nt * per;
    for (ptrdiff_t k = 0; k < K; ++k)
        for (ptrdiff_t t = 0; t < T; ++t) wt[t * K + k] = w[k * T + t];
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t task = 0; task < N * OH; ++task) {             /* one output row */
        const ptrdiff_t n = task / OH, oh = task % OH;
        FT *yrow = y + task * g->out_w * K;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
        if (simd && ((wide && fc_dwconv_row3x3_nhwc_avx512_f32(g, x + n * HW * C, wt, bias, oh, yrow)) ||
                     fc_dwconv_row_nhwc_avx2_f32(g, x + n * HW * C, wt, bias, oh, yrow)))
            continue;
#endif
        FN(dw_row_nhwc)(g, x + n * HW * C, wt, bias, oh, yrow);
    }
    fc_aligned_free(ws);
    return FC_OK;
}

/* ---- 1x1, stride 1, unpadded: a GEMM per image and group ------------------- */
/*
 *   NCHW  Y_g[Kg x P] = W_g[Kg x Cg] . X_g[Cg x P]
 *   NHWC  Y_g[P x Kg] = X_g[P x Cg] . W_g^T[Cg x Kg]
 * on the image as it lies; y starts as the bias (beta = 1) so no second pass
 * adds it.  Images too small to feed the threads run in parallel on serial
 * GEMMs (the GEMM's bits never depend on its thread count).
 */
/* One image of a 1x1 layer: bias rows (or pixels), then the GEMM per group. */
static int FN(conv_1x1_image)(const fc_conv_geom *g, const FT *x, const FT *w, const FT *bias, FT *y,
                              ptrdiff_t n, int nt)
{
    const ptrdiff_t G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, P = g->out_h * g->out_w;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    FT *yn = y + n * K * P;
    if (bias) {
        if (nchw)
            for (ptrdiff_t k = 0; k < K; ++k)
                for (ptrdiff_t j = 0; j < P; ++j) yn[k * P + j] = bias[k];
        else
            for (ptrdiff_t j = 0; j < P; ++j)
                for (ptrdiff_t k = 0; k < K; ++k) yn[j * K + k] = bias[k];
    }
    const FT beta = bias ? 1 : 0;
    int err = 0;
    for (ptrdiff_t gi = 0; gi < G && !err; ++gi) {
        if (nchw)
            err = FC_CONV_GEMM_FN(Kg, P, Cg, 1, w + gi * Kg * Cg, Cg, 1, x + (n * C + gi * Cg) * P, P, 1,
                                  beta, yn + gi * Kg * P, P, nt);
        else
            err = FC_CONV_GEMM_FN(P, Kg, Cg, 1, x + n * P * C + gi * Cg, C, 1, w + gi * Kg * Cg, 1, Cg,
                                  beta, yn + gi * Kg, K, nt);
    }
    return err;
}

static int FN(conv_fwd_1x1)(const fc_conv_geom *g, const FT *x, const FT *w, const FT *bias, FT *y, int nt)
{
    const ptrdiff_t N = g->batch, P = g->out_h * g->out_w;
    const double per_image = (double)g->out_channels * (double)P * (double)(g->in_channels / g->groups);
    if (N > 1 && nt > 1 && per_image < (double)nt * 64.0 * 64.0 * 64.0 * 4.0) {
        int err = 0;
#pragma omp parallel for num_threads((int)FC_MIN((ptrdiff_t)nt, N)) schedule(static) reduction(| : err)
        for (ptrdiff_t n = 0; n < N; ++n) err |= FN(conv_1x1_image)(g, x, w, bias, y, n, 1) ? 1 : 0;
        return err ? FC_ENOMEM : FC_OK;
    }
    /* (no enclosing parallel region here: the GEMM opens its own team) */
    for (ptrdiff_t n = 0; n < N; ++n) {
        const int err = FN(conv_1x1_image)(g, x, w, bias, y, n, nt);
        if (err) return err;
    }
    return FC_OK;
}

/* ---- forward entry point ------------------------------------------------ */

int FN(fc_conv2d_forward)(const fc_conv_geom *g, const FT *x, const FT *w, const FT *bias, FT *y)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!x || !w || !y) return FC_EINVAL;
    if (g->batch == 0) return FC_OK;
    const int nt = conv_threads(conv_work(g));
    switch (g->algorithm) {
    case FC_CONV_DIRECT:
        if (!conv_direct_ok(g)) return FC_EINVAL;
        return FN(conv_fwd_direct)(g, x, w, bias, y, nt);
    case FC_CONV_WINOGRAD:
        if (!fc_winograd_applies(g)) return FC_EINVAL;
        return FN(fc_winograd_forward)(g, x, w, bias, y, nt);
    case FC_CONV_AUTO:
        switch (fc_conv2d_auto_algorithm(g)) {
        case FC_CONV_DIRECT: return FN(conv_fwd_direct)(g, x, w, bias, y, nt);
        case FC_CONV_WINOGRAD: return FN(fc_winograd_forward)(g, x, w, bias, y, nt);
        default: break;
        }
        /* fall through */
    default:
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
        /* (an NHWC 1x1 layer is a GEMM on the image as it lies for the
         * indirect kernel too, and measures the same; NCHW 1x1 is faster as
         * the plain GEMM, whose B operand is the image's rows, except at
         * AVX-512 on few pixels (ResNet's 14x14 and 7x7 stages at batch 1),
         * where the GEMM's shared B panel scales poorly to two threads and
         * the indirect kernel's independent tiles measure 1.1-1.6x faster) */
        if (fc_isa_active() >= FC_ISA_AVX2 &&
            (!(g->layout == FC_LAYOUT_NCHW && conv_plain_1x1(g)) ||
             (fc_isa_active() >= FC_ISA_AVX512 && g->batch * g->out_h * g->out_w <= 1024)))
            return conv_fwd_indirect_f32(g, x, w, bias, y, nt);
#endif
        if (conv_plain_1x1(g)) return FN(conv_fwd_1x1)(g, x, w, bias, y, nt);
        if (g->layout == FC_LAYOUT_NCHW) return FN(conv_fwd_gemm_nchw)(g, x, w, bias, y, nt);
        return FN(conv_fwd_gemm_nhwc)(g, x, w, bias, y, nt);
    }
}

/* ---- backward: input gradient -------------------------------------------- */

/* Add bias[c] to every pixel of channel c of a batch in the layout. */
static void FN(add_channel_bias)(const fc_conv_geom *g, ptrdiff_t channels, ptrdiff_t pixels,
                                 const FT *bias, FT *z, int nt)
{
    const ptrdiff_t N = g->batch;
    if (g->layout == FC_LAYOUT_NCHW) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t t = 0; t < N * channels; ++t) {
            const FT b = bias[t % channels];
            FT *zp = z + t * pixels;
            for (ptrdiff_t j = 0; j < pixels; ++j) zp[j] += b;
        }
    } else {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t t = 0; t < N * pixels; ++t) {
            FT *zp = z + t * channels;
            for (ptrdiff_t c = 0; c < channels; ++c) zp[c] += bias[c];
        }
    }
}

/* Depthwise input gradient (NCHW), direct: each task owns one input plane and
 * scatters into it the taps of the output planes that read it, in a fixed
 * order (multiplier, r, s, output row). */
static void FN(dw_backward_input_nchw)(const fc_conv_geom *g, const FT *dy, const FT *w, FT *dx, int nt)
{
    const ptrdiff_t N = g->batch, C = g->in_channels, K = g->out_channels, M = K / C;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t task = 0; task < N * C; ++task) {
        const ptrdiff_t n = task / C, c = task % C;
        FT *xp = dx + task * H * W;
        for (ptrdiff_t i = 0; i < H * W; ++i) xp[i] = 0;
        for (ptrdiff_t m = 0; m < M; ++m) {
            const ptrdiff_t k = c * M + m;
            const FT *yp = dy + (n * K + k) * OH * OW;
            const FT *wk = w + k * KH * KW;
            for (ptrdiff_t r = 0; r < KH; ++r)
                for (ptrdiff_t s = 0; s < KW; ++s) {
                    const FT wv = wk[r * KW + s];
                    const ptrdiff_t off = s * dw - pl;
                    ptrdiff_t lo, hi;
                    fc_valid_range(OW, W, sw, off, &lo, &hi);
                    for (ptrdiff_t oh = 0; oh < OH; ++oh) {
                        const ptrdiff_t ih = oh * sh - pt + r * dh;
                        if (ih < 0 || ih >= H) continue;
                        FT *xo = xp + ih * W + off;
                        const FT *yr = yp + oh * OW;
                        if (sw == 1)
                            for (ptrdiff_t ow = lo; ow < hi; ++ow) xo[ow] += wv * yr[ow];
                        else
                            for (ptrdiff_t ow = lo; ow < hi; ++ow) xo[ow * sw] += wv * yr[ow];
                    }
                }
        }
    }
}

/* Stride 1: the input gradient is a forward convolution of dy with the
 * weights flipped in space and transposed per group, padded by
 * dilation * (k - 1) - pad.  Returns 1 when it applies (and ran, *status set). */
static int FN(backward_input_as_conv)(const fc_conv_geom *g, const FT *dy, const FT *w,
                                      const FT *bias, FT *dx, int nt, int *status)
{
    if (g->stride_h != 1 || g->stride_w != 1) return 0;
    /* The convolution computes every tap for each of in_h * in_w pixels,
     * the GEMM + col2im path only for out_h * out_w: when the output is much
     * smaller than the input (a kernel nearly as large as the image), most
     * of the former multiplies the zero border.  (NHWC depthwise stays: its
     * general path would be one tiny GEMM per channel.) */
    const double in_px = (double)g->in_h * (double)g->in_w, out_px = (double)g->out_h * (double)g->out_w;
    const int nhwc_depthwise = g->layout == FC_LAYOUT_NHWC && g->in_channels == g->groups;
    if (in_px > 2.0 * out_px && !nhwc_depthwise) return 0;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    /* An inf/NaN weight would meet the zero border of dy (0 * inf = NaN),
     * which the scatter (GEMM + col2im) never multiplies: PyTorch's rule. */
    if (!FN(fc_all_finite)(w, g->out_channels * (g->in_channels / g->groups) * KH * KW)) return 0;
    fc_conv_geom t = *g;
    t.in_channels = g->out_channels;
    t.out_channels = g->in_channels;
    t.in_h = g->out_h;
    t.in_w = g->out_w;
    t.out_h = g->in_h;
    t.out_w = g->in_w;
    t.pad_top = g->dilation_h * (KH - 1) - g->pad_top;
    t.pad_left = g->dilation_w * (KW - 1) - g->pad_left;
    t.pad_bottom = t.out_h - t.in_h - t.pad_top + g->dilation_h * (KH - 1);
    t.pad_right = t.out_w - t.in_w - t.pad_left + g->dilation_w * (KW - 1);
    t.algorithm = FC_CONV_AUTO;
    if (t.pad_top < 0 || t.pad_left < 0 || t.pad_bottom < 0 || t.pad_right < 0) return 0;
    if (fc_conv_geom_check(&t) != FC_OK) return 0;
    const int talg = fc_conv2d_auto_algorithm(&t);
    {   /* The convolution's output channels (this layer's input channels)
         * are the vector lanes of the indirect GEMM kernel: with few of them,
         * or (NCHW) a partial 32-channel pair at AVX-512, most lanes would
         * multiply padding, and the GEMM + col2im path is faster -- unless
         * the convolution is a Winograd, direct or plain 1x1 one.  (Input
         * gradients at 1 thread: ResNet-50 conv1 5.1x NCHW / 1.7x NHWC,
         * LeNet's second layer 1.8x / 1.7x, 24 and 48 channels 5x5 NCHW
         * 1.2-1.3x; 24 and 48 channels NHWC measured 0.87-0.97x, so stay.) */
        const ptrdiff_t Cg = g->in_channels / g->groups, lanes = fc_isa_active() >= FC_ISA_AVX512 ? 32 : 16;
        const int partial = g->layout == FC_LAYOUT_NCHW && Cg < 2 * lanes && Cg % lanes != 0;
        if (talg == FC_CONV_GEMM && !conv_plain_1x1(&t) && (Cg < 16 || partial))
            return 0;
    }

    const ptrdiff_t G = g->groups, Kg = g->out_channels / G, Cg = g->in_channels / G;
    const ptrdiff_t T = KH * KW;
    size_t bytes;
    if (fc_size_mul3((size_t)g->out_channels, (size_t)Cg * T, sizeof(FT), &bytes)) {
        *status = FC_EOVERFLOW;
        return 1;
    }
    FT *wf = (FT *)fc_aligned_alloc(bytes);
    if (!wf) {
        *status = FC_ENOMEM;
        return 1;
    }
    /* wf[(gi*Cg + c)][ko][r][s] = w[(gi*Kg + ko)][c][KH-1-r][KW-1-s], in blocks
     * of 32 channels: each source row is read in runs of 32 * T values and
     * the block's 32 destination rows stay in cache (a plain loop over c
     * strides through all of w once per channel: 3 ms for 512 x 512 x 3 x 3) */
    const ptrdiff_t cblocks = (Cg + 31) / 32;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && G * cblocks > 1)
    for (ptrdiff_t gb = 0; gb < G * cblocks; ++gb) {
        const ptrdiff_t gi = gb / cblocks, c0 = (gb % cblocks) * 32;
        {
            const ptrdiff_t c1 = FC_MIN(Cg, c0 + 32);
            for (ptrdiff_t ko = 0; ko < Kg; ++ko)
                for (ptrdiff_t c = c0; c < c1; ++c) {
                    FT *d = wf + ((gi * Cg + c) * Kg + ko) * T;
                    const FT *src = w + ((gi * Kg + ko) * Cg + c) * T;
                    for (ptrdiff_t q = 0; q < T; ++q) d[q] = src[T - 1 - q];
                }
        }
    }
    /* Winograd mixes a 4x4 tile of grad_out into every output of its 2x2
     * tile: an inf/NaN there takes the GEMM, which keeps it to its own taps */
    if (talg == FC_CONV_WINOGRAD && !FN(fc_all_finite)(dy, t.batch * t.in_channels * t.in_h * t.in_w))
        t.algorithm = FC_CONV_GEMM;
    *status = FN(fc_conv2d_forward)(&t, dy, wf, bias, dx);
    fc_aligned_free(wf);
    return 1;
}

#define FC_DGRAD_PIXELS 512
#define FC_DGRAD_BUDGET ((size_t)64 << 20)

/* Images per GEMM in the gradients: nb images of P pixels side by side,
 * about FC_DGRAD_PIXELS columns (1 when not `allowed` or P is large), halved
 * until the workspace fits FC_DGRAD_BUDGET: col_rows x nb*P values, plus
 * gath_rows x nb*P for grad_out gathered side by side when nb > 1.  nb
 * depends on the shape only, never on the threads.  *bytes: the workspace,
 * rounded up to FC_ALIGN. */
static int FN(images_per_gemm)(ptrdiff_t N, ptrdiff_t P, int allowed, ptrdiff_t col_rows, ptrdiff_t gath_rows,
                               ptrdiff_t *nb_out, size_t *bytes)
{
    ptrdiff_t nb = allowed && P < FC_DGRAD_PIXELS ? FC_MIN(N, (FC_DGRAD_PIXELS + P - 1) / P) : 1;
    size_t colsz, gathsz;
    for (;; nb = (nb + 1) / 2) {
        if (fc_size_mul3((size_t)col_rows, (size_t)(nb * P), sizeof(FT), &colsz) ||
            fc_size_mul3((size_t)(nb > 1 ? gath_rows : 0), (size_t)(nb * P), sizeof(FT), &gathsz))
            return FC_EOVERFLOW;
        if (nb == 1 || colsz + gathsz <= FC_DGRAD_BUDGET) break;
    }
    *nb_out = nb;
    *bytes = (colsz + gathsz + FC_ALIGN - 1) / FC_ALIGN * FC_ALIGN;
    return FC_OK;
}

/* dst[k][j * P + p] = src[j * img + k * P + p] (k < rows, j < nb): the same
 * rows of nb images side by side, as one GEMM operand */
static void FN(side_by_side)(const FT *src, ptrdiff_t img, ptrdiff_t rows, ptrdiff_t P, ptrdiff_t nb, FT *dst)
{
    for (ptrdiff_t k = 0; k < rows; ++k)
        for (ptrdiff_t j = 0; j < nb; ++j) {
            const FT *sr = src + j * img + k * P;
            FT *d = dst + k * nb * P + j * P;
            for (ptrdiff_t p = 0; p < P; ++p) d[p] = sr[p];
        }
}

/* The input gradient of images [n, n + nb) by GEMM + col2im, group by group,
 * on nt threads (col: a Ktot x nb*P workspace; NCHW with nb > 1: gath, a Kg x
 * nb*P one for the images' grad_out side by side; wp: NHWC weights in (r, s, c)
 * order).  Several images share one GEMM where their pixels are few: the
 * GEMM's bits do not depend on its width. */
static int FN(dgrad_images)(const fc_conv_geom *g, const FT *dy, const FT *w, const FT *wp, FT *col, FT *gath,
                            FT *dx, ptrdiff_t n, ptrdiff_t nb, int nt)
{
    const ptrdiff_t G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, HW = g->in_h * g->in_w;
    const ptrdiff_t P = g->out_h * g->out_w, Ktot = Cg * g->kernel_h * g->kernel_w;
    for (ptrdiff_t gi = 0; gi < G; ++gi) {
        int e;
        if (g->layout == FC_LAYOUT_NCHW) {
            const FT *b = dy + (n * K + gi * Kg) * P;
            if (nb > 1) {
                FN(side_by_side)(b, K * P, Kg, P, nb, gath);
                b = gath;
            }
            e = FC_CONV_GEMM_FN(Ktot, nb * P, Kg, 1, w + gi * Kg * Ktot, 1, Ktot, b, nb * P, 1, 0, col, nb * P, nt);
            for (ptrdiff_t j = 0; j < nb && !e; ++j)
                FN(fc_col2im_image)(g, Cg, 1, col + j * P, nb * P, dx + ((n + j) * C + gi * Cg) * HW, nt);
        } else {
            e = FC_CONV_GEMM_FN(nb * P, Ktot, Kg, 1, dy + n * P * K + gi * Kg, K, 1,
                                wp + gi * Kg * Ktot, Ktot, 1, 0, col, Ktot, nt);
            for (ptrdiff_t j = 0; j < nb && !e; ++j)
                FN(fc_col2im_image)(g, Cg, C, col + j * P * Ktot, 0, dx + (n + j) * HW * C + gi * Cg, nt);
        }
        if (e) return 1;
    }
    return 0;
}

int FN(fc_conv2d_backward_input)(const fc_conv_geom *g, const FT *dy, const FT *w,
                                 const FT *bias, FT *dx)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!dy || !w || !dx) return FC_EINVAL;
    if (g->batch == 0) return FC_OK;
    const int nt = conv_threads(conv_work(g));
    if (FN(backward_input_as_conv)(g, dy, w, bias, dx, nt, &st)) return st;

    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, HW = g->in_h * g->in_w;
    const ptrdiff_t P = g->out_h * g->out_w, T = g->kernel_h * g->kernel_w, Ktot = Cg * T;
    const int nchw = g->layout == FC_LAYOUT_NCHW;

    if (Cg == 1 && nchw) {
        FN(dw_backward_input_nchw)(g, dy, w, dx, nt);
        if (bias) FN(add_channel_bias)(g, C, HW, bias, dx, nt);
        return FC_OK;
    }

    /* General case, a few images at a time and group by group:
     *   NCHW dcol[Ktot x nb*P] = W_g^T . dy_g,  NHWC dcol[nb*P x Ktot] = dy_g . W_g (k as (r, s, c))
     * then col2im into the group's channels.  nb images share a GEMM when
     * an image has few pixels (nb depends on the shape only, never on the
     * threads): about FC_DGRAD_PIXELS columns, within the memory budget.
     * With several image chunks and the memory to spare, chunks run in
     * parallel on serial GEMMs (the same GEMM calls, so the same bits). */
    ptrdiff_t nb;
    size_t colsz, wpsz = 0, bytes;
    if (FN(images_per_gemm)(N, P, 1, Ktot, nchw ? K / G : 0, &nb, &colsz)) return FC_EOVERFLOW;
    if (!nchw && fc_size_mul3((size_t)K, (size_t)Ktot, sizeof(FT), &wpsz)) return FC_EOVERFLOW;
    const size_t budget = FC_MAX(colsz, FC_DGRAD_BUDGET);
    const ptrdiff_t chunks = (N + nb - 1) / nb;
    int ways = 1;
    if (chunks > 1 && nt > 1 && colsz * (size_t)nt <= budget) ways = (int)FC_MIN((ptrdiff_t)nt, chunks);
    if (fc_size_mul3(colsz, (size_t)ways, 1, &bytes) || bytes > SIZE_MAX - wpsz) return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(bytes + wpsz);
    if (!ws) return FC_ENOMEM;
    FT *wp = (FT *)((char *)ws + bytes);
    if (!nchw) {
        /* weights with k ordered (r, s, c): wp[ko][(r*KW + s)*Cg + c] */
        for (ptrdiff_t ko = 0; ko < K; ++ko)
            for (ptrdiff_t c = 0; c < Cg; ++c)
                for (ptrdiff_t q = 0; q < T; ++q) wp[ko * Ktot + q * Cg + c] = w[(ko * Cg + c) * T + q];
    }
    const size_t colonly = (size_t)Ktot * (size_t)(nb * P);
    int err = 0;
    if (ways > 1) {
#pragma omp parallel for num_threads(ways) schedule(static) reduction(| : err)
        for (ptrdiff_t ch = 0; ch < chunks; ++ch) {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            FT *col = (FT *)((char *)ws + (size_t)tid * colsz);
            err |= FN(dgrad_images)(g, dy, w, wp, col, col + colonly, dx, ch * nb, FC_MIN(nb, N - ch * nb), 1);
        }
    } else {
        /* (no enclosing parallel region: one inside, even an inactive one,
         * would leave the GEMM and col2im teams a single thread) */
        for (ptrdiff_t ch = 0; ch < chunks && !err; ++ch)
            err = FN(dgrad_images)(g, dy, w, wp, (FT *)ws, (FT *)ws + colonly, dx, ch * nb, FC_MIN(nb, N - ch * nb), nt);
    }
    fc_aligned_free(ws);
    if (err) return FC_ENOMEM;
    if (bias) FN(add_channel_bias)(g, C, HW, bias, dx, nt);
    return FC_OK;
}

/* ---- backward: weight and bias gradients ----------------------------------- */

/* Depthwise weight gradient of one plane pair: sums[t] = sum over pixels of
 * dy * the input under tap t (r, s), eight partial sums per tap fixed by
 * the pixel index, reduced in a fixed order. */
static void FN(dw_wgrad_plane)(const fc_conv_geom *g, const FT *xp, const FT *yp, FT *sums)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    for (ptrdiff_t r = 0; r < KH; ++r)
        for (ptrdiff_t s = 0; s < KW; ++s) {
            FT acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            const ptrdiff_t off = s * dw - pl;
            ptrdiff_t lo, hi;
            fc_valid_range(OW, W, sw, off, &lo, &hi);
            for (ptrdiff_t oh = 0; oh < OH; ++oh) {
                const ptrdiff_t ih = oh * sh - pt + r * dh;
                if (ih < 0 || ih >= H) continue;
                const FT *xo = xp + ih * W + off;
                const FT *yr = yp + oh * OW;
                ptrdiff_t ow = lo;
                if (sw == 1) {
                    for (; ow + 8 <= hi; ow += 8)
                        for (int l = 0; l < 8; ++l) acc[l] += yr[ow + l] * xo[ow + l];
                } else {
                    for (; ow + 8 <= hi; ow += 8)
                        for (int l = 0; l < 8; ++l) acc[l] += yr[ow + l] * xo[(ow + l) * sw];
                }
                for (int l = 0; ow < hi; ++ow, ++l) acc[l] += yr[ow] * xo[ow * sw];
            }
            sums[r * KW + s] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
}

/* NHWC depthwise weight gradient (multiplier 1) of output rows [oh0, oh1)
 * of one image: part[k][t] = sum over those pixels of dy[., k] * the input
 * under tap t, pixels in order, vectorised along channels. */
static void FN(dw_wgrad_rows_nhwc)(const fc_conv_geom *g, const FT *x, const FT *dy,
                                   ptrdiff_t oh0, ptrdiff_t oh1, FT *part)
{
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, K = g->out_channels;
    const ptrdiff_t KH = g->kernel_h, KW = g->kernel_w, T = KH * KW;
    const ptrdiff_t sh = g->stride_h, sw = g->stride_w, dh = g->dilation_h, dw = g->dilation_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    for (ptrdiff_t i = 0; i < K * T; ++i) part[i] = 0;
    for (ptrdiff_t oh = oh0; oh < oh1; ++oh)
        for (ptrdiff_t ow = 0; ow < OW; ++ow) {
            const FT *yp = dy + (oh * OW + ow) * K;
            for (ptrdiff_t r = 0; r < KH; ++r) {
                const ptrdiff_t ih = oh * sh - pt + r * dh;
                if (ih < 0 || ih >= H) continue;
                for (ptrdiff_t s = 0; s < KW; ++s) {
                    const ptrdiff_t iw = ow * sw - pl + s * dw;
                    if (iw < 0 || iw >= W) continue;
                    const FT *xp = x + (ih * W + iw) * K;
                    const ptrdiff_t t = r * KW + s;
                    for (ptrdiff_t k = 0; k < K; ++k) part[k * T + t] += yp[k] * xp[k];
                }
            }
        }
}

/* Depthwise weight gradient, direct.  NCHW: one task per output channel,
 * images in order, each plane's tap sums added to dw.  NHWC (multiplier 1):
 * tasks are blocks of FC_DW_ROWS output rows of one image, each producing
 * partial sums over all channels (an image is read once, whole pixels at a
 * time); the partials are added in task order, FC_DW_GROUP tasks at a time
 * so the workspace stays bounded -- the block size is fixed, so the sums
 * never depend on the thread count.  NHWC with a multiplier transposes
 * blocks of 8 channel planes out of the images and runs the NCHW loops. */
#define FC_DW_ROWS 8
#define FC_DW_GROUP 64
static int FN(dw_backward_weight)(const fc_conv_geom *g, const FT *dy, const FT *x, FT *dwt, int nt)
{
    const ptrdiff_t N = g->batch, C = g->in_channels, K = g->out_channels, M = K / C;
    const ptrdiff_t HW = g->in_h * g->in_w, P = g->out_h * g->out_w, OH = g->out_h;
    const ptrdiff_t T = g->kernel_h * g->kernel_w;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
    const int simd = fc_isa_active() >= FC_ISA_AVX2;
    const size_t pad_elems = simd ? fc_dwconv_pad_elems(g) : 0;
#else
    const int simd = 0;
    const size_t pad_elems = 0;
#endif
    (void)simd;
    const size_t al = FC_ALIGN / sizeof(FT);

    if (!nchw && M == 1) {
        const ptrdiff_t rb = (OH + FC_DW_ROWS - 1) / FC_DW_ROWS, tasks = N * rb;
        const ptrdiff_t group = FC_MIN(tasks, (ptrdiff_t)FC_DW_GROUP);
        size_t kt = ((size_t)K * T + al - 1) / al * al, bytes;
        if (fc_size_mul3(kt, (size_t)group, sizeof(FT), &bytes)) return FC_EOVERFLOW;
        FT *parts = (FT *)fc_aligned_alloc(bytes);
        if (!parts) return FC_ENOMEM;
        for (ptrdiff_t i = 0; i < K * T; ++i) dwt[i] = 0;
        for (ptrdiff_t t0 = 0; t0 < tasks; t0 += group) {
            const ptrdiff_t t1 = FC_MIN(tasks, t0 + group);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
            for (ptrdiff_t task = t0; task < t1; ++task) {
                const ptrdiff_t n = task / rb, oh0 = (task % rb) * FC_DW_ROWS;
                const ptrdiff_t oh1 = FC_MIN(OH, oh0 + FC_DW_ROWS);
                FT *part = parts + (size_t)(task - t0) * kt;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                /* (the AVX-512 kernel declines channel counts not a multiple of 16) */
                if (simd && ((fc_isa_active() >= FC_ISA_AVX512 &&
                              fc_dwconv_wgrad_rows_nhwc_avx512_f32(g, x + n * HW * C, dy + n * P * K, oh0, oh1, part)) ||
                             fc_dwconv_wgrad_rows_nhwc_avx2_f32(g, x + n * HW * C, dy + n * P * K, oh0, oh1, part)))
                    continue;
#endif
                FN(dw_wgrad_rows_nhwc)(g, x + n * HW * C, dy + n * P * K, oh0, oh1, part);
            }
            /* add the partials in task order; parallel over channels */
            const ptrdiff_t cnt = t1 - t0;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
            for (ptrdiff_t i = 0; i < K * T; ++i) {
                FT acc = dwt[i];
                for (ptrdiff_t q = 0; q < cnt; ++q) acc += parts[(size_t)q * kt + i];
                dwt[i] = acc;
            }
        }
        fc_aligned_free(parts);
        return FC_OK;
    }

    const ptrdiff_t CB = 8;                        /* NHWC channels per task */
    size_t per = (pad_elems + (size_t)T + al - 1) / al * al, bytes;
    if (!nchw) per += ((size_t)CB * (HW + P) + al - 1) / al * al;
    if (fc_size_mul3(per, (size_t)nt, sizeof(FT), &bytes)) return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(bytes);
    if (!ws) return FC_ENOMEM;
    const ptrdiff_t tasks = nchw ? K : (K + CB - 1) / CB;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        FT *const pad = ws + (size_t)tid * per;
        FT *const sums = pad + pad_elems;
        FT *const xt = pad + (pad_elems + (size_t)T + al - 1) / al * al;   /* NHWC: CB planes */
        FT *const yt = xt + (size_t)CB * HW;
#pragma omp for schedule(dynamic, 1)
        for (ptrdiff_t task = 0; task < tasks; ++task) {
            const ptrdiff_t k0 = nchw ? task : task * CB, k1 = nchw ? task + 1 : FC_MIN(K, k0 + CB);
            const ptrdiff_t kb = k1 - k0;
            for (ptrdiff_t k = k0; k < k1; ++k)
                for (ptrdiff_t t = 0; t < T; ++t) dwt[k * T + t] = 0;
            for (ptrdiff_t n = 0; n < N; ++n) {
                if (!nchw) {                         /* transpose the block's planes out */
                    for (ptrdiff_t i = 0; i < HW; ++i) {
                        const FT *src = x + (n * HW + i) * C;
                        for (ptrdiff_t q = 0, k = k0; q < kb; ++q, ++k) xt[q * HW + i] = src[k / M];
                    }
                    for (ptrdiff_t j = 0; j < P; ++j) {
                        const FT *src = dy + (n * P + j) * K + k0;
                        for (ptrdiff_t q = 0; q < kb; ++q) yt[q * P + j] = src[q];
                    }
                }
                for (ptrdiff_t k = k0; k < k1; ++k) {
                    const FT *xp = nchw ? x + (n * C + k / M) * HW : xt + (k - k0) * HW;
                    const FT *yp = nchw ? dy + (n * K + k) * P : yt + (k - k0) * P;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                    if (!(simd && fc_dwconv_wgrad_plane_avx2_f32(g, xp, yp, sums, pad)))
#endif
                        FN(dw_wgrad_plane)(g, xp, yp, sums);
                    for (ptrdiff_t t = 0; t < T; ++t) dwt[k * T + t] += sums[t];
                }
            }
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

/* NHWC weight gradient as an implicit GEMM, per group:
 *   D_g[Kg x Ktot] = sum over images of dy_g^T[Kg x P] . col_g[P x Ktot]
 * (k = (r, s, c) along Ktot, as the forward NHWC GEMM orders it), with no
 * im2col matrix: per kc block of pixels, dy^T is packed in MR-row panels
 * and each NR-column panel of col is gathered from the image (runs of
 * consecutive channels of one tap per pixel, zeros outside the image)
 * straight into the layout the micro-kernel reads.  Each thread owns a
 * fixed range of column panels of D and sums them over images, then pixel
 * blocks, in order: the same bits whatever the thread count. */
static int FN(conv_wgrad_nhwc)(const fc_conv_geom *g, const FT *dy, const FT *x, FT *d, int nt)
{
    const fc_kernel_table *kt = fc_kernels();
    const FN(ukernel_t) uk = kt->FC_CONV_UK;
    const int MR = kt->FC_CONV_BL.mr, NR = kt->FC_CONV_BL.nr;
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t H = g->in_h, W = g->in_w, OW = g->out_w, Cg = C / G, Kg = K / G;
    const ptrdiff_t KW = g->kernel_w, P = g->out_h * OW, Ktot = Cg * g->kernel_h * KW;
    const ptrdiff_t KC = FC_MIN(FC_CONV_KC, P), Kg_pad = FN(round_up)(Kg, MR);
    const ptrdiff_t npan = (Ktot + NR - 1) / NR, total = G * npan;
    const size_t al = FC_ALIGN / sizeof(FT);
    size_t a_elems, per, bytes;
    if (fc_size_mul3((size_t)Kg_pad, (size_t)KC, 1, &a_elems)) return FC_EOVERFLOW;
    per = (a_elems + al - 1) / al * al + ((size_t)KC * NR + al - 1) / al * al + ((size_t)MR * NR + al - 1) / al * al;
    if (fc_size_mul3(per, (size_t)nt, sizeof(FT), &bytes)) return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(bytes);
    if (!ws) return FC_ENOMEM;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        ptrdiff_t f0, f1;
        const int tid = fc_thread_share(total, &f0, &f1);
        FT *const apack = ws + (size_t)tid * per;
        FT *const bpack = apack + (a_elems + al - 1) / al * al;
        FT *const scratch = bpack + ((size_t)KC * NR + al - 1) / al * al;
        for (ptrdiff_t n = 0; n < N && f0 < f1; ++n) {
            const FT *xn = x + n * H * W * C;
            for (ptrdiff_t pc = 0; pc < P; pc += KC) {
                const ptrdiff_t kcb = FC_MIN(KC, P - pc);
                ptrdiff_t gcur = -1;
                for (ptrdiff_t f = f0; f < f1; ++f) {
                    const ptrdiff_t gi = f / npan, jp = f % npan;
                    if (gi != gcur) {                     /* dy_g^T: MR output channels per panel */
                        gcur = gi;
                        const FT *dyg = dy + (n * P + pc) * K + gi * Kg;
                        for (ptrdiff_t ip = 0; ip * MR < Kg_pad; ++ip) {
                            FT *ap = apack + ip * MR * kcb;
                            const ptrdiff_t k0 = ip * MR, kn = FC_MIN((ptrdiff_t)MR, Kg - k0);
                            for (ptrdiff_t q = 0; q < kcb; ++q) {
                                const FT *src = dyg + q * K + k0;
                                ptrdiff_t i = 0;
                                for (; i < kn; ++i) ap[q * MR + i] = src[i];
                                for (; i < MR; ++i) ap[q * MR + i] = 0;
                            }
                        }
                    }
                    /* the column panel: runs of one tap's consecutive channels */
                    ptrdiff_t run_r[64], run_s[64], run_c[64], run_l[64], run_n[64];
                    int nruns = 0;
                    for (ptrdiff_t l = 0; l < NR;) {
                        const ptrdiff_t j = jp * NR + l;
                        if (j >= Ktot) break;
                        const ptrdiff_t t = j / Cg, c = j % Cg, len = FC_MIN(Cg - c, NR - l);
                        run_r[nruns] = t / KW;
                        run_s[nruns] = t % KW;
                        run_c[nruns] = gi * Cg + c;
                        run_l[nruns] = l;
                        run_n[nruns] = len;
                        ++nruns;
                        l += len;
                    }
                    const ptrdiff_t used = nruns ? run_l[nruns - 1] + run_n[nruns - 1] : 0;
                    ptrdiff_t oh = pc / OW, ow = pc % OW;
                    for (ptrdiff_t q = 0; q < kcb; ++q) {
                        FT *dst = bpack + q * NR;
                        for (int u = 0; u < nruns; ++u) {
                            const ptrdiff_t ih = oh * g->stride_h - g->pad_top + run_r[u] * g->dilation_h;
                            const ptrdiff_t iw = ow * g->stride_w - g->pad_left + run_s[u] * g->dilation_w;
                            FT *o = dst + run_l[u];
                            const ptrdiff_t len = run_n[u];
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                                const FT *src = xn + (ih * W + iw) * C + run_c[u];
                                for (ptrdiff_t e = 0; e < len; ++e) o[e] = src[e];
                            } else {
                                for (ptrdiff_t e = 0; e < len; ++e) o[e] = 0;
                            }
                        }
                        for (ptrdiff_t e = used; e < NR; ++e) dst[e] = 0;
                        if (++ow == OW) {
                            ow = 0;
                            ++oh;
                        }
                    }
                    const ptrdiff_t nr_eff = FC_MIN((ptrdiff_t)NR, Ktot - jp * NR);
                    FT *dg = d + gi * Kg * Ktot + jp * NR;
                    for (ptrdiff_t ip = 0; ip * MR < Kg; ++ip) {
                        const ptrdiff_t mr_eff = FC_MIN((ptrdiff_t)MR, Kg - ip * MR);
                        FN(tile)(uk, kcb, apack + ip * MR * kcb, bpack, dg + ip * MR * Ktot, Ktot,
                                 n > 0 || pc > 0, mr_eff, nr_eff, MR, NR, scratch);
                    }
                }
            }
        }
    }
    fc_aligned_free(ws);
    return FC_OK;
}

#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
/* NHWC weight gradient, float32, per tap with no packing at all:
 *   d[g][t][c][k] = sum over images, output rows, pixels of x[pixel + tap][c] * dy[pixel][k]
 * one output row of one tap at a time (fc_conv_wgrad_tile_* read the image
 * and dy in place: 8 x 32 tiles at AVX-512, 4 x 16 at AVX2).  Threads own
 * fixed (group, tap, channel-panel) rows of d; each element is a sum per
 * output row added in order over images and rows: the same bits whatever
 * the thread count. */
static void FN(conv_wgrad_nhwc_taps)(const fc_conv_geom *g, const FT *dy, const FT *x, FT *d, int zero, int nt)
{
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w, Cg = C / G, Kg = K / G;
    const ptrdiff_t KW = g->kernel_w, T = g->kernel_h * KW, P = OH * OW, sw = g->stride_w;
    const int wide = fc_isa_active() >= FC_ISA_AVX512;
    const ptrdiff_t TR = wide ? 8 : 4, TC = wide ? 32 : 16;
    void (*tile)(ptrdiff_t, const float *, ptrdiff_t, int, const float *, ptrdiff_t, int, float *, ptrdiff_t) =
        wide ? fc_conv_wgrad_tile_avx512_f32 : fc_conv_wgrad_tile_avx2_f32;
    const ptrdiff_t cpan = (Cg + TR - 1) / TR, rows = G * T * cpan;
    if (zero)
        for (ptrdiff_t i = 0; i < G * T * Cg * Kg; ++i) d[i] = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        ptrdiff_t f0, f1;
        fc_thread_share(rows, &f0, &f1);
        /* the thread's rows of d in chunks of about 256 KiB, each chunk kept
         * in cache over the whole batch */
        const ptrdiff_t chunk = FC_MAX((ptrdiff_t)1, (ptrdiff_t)(262144 / ((size_t)TR * Kg * sizeof(FT))));
        for (ptrdiff_t fc = f0; fc < f1; fc += chunk)
        for (ptrdiff_t n = 0; n < N; ++n)
            for (ptrdiff_t oh = 0; oh < OH; ++oh)
                for (ptrdiff_t f = fc; f < FC_MIN(f1, fc + chunk); ++f) {
                    const ptrdiff_t gi = f / (T * cpan), t = (f / cpan) % T, c0 = (f % cpan) * TR;
                    const ptrdiff_t r = t / KW, s = t % KW;
                    const ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dilation_h;
                    if (ih < 0 || ih >= H) continue;
                    const ptrdiff_t off = s * g->dilation_w - g->pad_left;
                    ptrdiff_t lo, hi;
                    fc_valid_range(OW, W, sw, off, &lo, &hi);
                    if (hi <= lo) continue;
                    const FT *a = x + ((n * H + ih) * W + lo * sw + off) * C + gi * Cg + c0;
                    const FT *b = dy + (n * P + oh * OW + lo) * K + gi * Kg;
                    FT *dt = d + ((gi * T + t) * Cg + c0) * Kg;
                    const int mr = (int)FC_MIN(TR, Cg - c0);
                    for (ptrdiff_t k0 = 0; k0 < Kg; k0 += TC)
                        tile(hi - lo, a, sw * C, mr, b + k0, K, (int)FC_MIN(TC, Kg - k0), dt + k0, Kg);
                }
    }
}

/* dst[n][j][c] = src[n][c][j] for N images of C planes of P pixels (8-plane
 * register transposes). */
static void FN(planes_to_pixels)(const FT *src, ptrdiff_t N, ptrdiff_t C, ptrdiff_t P, FT *dst, int nt)
{
    const ptrdiff_t cb = (C + 7) / 8;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t task = 0; task < N * cb; ++task) {
        const ptrdiff_t n = task / cb, c0 = task % cb * 8, nc = FC_MIN((ptrdiff_t)8, C - c0);
        const FT *sp = src + (n * C + c0) * P;
        FT *dp = dst + n * P * C + c0;
        for (ptrdiff_t j = fc_conv_planes_to_pixels_avx2(sp, P, nc, dp, C); j < P; ++j)
            for (ptrdiff_t c = 0; c < nc; ++c) dp[j * C + c] = sp[c * P + j];
    }
}
#endif

int FN(fc_conv2d_backward_weight)(const fc_conv_geom *g, const FT *dy, const FT *x, FT *dwt)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!dy || !x || !dwt) return FC_EINVAL;
    const ptrdiff_t N = g->batch, G = g->groups, C = g->in_channels, K = g->out_channels;
    const ptrdiff_t Cg = C / G, Kg = K / G, HW = g->in_h * g->in_w;
    const ptrdiff_t P = g->out_h * g->out_w, T = g->kernel_h * g->kernel_w, Ktot = Cg * T;
    const int nchw = g->layout == FC_LAYOUT_NCHW;
    const int nt = conv_threads(conv_work(g));
    if (N == 0) {
        for (ptrdiff_t i = 0; i < K * Ktot; ++i) dwt[i] = 0;
        return FC_OK;
    }
    if (Cg == 1) return FN(dw_backward_weight)(g, dy, x, dwt, nt);
    /* dW_g = sum over images of dy_g . col_g^T, images accumulated in order by
     * the GEMM (beta = 1); a 1x1, stride-1, unpadded layer uses x as it lies;
     * other NHWC layers gather col_g's panels from x (conv_wgrad_nhwc). */
    const int plain = conv_plain_1x1(g);
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
    /* per tap in place where output rows are long enough to amortise a
     * tile's setup (measured: 28 pixels 1.05-1.35x the packed GEMM, 14
     * pixels 0.5-0.65x) */
    const int taps = !plain && fc_isa_active() >= FC_ISA_AVX2 &&
                     Cg >= (fc_isa_active() >= FC_ISA_AVX512 ? 8 : 4) && g->out_w >= 20;
#else
    const int taps = 0;
#endif
    const int implicit = !nchw && !plain && !taps;
    /* NCHW: nb images with few pixels side by side in one GEMM (col and the
     * gathered dy: about FC_DGRAD_PIXELS columns, within 64 MiB; nb from the
     * shape only).  Not for plain 1x1 layers, whose images the GEMM reads in
     * place (gathering them measured 0.91-0.95x for 512 channels of 7x7). */
    ptrdiff_t nb;
    size_t colsz, accsz = 0;
    if (FN(images_per_gemm)(N, P, nchw && !plain, nchw && !plain ? Ktot : 0, Kg, &nb, &colsz)) return FC_EOVERFLOW;
    /* NCHW through the per-tap path: a chunk of images (up to 32 MiB, at
     * least one) of x and dy transposed to pixels at a time */
    ptrdiff_t chunk = 0;
    size_t tsz = 0;
    if (taps && nchw) {
        const double img = ((double)C * HW + (double)K * P) * sizeof(FT);
        chunk = (ptrdiff_t)FC_MAX(1.0, FC_MIN((double)N, (double)(32 << 20) / img));
        if (fc_size_mul3((size_t)chunk, (size_t)(C * HW + K * P), sizeof(FT), &tsz)) return FC_EOVERFLOW;
        tsz = (tsz + FC_ALIGN - 1) / FC_ALIGN * FC_ALIGN;
        colsz = 0;
    }
    if ((!nchw || taps) && fc_size_mul3((size_t)K, (size_t)Ktot, sizeof(FT), &accsz)) return FC_EOVERFLOW;
    if (colsz > SIZE_MAX - accsz || tsz > SIZE_MAX - accsz - colsz) return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(colsz + accsz + tsz);
    if (!ws) return FC_ENOMEM;
    FT *col = ws;
    FT *acc = nchw && !taps ? dwt : (FT *)((char *)ws + colsz);   /* NHWC: k ordered (r, s, c) */
    int err = implicit ? FN(conv_wgrad_nhwc)(g, dy, x, acc, nt) : 0;
#if FC_CONV_IS_F32 && defined(FC_HAVE_X86_KERNELS)
    if (taps) {                                   /* acc is [g][tap][c][k] */
        if (nchw) {
            FT *xt = (FT *)((char *)ws + accsz), *dyt = xt + chunk * C * HW;
            fc_conv_geom gt = *g;
            gt.layout = FC_LAYOUT_NHWC;
            for (ptrdiff_t n0 = 0; n0 < N; n0 += chunk) {
                gt.batch = FC_MIN(chunk, N - n0);
                FN(planes_to_pixels)(x + n0 * C * HW, gt.batch, C, HW, xt, nt);
                FN(planes_to_pixels)(dy + n0 * K * P, gt.batch, K, P, dyt, nt);
                FN(conv_wgrad_nhwc_taps)(&gt, dyt, xt, acc, n0 == 0, nt);
            }
        } else {
            FN(conv_wgrad_nhwc_taps)(g, dy, x, acc, 1, nt);
        }
        for (ptrdiff_t ko = 0; ko < K; ++ko)
            for (ptrdiff_t c = 0; c < Cg; ++c)
                for (ptrdiff_t q = 0; q < T; ++q)
                    dwt[(ko * Cg + c) * T + q] = acc[(((ko / Kg) * T + q) * Cg + c) * Kg + ko % Kg];
        fc_aligned_free(ws);
        return FC_OK;
    }
#endif
    for (ptrdiff_t n = 0; n < N && !err && !implicit; n += nb) {
        const ptrdiff_t m = FC_MIN(nb, N - n), ld = m * P;
        for (ptrdiff_t gi = 0; gi < G && !err; ++gi) {
            const FT beta = n > 0 ? 1 : 0;
            if (nchw) {
                const FT *a = dy + (n * K + gi * Kg) * P, *b = x + (n * C + gi * Cg) * HW;
                if (nb > 1) {                    /* grad_out after the col buffer */
                    FT *dyg = col + (size_t)Ktot * nb * P;
                    FN(side_by_side)(a, K * P, Kg, P, m, dyg);
                    a = dyg;
                }
                if (!plain) {
                    for (ptrdiff_t j = 0; j < m; ++j)
                        FN(fc_im2col_image)(g, Cg, 1, x + ((n + j) * C + gi * Cg) * HW, col + j * P, ld, nt);
                    b = col;
                }
                err = FC_CONV_GEMM_FN(Kg, Ktot, ld, 1, a, ld, 1, b, 1, ld, beta, acc + gi * Kg * Ktot, Ktot, nt);
            } else {                              /* plain 1x1: x as it lies */
                err = FC_CONV_GEMM_FN(Kg, Ktot, P, 1, dy + n * P * K + gi * Kg, 1, K,
                                      x + n * HW * C + gi * Cg, C, 1, beta, acc + gi * Kg * Ktot, Ktot, nt);
            }
        }
    }
    if (!err && !nchw) {
        for (ptrdiff_t ko = 0; ko < K; ++ko)
            for (ptrdiff_t c = 0; c < Cg; ++c)
                for (ptrdiff_t q = 0; q < T; ++q) dwt[(ko * Cg + c) * T + q] = acc[ko * Ktot + q * Cg + c];
    }
    fc_aligned_free(ws);
    return err ? err : FC_OK;
}

int FN(fc_conv2d_backward_bias)(const fc_conv_geom *g, const FT *dy, FT *db)
{
    int st = fc_conv_geom_check(g);
    if (st) return st;
    if (!dy || !db) return FC_EINVAL;
    const ptrdiff_t N = g->batch, K = g->out_channels, P = g->out_h * g->out_w;
    const int nt = conv_threads((double)g->batch * (double)g->out_channels * (double)(g->out_h * g->out_w));
    if (g->layout == FC_LAYOUT_NCHW) {
        /* per channel: images in order, eight partial sums fixed by pixel index */
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t k = 0; k < K; ++k) {
            FT acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (ptrdiff_t n = 0; n < N; ++n) {
                const FT *yp = dy + (n * K + k) * P;
                ptrdiff_t j = 0;
                for (; j + 8 <= P; j += 8)
                    for (int l = 0; l < 8; ++l) acc[l] += yp[j + l];
                for (int l = 0; j < P; ++j, ++l) acc[l] += yp[j];
            }
            db[k] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
    } else {
        /* column sums of the (N * P) x K matrix, 64 channels per task, rows in order */
        const ptrdiff_t chunks = (K + 63) / 64, rows = N * P;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (ptrdiff_t ch = 0; ch < chunks; ++ch) {
            const ptrdiff_t k0 = ch * 64, kn = FC_MIN(K, k0 + 64) - k0;
            FT acc[64];
            for (ptrdiff_t k = 0; k < 64; ++k) acc[k] = 0;
            for (ptrdiff_t i = 0; i < rows; ++i) {
                const FT *yr = dy + i * K + k0;
                if (kn == 64)
                    for (ptrdiff_t k = 0; k < 64; ++k) acc[k] += yr[k];
                else
                    for (ptrdiff_t k = 0; k < kn; ++k) acc[k] += yr[k];
            }
            for (ptrdiff_t k = 0; k < kn; ++k) db[k0 + k] = acc[k];
        }
    }
    return FC_OK;
}

#undef FN
#undef FC_CAT
#undef FC_CAT_
