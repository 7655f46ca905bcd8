/*
 * signal_avx2.c -- AVX2 + FMA block kernels of the signal-filtering engine
 * (float32, float64, and integers modulo 2^32); the body is
 * signal_avx2_impl.h, included once per type (it undefines its parameters).
 */
#include <immintrin.h>
#include <math.h>

#include "../signal_internal.h"

/* Python's build flags add -fwrapv; with it GCC no longer keeps the register
 * tiles' accumulators in registers (they live in memory and the kernels run
 * 3-4x slower).  The kernels never rely on signed wrap-around. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-wrapv")
#endif

#define FT float
#define VT __m256
#define VL 8
#define VZERO _mm256_setzero_ps
#define VSET1 _mm256_set1_ps
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define VFMA _mm256_fmadd_ps
#define SFMA fmaf
#define FN(name) name##_f32_avx2
#include "signal_avx2_impl.h"

#define FT double
#define VT __m256d
#define VL 4
#define VZERO _mm256_setzero_pd
#define VSET1 _mm256_set1_pd
#define VLOAD _mm256_loadu_pd
#define VSTORE _mm256_storeu_pd
#define VFMA _mm256_fmadd_pd
#define SFMA fma
#define FN(name) name##_f64_avx2
#include "signal_avx2_impl.h"

/* integers modulo 2^32: a multiply-add is mullo + add (exact, wrapping) */
#define FT uint32_t
#define VT __m256i
#define VL 8
#define VZERO _mm256_setzero_si256
#define VSET1(v) _mm256_set1_epi32((int)(v))
#define VLOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VSTORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define VFMA(a, b, c) _mm256_add_epi32(_mm256_mullo_epi32((a), (b)), (c))
#define SFMA(a, b, c) ((uint32_t)((a) * (b) + (c)))
#define FN(name) name##_u32_avx2
#include "signal_avx2_impl.h"
