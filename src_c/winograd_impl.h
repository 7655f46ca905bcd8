/*
 * winograd_impl.h -- Winograd F(2x2, 3x3) convolution for one element type,
 * included by winograd.c once per type with FT, FSUF (_f32 / _f64),
 * WINO_BL (the kernel-table blocking field: s or d), WINO_UK (the
 * micro-kernel field: sgemm or dgemm) and WINO_IS_F32 defined.
 *
 * Each 2x2 block of outputs ("tile") of each output channel k is
 *     Y = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A
 * with d_c the tile's 4x4 input patch of channel c.  The sum over c is, for
 * each of the 16 positions xi of the 4x4 transform domain, a GEMM
 *     M_xi[K x tiles] = U_xi[K x C] . V_xi[C x tiles]
 * computed on the project's micro-kernel: U (the transformed weights) is
 * packed once per call as A panels, the input transform writes V straight
 * into B panels, the output transform reads M.  16 multiplications per tile
 * and (k, c) pair instead of 36: 2.25 times fewer.  Rounding stays close to
 * the direct sum (the transforms only add, subtract and halve).
 *
 * Tiles are numbered th * TWp + tw with tile rows padded to TWp, a multiple
 * of 8, so a vector of 8 tiles never straddles a row or a panel (the
 * padding tiles read zeros and their outputs are dropped).
 *
 * Work items: (image, block of WINO_TB tiles, block of output channels); a
 * tile block is transformed channel block by channel block (WINO_KCB
 * channels), so V, M and the block's share of U stay in cache.  Inputs are
 * copied into zero-bordered planes first (a chunk of images at a time,
 * 32 MiB at most), so a tile's patch never needs a bounds check.  NHWC
 * images are transposed into those planes (a block of pixels at a time, all
 * channels) and each item's outputs go through a small channel-major block
 * transposed into the pixel-major output.
 */
#define FC_CAT_(a, b) a##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, FSUF)

#define WINO_TB 32     /* tiles per item: two 16-wide B panels */
#define WINO_KCB 64    /* channels per transform block (the GEMM's k depth) */
#define WINO_KC 128    /* output channels per item, at most */

typedef void (*FN(wino_uk_t))(ptrdiff_t, const FT *, const FT *, FT *, ptrdiff_t, int);

/* U = G g G^T for every (k, c), packed for the micro-kernel as A panels:
 * per xi, per channel block, per MR-row panel of output channels: kcb x MR.
 * A panel's MR output channels are transformed together, channel by
 * channel, so each xi receives MR contiguous values at a time (one value per
 * (k, c) scattered over the 16 xi slabs went through the cache 12 times). */
static void FN(wino_weights)(const FT *w, ptrdiff_t K, ptrdiff_t C, ptrdiff_t K_pad, int MR,
                             FT *upack, int nt)
{
    const ptrdiff_t npan = K_pad / MR;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t ip = 0; ip < npan; ++ip) {
        FT u[16][32];                                        /* [xi][lane], MR <= 32 */
        for (ptrdiff_t c = 0; c < C; ++c) {
            for (int lane = 0; lane < MR; ++lane) {
                const ptrdiff_t k = ip * MR + lane;
                if (k >= K) {
                    for (int xi = 0; xi < 16; ++xi) u[xi][lane] = 0;
                    continue;
                }
                const FT *gk = w + (k * C + c) * 9;
                FT t[4][3];                                  /* G g */
                for (int j = 0; j < 3; ++j) {
                    const FT a = gk[j], b = gk[3 + j], d = gk[6 + j];
                    t[0][j] = a;
                    t[1][j] = (FT)0.5 * (a + b + d);
                    t[2][j] = (FT)0.5 * (a - b + d);
                    t[3][j] = d;
                }
                for (int i = 0; i < 4; ++i) {                /* (G g) G^T */
                    const FT a = t[i][0], b = t[i][1], d = t[i][2];
                    u[i * 4 + 0][lane] = a;
                    u[i * 4 + 1][lane] = (FT)0.5 * (a + b + d);
                    u[i * 4 + 2][lane] = (FT)0.5 * (a - b + d);
                    u[i * 4 + 3][lane] = d;
                }
            }
            const ptrdiff_t c0 = c / WINO_KCB * WINO_KCB, kcb = FC_MIN((ptrdiff_t)WINO_KCB, C - c0);
            FT *dst = upack + c0 * K_pad + ip * MR * kcb + (c - c0) * MR;
            for (int xi = 0; xi < 16; ++xi) {
                FT *d = dst + (ptrdiff_t)xi * K_pad * C;
                for (int lane = 0; lane < MR; ++lane) d[lane] = u[xi][lane];
            }
        }
    }
}

