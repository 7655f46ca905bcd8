/*
 * linear_avx2.c -- the fully connected layer for a few rows of x (a batch of
 * at most four), AVX2 + FMA: y[r][j] = x_r . w_j over a tile of output
 * columns, every row w_j of the weight contiguous.
 *
 * The sums follow the GEMM's order exactly, so that a row's result never
 * depends on the batch it came in: for each block of kc inputs (the active
 * GEMM blocking), one FMA chain per output element, from zero, in input
 * order; the block sums are then added to the result in block order.  That
 * chain runs along the inputs, and the rows of w are contiguous along the
 * inputs too, so the lanes of a vector hold different outputs: 8 x 8
 * (float32) or 4 x 4 (float64) blocks of w are transposed in registers,
 * half of the work done by 128-bit loads into the two halves of a register.
 * The weight is read once, which is what a batch-1 layer costs.
 */
#include <immintrin.h>
#include <stddef.h>

/* q-th input of a transposed group: t[q] lane l = w_l[p + q] */
static inline __attribute__((always_inline)) void lin_load8x8(const float *const *w, ptrdiff_t p, __m256 t[8])
{
    __m256 a[4], b[4];
    for (int l = 0; l < 4; ++l) {
        /* lanes 0-3: row l, lanes 4-7: row l + 4 */
        a[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(w[l] + p)), _mm_loadu_ps(w[l + 4] + p), 1);
        b[l] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(w[l] + p + 4)),
                                    _mm_loadu_ps(w[l + 4] + p + 4), 1);
    }
    const __m256 a01l = _mm256_unpacklo_ps(a[0], a[1]), a01h = _mm256_unpackhi_ps(a[0], a[1]);
    const __m256 a23l = _mm256_unpacklo_ps(a[2], a[3]), a23h = _mm256_unpackhi_ps(a[2], a[3]);
    const __m256 b01l = _mm256_unpacklo_ps(b[0], b[1]), b01h = _mm256_unpackhi_ps(b[0], b[1]);
    const __m256 b23l = _mm256_unpacklo_ps(b[2], b[3]), b23h = _mm256_unpackhi_ps(b[2], b[3]);
    t[0] = _mm256_shuffle_ps(a01l, a23l, 0x44);
    t[1] = _mm256_shuffle_ps(a01l, a23l, 0xEE);
    t[2] = _mm256_shuffle_ps(a01h, a23h, 0x44);
    t[3] = _mm256_shuffle_ps(a01h, a23h, 0xEE);
    t[4] = _mm256_shuffle_ps(b01l, b23l, 0x44);
    t[5] = _mm256_shuffle_ps(b01l, b23l, 0xEE);
    t[6] = _mm256_shuffle_ps(b01h, b23h, 0x44);
    t[7] = _mm256_shuffle_ps(b01h, b23h, 0xEE);
}

static inline __attribute__((always_inline)) void lin_load4x4(const double *const *w, ptrdiff_t p, __m256d t[4])
{
    /* lanes 0-1: row l, lanes 2-3: row l + 2 */
    const __m256d a0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w[0] + p)), _mm_loadu_pd(w[2] + p), 1);
    const __m256d a1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w[1] + p)), _mm_loadu_pd(w[3] + p), 1);
    const __m256d b0 =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w[0] + p + 2)), _mm_loadu_pd(w[2] + p + 2), 1);
    const __m256d b1 =
        _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(w[1] + p + 2)), _mm_loadu_pd(w[3] + p + 2), 1);
    t[0] = _mm256_unpacklo_pd(a0, a1);
    t[1] = _mm256_unpackhi_pd(a0, a1);
    t[2] = _mm256_unpacklo_pd(b0, b1);
    t[3] = _mm256_unpackhi_pd(b0, b1);
}

/*
 * One tile of VL outputs (one transposed group) for M rows of x: the body is
 * instantiated per M (1..4) so that the M accumulators stay in registers.
 * tile[r * VL + l] receives y[r][l]; w[l] points at row l of the weight (the
 * caller repeats the last row for a short tile).  Each step reads a whole
 * 64-byte line of each of the VL rows: few streams, each line consumed at
 * once (the rows of a layer are often a multiple of 4 KiB apart, so they
 * compete for the same L1 sets); measured faster from memory than two
 * groups of rows at a time, which a batch-1 layer is.
 */
