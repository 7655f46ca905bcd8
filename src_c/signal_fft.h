/*
 * signal_fft.h -- overlap-save FFT correlation of one real 1-D signal (the
 * FFT path of fastconv's numpy.convolve / numpy.correlate replacements).
 * Plain C, no Python; entry points for the Cython wrapper (fastconv/_signal.pyx).
 *
 *   y[i] = sum_{j < taps} k[j] * e[i + j],   i < out_w,
 *   e[j] = x[j - pad] for 0 <= j - pad < n, else fill.
 *
 * The extended signal is cut into blocks of fft_n samples, step = fft_n - taps + 1
 * apart; block b gives outputs [b * step, (b + 1) * step).  Two neighbouring
 * blocks (2q, 2q + 1: "pair" q) are the real and imaginary parts of one complex
 * transform (the kernel is real, so the two circular convolutions stay apart),
 * and a batch of FC_FFT_LANES(type) pairs runs at once, one pair per SIMD lane.
 * The blocking does not depend on the thread count, so neither do the bits.
 *
 * guard != 0: bad[q] (one byte per pair) is set to 1 where the pair's output
 * may miss the accuracy bound documented at fastconv/signal.py (an error model
 * against a lower bound of every output's sum of |products|), else 0; the
 * caller recomputes those outputs directly.
 */
#ifndef FC_SIGNAL_FFT_H
#define FC_SIGNAL_FFT_H

#include <stddef.h>

typedef struct {
    ptrdiff_t n;      /* signal length, >= 0 */
    ptrdiff_t pad;    /* e[j] = x[j - pad] */
    ptrdiff_t taps;   /* kernel length, >= 1 */
    ptrdiff_t out_w;  /* outputs, >= 1 */
    ptrdiff_t fft_n;  /* block length: a power of two from 4, >= taps */
    int guard;        /* fill bad[] */
    double guard_c;   /* constant of the error model (see fastconv/signal.py) */
} fc_fftcorr1d_params;

/* Pairs of blocks (the length of bad[]); 0 for invalid parameters. */
ptrdiff_t fc_fftcorr1d_pairs(const fc_fftcorr1d_params *p);
/* FC_OK, FC_EINVAL, FC_EOVERFLOW or FC_ENOMEM (fastconv.h). */
int fc_fftcorr1d_f32(const fc_fftcorr1d_params *p, const float *x, const float *k, float fill,
                     float *y, unsigned char *bad);
int fc_fftcorr1d_f64(const fc_fftcorr1d_params *p, const double *x, const double *k, double fill,
                     double *y, unsigned char *bad);

#endif
