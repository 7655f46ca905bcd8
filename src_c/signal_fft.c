/*
 * signal_fft.c -- overlap-save FFT correlation of a real 1-D signal (see
 * signal_fft.h): the plan (twiddles, the kernel's spectrum computed once in
 * double precision, the accuracy guard's constants), the workspace, the
 * batches spread over threads and the direct recomputation of what the guard
 * rejects; the per-type part is signal_fft_driver.h, the batch kernels live
 * in kernels/signal_fft_{ref,avx2,avx512}.c.
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

#define FC_FFT_MAX_RUNS 32

#define FT float
#define FN(name) name##_f32
#define LANES FC_FFT_LANES_F32
#define CORR fc_corr2d_f32
#define BATCH_REF fc_fftcorr_batch_f32_ref
#define BATCH_AVX2 fc_fftcorr_batch_f32_avx2
#define BATCH_AVX512 fc_fftcorr_batch_f32_avx512
#include "signal_fft_driver.h"

#define FT double
#define FN(name) name##_f64
#define LANES FC_FFT_LANES_F64
#define CORR fc_corr2d_f64
#define BATCH_REF fc_fftcorr_batch_f64_ref
#define BATCH_AVX2 fc_fftcorr_batch_f64_avx2
#define BATCH_AVX512 fc_fftcorr_batch_f64_avx512
#include "signal_fft_driver.h"
