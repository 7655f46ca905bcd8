/*
 * convk_avx2_6x16.c -- the indirect convolution micro-kernel, float32, AVX2 + FMA.
 *
 * The GEMM micro-kernel with its A operand read through pointers instead of
 * a packed panel: C (6 output pixels x 16 output channels) += sum over
 * segments q (one kernel tap each) of sum over e < L of
 *     A[q][i][e] * B[q * L + e][0..16),   A[q][i][e] = (ptrs[6 q + i] + aoff)[e * cs]
 * where ptrs[6 q + i] is the input at pixel i's tap q (cs = 1 for NHWC,
 * whose channels are contiguous; the plane size for NCHW), and B is the
 * packed weights, 16 values per k.  No im2col matrix and no A packing: the
 * six broadcasts per k read the image where it lies.  12 ymm accumulators,
 * two B vectors and one broadcast, as in the 6x16 GEMM kernel.
 */
#include <immintrin.h>

#include "../conv_internal.h"
#include "transpose_avx2.h"

#define ROW(i, ai)                                          \
    do {                                                    \
        const __m256 av = _mm256_broadcast_ss(ai);          \
        c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);         \
        c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);         \
    } while (0)

#define STEP(o)                                                                   \
    do {                                                                          \
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);          \
        ROW(0, a0 + (o)); ROW(1, a1 + (o)); ROW(2, a2 + (o));                     \
        ROW(3, a3 + (o)); ROW(4, a4 + (o)); ROW(5, a5 + (o));                     \
        b += 16;                                                                  \
    } while (0)

#define STORE(i)                                                                  \
    do {                                                                          \
        float *ci = c + (i) * ldc;                                                \
        if (accumulate) {                                                         \
            c##i##0 = _mm256_add_ps(_mm256_loadu_ps(ci), c##i##0);                \
            c##i##1 = _mm256_add_ps(_mm256_loadu_ps(ci + 8), c##i##1);            \
        }                                                                         \
        _mm256_storeu_ps(ci, c##i##0);                                            \
        _mm256_storeu_ps(ci + 8, c##i##1);                                        \
    } while (0)

void fc_conv_ukernel_6x16_avx2(ptrdiff_t nseg, ptrdiff_t L, ptrdiff_t cs, ptrdiff_t aoff,
                               const float *const *ptrs, const float *b, float *c, ptrdiff_t ldc,
                               int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

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
            for (; e < L; ++e) {
                STEP(0);
                a0 += cs; a1 += cs; a2 += cs; a3 += cs; a4 += cs; a5 += cs;
            }
        }
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
}

/* Pack 8 weight rows into the kernel's B panels: w points at row 0, column
 * 0 of an 8-row slab (row stride ld; rows past `rows` read as zeros), and
 * its column q (q < ncols) lands at dst + qbase[q] + jp * 16 * qkcb[q] + half
 * (jp: the rows' 16-row panel, half: 0 or 8), eight output channels side by
 * side.  8 x 8 register transposes: each source row is read once,
 * contiguously. */
void fc_conv_pack_b8_avx2(const float *w, ptrdiff_t ld, ptrdiff_t rows, ptrdiff_t ncols, ptrdiff_t jp,
                          ptrdiff_t half, const ptrdiff_t *qbase, const ptrdiff_t *qkcb, float *dst)
{
    const ptrdiff_t nrows = rows < 8 ? (rows > 0 ? rows : 0) : 8;
    ptrdiff_t q0 = 0;
    for (; q0 + 8 <= ncols; q0 += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i)
            r[i] = i < nrows ? _mm256_loadu_ps(w + i * ld + q0) : _mm256_setzero_ps();
        fc_transpose8_ps(r);
        for (int i = 0; i < 8; ++i) {
            const ptrdiff_t q = q0 + i;
            _mm256_storeu_ps(dst + qbase[q] + jp * 16 * qkcb[q] + half, r[i]);
        }
    }
    for (; q0 < ncols; ++q0) {
        float *d = dst + qbase[q0] + jp * 16 * qkcb[q0] + half;
        for (int i = 0; i < 8; ++i) d[i] = i < nrows ? w[i * ld + q0] : 0.0f;
    }
}

/* NCHW output of an indirect-convolution item: the item's tile buffer holds
 * `run` pixels x `nch` channels (row stride ld); y[j * P + q] = t[q][j] +
 * bias[j] (bias NULL: + 0, as the scalar loop), 8 x 8 blocks transposed in
 * registers so both sides move whole vectors. */
void fc_conv_tile_to_nchw_avx2(const float *t, ptrdiff_t ld, ptrdiff_t run, ptrdiff_t nch,
                               const float *bias, float *y, ptrdiff_t P)
{
    ptrdiff_t j0 = 0;
    for (; j0 + 8 <= nch; j0 += 8) {
        ptrdiff_t q0 = 0;
        for (; q0 + 8 <= run; q0 += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(t + (q0 + i) * ld + j0);
            fc_transpose8_ps(r);
            for (int i = 0; i < 8; ++i) {
                const __m256 b = _mm256_set1_ps(bias ? bias[j0 + i] : 0.0f);
                _mm256_storeu_ps(y + (j0 + i) * P + q0, _mm256_add_ps(r[i], b));
            }
        }
        for (; q0 < run; ++q0)
            for (int i = 0; i < 8; ++i) y[(j0 + i) * P + q0] = t[q0 * ld + j0 + i] + (bias ? bias[j0 + i] : 0.0f);
    }
    for (; j0 < nch; ++j0) {
        const float b = bias ? bias[j0] : 0.0f;
        for (ptrdiff_t q = 0; q < run; ++q) y[j0 * P + q] = t[q * ld + j0] + b;
    }
}

/* Planes (nk <= 8 of them, P values apart) into pixel-major rows: 8 pixels x
 * 8 planes transposed in registers; each pixel's first nk values stored
 * (a full 8-value store where nk == 8, else 4 + 2 + 1 piecewise, never
 * past them). */
ptrdiff_t fc_conv_planes_to_pixels_avx2(const float *planes, ptrdiff_t P, ptrdiff_t nk, float *y, ptrdiff_t ld)
{
    if (nk < 1 || nk > 8) return 0;
    ptrdiff_t j = 0;
    for (; j + 8 <= P; j += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = i < nk ? _mm256_loadu_ps(planes + i * P + j) : _mm256_setzero_ps();
        fc_transpose8_ps(r);
        for (int i = 0; i < 8; ++i) {
            float *d = y + (j + i) * ld;
            if (nk == 8) {
                _mm256_storeu_ps(d, r[i]);
                continue;
            }
            __m128 v = _mm256_castps256_ps128(r[i]);
            int k = 0;
            if (nk >= 4) {
                _mm_storeu_ps(d, v);
                v = _mm256_extractf128_ps(r[i], 1);
                k = 4;
            }
            if (nk - k >= 2) {
                _mm_storel_pi((__m64 *)(d + k), v);
                v = _mm_movehl_ps(v, v);
                k += 2;
            }
            if (nk - k >= 1) _mm_store_ss(d + k, v);
        }
    }
    return j;
}
