/*
 * signal_fft.c -- overlap-save FFT correlation of a real 1-D signal (see
 * signal_fft.h): the plan (twiddles, the kernel's spectrum computed once in
 * double precision, the accuracy guard's constants), the workspace, and the
 * batches spread over threads.  The batch kernels live in
 * kernels/signal_fft_{ref,avx2,avx512}.c.
 */
#include "signal_fft_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define FC_FFT_2PI 6.283185307179586476925286766559

static int fc_fft_params_ok(const fc_fftcorr1d_params *p)
{
    if (!p || p->n < 0 || p->taps < 1 || p->out_w < 1 || p->fft_n < 16 || p->fft_n < p->taps)
        return 0;
    if (p->fft_n & (p->fft_n - 1)) return 0;
    const ptrdiff_t lim = PTRDIFF_MAX / 8;
    if (p->n > lim || p->out_w > lim || p->fft_n > ((ptrdiff_t)1 << 40) || p->pad > lim ||
        p->pad < -lim)
        return 0;
    return 1;
}

ptrdiff_t fc_fftcorr1d_pairs(const fc_fftcorr1d_params *p)
{
    if (!fc_fft_params_ok(p)) return 0;
    const ptrdiff_t step = p->fft_n - p->taps + 1;
    const ptrdiff_t blocks = (p->out_w + step - 1) / step;
    return (blocks + 1) / 2;
}

/* W^k = exp(-2 pi i k / N) for k < N as (re, im) pairs, from one quarter
 * period of cosines c (exact symmetries, N / 4 + 1 calls of cos) */
static void fc_fft_twiddles(ptrdiff_t N, double *w, double *c)
{
    const ptrdiff_t q = N / 4;
    for (ptrdiff_t k = 0; k <= q; ++k) c[k] = cos(FC_FFT_2PI * (double)k / (double)N);
    for (ptrdiff_t k = 0; k < N; ++k) {
        double cr, si;
        if (k <= q) cr = c[k], si = c[q - k];
        else if (k <= 2 * q) cr = -c[2 * q - k], si = c[k - q];
        else if (k <= 3 * q) cr = -c[k - 2 * q], si = -c[3 * q - k];
        else cr = c[N - k], si = -c[k - 3 * q];
        w[2 * k] = cr;
        w[2 * k + 1] = -si;
    }
}

/* the forward transform of the batch kernels on one complex sequence, in
 * double precision (the kernel's spectrum, in the same digit-reversed order) */
static void fc_fft_dif_scalar(double *z, ptrdiff_t N, const double *tw)
{
    ptrdiff_t len = N;
    for (; len > 4; len /= 4) {
        const ptrdiff_t s = len / 4, m = N / len;
        for (ptrdiff_t o = 0; o < N; o += len) {
            for (ptrdiff_t j = 0; j < s; ++j) {
                const ptrdiff_t k = j * m;
                double *a0 = z + 2 * (o + j), *a1 = a0 + 2 * s, *a2 = a1 + 2 * s, *a3 = a2 + 2 * s;
                const double pr = a0[0] + a2[0], pi = a0[1] + a2[1], dr = a0[0] - a2[0], di = a0[1] - a2[1];
                const double qr = a1[0] + a3[0], qi = a1[1] + a3[1], er = a1[0] - a3[0], ei = a1[1] - a3[1];
                const double ur = pr - qr, ui = pi - qi, vr = dr + ei, vi = di - er, xr = dr - ei, xi = di + er;
                a0[0] = pr + qr, a0[1] = pi + qi;
                a1[0] = ur * tw[4 * k] - ui * tw[4 * k + 1], a1[1] = ur * tw[4 * k + 1] + ui * tw[4 * k];
                a2[0] = vr * tw[2 * k] - vi * tw[2 * k + 1], a2[1] = vr * tw[2 * k + 1] + vi * tw[2 * k];
                a3[0] = xr * tw[6 * k] - xi * tw[6 * k + 1], a3[1] = xr * tw[6 * k + 1] + xi * tw[6 * k];
            }
        }
    }
    for (ptrdiff_t o = 0; o < N; o += len) {
        double *a = z + 2 * o;
        if (len == 2) {
            const double r0 = a[0], i0 = a[1];
            a[0] = r0 + a[2], a[1] = i0 + a[3], a[2] = r0 - a[2], a[3] = i0 - a[3];
        } else {
            const double pr = a[0] + a[4], pi = a[1] + a[5], dr = a[0] - a[4], di = a[1] - a[5];
            const double qr = a[2] + a[6], qi = a[3] + a[7], er = a[2] - a[6], ei = a[3] - a[7];
            a[0] = pr + qr, a[1] = pi + qi, a[2] = pr - qr, a[3] = pi - qi;
            a[4] = dr + ei, a[5] = di - er, a[6] = dr - ei, a[7] = di + er;
        }
    }
}