/* VL inputs from p0 for the VL outputs: acc[r] += x[r][p0 + q] * w_l[p0 + q], q in order */
#define LIN_GROUP(p0, VEC, VL, BCAST, FMADD, TRANSPOSED_LOAD)                                                 \
    do {                                                                                                      \
        VEC t[VL];                                                                                            \
        TRANSPOSED_LOAD(w, p0, t);                                                                            \
        _Pragma("GCC unroll 8") for (int q = 0; q < VL; ++q)                                                  \
            _Pragma("GCC unroll 4") for (int r = 0; r < M; ++r)                                               \
                acc[r] = FMADD(BCAST(x + r * ldx + (p0) + q), t[q], acc[r]);                                  \
    } while (0)

#define LIN_TILE_BODY(FT, VEC, VL, ZERO, BCAST, FMADD, ADD, LOADU, STOREU, TRANSPOSED_LOAD)                 \
    do {                                                                                                      \
        for (ptrdiff_t pc = 0; pc < k; pc += kc) {                                 /* GEMM's kc blocks */     \
            const ptrdiff_t pe = pc + kc < k ? pc + kc : k;                                                   \
            VEC acc[4];                                                                                       \
            _Pragma("GCC unroll 4") for (int r = 0; r < M; ++r) acc[r] = ZERO;                                \
            ptrdiff_t p = pc;                                                                                 \
            for (; p + 2 * VL <= pe; p += 2 * VL) {            /* a line of each row per step */          \
                LIN_GROUP(p, VEC, VL, BCAST, FMADD, TRANSPOSED_LOAD);                                         \
                LIN_GROUP(p + VL, VEC, VL, BCAST, FMADD, TRANSPOSED_LOAD);                                    \
            }                                                                                                 \
            if (p + VL <= pe) {                                                                               \
                LIN_GROUP(p, VEC, VL, BCAST, FMADD, TRANSPOSED_LOAD);                                         \
                p += VL;                                                                                      \
            }                                                                                                 \
            for (; p < pe; ++p) {                                             /* the block's tail */          \
                FT col[VL];                                                                                   \
                for (int l = 0; l < VL; ++l) col[l] = w[l][p];                                                \
                const VEC t = LOADU(col);                                                                     \
                _Pragma("GCC unroll 4") for (int r = 0; r < M; ++r) acc[r] = FMADD(BCAST(x + r * ldx + p), t, acc[r]); \
            }                                                                                                 \
            _Pragma("GCC unroll 4") for (int r = 0; r < M; ++r) {                                             \
                FT *d = tile + r * VL;                                                                        \
                STOREU(d, pc == 0 ? acc[r] : ADD(LOADU(d), acc[r]));                                          \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

static inline __attribute__((always_inline)) void lin_tile_f32(const int M, ptrdiff_t k, ptrdiff_t kc, const float *x,
                                                              ptrdiff_t ldx, const float *const *w, float *tile)
{
    LIN_TILE_BODY(float, __m256, 8, _mm256_setzero_ps(), _mm256_broadcast_ss, _mm256_fmadd_ps,
                  _mm256_add_ps, _mm256_loadu_ps, _mm256_storeu_ps, lin_load8x8);
}

static inline __attribute__((always_inline)) void lin_tile_f64(const int M, ptrdiff_t k, ptrdiff_t kc,
                                                              const double *x, ptrdiff_t ldx, const double *const *w,
                                                              double *tile)
{
    LIN_TILE_BODY(double, __m256d, 4, _mm256_setzero_pd(), _mm256_broadcast_sd, _mm256_fmadd_pd,
                  _mm256_add_pd, _mm256_loadu_pd, _mm256_storeu_pd, lin_load4x4);
}

/* m (1..4) as a constant, so that each count gets its own unrolled body */
#define LIN_DISPATCH(body)                                                                                    \
    switch (m) {                                                                                              \
    case 1: body(1, k, kc, x, ldx, w, tile); break;                                                           \
    case 2: body(2, k, kc, x, ldx, w, tile); break;                                                           \
    case 3: body(3, k, kc, x, ldx, w, tile); break;                                                           \
    default: body(4, k, kc, x, ldx, w, tile); break;                                                          \
    }

void fc_linear_tile_f32_avx2(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const float *x, ptrdiff_t ldx,
                             const float *const *w, float *tile)
{
    LIN_DISPATCH(lin_tile_f32);
}

void fc_linear_tile_f64_avx2(ptrdiff_t m, ptrdiff_t k, ptrdiff_t kc, const double *x, ptrdiff_t ldx,
                             const double *const *w, double *tile)
{
    LIN_DISPATCH(lin_tile_f64);
}

/* ---- the default (not batch-invariant) few-row path: plain dot products ---- */
/*
 * The operations of fc_linear_gemv_f32_avx512 (kernels/linear_avx512.c) on
 * two 8-lane halves, so that the bits are the same at either level: per
 * output 16 partial sums, lane l an FMA chain from zero over inputs l,
 * l + 16, ... in input order (the short last step leaves lanes past k
 * untouched), the lanes added as a tree (l + 8, + 4, + 2, + 1), the bias
 * last.  Rows of w load contiguously: 4 at a time for one row of x, 2 for
 * two, 1 for three or four (16 registers; see gemv_blocked_avx2).
 */
static inline float gemv_reduce16_avx2(__m256 lo, __m256 hi)
{
    const __m256 h8 = _mm256_add_ps(lo, hi);
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    const __m128 h1 = _mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 0x55));
    return _mm_cvtss_f32(h1);
}

/* lanes below cnt (clipped to 0..8) set */
static inline __m256i gemv_mask8(ptrdiff_t cnt)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(cnt < 0 ? 0 : cnt > 8 ? 8 : cnt)), idx);
}

