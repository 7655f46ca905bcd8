/*
 * pool_avg3.h -- a fused NCHW row kernel for float average pooling of 3-wide,
 * stride-1 windows with one column of padding on each side (3x3/1 pad 1 and
 * the like), for the AVX2 and AVX-512 copies of pool_impl.h (256-bit code,
 * so both compute the same bits).  Included by kernels/pool_avx2.c and
 * kernels/pool_avx512.c before pool_impl.h; pool_impl.h calls it through
 * FC_POOL_AVG3S1 from nchw_row.
 *
 * The generic path writes the vertical sums of the window's rows into a
 * padded row buffer t (t[0] = t[W+1] = 0) and reads it back at three
 * offsets; the loads straddle the stores just made (store-to-load
 * forwarding fails), which cost about as much as the memory traffic.  Here
 * the vertical sums stay in registers: v = (r0 + r1) + r2 (or r0 + r1) per
 * 8 columns, and the two neighbours come from lane rotations of this vector
 * and the previous / next one (zero beyond the row).  Each output is
 * ((t[o] + t[o+1]) + t[o+2]) / div[o] with the same t values in the same
 * order as the generic path: the bits do not change.
 */
#ifndef FC_POOL_AVG3_H
#define FC_POOL_AVG3_H

#include <immintrin.h>
#include <stddef.h>

static inline __m256 avg3_vsum(const float *const *rows, ptrdiff_t nr, ptrdiff_t i)
{
    const __m256 s = _mm256_add_ps(_mm256_loadu_ps(rows[0] + i), _mm256_loadu_ps(rows[1] + i));
    return nr == 3 ? _mm256_add_ps(s, _mm256_loadu_ps(rows[2] + i)) : s;
}

static inline __m256 avg3_vsum_tail(const float *const *rows, ptrdiff_t nr, ptrdiff_t i, __m256i m)
{
    const __m256 s = _mm256_add_ps(_mm256_maskload_ps(rows[0] + i, m), _mm256_maskload_ps(rows[1] + i, m));
    return nr == 3 ? _mm256_add_ps(s, _mm256_maskload_ps(rows[2] + i, m)) : s;
}

/* y[o] = ((v[o-1] + v[o]) + v[o+1]) / div[o] for o < W, v the vertical sums
 * of nr (2 or 3) rows of W floats, v[-1] = v[W] = +0. */
static void avg3s1_row_f32(float *restrict y, const float *const *rows, ptrdiff_t nr, ptrdiff_t W,
                           const float *restrict div)
{
    const __m256i up = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6); /* lane l <- l-1 */
    const __m256i dn = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0); /* lane l <- l+1 */
    const ptrdiff_t nfull = W / 8, rem = W - 8 * nfull;
    const __m256i tmask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const ptrdiff_t nv = nfull + (rem > 0);
    __m256 pprev = _mm256_setzero_ps(); /* rotated-up previous vector: lane 0 is v[o-1] of this one */
    __m256 cur = nfull > 0 ? avg3_vsum(rows, nr, 0) : avg3_vsum_tail(rows, nr, 0, tmask);
    for (ptrdiff_t j = 0; j < nv; ++j) {
        const ptrdiff_t i = 8 * j;
        __m256 nxt = _mm256_setzero_ps();
        if (j + 1 < nfull) nxt = avg3_vsum(rows, nr, i + 8);
        else if (j + 1 < nv) nxt = avg3_vsum_tail(rows, nr, i + 8, tmask);
        const __m256 pc = _mm256_permutevar8x32_ps(cur, up);
        const __m256 left = _mm256_blend_ps(pc, pprev, 0x01);
        const __m256 right = _mm256_blend_ps(_mm256_permutevar8x32_ps(cur, dn),
                                             _mm256_permutevar8x32_ps(nxt, dn), 0x80);
        const __m256 s = _mm256_add_ps(_mm256_add_ps(left, cur), right);
        if (j < nfull) {
            _mm256_storeu_ps(y + i, _mm256_div_ps(s, _mm256_loadu_ps(div + i)));
        } else {
            /* masked-off divisor lanes load 0: 0/0 there is never stored */
            _mm256_maskstore_ps(y + i, tmask, _mm256_div_ps(s, _mm256_maskload_ps(div + i, tmask)));
        }
        pprev = pc;
        cur = nxt;
    }
}

#define FC_POOL_AVG3S1(y, rows, nr, W, div) avg3s1_row_f32(y, rows, nr, W, div)

#endif /* FC_POOL_AVG3_H */