/* The plan's double-precision part: twiddles and spectrum (both 2N doubles,
 * in wd), guard constants; returns FC_OK or FC_ENOMEM. */
#define FC_FFT_PLAN(FT_, k_)                                                                    \
    do {                                                                                          \
        const ptrdiff_t N = p->fft_n, K = p->taps;                                                \
        double *hd = wd + 2 * N;                                                                  \
        fc_fft_twiddles(N, wd, hd);                                                               \
        memset(hd, 0, (size_t)N * 2 * sizeof(double));                                            \
        for (ptrdiff_t t = 0; t < K; ++t) hd[2 * t] = (double)(k_)[K - 1 - t];                     \
        fc_fft_dif_scalar(hd, N, wd);                                                             \
        for (ptrdiff_t t = 0; t < 2 * N; ++t) {                                                   \
            tw[t] = (FT_)wd[t];                                                                   \
            hs[t] = (FT_)(hd[t] / (double)N);                                                     \
        }                                                                                         \
        double s2 = 0;                                                                            \
        for (ptrdiff_t t = 0; t < N; ++t)                                                         \
            s2 = FC_MAX(s2, hd[2 * t] * hd[2 * t] + hd[2 * t + 1] * hd[2 * t + 1]);               \
        /* the guard's kernel term: the largest sum of min |k| over disjoint windows of 15     \
         * taps (15 samples always hold an aligned chunk of 8), by dynamic programming */      \
        double *best = hd;                                                                        \
        for (ptrdiff_t j = 0; j <= K; ++j) {                                                      \
            best[j] = j > 0 ? best[j - 1] : 0;                                                    \
            if (j < 15) continue;                                                                 \
            double m = INFINITY;                                                                  \
            for (ptrdiff_t t = j - 15; t < j; ++t) m = FC_MIN(m, fabs((double)(k_)[t]));          \
            best[j] = FC_MAX(best[j], best[j - 15] + m);                                          \
        }                                                                                         \
        const double hmin_sum = best[K];                                                          \
        plan.g_lhs = p->guard_c * p->guard_c * log2((double)N) * s2 / (double)N;                  \
        plan.g_rhs = (2.0 * (double)K + 1.0) * hmin_sum;                                                \
    } while (0)


/* The outputs of the pairs the guard flagged, and those whose windows reach
 * outside the signal, recomputed by the direct engine (fc_corr2d_*, which
 * runs its own parallel region), one call per run of flagged pairs.  Those
 * outputs must meet the per-output bound of a plain dot product, so the
 * engine must not take its Karatsuba steps there (their rounding errors are
 * norm-wise too): an even kernel gets one zero tap, and a kernel of odd
 * length is never folded.  Where the samples read are not all finite the
 * kernel stays as it is (0 * inf would be NaN), and the engine takes no
 * Karatsuba step on non-finite values anyway. */
/* outputs [o0, o1) by the direct engine: they read e[o0, o1 + K2 - 1), that
 * is x[xs, xe) and fill values */
#define FC_FFT_DIRECT_SPAN(CORR, o0, o1)                                                        \
    __extension__({                                                                             \
        const ptrdiff_t xs = FC_MIN(FC_MAX((o0) - p->pad, (ptrdiff_t)0), p->n);                 \
        const ptrdiff_t xe = FC_MAX(FC_MIN((o1) + K2 - 1 - p->pad, p->n), xs);                  \
        fc_corr2d_geom g;                                                                       \
        g.items = 1, g.channels = 1, g.outputs = 1;                                             \
        g.in_h = 1, g.in_w = xe - xs, g.in_rs = xe - xs, g.in_cs = 1;                           \
        g.kernel_h = 1, g.kernel_w = K2, g.out_h = 1, g.out_w = (o1) - (o0);                    \
        g.pad_top = 0, g.pad_left = p->pad + xs - (o0);                                         \
        g.boundary = FC_BOUNDARY_FILL, g.interleave = 0;                                        \
        const ptrdiff_t zero = 0;                                                               \
        int fin = fill - fill == 0;                                                             \
        for (ptrdiff_t t = xs; t < xe && fin; ++t) fin = x[t] - x[t] == 0;                      \
        g.kernel_w = fin ? K2 : K;                                                              \
        CORR(&g, xe > xs ? x + xs : NULL, &zero, kp, &zero, &fill, y + (o0));                   \
    })