static inline __attribute__((always_inline)) void gemv_block_avx2(const int M, const int NW, ptrdiff_t k,
                                                                 const float *x, ptrdiff_t ldx, const float *w,
                                                                 ptrdiff_t ldw, const float *bias, float *y,
                                                                 ptrdiff_t ldy)
{
    __m256 lo[4][4], hi[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int l = 0; l < NW; ++l) lo[r][l] = hi[r][l] = _mm256_setzero_ps();
    ptrdiff_t p = 0;
    for (; p + 16 <= k; p += 16) {
#pragma GCC unroll 4
        for (int l = 0; l < NW; ++l) {
            const __m256 wl = _mm256_loadu_ps(w + l * ldw + p), wh = _mm256_loadu_ps(w + l * ldw + p + 8);
#pragma GCC unroll 4
            for (int r = 0; r < M; ++r) {
                lo[r][l] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(x + r * ldx + p), lo[r][l]);
                hi[r][l] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(x + r * ldx + p + 8), hi[r][l]);
            }
        }
    }
    if (p < k) {
        const ptrdiff_t rem = k - p;
        const __m256i ml = gemv_mask8(rem), mh = gemv_mask8(rem - 8);
#pragma GCC unroll 4
        for (int l = 0; l < NW; ++l) {
            const __m256 wl = _mm256_maskload_ps(w + l * ldw + p, ml);
            const __m256 wh = rem > 8 ? _mm256_maskload_ps(w + l * ldw + p + 8, mh) : _mm256_setzero_ps();
#pragma GCC unroll 4
            for (int r = 0; r < M; ++r) {
                const __m256 xl = _mm256_maskload_ps(x + r * ldx + p, ml);
                lo[r][l] = _mm256_blendv_ps(lo[r][l], _mm256_fmadd_ps(wl, xl, lo[r][l]), _mm256_castsi256_ps(ml));
                if (rem > 8) {
                    const __m256 xh = _mm256_maskload_ps(x + r * ldx + p + 8, mh);
                    hi[r][l] = _mm256_blendv_ps(hi[r][l], _mm256_fmadd_ps(wh, xh, hi[r][l]), _mm256_castsi256_ps(mh));
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 4
        for (int l = 0; l < NW; ++l) {
            const float s = gemv_reduce16_avx2(lo[r][l], hi[r][l]);
            y[r * ldy + l] = bias ? s + bias[l] : s;
        }
}

#define GEMV_ROWS(M, NW)                                                                              \
    do {                                                                                              \
        for (; j + (NW) <= n; j += (NW))                                                              \
            gemv_block_avx2(M, NW, k, x, ldx, w + j * ldw, ldw, bias ? bias + j : NULL, y + j, ldy);  \
        for (; j < n; ++j) gemv_block_avx2(M, 1, k, x, ldx, w + j * ldw, ldw, bias ? bias + j : NULL, y + j, ldy); \
    } while (0)

/*
 * Three or four rows of x: one row of w at a time (16 registers), and x
 * (up to 64 KiB) would stream from L2 once per row of w (measured 0.91 ms
 * for 4 x 4096 -> 1000, slower than the GEMM-order tile).  So the inputs go
 * in blocks of GEMV_KB (x's block stays in L1) over a group of up to 64 rows
 * of w, the partial sums kept in memory between blocks (stored and reloaded
 * exactly: the same FMA chains, the same bits).
 */
#define GEMV_KB 1024    /* inputs per block (a multiple of 16) */
#define GEMV_JB 64      /* rows of w per group */

static inline __attribute__((always_inline)) void gemv_kblock_avx2(const int M, ptrdiff_t p0, ptrdiff_t p1,
                                                                  const float *x, ptrdiff_t ldx, const float *w,
                                                                  float *st, int first)
{
    __m256 lo[4], hi[4];
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r) {
        lo[r] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st + 16 * r);
        hi[r] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st + 16 * r + 8);
    }
    ptrdiff_t p = p0;
    for (; p + 16 <= p1; p += 16) {
        const __m256 wl = _mm256_loadu_ps(w + p), wh = _mm256_loadu_ps(w + p + 8);
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) {
            lo[r] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(x + r * ldx + p), lo[r]);
            hi[r] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(x + r * ldx + p + 8), hi[r]);
        }
    }
    if (p < p1) {
        const ptrdiff_t rem = p1 - p;
        const __m256i ml = gemv_mask8(rem), mh = gemv_mask8(rem - 8);
        const __m256 wl = _mm256_maskload_ps(w + p, ml);
        const __m256 wh = rem > 8 ? _mm256_maskload_ps(w + p + 8, mh) : _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) {
            const __m256 xl = _mm256_maskload_ps(x + r * ldx + p, ml);
            lo[r] = _mm256_blendv_ps(lo[r], _mm256_fmadd_ps(wl, xl, lo[r]), _mm256_castsi256_ps(ml));
            if (rem > 8) {
                const __m256 xh = _mm256_maskload_ps(x + r * ldx + p + 8, mh);
                hi[r] = _mm256_blendv_ps(hi[r], _mm256_fmadd_ps(wh, xh, hi[r]), _mm256_castsi256_ps(mh));
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r) {
        _mm256_storeu_ps(st + 16 * r, lo[r]);
        _mm256_storeu_ps(st + 16 * r + 8, hi[r]);
    }
}

