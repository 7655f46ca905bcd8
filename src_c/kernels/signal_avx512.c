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

/* The Karatsuba steps' passes over the data (see signal_internal.h): even /
 * odd deinterleave with one sum, and the re-interleaving merge.  One vector
 * permute per output vector; every element sees the single add or the two
 * subtractions of the portable loops, in their order. */
#ifndef FC_KARA_PREFETCH
#define FC_KARA_PREFETCH 4096
#endif
#define KARA_HELPERS(SUF, T, V, L, LOAD, STORE, ADD, SUB, PERM, IDX)                       \
    void fc_kara_split_##SUF##_avx512(const T *e, ptrdiff_t cnt, T *e0, T *e1, T *es)      \
    {                                                                                      \
        __m512i ev, od;                                                                    \
        IDX(ev, 2 * l);                                                                    \
        IDX(od, 2 * l + 1);                                                                \
        /* i + L < cnt: the shifted pair of loads reads up to e[2 (i + L) + 1] */          \
        for (ptrdiff_t i = 0; i + L < cnt; i += L) {                                       \
            /* e is often the caller's signal, read in place (from L3 or DRAM): \
             * fetch ahead (a prefetch past the end of e does not fault) */     \
            _mm_prefetch((const char *)(e + 2 * i) + FC_KARA_PREFETCH, _MM_HINT_T0);      \
            _mm_prefetch((const char *)(e + 2 * i) + FC_KARA_PREFETCH + 64, _MM_HINT_T0); \
            const V a = LOAD(e + 2 * i), b = LOAD(e + 2 * i + L);                          \
            const V c = LOAD(e + 2 * i + 2), d = LOAD(e + 2 * i + L + 2);                  \
            const V x1 = PERM(a, od, b);                                                   \
            STORE(e0 + i, PERM(a, ev, b));                                                 \
            STORE(e1 + i, x1);                                                             \
            STORE(es + i, ADD(x1, PERM(c, ev, d)));                                        \
        }                                                                                  \
    }                                                                                      \
    void fc_kara_merge_##SUF##_avx512(const T *a, const T *b, const T *s, ptrdiff_t no,    \
                                      T *y)                                                \
    {                                                                                      \
        __m512i lo, hi;                                                                    \
        IDX(lo, (l & 1) * L + l / 2);                                                      \
        IDX(hi, (l & 1) * L + L / 2 + l / 2);                                              \
        for (ptrdiff_t m = 0; m + L <= no; m += L) {                                       \
            const V a0 = LOAD(a + m), a1 = LOAD(a + m + 1), b0 = LOAD(b + m);              \
            const V ye = ADD(a0, b0), yo = SUB(SUB(LOAD(s + m), a1), b0);                  \
            STORE(y + 2 * m, PERM(ye, lo, yo));                                            \
            STORE(y + 2 * m + L, PERM(ye, hi, yo));                                        \
        }                                                                                  \
    }

/* index vectors: lane l of 16 (32-bit) or 8 (64-bit) holds EXPR */
#define IDX32(dst, EXPR)                                                                   \
    do {                                                                                   \
        int t_[16];                                                                        \
        for (int l = 0; l < 16; ++l) t_[l] = (EXPR);                                       \
        dst = _mm512_loadu_si512((const void *)t_);                                        \
    } while (0)
#define IDX64(dst, EXPR)                                                                   \
    do {                                                                                   \
        long long t_[8];                                                                   \
        for (int l = 0; l < 8; ++l) t_[l] = (EXPR);                                        \
        dst = _mm512_loadu_si512((const void *)t_);                                        \
    } while (0)

#define LOADI(p) _mm512_loadu_si512((const void *)(p))
#define STOREI(p, v) _mm512_storeu_si512((void *)(p), (v))

KARA_HELPERS(f32, float, __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps, _mm512_sub_ps,
             _mm512_permutex2var_ps, IDX32)
KARA_HELPERS(f64, double, __m512d, 8, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_add_pd, _mm512_sub_pd,
             _mm512_permutex2var_pd, IDX64)
KARA_HELPERS(u32, uint32_t, __m512i, 16, LOADI, STOREI, _mm512_add_epi32, _mm512_sub_epi32,
             _mm512_permutex2var_epi32, IDX32)
