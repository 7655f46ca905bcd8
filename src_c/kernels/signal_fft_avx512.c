/*
 * signal_fft_avx512.c -- the overlap-save FFT batch kernels (signal_fft_impl.h)
 * compiled for the avx512 level, on 512-bit vectors.
 */
#include <math.h>
#include <stdint.h>

#include "../signal_fft_internal.h"

#define FT float
#define IT int32_t
#define FL FC_FFT_LANES_F32
#define VL 16
#define FN(name) name##_f32_avx512
#include "../signal_fft_impl.h"

#define FT double
#define IT int64_t
#define FL FC_FFT_LANES_F64
#define VL 8
#define FN(name) name##_f64_avx512
#include "../signal_fft_impl.h"
