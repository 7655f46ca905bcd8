/*
 * convk_avx512_6x32.c -- the indirect convolution micro-kernel, float32, AVX-512F.
 *
 * The AVX-512 companion of convk_avx2_6x16.c, over the same operands: the
 * same pointer table (6 output pixels per tile, one pointer per pixel and
 * segment) and the same packed weights (panels of 16 output channels, 16
 * values per k), of which it takes two adjacent panels at once: C (6 pixels
 * x 32 channels) in 12 zmm accumulators, per k two panel loads (one per
 * panel, `pstride` floats apart), six broadcasts and 12 FMAs.  Every output
 * element sees the same FMA chain over k as in the AVX2 kernel, so the two
 * kernels (and a tile split between them) round alike.
 */
#include <immintrin.h>

#include "../conv_internal.h"

#define ROW(i, ai)                                          \
    do {                                                    \
        const __m512 av = _mm512_set1_ps(*(ai));            \
        c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);         \
        c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);         \
    } while (0)

#define STEP(o)                                                                   \
    do {                                                                          \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + pstride);    \
        ROW(0, a0 + (o)); ROW(1, a1 + (o)); ROW(2, a2 + (o));                     \
        ROW(3, a3 + (o)); ROW(4, a4 + (o)); ROW(5, a5 + (o));                     \
        b += 16;                                                                  \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        float *ci = c + (i) * ldc;                                                \
        if (accumulate) {                                                         \
            c##i##0 = _mm512_add_ps(_mm512_loadu_ps(ci), c##i##0);                \
            c##i##1 = _mm512_add_ps(_mm512_loadu_ps(ci + 16), c##i##1);           \
        }                                                                         \
        _mm512_storeu_ps(ci, c##i##0);                                            \
        _mm512_storeu_ps(ci + 16, c##i##1);                                       \
    } while (0)

void fc_conv_ukernel_6x32_avx512(ptrdiff_t nseg, ptrdiff_t L, ptrdiff_t cs, ptrdiff_t aoff,
                                 const float *const *ptrs, const float *b, ptrdiff_t pstride,
                                 float *c, ptrdiff_t ldc, int accumulate)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();

    for (ptrdiff_t q = 0; q < nseg; ++q, ptrs += 6) {
        const float *a0 = ptrs[0] + aoff, *a1 = ptrs[1] + aoff, *a2 = ptrs[2] + aoff;
        const float *a3 = ptrs[3] + aoff, *a4 = ptrs[4] + aoff, *a5 = ptrs[5] + aoff;
        ptrdiff_t e = 0;
        if (cs == 1) {
            for (; e + 4 <= L; e += 4) {
                STEP(0); STEP(1); STEP(2); STEP(3);
                a0 += 4; a1 += 4; a2 += 4; a3 += 4; a4 += 4; a5 += 4;
            }
            for (; e < L; ++e) {
                STEP(0);
                ++a0; ++a1; ++a2; ++a3; ++a4; ++a5;
            }
        } else {
            for (; e + 2 <= L; e += 2) {
                STEP(0);
                a0 += cs; a1 += cs; a2 += cs; a3 += cs; a4 += cs; a5 += cs;
                STEP(0);
                a0 += cs; a1 += cs; a2 += cs; a3 += cs; a4 += cs; a5 += cs;
            }
            for (; e < L; ++e) {
                STEP(0);
                a0 += cs; a1 += cs; a2 += cs; a3 += cs; a4 += cs; a5 += cs;
            }
        }
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
}
