/*
 * signal_fft_driver.h -- the per-type part of signal_fft.c, included once per
 * type with FT (element type), FN(name) (name suffix), LANES (pairs per
 * batch), CORR (the direct engine's entry point) and BATCH_REF / BATCH_AVX2 /
 * BATCH_AVX512 (the batch kernels) defined; it undefines them at the end.
 */

/* The plan's twiddles and spectrum in FT (tw, hs: 2N each) from the
 * double-precision ones computed in wd (4N doubles), and the guard's
 * constants. */
static void FN(fft_plan)(const fc_fftcorr1d_params *p, const FT *k, double *wd, FT *tw, FT *hs,
                         fc_fftcorr_plan *plan)
{
    const ptrdiff_t N = p->fft_n, K = p->taps;
    double *hd = wd + 2 * N;
    fc_fft_twiddles(N, wd, hd);
    /* the flipped kernel (correlation = convolution with it), zero-padded */
    memset(hd, 0, (size_t)N * 2 * sizeof(double));
    for (ptrdiff_t t = 0; t < K; ++t) hd[2 * t] = (double)k[K - 1 - t];
    fc_fft_dif_scalar(hd, N, wd);
    double s2 = 0;
    for (ptrdiff_t t = 0; t < 2 * N; ++t) {
        tw[t] = (FT)wd[t];
        hs[t] = (FT)(hd[t] / (double)N);
    }
    for (ptrdiff_t t = 0; t < N; ++t)
        s2 = FC_MAX(s2, hd[2 * t] * hd[2 * t] + hd[2 * t + 1] * hd[2 * t + 1]);
    /* the guard's kernel term: the largest sum of min |k| over disjoint
     * windows of 15 taps (15 samples always hold an aligned chunk of 8), by
     * dynamic programming over the taps */
    double *best = hd;
    for (ptrdiff_t j = 0; j <= K; ++j) {
        best[j] = j > 0 ? best[j - 1] : 0;
        if (j < 15) continue;
        double m = INFINITY;
        for (ptrdiff_t t = j - 15; t < j; ++t) m = FC_MIN(m, fabs((double)k[t]));
        best[j] = FC_MAX(best[j], best[j - 15] + m);
    }
    plan->g_lhs = p->guard_c * p->guard_c * log2((double)N) * s2 / (double)N;
    plan->g_rhs = (2.0 * (double)K + 1.0) * best[K];
}

/* Outputs [o0, o1) by the direct engine as plain dot products (see
 * FN(fft_redo)): they read e[o0, o1 + kp_len - 1), that is x[xs, xe) and
 * fill values. */
static int FN(fft_direct_span)(const fc_fftcorr1d_params *p, const FT *x, const FT *kp,
                               ptrdiff_t kp_len, FT fill, FT *y, ptrdiff_t o0, ptrdiff_t o1)
{
    const ptrdiff_t xs = FC_MIN(FC_MAX(o0 - p->pad, (ptrdiff_t)0), p->n);
    const ptrdiff_t xe = FC_MAX(FC_MIN(o1 + kp_len - 1 - p->pad, p->n), xs);
    int finite = fill - fill == 0;
    for (ptrdiff_t t = xs; t < xe && finite; ++t) finite = x[t] - x[t] == 0;
    fc_corr2d_geom g;
    g.items = 1, g.channels = 1, g.outputs = 1;
    g.in_h = 1, g.in_w = xe - xs, g.in_rs = xe - xs, g.in_cs = 1;
    g.kernel_h = 1, g.kernel_w = finite ? kp_len : p->taps, g.out_h = 1, g.out_w = o1 - o0;
    g.pad_top = 0, g.pad_left = p->pad + xs - o0;
    g.boundary = FC_BOUNDARY_FILL, g.interleave = 0;
    const ptrdiff_t zero = 0;
    return CORR(&g, xe > xs ? x + xs : NULL, &zero, kp, &zero, &fill, y + o0);
}

/* The outputs of the pairs the guard flagged, and those whose windows reach
 * outside the signal, recomputed by the direct engine (which runs its own
 * parallel region), one call per run of flagged pairs: plain dot products,
 * within the per-output bound.  An even kernel gets one zero tap, so it is
 * never folded (odd lengths never are): once a guard against the engine's
 * former Karatsuba steps on folded kernels, kept so these outputs keep their
 * bits (folding sums in another order).  Where the samples read are not all
 * finite the kernel stays as it is (0 * inf would be NaN). */
