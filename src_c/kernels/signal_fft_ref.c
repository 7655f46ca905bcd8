/*
 * signal_fft_ref.c -- the overlap-save FFT batch kernels (signal_fft_impl.h)
 * compiled for the ref level (portable C: the fallback on every CPU).
 */
#include <math.h>

#include "../signal_fft_internal.h"

#define FT float
#define FL FC_FFT_LANES_F32
#define FN(name) name##_f32_ref
#include "../signal_fft_impl.h"

#define FT double
#define FL FC_FFT_LANES_F64
#define FN(name) name##_f64_ref
#include "../signal_fft_impl.h"