/* B^T d B of tiles [f0, f0 + TB) for channels [c0, c0 + kcb), into V panels:
 * vb[xi * xs + (p / NR) * NR * kcb + (c - c0) * NR + p % NR] for tile f0 + p. */
static void FN(wino_input)(const FT *planes, ptrdiff_t plane, ptrdiff_t Wq, ptrdiff_t TWp, ptrdiff_t NT,
                           ptrdiff_t f0, ptrdiff_t kcb, int NR, FT *vb, ptrdiff_t xs)
{
    for (ptrdiff_t c = 0; c < kcb; ++c) {
        const FT *pc = planes + c * plane;
        for (ptrdiff_t p = 0; p < WINO_TB; ++p) {
            const ptrdiff_t f = f0 + p;
            FT *v = vb + (p / NR) * NR * kcb + c * NR + p % NR;
            if (f >= NT) {
                for (int xi = 0; xi < 16; ++xi) v[xi * xs] = 0;
                continue;
            }
            const FT *d = pc + 2 * (f / TWp) * Wq + 2 * (f % TWp);
            FT t[4][4];
            for (int j = 0; j < 4; ++j) {                    /* B^T d */
                const FT d0 = d[j], d1 = d[Wq + j], d2 = d[2 * Wq + j], d3 = d[3 * Wq + j];
                t[0][j] = d0 - d2;
                t[1][j] = d1 + d2;
                t[2][j] = d2 - d1;
                t[3][j] = d1 - d3;
            }
            for (int i = 0; i < 4; ++i) {                    /* (B^T d) B */
                v[(i * 4 + 0) * xs] = t[i][0] - t[i][2];
                v[(i * 4 + 1) * xs] = t[i][1] + t[i][2];
                v[(i * 4 + 2) * xs] = t[i][2] - t[i][1];
                v[(i * 4 + 3) * xs] = t[i][1] - t[i][3];
            }
        }
    }
}

/* A^T m A of tiles [f0, f0 + TB) for output channels [k0, k1) (m: mb rows of
 * TB tiles, one 16-slab per xi, xi stride ms), + bias, into planes of out_w
 * columns: output row oh of channel k at y + (k - k0) * ps + (oh - row0) * OW;
 * parts of tiles past the output are dropped. */
static void FN(wino_output)(const FT *mb, ptrdiff_t ms, ptrdiff_t k0, ptrdiff_t k1, const FT *bias,
                            ptrdiff_t TWp, ptrdiff_t NT, ptrdiff_t f0, ptrdiff_t OH, ptrdiff_t OW,
                            ptrdiff_t row0, ptrdiff_t ps, FT *y)
{
    for (ptrdiff_t k = k0; k < k1; ++k) {
        const FT b = bias ? bias[k] : 0;
        const FT *mk = mb + (k - k0) * WINO_TB;
        FT *yk = y + (k - k0) * ps - row0 * OW;
        for (ptrdiff_t p = 0; p < WINO_TB && f0 + p < NT; ++p) {
            const ptrdiff_t f = f0 + p, oh = 2 * (f / TWp), ow = 2 * (f % TWp);
            if (ow >= OW) continue;                          /* a padding tile */
            FT m[16], s[4][2];
            for (int xi = 0; xi < 16; ++xi) m[xi] = mk[xi * ms + p];
            for (int i = 0; i < 4; ++i) {                    /* m A */
                s[i][0] = m[i * 4 + 0] + m[i * 4 + 1] + m[i * 4 + 2];
                s[i][1] = m[i * 4 + 1] - m[i * 4 + 2] - m[i * 4 + 3];
            }
            for (int bb = 0; bb < 2; ++bb) {                 /* A^T (m A) */
                const FT y0 = s[0][bb] + s[1][bb] + s[2][bb];
                const FT y1 = s[1][bb] - s[2][bb] - s[3][bb];
                if (ow + bb < OW) {
                    yk[oh * OW + ow + bb] = y0 + b;
                    if (oh + 1 < OH) yk[(oh + 1) * OW + ow + bb] = y1 + b;
                }
            }
        }
    }
}

