/*
 * gemm.c -- packed, cache-blocked GEMM for float32 and float64.
 * The driver lives in gemm_impl.h, instantiated here once per type.
 */
#include "internal.h"

#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define FT float
#define FSUF _s
#define FC_GEMM_NAME fc_sgemm
#define FC_GEMM_FIELD_BLOCKING s
#define FC_GEMM_FIELD_UKERNEL sgemm
#define FC_GEMM_UKERNEL_T fc_sgemm_ukernel_fn
#define FC_GEMM_FIELD_PACK_A spack_a
#define FC_GEMM_FIELD_HALF sgemm_half
#define FC_GEMM_PACK_A_T fc_sgemm_pack_a_fn
#ifdef FC_HAVE_X86_KERNELS
#define FC_GEMM_PACK_BT fc_sgemm_pack_bt_avx2
#endif
#include "gemm_impl.h"
#undef FC_GEMM_PACK_BT
#undef FT
#undef FSUF
#undef FC_GEMM_NAME
#undef FC_GEMM_FIELD_BLOCKING
#undef FC_GEMM_FIELD_UKERNEL
#undef FC_GEMM_UKERNEL_T
#undef FC_GEMM_FIELD_PACK_A
#undef FC_GEMM_FIELD_HALF
#undef FC_GEMM_PACK_A_T

#define FT double
#define FSUF _d
#define FC_GEMM_NAME fc_dgemm
#define FC_GEMM_FIELD_BLOCKING d
#define FC_GEMM_FIELD_UKERNEL dgemm
#define FC_GEMM_UKERNEL_T fc_dgemm_ukernel_fn
#define FC_GEMM_FIELD_PACK_A dpack_a
#define FC_GEMM_FIELD_HALF dgemm_half
#define FC_GEMM_PACK_A_T fc_dgemm_pack_a_fn
#include "gemm_impl.h"