static int FN(fft_redo)(const fc_fftcorr1d_params *p, const FT *x, const FT *k, FT fill, FT *y,
                        const unsigned char *bad)
{
    const ptrdiff_t K = p->taps, K2 = K | 1, step = p->fft_n - K + 1;
    const ptrdiff_t pairs = fc_fftcorr1d_pairs(p);
    FT *kp = (FT *)fc_aligned_alloc((size_t)K2 * sizeof(FT));
    if (!kp) return FC_ENOMEM;
    memcpy(kp, k, (size_t)K * sizeof(FT));
    for (ptrdiff_t t = K; t < K2; ++t) kp[t] = 0;
    int st = FC_OK;
    /* runs of flagged pairs, merged across gaps of at most 2 pairs; more
     * than FC_FFT_MAX_RUNS runs and 1/8 of the pairs (each call costs a few
     * microseconds): one span from the first flagged pair to the last */
    ptrdiff_t runs = 0, first = -1, last = -1;
    for (ptrdiff_t q = 0; q < pairs; ++q) {
        if (!bad[q]) continue;
        if (last < 0 || q - last > 3) ++runs;
        if (first < 0) first = q;
        last = q;
    }
    for (ptrdiff_t q = first; q >= 0 && q <= last && st == FC_OK;) {
        ptrdiff_t q1 = q + 1;
        if (runs > FC_MAX(FC_FFT_MAX_RUNS, pairs / 8)) {
            q1 = last + 1;
        } else {
            for (ptrdiff_t r = q1; r < pairs && r - q1 <= 2; ++r)
                if (bad[r]) q1 = r + 1, r = q1 - 1;
        }
        st = FN(fft_direct_span)(p, x, kp, K2, fill, y, 2 * q * step, FC_MIN(2 * q1 * step, p->out_w));
        for (q = q1; q <= last && !bad[q]; ++q) {}
    }
    /* the outputs whose windows reach outside the signal (i < pad or
     * i > pad + n - K): no lower bound there, so always direct */
    const ptrdiff_t e0 = FC_MIN(FC_MAX(p->pad, (ptrdiff_t)0), p->out_w);
    const ptrdiff_t e1 = FC_MIN(FC_MAX(p->pad + p->n - K + 1, e0), p->out_w);
    if (st == FC_OK && e0 > 0) st = FN(fft_direct_span)(p, x, kp, K2, fill, y, 0, e0);
    if (st == FC_OK && e1 < p->out_w) st = FN(fft_direct_span)(p, x, kp, K2, fill, y, e1, p->out_w);
    fc_aligned_free(kp);
    return st;
}

int FN(fc_fftcorr1d)(const fc_fftcorr1d_params *p, const FT *x, const FT *k, FT fill, FT *y,
                     unsigned char *bad)
{
    if (!fc_fft_params_ok(p) || !k || !y || (p->n > 0 && !x) || (p->guard && !bad)) return FC_EINVAL;
    void (*batch_fn)(const fc_fftcorr_plan *, ptrdiff_t, FT *, FT *, unsigned char *) = BATCH_REF;
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX512) batch_fn = BATCH_AVX512;
    else if (fc_isa_active() >= FC_ISA_AVX2) batch_fn = BATCH_AVX2;
#endif
    const ptrdiff_t N = p->fft_n;
    fc_fftcorr_plan plan;
    plan.x = x, plan.n = p->n, plan.pad = p->pad, plan.fill = (double)fill;
    plan.K = p->taps, plan.N = N, plan.step = N - p->taps + 1, plan.out_w = p->out_w;
    plan.nblocks = (p->out_w + plan.step - 1) / plan.step;
    plan.guard = p->guard;
    const ptrdiff_t pairs = (plan.nblocks + 1) / 2, batches = (pairs + LANES - 1) / LANES;
    int nt = fc_resolve_threads(0);
    if (nt > batches) nt = (int)batches;
    /* workspace: twiddles and spectrum in FT (4N), then FC_FFT_WS per thread
     * (at least 33N elements); the double-precision plan (4N doubles) uses
     * the threads' part before they start */
    const size_t al = FC_ALIGN / sizeof(FT);
    size_t per = FC_FFT_WS(N, LANES), thr, bytes;
    per = (per + al - 1) / al * al;
    if (fc_size_mul3(per, (size_t)nt, 1, &thr) || thr > SIZE_MAX - 4 * (size_t)N ||
        fc_size_mul3(thr + 4 * (size_t)N, sizeof(FT), 1, &bytes))
        return FC_EOVERFLOW;
    FT *ws = (FT *)fc_aligned_alloc(bytes);
    if (!ws) return FC_ENOMEM;
    FT *tw = ws, *hs = ws + 2 * (size_t)N, *tws = ws + 4 * (size_t)N;
    FN(fft_plan)(p, k, (double *)(void *)tws, tw, hs, &plan);
    plan.tw = tw, plan.hs = hs;

#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (ptrdiff_t b = 0; b < batches; ++b) {
#ifdef _OPENMP
        const int tid = nt > 1 ? omp_get_thread_num() : 0;
#else
        const int tid = 0;
#endif
        batch_fn(&plan, b, tws + (size_t)tid * per, y, bad);
    }
    fc_aligned_free(ws);
    return p->guard ? FN(fft_redo)(p, x, k, fill, y, bad) : FC_OK;
}

#undef FT
#undef FN
#undef LANES
#undef CORR
#undef BATCH_REF
#undef BATCH_AVX2
#undef BATCH_AVX512