static inline __attribute__((always_inline)) void gemv_blocked_avx2(const int M, ptrdiff_t n, ptrdiff_t k,
                                                                   const float *x, ptrdiff_t ldx, const float *w,
                                                                   ptrdiff_t ldw, const float *bias, float *y,
                                                                   ptrdiff_t ldy)
{
    float st[GEMV_JB][4 * 16];
    for (ptrdiff_t j0 = 0; j0 < n; j0 += GEMV_JB) {
        const ptrdiff_t jn = n - j0 < GEMV_JB ? n - j0 : GEMV_JB;
        for (ptrdiff_t pb = 0; pb < k; pb += GEMV_KB) {
            const ptrdiff_t pe = k - pb < GEMV_KB ? k : pb + GEMV_KB;
            for (ptrdiff_t j = 0; j < jn; ++j) gemv_kblock_avx2(M, pb, pe, x, ldx, w + (j0 + j) * ldw, st[j], pb == 0);
        }
        for (ptrdiff_t j = 0; j < jn; ++j)
            for (int r = 0; r < M; ++r) {
                const float s = gemv_reduce16_avx2(_mm256_loadu_ps(st[j] + 16 * r), _mm256_loadu_ps(st[j] + 16 * r + 8));
                y[r * ldy + j0 + j] = bias ? s + bias[j0 + j] : s;
            }
    }
}

/* y[r][j] = x_r . w_j (+ bias[j]), r < m (1..4), j < n; rows contiguous
 * (big: the weight streams from memory, unused here) */
void fc_linear_gemv_f32_avx2(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *x, ptrdiff_t ldx,
                             const float *w, ptrdiff_t ldw, const float *bias, float *y, ptrdiff_t ldy, int big)
{
    (void)big;
    ptrdiff_t j = 0;
    switch (m) {
    case 1: GEMV_ROWS(1, 4); break;
    case 2: GEMV_ROWS(2, 2); break;
    case 3: gemv_blocked_avx2(3, n, k, x, ldx, w, ldw, bias, y, ldy); break;
    default: gemv_blocked_avx2(4, n, k, x, ldx, w, ldw, bias, y, ldy); break;
    }
}
