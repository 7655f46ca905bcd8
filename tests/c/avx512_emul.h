/*
 * avx512_emul.h -- a scalar stand-in for the AVX-512F intrinsics fastconv's
 * AVX-512 kernels use, so their indexing and control flow can be tested on a
 * machine without AVX-512 (tests/test_avx512_emulated.py).  Force-included
 * ahead of a kernel file; the include guards below keep the real
 * <immintrin.h> out.  Only the semantics matter here, not speed.
 */
#ifndef FC_AVX512_EMUL_H
#define FC_AVX512_EMUL_H
#define _IMMINTRIN_H_INCLUDED
#define _XMMINTRIN_H_INCLUDED
#define __IMMINTRIN_H
#define __XMMINTRIN_H
#include <math.h>
#include <string.h>

typedef struct { float v[16]; } __m512;
typedef struct { double v[8]; } __m512d;

#define _MM_HINT_T0 3
#define _mm_prefetch(p, h) ((void)(p), (void)(h))

static inline __m512 _mm512_setzero_ps(void) { __m512 r; memset(&r, 0, sizeof r); return r; }
static inline __m512 _mm512_set1_ps(float x) { __m512 r; for (int i = 0; i < 16; ++i) r.v[i] = x; return r; }
static inline __m512 _mm512_loadu_ps(const void *p) { __m512 r; memcpy(&r, p, sizeof r); return r; }
static inline __m512 _mm512_load_ps(const void *p)
{
    /* the real instruction faults on a misaligned address: so do we */
    if (((unsigned long)p) & 63) __builtin_trap();
    return _mm512_loadu_ps(p);
}
static inline void _mm512_storeu_ps(void *p, __m512 a) { memcpy(p, &a, sizeof a); }
static inline __m512 _mm512_add_ps(__m512 a, __m512 b) { for (int i = 0; i < 16; ++i) a.v[i] += b.v[i]; return a; }
static inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c)
{
    for (int i = 0; i < 16; ++i) c.v[i] = fmaf(a.v[i], b.v[i], c.v[i]);
    return c;
}
static inline float _mm512_reduce_add_ps(__m512 a) { float s = 0; for (int i = 0; i < 16; ++i) s += a.v[i]; return s; }

static inline __m512d _mm512_setzero_pd(void) { __m512d r; memset(&r, 0, sizeof r); return r; }
static inline __m512d _mm512_set1_pd(double x) { __m512d r; for (int i = 0; i < 8; ++i) r.v[i] = x; return r; }
static inline __m512d _mm512_loadu_pd(const void *p) { __m512d r; memcpy(&r, p, sizeof r); return r; }
static inline __m512d _mm512_load_pd(const void *p)
{
    if (((unsigned long)p) & 63) __builtin_trap();
    return _mm512_loadu_pd(p);
}
static inline void _mm512_storeu_pd(void *p, __m512d a) { memcpy(p, &a, sizeof a); }
static inline __m512d _mm512_add_pd(__m512d a, __m512d b) { for (int i = 0; i < 8; ++i) a.v[i] += b.v[i]; return a; }
static inline __m512d _mm512_fmadd_pd(__m512d a, __m512d b, __m512d c)
{
    for (int i = 0; i < 8; ++i) c.v[i] = fma(a.v[i], b.v[i], c.v[i]);
    return c;
}
#endif