#define FC_FFT_MAX_RUNS 32
#define FC_FFT_REDO_DEF(NAME, FT_, CORR)                                                        \
    static int NAME(const fc_fftcorr1d_params *p, const FT_ *x, const FT_ *k, FT_ fill, FT_ *y, \
                    const unsigned char *bad)                                                   \
    {                                                                                           \
        const ptrdiff_t K = p->taps, step = p->fft_n - K + 1;                                   \
        const ptrdiff_t pairs = fc_fftcorr1d_pairs(p);                                          \
        const ptrdiff_t K2 = K | 1;                                                             \
        FT_ *kp = NULL;                                                                         \
        int st = FC_OK;                                                                         \
        /* runs of flagged pairs, merged across gaps of at most 2 pairs; more     \
         * than FC_FFT_MAX_RUNS runs and 1/8 of the pairs (each call costs a few  \
         * microseconds): one span from the first to the last */                 \
        ptrdiff_t runs = 0, first = -1, last = -1;                                          \
        for (ptrdiff_t q = 0; q < pairs; ++q) {                                             \
            if (!bad[q]) continue;                                                          \
            if (last < 0 || q - last > 3) ++runs;                                           \
            if (first < 0) first = q;                                                       \
            last = q;                                                                       \
        }                                                                                   \
        for (ptrdiff_t q = first; q >= 0 && q <= last && st == FC_OK;) {                    \
            ptrdiff_t q1 = q + 1;                                                           \
            if (runs > FC_MAX(FC_FFT_MAX_RUNS, pairs / 8)) q1 = last + 1;                                      \
            else                                                                            \
                for (ptrdiff_t r = q1; r < pairs && r - q1 <= 2; ++r)                       \
                    if (bad[r]) q1 = r + 1, r = q1 - 1;                                     \
            if (!kp) {                                                                      \
                kp = (FT_ *)fc_aligned_alloc((size_t)K2 * sizeof(FT_));                      \
                if (!kp) return FC_ENOMEM;                                                  \
                memcpy(kp, k, (size_t)K * sizeof(FT_));                                     \
                for (ptrdiff_t t = K; t < K2; ++t) kp[t] = 0;                               \
            }                                                                               \
            const ptrdiff_t o0 = 2 * q * step, o1 = FC_MIN(2 * q1 * step, p->out_w);        \
            st = FC_FFT_DIRECT_SPAN(CORR, o0, o1);                                          \
            q = q1;                                                                         \
            while (q <= last && !bad[q]) ++q;                                               \
        }                                                                                   \
        /* the outputs whose windows reach outside the signal (i < pad or                 \
         * i > pad + n - K): no lower bound there, so always direct */                      \
        const ptrdiff_t e0 = FC_MIN(FC_MAX(p->pad, (ptrdiff_t)0), p->out_w);                   \
        const ptrdiff_t e1 = FC_MIN(FC_MAX(p->pad + p->n - K + 1, e0), p->out_w);               \
        const ptrdiff_t spans[2][2] = {{0, e0}, {e1, p->out_w}};                                \
        for (int sp = 0; sp < 2 && st == FC_OK; ++sp) {                                         \
            const ptrdiff_t o0 = spans[sp][0], o1 = spans[sp][1];                               \
            if (o1 <= o0) continue;                                                             \
            if (!kp) {                                                                          \
                kp = (FT_ *)fc_aligned_alloc((size_t)K2 * sizeof(FT_));                          \
                if (!kp) return FC_ENOMEM;                                                      \
                memcpy(kp, k, (size_t)K * sizeof(FT_));                                         \
                for (ptrdiff_t t = K; t < K2; ++t) kp[t] = 0;                                   \
            }                                                                                   \
            st = FC_FFT_DIRECT_SPAN(CORR, o0, o1);                                              \
        }                                                                                       \
        fc_aligned_free(kp);                                                                    \
        return st;                                                                              \
    }
FC_FFT_REDO_DEF(fc_fftcorr1d_f32_redo, float, fc_corr2d_f32)
FC_FFT_REDO_DEF(fc_fftcorr1d_f64_redo, double, fc_corr2d_f64)
#define FC_FFT_REDO(REDO) REDO(p, x, k, fill, y, bad)

