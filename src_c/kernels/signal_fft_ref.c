/*
 * signal_fft_ref.c -- the overlap-save FFT batch kernels (signal_fft_impl.h)
 * compiled for the ref level, on the baseline's 128-bit vectors (portable C: the
 * fallback on every CPU).
 */
#include <math.h>
#include <stdint.h>

#include "../signal_fft_internal.h"

#define FT float
#define IT int32_t
#define FL FC_FFT_LANES_F32
#define VL 4
#define FN(name) name##_f32_ref
#include "../signal_fft_impl.h"

#define FT double
#define IT int64_t
#define FL FC_FFT_LANES_F64
#define VL 2
#define FN(name) name##_f64_ref
#include "../signal_fft_impl.h"
