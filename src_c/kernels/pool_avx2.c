/*
 * pool_avx2.c -- the pooling drivers of pool_impl.h compiled with AVX2 + FMA.
 *
 * No intrinsics: the row and pixel loops of the template vectorise to 256-bit
 * code (the stride-2 windows to a two-load de-interleave, the NaN-propagating
 * max to compare + blend) when compiled with these flags.  pool.c selects
 * these tables when fc_isa_active() >= FC_ISA_AVX2.
 */
#include "../pool_impl.h"

#define FT float
#define FSUF _f32_avx2
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_avx2
#include "../pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS

#define FT double
#define FSUF _f64_avx2
#define FC_POOL_OPS_T fc_pool_ops_f64
#define FC_POOL_OPS fc_pool_ops_f64_avx2
#include "../pool_impl.h"