#define FC_FFT_DRIVER(NAME, FT_, LANES, REF, AVX2, AVX512)                                       \
    int NAME(const fc_fftcorr1d_params *p, const FT_ *x, const FT_ *k, FT_ fill, FT_ *y,           \
             unsigned char *bad)                                                                  \
    {                                                                                             \
        if (!fc_fft_params_ok(p) || !k || !y || (p->n > 0 && !x) || (p->guard && !bad))          \
            return FC_EINVAL;                                                                     \
        void (*batch_fn)(const fc_fftcorr_plan *, ptrdiff_t, FT_ *, FT_ *, unsigned char *) = REF; \
        FC_FFT_DISPATCH(AVX2, AVX512);                                                            \
        const ptrdiff_t N = p->fft_n;                                                             \
        fc_fftcorr_plan plan;                                                                     \
        plan.x = x, plan.n = p->n, plan.pad = p->pad, plan.fill = (double)fill;                   \
        plan.K = p->taps, plan.N = N, plan.step = N - p->taps + 1, plan.out_w = p->out_w;         \
        plan.nblocks = (p->out_w + plan.step - 1) / plan.step;                                    \
        plan.guard = p->guard;                                                                    \
        const ptrdiff_t pairs = (plan.nblocks + 1) / 2, batches = (pairs + LANES - 1) / LANES;    \
        int nt = fc_resolve_threads(0);                                                           \
        if (nt > batches) nt = (int)batches;                                                      \
        /* workspace: twiddles and spectrum in FT_ (4N), then per thread FC_FFT_WS (at least    \
         * 33N elements); the double-precision plan (4N doubles) uses the threads' part before \
         * they start */                                                                          \
        size_t per = FC_FFT_WS(N, LANES), al = FC_ALIGN / sizeof(FT_), thr, total;                 \
        per = (per + al - 1) / al * al;                                                           \
        if (fc_size_mul3(per, (size_t)nt, 1, &thr) || thr > SIZE_MAX / 2 - 4 * (size_t)N)         \
            return FC_EOVERFLOW;                                                                  \
        total = thr + 4 * (size_t)N;                                                              \
        if (total > SIZE_MAX / sizeof(double)) return FC_EOVERFLOW;                               \
        FT_ *ws = (FT_ *)fc_aligned_alloc(total * sizeof(FT_));                                   \
        double *wd = NULL;                                                                        \
        if (!ws) return FC_ENOMEM;                                                                \
        FT_ *tw = ws, *hs = ws + 2 * (size_t)N;                                                   \
        wd = (double *)(void *)(ws + 4 * (size_t)N);                                              \
        FC_FFT_PLAN(FT_, k);                                                                      \
        plan.tw = tw, plan.hs = hs;                                                               \
        FT_ *tws = ws + 4 * (size_t)N;                                                            \
        _Pragma("omp parallel for num_threads(nt) schedule(static) if (nt > 1)")                  \
        for (ptrdiff_t b = 0; b < batches; ++b) {                                                 \
            const int tid = FC_FFT_TID(nt);                                                       \
            batch_fn(&plan, b, tws + (size_t)tid * per, y, bad);                                  \
        }                                                                                         \
        fc_aligned_free(ws);                                                                      \
        return p->guard ? FC_FFT_REDO(NAME##_redo) : FC_OK;                                        \
    }

#ifdef _OPENMP
#define FC_FFT_TID(nt) ((nt) > 1 ? omp_get_thread_num() : 0)
#else
#define FC_FFT_TID(nt) 0
#endif

#ifdef FC_HAVE_X86_KERNELS
#define FC_FFT_DISPATCH(AVX2, AVX512)                                     \
    do {                                                                  \
        if (fc_isa_active() >= FC_ISA_AVX512) batch_fn = AVX512;          \
        else if (fc_isa_active() >= FC_ISA_AVX2) batch_fn = AVX2;         \
    } while (0)
#else
#define FC_FFT_DISPATCH(AVX2, AVX512) ((void)0)
#endif

FC_FFT_DRIVER(fc_fftcorr1d_f32, float, FC_FFT_LANES_F32, fc_fftcorr_batch_f32_ref,
              fc_fftcorr_batch_f32_avx2, fc_fftcorr_batch_f32_avx512)
FC_FFT_DRIVER(fc_fftcorr1d_f64, double, FC_FFT_LANES_F64, fc_fftcorr_batch_f64_ref,
              fc_fftcorr_batch_f64_avx2, fc_fftcorr_batch_f64_avx512)
