/*
 * signal_avx512.c -- AVX-512F block kernels of the signal-filtering engine
 * (float32, float64, and integers modulo 2^32): the body of the AVX2 kernels
 * (signal_avx2_impl.h) with 512-bit vectors and the larger register tiles
 * that 32 zmm registers hold (FC_WIDE_TILES), kernel rows in groups of 8.
 * Each output still accumulates from zero in the order signal_avx2_impl.h
 * describes (with groups of 8 rows, and 1-D kernels folded into rows of 16
 * float32 / 8 float64 taps, chosen in signal.c), so any tiling and any
 * thread count give the same bits; the bits differ from the AVX2 kernels'.
 */
#include <immintrin.h>
#include <math.h>

#include "../signal_internal.h"

/* see signal_avx2.c: without this GCC keeps the accumulators in memory */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-wrapv")
#endif

#define FC_WIDE_TILES 1
#define FC_GROUP 8

#define FT float
#define VT __m512
#define VL 16
#define VZERO _mm512_setzero_ps
#define VSET1 _mm512_set1_ps
#define VLOAD _mm512_loadu_ps
#define VSTORE _mm512_storeu_ps
#define VFMA _mm512_fmadd_ps
#define SFMA fmaf
#define FN(name) name##_f32_avx512
#include "signal_avx2_impl.h"

#define FT double
#define VT __m512d
#define VL 8
#define VZERO _mm512_setzero_pd
#define VSET1 _mm512_set1_pd
#define VLOAD _mm512_loadu_pd
#define VSTORE _mm512_storeu_pd
#define VFMA _mm512_fmadd_pd
#define SFMA fma
#define FN(name) name##_f64_avx512
#include "signal_avx2_impl.h"

/* integers modulo 2^32: a multiply-add is mullo + add (exact, wrapping) */
#define FT uint32_t
#define VT __m512i
#define VL 16
#define VZERO _mm512_setzero_si512
#define VSET1(v) _mm512_set1_epi32((int)(v))
#define VLOAD(p) _mm512_loadu_si512((const void *)(p))
#define VSTORE(p, v) _mm512_storeu_si512((void *)(p), (v))
#define VFMA(a, b, c) _mm512_add_epi32(_mm512_mullo_epi32((a), (b)), (c))
#define SFMA(a, b, c) ((uint32_t)((a) * (b) + (c)))
#define FN(name) name##_u32_avx512
#include "signal_avx2_impl.h"
