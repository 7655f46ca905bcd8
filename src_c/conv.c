/*
 * conv.c -- 2-D convolution (1-D is the same with a height of 1): forward,
 * input / weight / bias gradients, on the project's GEMM micro-kernels.
 * The per-type code lives in conv_impl.h, included once per type.
 */
#include "conv_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define FT float
#define FSUF _f32
#define FC_CONV_BL s
#define FC_CONV_UK sgemm
#define FC_CONV_GEMM_FN fc_sgemm
#define FC_CONV_IS_F32 1
#include "conv_impl.h"
#undef FT
#undef FSUF
#undef FC_CONV_BL
#undef FC_CONV_UK
#undef FC_CONV_GEMM_FN
#undef FC_CONV_IS_F32
#undef FC_CONV_KC

#define FT double
#define FSUF _f64
#define FC_CONV_BL d
#define FC_CONV_UK dgemm
#define FC_CONV_GEMM_FN fc_dgemm
#define FC_CONV_IS_F32 0
#include "conv_impl.h"
