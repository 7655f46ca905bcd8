/*
 * winograd_avx2.c -- the F(2x2, 3x3) input and output transforms for AVX2
 * (float32), eight tiles of one tile row per vector.  A tile's input columns
 * are 2t .. 2t+3, so a vector of tiles needs the even and odd columns of the
 * row: two loads and a de-interleave.  The results land in the B panels (16
 * tiles wide) with whole-vector stores.
 */
#include <immintrin.h>

#include "../conv_internal.h"

static inline __m256 evens(__m256 a, __m256 b)
{
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

static inline __m256 odds(__m256 a, __m256 b)
{
    const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Tiles are numbered th * TWp + tw with TWp a multiple of 8 and blocks of 32:
 * a vector of 8 tiles is one row's, at a lane multiple of 8 of an nr-wide
 * panel (nr = 16: the AVX2 micro-kernel's; 32: the AVX-512 one's). */
int fc_wino_input_avx2_f32(const float *planes, ptrdiff_t plane, ptrdiff_t Wq, ptrdiff_t TWp, ptrdiff_t NT,
                           ptrdiff_t f0, ptrdiff_t kcb, ptrdiff_t nr, float *vb, ptrdiff_t xs)
{
    const ptrdiff_t TB = 32;
    if (TWp % 8 || f0 % 8 || nr % 8 || TB % nr) return 0;
    for (ptrdiff_t c = 0; c < kcb; ++c) {
        const float *pc = planes + c * plane;
        if (c + 2 < kcb && f0 < NT) {
            /* the rows of the channel after next: planes are far apart, beyond
             * what the hardware prefetcher follows */
            const ptrdiff_t fe = (f0 + TB < NT ? f0 + TB : NT) - 1, th0 = f0 / TWp, th1 = fe / TWp;
            const ptrdiff_t q0 = th0 == th1 ? 2 * (f0 % TWp) : 0;
            const ptrdiff_t q1 = th0 == th1 ? 2 * (fe % TWp) + 4 : 2 * TWp + 2;
            const float *pn = pc + 2 * plane;
            for (ptrdiff_t r = 2 * th0; r < 2 * th1 + 4; ++r)
                for (ptrdiff_t q = q0; q < q1; q += 16) _mm_prefetch((const char *)(pn + r * Wq + q), _MM_HINT_T0);
        }
        for (ptrdiff_t p = 0; p < TB; p += 8) {
            const ptrdiff_t f = f0 + p;
            float *v = vb + (p / nr) * nr * kcb + c * nr + p % nr;
            if (f >= NT) {                               /* past the last tile: zeros */
                for (int xi = 0; xi < 16; ++xi) _mm256_storeu_ps(v + xi * xs, _mm256_setzero_ps());
                continue;
            }
            const float *row = pc + 2 * (f / TWp) * Wq + 2 * (f % TWp);
            __m256 d[4][4];
            for (int i = 0; i < 4; ++i) {
                const float *r = row + i * Wq;
                const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
                const __m256 a2 = _mm256_loadu_ps(r + 2), b2 = _mm256_loadu_ps(r + 10);
                d[i][0] = evens(a, b);
                d[i][1] = odds(a, b);
                d[i][2] = evens(a2, b2);
                d[i][3] = odds(a2, b2);
            }
            __m256 t[4][4];
            for (int j = 0; j < 4; ++j) {                /* B^T d */
                t[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
                t[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
                t[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
                t[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
            }
            for (int i = 0; i < 4; ++i) {                /* (B^T d) B */
                _mm256_storeu_ps(v + (i * 4 + 0) * xs, _mm256_sub_ps(t[i][0], t[i][2]));
                _mm256_storeu_ps(v + (i * 4 + 1) * xs, _mm256_add_ps(t[i][1], t[i][2]));
                _mm256_storeu_ps(v + (i * 4 + 2) * xs, _mm256_sub_ps(t[i][2], t[i][1]));
                _mm256_storeu_ps(v + (i * 4 + 3) * xs, _mm256_sub_ps(t[i][1], t[i][3]));
            }
        }
    }
    return 1;
}

/* the first n floats of v (0 <= n <= 8): full vectors stored whole, a
 * partial one through a scalar copy (masked stores are slow on some cores) */
static inline void store_n(float *d, int n, __m256 v)
{
    if (n >= 8) {
        _mm256_storeu_ps(d, v);
    } else if (n > 0) {
        float tmp[8];
        _mm256_storeu_ps(tmp, v);
        for (int i = 0; i < n; ++i) d[i] = tmp[i];
    }
}

int fc_wino_output_avx2_f32(const float *mb, ptrdiff_t ms, ptrdiff_t k0, ptrdiff_t k1, const float *bias,
                            ptrdiff_t TWp, ptrdiff_t NT, ptrdiff_t f0, ptrdiff_t OH, ptrdiff_t OW,
                            ptrdiff_t row0, ptrdiff_t ps, float *y)
{
    const ptrdiff_t TB = 32;
    if (TWp % 8 || f0 % 8) return 0;
    for (ptrdiff_t k = k0; k < k1; ++k) {
        const __m256 bv = _mm256_set1_ps(bias ? bias[k] : 0.0f);
        const float *mk = mb + (k - k0) * TB;
        float *yk = y + (k - k0) * ps - row0 * OW;
        for (ptrdiff_t p = 0; p < TB && f0 + p < NT; p += 8) {
            const ptrdiff_t f = f0 + p, oh = 2 * (f / TWp), ow = 2 * (f % TWp);
            if (ow >= OW) continue;                      /* padding tiles */
            __m256 m[16];
            for (int xi = 0; xi < 16; ++xi) m[xi] = _mm256_loadu_ps(mk + xi * ms + p);
            __m256 s[4][2];
            for (int i = 0; i < 4; ++i) {                /* m A */
                s[i][0] = _mm256_add_ps(_mm256_add_ps(m[i * 4], m[i * 4 + 1]), m[i * 4 + 2]);
                s[i][1] = _mm256_sub_ps(_mm256_sub_ps(m[i * 4 + 1], m[i * 4 + 2]), m[i * 4 + 3]);
            }
            const ptrdiff_t ncol = OW - ow < 16 ? OW - ow : 16;
            for (int a = 0; a < 2; ++a) {                /* A^T (m A): output rows oh, oh + 1 */
                if (oh + a >= OH) break;
                __m256 y0, y1;
                if (a == 0) {
                    y0 = _mm256_add_ps(_mm256_add_ps(s[0][0], s[1][0]), s[2][0]);
                    y1 = _mm256_add_ps(_mm256_add_ps(s[0][1], s[1][1]), s[2][1]);
                } else {
                    y0 = _mm256_sub_ps(_mm256_sub_ps(s[1][0], s[2][0]), s[3][0]);
                    y1 = _mm256_sub_ps(_mm256_sub_ps(s[1][1], s[2][1]), s[3][1]);
                }
                y0 = _mm256_add_ps(y0, bv);
                y1 = _mm256_add_ps(y1, bv);
                /* interleave: columns 2t (y0) and 2t + 1 (y1) */
                const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
                const __m256 o0 = _mm256_permute2f128_ps(lo, hi, 0x20), o1 = _mm256_permute2f128_ps(lo, hi, 0x31);
                float *yr = yk + (oh + a) * OW + ow;
                store_n(yr, (int)(ncol < 8 ? ncol : 8), o0);
                store_n(yr + 8, (int)(ncol - 8 > 0 ? ncol - 8 : 0), o1);
            }
        }
    }
    return 1;
}
