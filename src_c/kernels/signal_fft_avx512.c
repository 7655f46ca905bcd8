/*
 * signal_fft_avx512.c -- the overlap-save FFT batch kernels (signal_fft_impl.h)
 * compiled for the avx512 level.
 */
#include <math.h>

#include "../signal_fft_internal.h"

#define FT float
#define FL FC_FFT_LANES_F32
#define FN(name) name##_f32_avx512
#include "../signal_fft_impl.h"

#define FT double
#define FL FC_FFT_LANES_F64
#define FN(name) name##_f64_avx512
#include "../signal_fft_impl.h"