int FN(fc_winograd_forward)(const fc_conv_geom *g, const FT *x, const FT *w, const FT *bias, FT *y, int nt)
{
    const fc_kernel_table *kt = fc_kernels();
    const FN(wino_uk_t) uk = kt->WINO_UK;
    const int MR = kt->WINO_BL.mr, NR = kt->WINO_BL.nr;
    if (WINO_TB % NR || MR > 32) return FC_EUNSUPPORTED;  /* (wino_weights stages 32 lanes) */
    const ptrdiff_t N = g->batch, C = g->in_channels, K = g->out_channels;
    const int nhwc = g->layout == FC_LAYOUT_NHWC;
    const ptrdiff_t H = g->in_h, W = g->in_w, OH = g->out_h, OW = g->out_w;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const ptrdiff_t TH = (OH + 1) / 2, TWp = ((OW + 1) / 2 + 7) / 8 * 8, NT = TH * TWp;
    /* zero-bordered planes: every tile's 4x4 patch inside, 16 columns of slack
     * for vector loads */
    const ptrdiff_t Hq = 2 * TH + 2, Wq = 2 * TWp + 2 + 16, plane = Hq * Wq;
    const ptrdiff_t K_pad = (K + MR - 1) / MR * MR;
    const ptrdiff_t tblocks = (NT + WINO_TB - 1) / WINO_TB;
    const ptrdiff_t kpan = K_pad / MR;
    const ptrdiff_t kc_pan = FC_MAX((ptrdiff_t)1, FC_MIN(kpan, (ptrdiff_t)(WINO_KC / MR)));
    const ptrdiff_t ksplit = (kpan + kc_pan - 1) / kc_pan;
    const ptrdiff_t Kc_pad = kc_pan * MR;
    const double img_bytes = (double)C * plane * sizeof(FT);
    const ptrdiff_t chunk_imgs = FC_MAX((ptrdiff_t)1, FC_MIN(N, (ptrdiff_t)((double)(32 << 20) / img_bytes)));
    /* NHWC: an item's outputs, channel-major: Kc_pad x (rows its tiles span) x out_w */
    const ptrdiff_t orows = 2 * (WINO_TB / TWp + 2);

    const size_t al = FC_ALIGN / sizeof(FT);
#define WINO_RUP(v) (((size_t)(v) + al - 1) / al * al)
    size_t usz, xsz, per, total;
    if (fc_size_mul3(16, (size_t)K_pad, (size_t)C, &usz) ||
        fc_size_mul3((size_t)chunk_imgs, (size_t)C, (size_t)plane, &xsz))
        return FC_EOVERFLOW;
    usz = WINO_RUP(usz);
    xsz = WINO_RUP(xsz + 16);
    const size_t vsz = WINO_RUP((size_t)16 * (WINO_TB * WINO_KCB + 16));
    const ptrdiff_t ms = (ptrdiff_t)Kc_pad * WINO_TB + 16;   /* M stride between xi (see xs) */
    const size_t msz = WINO_RUP((size_t)16 * ms);
    const size_t osz = nhwc ? WINO_RUP((size_t)Kc_pad * orows * OW) : 0;
    per = vsz + msz + osz;
    if (fc_size_mul3(per, (size_t)nt, 1, &total) || total > SIZE_MAX / 2 - usz - xsz ||
        fc_size_mul3(total + usz + xsz, sizeof(FT), 1, &total))
        return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(total);
    if (!ws) return FC_ENOMEM;
    FT *const upack = ws, *const xpad = ws + usz, *const tws = xpad + xsz;

    FN(wino_weights)(w, K, C, K_pad, MR, upack, nt);
#if WINO_IS_F32 && defined(FC_HAVE_X86_KERNELS)
    const int simd = fc_isa_active() >= FC_ISA_AVX2;
#else
    const int simd = 0;
#endif
    (void)simd;

    for (ptrdiff_t n0 = 0; n0 < N; n0 += chunk_imgs) {
        const ptrdiff_t n1 = FC_MIN(N, n0 + chunk_imgs);
        const ptrdiff_t items = (n1 - n0) * tblocks * ksplit;
#pragma omp parallel num_threads(nt) if (nt > 1)
        {
#ifdef _OPENMP
            const int tid = omp_get_thread_num();
#else
            const int tid = 0;
#endif
            FT *const vb = tws + (size_t)tid * per;
            FT *const mb = vb + vsz;
            FT *const ob = mb + msz;
            (void)ob;

#pragma omp for schedule(static)
            for (ptrdiff_t pi = 0; pi < (n1 - n0) * C; ++pi) {   /* zero-bordered planes */
                FT *d = xpad + pi * plane;
                for (ptrdiff_t i = 0; i < plane; ++i) d[i] = 0;
                if (nhwc) continue;
                const FT *src = x + (n0 * C + pi) * H * W;
                for (ptrdiff_t ih = 0; ih < H; ++ih) {
                    const ptrdiff_t r = ih + pt;
                    if (r >= Hq) break;
                    for (ptrdiff_t iw = 0; iw < W && iw + pl < Wq; ++iw) d[r * Wq + pl + iw] = src[ih * W + iw];
                }
            }
            /* (implicit barrier) */
            if (nhwc) {
                /* transpose NHWC rows into the planes, 16 pixels x all channels
                 * at a time (the pixels' channels stay in L1 across the planes) */
#pragma omp for schedule(static)
                for (ptrdiff_t ri = 0; ri < (n1 - n0) * H; ++ri) {
                    const ptrdiff_t nn = ri / H, ih = ri % H, r = ih + pt;
                    if (r >= Hq) continue;
                    const FT *src = x + ((n0 + nn) * H + ih) * W * C;
                    FT *d0 = xpad + nn * C * plane + r * Wq + pl;
                    const ptrdiff_t wlim = FC_MIN(W, Wq - pl);
                    for (ptrdiff_t w0 = 0; w0 < wlim; w0 += 16) {
                        const ptrdiff_t w1 = FC_MIN(wlim, w0 + 16);
                        for (ptrdiff_t c = 0; c < C; ++c) {
                            FT *d = d0 + c * plane;
                            for (ptrdiff_t iw = w0; iw < w1; ++iw) d[iw] = src[iw * C + c];
                        }
                    }
                }
            }

#pragma omp for schedule(dynamic, 1)
            for (ptrdiff_t it = 0; it < items; ++it) {
                const ptrdiff_t ks = it % ksplit, tb = (it / ksplit) % tblocks, n = n0 + it / (ksplit * tblocks);
                const ptrdiff_t f0 = tb * WINO_TB;
                const ptrdiff_t ip0 = ks * kc_pan, ip1 = FC_MIN(kpan, ip0 + kc_pan);
                const FT *planes = xpad + (n - n0) * C * plane;
                for (ptrdiff_t c0 = 0; c0 < C; c0 += WINO_KCB) {    /* channel blocks */
                    const ptrdiff_t kcb = FC_MIN((ptrdiff_t)WINO_KCB, C - c0);
                    /* V stride between xi: one extra cache line keeps the 16 slabs
                     * out of the same L1 sets */
                    const ptrdiff_t xs = (ptrdiff_t)WINO_TB * kcb + 16;
                    int done = 0;
#if WINO_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                    if (simd) done = fc_wino_input_avx2_f32(planes + c0 * plane, plane, Wq, TWp, NT, f0, kcb, NR, vb, xs);
#endif
                    if (!done) FN(wino_input)(planes + c0 * plane, plane, Wq, TWp, NT, f0, kcb, NR, vb, xs);
                    for (int xi = 0; xi < 16; ++xi) {                /* 16 GEMMs */
                        const FT *ux = upack + (ptrdiff_t)xi * K_pad * C + c0 * K_pad;
                        const FT *vx = vb + xi * xs;
                        FT *mx = mb + (ptrdiff_t)xi * ms;
                        for (ptrdiff_t ip = ip0; ip < ip1; ++ip)
                            for (ptrdiff_t jp = 0; jp < WINO_TB / NR; ++jp)
                                uk(kcb, ux + ip * MR * kcb, vx + jp * NR * kcb,
                                   mx + (ip - ip0) * MR * WINO_TB + jp * NR, WINO_TB, c0 > 0);
                    }
                }
                const ptrdiff_t k0 = ip0 * MR, k1 = FC_MIN(K, ip1 * MR);
                /* NCHW: straight into y's planes; NHWC: into the item's block */
                const ptrdiff_t row0 = nhwc ? 2 * (f0 / TWp) : 0;
                const ptrdiff_t ps = nhwc ? orows * OW : OH * OW;
                FT *yo = nhwc ? ob : y + (n * K + k0) * OH * OW;
                int done = 0;
#if WINO_IS_F32 && defined(FC_HAVE_X86_KERNELS)
                if (simd) done = fc_wino_output_avx2_f32(mb, ms, k0, k1, bias, TWp, NT, f0, OH, OW, row0, ps, yo);
#endif
                if (!done) FN(wino_output)(mb, ms, k0, k1, bias, TWp, NT, f0, OH, OW, row0, ps, yo);
                if (nhwc) {
                    /* the block's valid pixels, row by row, into y[n, oh, ow, k0:k1] */
                    const ptrdiff_t fe = FC_MIN(NT, f0 + WINO_TB);
                    for (ptrdiff_t th = f0 / TWp; th * TWp < fe; ++th) {
                        const ptrdiff_t tw0 = FC_MAX((ptrdiff_t)0, f0 - th * TWp), tw1 = FC_MIN(TWp, fe - th * TWp);
                        const ptrdiff_t ow0 = 2 * tw0, ow1 = FC_MIN(OW, 2 * tw1);
                        for (ptrdiff_t oh = 2 * th; oh < FC_MIN(OH, 2 * th + 2); ++oh)
                            for (ptrdiff_t ow = ow0; ow < ow1; ++ow) {
                                FT *yp = y + ((n * OH + oh) * OW + ow) * K;
                                const FT *src = ob + (oh - row0) * OW + ow;
                                for (ptrdiff_t k = k0; k < k1; ++k) yp[k] = src[(k - k0) * ps];
                            }
                    }
                }
            }
        }
    }
#undef WINO_RUP
    fc_aligned_free(ws);
    return FC_OK;
}

#undef FN
#undef FC_CAT
#undef FC_CAT_
