/*
 * signal_fft_internal.h -- the plan of an overlap-save FFT correlation
 * (signal_fft.c) and the per-ISA batch kernels that run it
 * (kernels/signal_fft_{ref,avx2,avx512}.c, one template: signal_fft_impl.h);
 * not part of the public API.
 *
 * A batch holds FC_FFT_LANES pairs of blocks in "vertical" layout: point t of
 * the complex sequences is 2 * lanes values, the real parts (the even blocks
 * of the pairs) then the imaginary parts (the odd blocks), so every butterfly
 * is plain SIMD arithmetic across lanes with a broadcast twiddle, and every
 * lane sees exactly the same operations.
 */
#ifndef FC_SIGNAL_FFT_INTERNAL_H
#define FC_SIGNAL_FFT_INTERNAL_H

#include "internal.h"
#include "signal_fft.h"

/* pairs of blocks per batch: one 512-bit vector of each type */
#define FC_FFT_LANES_F32 16
#define FC_FFT_LANES_F64 8

typedef struct {
    const void *x;       /* the signal (compute type) */
    ptrdiff_t n, pad;    /* e[j] = x[j - pad] inside, fill outside */
    double fill;
    ptrdiff_t K, N, step, out_w, nblocks;
    const void *tw;      /* W^k = exp(-2 pi i k / N), k < N: (re, im) pairs */
    const void *hs;      /* DIF-ordered spectrum of the flipped kernel / N: (re, im) pairs */
    int guard;
    double g_lhs;        /* C^2 log2(N) max |spectrum of k|^2 / N */
    double g_rhs;        /* (taps + 1/2) * sum over 16-tap chunks of min |k| */
} fc_fftcorr_plan;

/* Batch `batch` (pairs batch * lanes + [0, lanes)): gather, transform,
 * multiply, inverse transform, scatter its outputs into y; bad[] per pair when
 * p->guard.  ws: FC_FFT_WS(N, lanes) elements, 64-byte aligned. */
#define FC_FFT_WS(N, lanes) ((size_t)(N) * (2 * (size_t)(lanes) + 1))
typedef void (*fc_fftcorr_batch_f32_fn)(const fc_fftcorr_plan *p, ptrdiff_t batch, float *ws,
                                        float *y, unsigned char *bad);
typedef void (*fc_fftcorr_batch_f64_fn)(const fc_fftcorr_plan *p, ptrdiff_t batch, double *ws,
                                        double *y, unsigned char *bad);
void fc_fftcorr_batch_f32_ref(const fc_fftcorr_plan *, ptrdiff_t, float *, float *, unsigned char *);
void fc_fftcorr_batch_f64_ref(const fc_fftcorr_plan *, ptrdiff_t, double *, double *, unsigned char *);
void fc_fftcorr_batch_f32_avx2(const fc_fftcorr_plan *, ptrdiff_t, float *, float *, unsigned char *);
void fc_fftcorr_batch_f64_avx2(const fc_fftcorr_plan *, ptrdiff_t, double *, double *, unsigned char *);
void fc_fftcorr_batch_f32_avx512(const fc_fftcorr_plan *, ptrdiff_t, float *, float *, unsigned char *);
void fc_fftcorr_batch_f64_avx512(const fc_fftcorr_plan *, ptrdiff_t, double *, double *, unsigned char *);

#endif
