/*
 * linear_avx512.c -- the fully connected layer for a few rows of x (a batch
 * of at most four), AVX-512F: y[r][j] = x_r . w_j over a tile of 16 output
 * columns, every row w_j of the weight contiguous.
 *
 * The same sums as kernels/linear_avx2.c and as the GEMM, in the same
 * order: for each block of kc inputs (the active GEMM blocking), one FMA
 * chain per output element, from zero, in input order; the block sums are
 * then added to the result in block order.  A row's result therefore never
 * depends on the batch it came in, nor on the vector width.
 *
 * The lanes of a vector hold different outputs (the chain runs along the
 * inputs): each step loads a whole 64-byte line of 16 rows and transposes
 * the 16 x 16 block in registers (64 shuffles).  A batch-1 layer has one
 * chain per tile, 16 outputs x 1 input per FMA latency: twice the AVX2
 * kernel's 8.  Measured, more in flight did not pay: two tiles (32 rows) or
 * two kc blocks at once were slower from memory (more streams of lines, all
 * in the same L1 sets when rows are 4 KiB multiples apart), and from cache
 * the transposition's shuffles are then the bound.
 */
#include <immintrin.h>
#include <stddef.h>

/* t[q] lane l = w[l][p + q], q < 16, from 16 rows; lanes q >= cnt of the
 * loads are zero when masked (the tail of a block), never read past it. */
static inline __attribute__((always_inline)) void lin_load16x16(const float *const *w, ptrdiff_t p, __mmask16 mask,
                                                               int masked, __m512 t[16])
{
    __m512 r[16], u[16];
    for (int l = 0; l < 16; ++l) r[l] = masked ? _mm512_maskz_loadu_ps(mask, w[l] + p) : _mm512_loadu_ps(w[l] + p);
    /* per 128-bit lane: rows 2i, 2i+1 interleaved */
    for (int i = 0; i < 8; ++i) {
        u[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* v[4g + e] lane L = rows 4g..4g+3 at input 4L + e */
    __m512 v[16];
    for (int g = 0; g < 4; ++g) {
        const __m512d a = _mm512_castps_pd(u[4 * g]), b = _mm512_castps_pd(u[4 * g + 1]);
        const __m512d c = _mm512_castps_pd(u[4 * g + 2]), d = _mm512_castps_pd(u[4 * g + 3]);
        v[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        v[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        v[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        v[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* a 4 x 4 transposition of 128-bit lanes per e: t[4L + e] lane g = v[4g + e] lane L */
    for (int e = 0; e < 4; ++e) {
        const __m512 s0 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0x44);
        const __m512 s1 = _mm512_shuffle_f32x4(v[e], v[4 + e], 0xEE);
        const __m512 s2 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0x44);
        const __m512 s3 = _mm512_shuffle_f32x4(v[8 + e], v[12 + e], 0xEE);
        t[0 + e] = _mm512_shuffle_f32x4(s0, s2, 0x88);
        t[4 + e] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
        t[8 + e] = _mm512_shuffle_f32x4(s1, s3, 0x88);
        t[12 + e] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
    }
}

/* cnt (<= 16) inputs from p into the chains A##0 .. A##(M-1), in input order
 * (named variables, not an array: they stay in registers) */
#define LIN_STEP(A, p, cnt, mask, masked)                                                                   \
    do {                                                                                                    \
        __m512 t[16];                                                                                       \
        const float *xp = x + (p);                                                                          \
        lin_load16x16(w, p, mask, masked, t);                                                               \
        _Pragma("GCC unroll 16") for (int q = 0; q < 16; ++q) {                                             \
            if (q >= (cnt)) break;                                                                          \
            A##0 = _mm512_fmadd_ps(_mm512_set1_ps(xp[q]), t[q], A##0);                                      \
            if (M > 1) A##1 = _mm512_fmadd_ps(_mm512_set1_ps(xp[ldx + q]), t[q], A##1);                     \
            if (M > 2) A##2 = _mm512_fmadd_ps(_mm512_set1_ps(xp[2 * ldx + q]), t[q], A##2);                 \
            if (M > 3) A##3 = _mm512_fmadd_ps(_mm512_set1_ps(xp[3 * ldx + q]), t[q], A##3);                 \
        }                                                                                                   \
    } while (0)

#define LIN_OUT(r)                                                                                          \
    do {                                                                                                    \
        float *d = tile + (r) * 16;                                                                         \
        _mm512_storeu_ps(d, pc == 0 ? a##r : _mm512_add_ps(_mm512_loadu_ps(d), a##r));                      \
    } while (0)

/*
 * 16 outputs (rows w[0..15]) for M rows of x.  Each step prefetches the
 * line LIN_PREFETCH floats ahead in each row: the sixteen rows of a layer
 * are usually a multiple of 4 KiB apart (the same L1 sets), which the
 * hardware prefetchers serve poorly (measured: about a fifth faster from
 * memory with it).
 */
#define LIN_PREFETCH 128
static inline __attribute__((always_inline)) void lin_tile(const int M, ptrdiff_t k, ptrdiff_t kc, const float *x,
                                                          ptrdiff_t ldx, const float *const *w, float *tile)
{
    for (ptrdiff_t pc = 0; pc < k; pc += kc) { /* the GEMM's kc blocks */
        const ptrdiff_t pe = pc + kc < k ? pc + kc : k;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        ptrdiff_t p = pc;
        for (; p + 16 <= pe; p += 16) {
            /* a hint, never a fault: past a row's end it touches the next row or nothing */
            for (int l = 0; l < 16; ++l) _mm_prefetch((const char *)(w[l] + p + LIN_PREFETCH), _MM_HINT_T0);
            LIN_STEP(a, p, 16, 0xFFFF, 0);
        }
        if (p < pe) {
            const int rem = (int)(pe - p);
            LIN_STEP(a, p, rem, (__mmask16)((1u << rem) - 1u), 1);
        }
        LIN_OUT(0);
        if (M > 1) LIN_OUT(1);
        if (M > 2) LIN_OUT(2);
        if (M > 3) LIN_OUT(3);
    }
}

/*
 * tile[r * 16 + l] = x_r . w[l] for r < m (1..4), l < 16, in the GEMM's
 * order with blocks of kc inputs; w[l] points at row l of the weight (the
 * caller repeats the last row for a short tile).
 */
void fc_linear_tile_f32_avx512(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const float *x, ptrdiff_t ldx,
                               const float *const *w, float *tile)
{
    switch (m) {
    case 1: lin_tile(1, k, kc, x, ldx, w, tile); break;
    case 2: lin_tile(2, k, kc, x, ldx, w, tile); break;
    case 3: lin_tile(3, k, kc, x, ldx, w, tile); break;
    default: lin_tile(4, k, kc, x, ldx, w, tile); break;
    }
}
