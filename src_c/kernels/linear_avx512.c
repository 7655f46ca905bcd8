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
 * the 16 x 16 block in registers (64 shuffles).  This tile serves 2-4 rows
 * of x (a chain per row) and single rows of weights that stream from
 * memory; a single row of a weight that stays in cache takes
 * fc_linear_row8_f32_avx512 below (8 rows x 4 kc blocks: two chains, 8
 * streams).
 */
#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* t[q] lane l = r[l] lane q: a 16 x 16 transposition in 64 shuffles */
static inline __attribute__((always_inline)) void lin_transpose16(const __m512 r[16], __m512 t[16])
{
    __m512 u[16];
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

/* t[q] lane l = w[l][p + q], q < 16, from 16 rows; lanes q >= cnt of the
 * loads are zero when masked (the tail of a block), never read past it. */
static inline __attribute__((always_inline)) void lin_load16x16(const float *const *w, ptrdiff_t p, __mmask16 mask,
                                                               int masked, __m512 t[16])
{
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = masked ? _mm512_maskz_loadu_ps(mask, w[l] + p) : _mm512_loadu_ps(w[l] + p);
    lin_transpose16(r, t);
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

/* ---- one row of x: 8 outputs x 4 kc blocks at once ------------------------ */
/*
 * A batch-1 layer with the 16-output tile above reads 16 rows of the weight
 * at once (one line each per step) and has a single FMA chain per step: the
 * chain's latency bounds it, and 16 concurrent streams of lines, rows 4 KiB
 * multiples apart, are more than the hardware prefetchers follow (measured
 * ~65 GB/s from L3 against ~90 for 8 streams).  Here a tile is 8 rows and
 * the lanes of a register hold (row, kc block) pairs: register A lanes 0-7
 * the rows in block b, lanes 8-15 in block b + 1, register B blocks b + 2
 * and b + 3.  Every lane is still one FMA chain from zero over its block in
 * input order (the GEMM's sums), two independent chains advance per step,
 * and the four block sums of a row are added to its result in block order.
 * The four positions of a row lie within 3 KiB: 8 streams.
 *
 * The steps follow a grid of 64-byte lines of the weight when all 8 rows
 * have the same offset within a line (no load splits two lines; a block's
 * first and last lines are masked), else start at each block.
 */

/* t[q] lane l = w[l & 7][o(l) + q], o(l) = oa for l < 8, ob otherwise; rows
 * masked by ma (lanes 0-7) / mb (lanes 8-15) when masked */
static inline __attribute__((always_inline)) void lin_load8x2(const float *const *w, ptrdiff_t oa, ptrdiff_t ob,
                                                             int masked, __mmask16 ma, __mmask16 mb, __m512 t[16])
{
    __m512 r[16];
    for (int l = 0; l < 8; ++l) {
        r[l] = masked ? _mm512_maskz_loadu_ps(ma, w[l] + oa) : _mm512_loadu_ps(w[l] + oa);
        r[8 + l] = masked ? _mm512_maskz_loadu_ps(mb, w[l] + ob) : _mm512_loadu_ps(w[l] + ob);
    }
    lin_transpose16(r, t);
}

/* a step whose 16 inputs all lie in both blocks: x of lanes 0-7 at xa[q],
 * of lanes 8-15 at xb[q] (a 128-bit piece of each per 4 inputs, spread
 * in-lane) */
static inline __attribute__((always_inline)) __m512 lin_full8(__m512 acc, const float *const *w, ptrdiff_t oa,
                                                             ptrdiff_t ob, const float *xa, const float *xb)
{
    __m512 t[16];
    lin_load8x2(w, oa, ob, 0, 0, 0, t);
    for (int h = 0; h < 4; ++h) {
        __m512 y = _mm512_broadcast_f32x4(_mm_loadu_ps(xa + 4 * h));
        y = _mm512_mask_broadcast_f32x4(y, 0xFF00, _mm_loadu_ps(xb + 4 * h));
        acc = _mm512_fmadd_ps(t[4 * h + 0], _mm512_permute_ps(y, 0x00), acc);
        acc = _mm512_fmadd_ps(t[4 * h + 1], _mm512_permute_ps(y, 0x55), acc);
        acc = _mm512_fmadd_ps(t[4 * h + 2], _mm512_permute_ps(y, 0xAA), acc);
        acc = _mm512_fmadd_ps(t[4 * h + 3], _mm512_permute_ps(y, 0xFF), acc);
    }
    return acc;
}

/* bits [lo, hi) of a 16-bit mask, clipped to [0, 16) */
static inline unsigned lin_window(ptrdiff_t lo, ptrdiff_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    return hi <= lo ? 0u : ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

/* a step with windows wa / wb of its 16 inputs in each block (the first or
 * last line of a block, or a block absent): masked loads of w and x, and
 * masked FMAs (a lane outside its window keeps its sum untouched) */
static inline __attribute__((always_inline)) __m512 lin_part8(__m512 acc, const float *const *w, ptrdiff_t oa,
                                                             ptrdiff_t ob, const float *xa, const float *xb,
                                                             unsigned wa, unsigned wb)
{
    __m512 t[16];
    lin_load8x2(w, oa, ob, 1, (__mmask16)wa, (__mmask16)wb, t);
    const __m512 va = _mm512_maskz_loadu_ps((__mmask16)wa, xa), vb = _mm512_maskz_loadu_ps((__mmask16)wb, xb);
    /* x of input q: lanes 0-7 va[q], lanes 8-15 vb[q] */
    const __m512i base = _mm512_set_epi32(16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0);
    for (int q = 0; q < 16; ++q) {
        const __mmask16 lm = (__mmask16)((((wa >> q) & 1u) ? 0x00FFu : 0u) | (((wb >> q) & 1u) ? 0xFF00u : 0u));
        if (!lm) continue;
        const __m512 y = _mm512_permutex2var_ps(va, _mm512_add_epi32(base, _mm512_set1_epi32(q)), vb);
        acc = _mm512_mask3_fmadd_ps(t[q], y, acc, lm);
    }
    return acc;
}

/* one register's step s of blocks at pa, pb (lengths la, lb, full when both
 * are kc) on the grid starting o before each block */
static inline __attribute__((always_inline)) __m512 lin_step8(__m512 acc, const float *const *w, const float *x,
                                                             ptrdiff_t pa, ptrdiff_t la, ptrdiff_t pb, ptrdiff_t lb,
                                                             ptrdiff_t o, ptrdiff_t g)
{
    const ptrdiff_t oa = pa - o + g, ob = pb - o + g;
    const ptrdiff_t lmin = la < lb ? la : lb;
    if (g >= o && g + 16 <= o + lmin) return lin_full8(acc, w, oa, ob, x + oa, x + ob);
    const unsigned wa = lin_window(o - g, o + la - g), wb = lin_window(o - g, o + lb - g);
    if (!(wa | wb)) return acc;
    return lin_part8(acc, w, oa, ob, x + oa, x + ob, wa, wb);
}

/*
 * out[l] = x . w[l] for l < 8, in the GEMM's order with blocks of kc inputs
 * (the caller repeats the last row for a short tile).
 */
void fc_linear_row8_f32_avx512(ptrdiff_t k, ptrdiff_t kc, const float *x, const float *const *w, float *out)
{
    const uintptr_t a0 = (uintptr_t)w[0];
    int same = (a0 & 3) == 0;
    for (int l = 1; l < 8; ++l) same &= (((uintptr_t)w[l] ^ a0) & 63) == 0;
    const ptrdiff_t sh = same ? (ptrdiff_t)((a0 >> 2) & 15) : 0;
    __m256 sum = _mm256_setzero_ps();
    for (ptrdiff_t pc = 0; pc < k; pc += 4 * kc) { /* four of the GEMM's kc blocks */
        ptrdiff_t p[4], len[4];
        for (int b = 0; b < 4; ++b) {
            p[b] = pc + b * kc;
            len[b] = p[b] >= k ? 0 : (k - p[b] < kc ? k - p[b] : kc);
        }
        /* line grid of block 0 (the others share it when kc is a multiple of 16) */
        const ptrdiff_t o = (sh + pc) & 15, steps = (len[0] + o + 15) / 16;
        __m512 a = _mm512_setzero_ps(), b = a;
        if (len[2] > 0) {
            for (ptrdiff_t s = 0; s < steps; ++s) {
                a = lin_step8(a, w, x, p[0], len[0], p[1], len[1], o, 16 * s);
                b = lin_step8(b, w, x, p[2], len[2], p[3], len[3], o, 16 * s);
            }
        } else {
            for (ptrdiff_t s = 0; s < steps; ++s) a = lin_step8(a, w, x, p[0], len[0], p[1], len[1], o, 16 * s);
        }
        /* the block sums into the result in block order (the first stored) */
        const __m256 s0 = _mm512_castps512_ps256(a);
        sum = pc == 0 ? s0 : _mm256_add_ps(sum, s0);
        if (len[1] > 0) sum = _mm256_add_ps(sum, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        if (len[2] > 0) sum = _mm256_add_ps(sum, _mm512_castps512_ps256(b));
        if (len[3] > 0) sum = _mm256_add_ps(sum, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(b), 1)));
    }
    _mm256_storeu_ps(out, sum);
}

/* ---- the default (not batch-invariant) few-row path: plain dot products ---- */
/*
 * y[r][j] = x_r . w_j (+ bias[j]) for r < m (1..4), j < n, w_j at w + j * ldw
 * and x_r at x + r * ldx, both contiguous.  Every output is one dot product
 * with a fixed order, the same for every m, n, tile and thread: 16 partial
 * sums, lane l an FMA chain from zero over inputs l, l + 16, l + 32, ... in
 * input order (the last, short step masked: lanes past k untouched), then
 * the 16 lanes added as a tree (l + 8, then + 4, + 2, + 1) and the bias
 * last.  kernels/linear_avx2.c computes the same operations on two 8-lane
 * halves, so the bits are the same at either level.  The rows of w load
 * whole lines, no transposition: one row of x takes 8 rows of w at a time
 * (8 chains; 4 when the weight streams from memory, `big`: fewer
 * streams, measured 9216 -> 4096 3.5-3.65 ms against 4.05, while from L3
 * 4096 -> 1000 8 rows take 146-157 us against 159-170), more rows of x 4
 * (4 m chains), each x vector loaded once a step.  The weight is read once.
 */
/* Software prefetches (GEMV_PREFETCH floats ahead in each row) were
 * measured slower, from L3 and from memory, so none by default. */
#ifndef GEMV_PREFETCH
#define GEMV_PREFETCH 0
#endif

/* the fixed 16 -> 1 tree */
static inline float gemv_reduce16(__m512 a)
{
    const __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(a),
                                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    const __m128 h1 = _mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 0x55));
    return _mm_cvtss_f32(h1);
}

/*
 * sh > 0: every row starts sh floats past a 64-byte line (numpy's large
 * arrays start 16 bytes in): a step loads whole aligned lines and puts
 * together the 16 floats of the step from two of them (vpermt2ps), the
 * same vector as an unaligned load (measured 4096 -> 1000: 0.17 against
 * 0.20 ms).  Never a byte outside the row: its first line loads masked
 * (lanes from sh), and the last full step, whose next line would run past
 * the row, loads unaligned as the plain loop.
 */
static inline __attribute__((always_inline)) void gemv_block(const int M, const int NW, ptrdiff_t k, const float *x,
                                                            ptrdiff_t ldx, const float *w, ptrdiff_t ldw,
                                                            const float *bias, float *y, ptrdiff_t ldy, int pf,
                                                            int sh)
{
    __m512 acc[4][8];
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 8
        for (int l = 0; l < NW; ++l) acc[r][l] = _mm512_setzero_ps();
    ptrdiff_t p = 0;
    if (sh > 0 && k >= 16) {
        const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(sh));
        __m512 cur[8];
#pragma GCC unroll 8
        for (int l = 0; l < NW; ++l)
            cur[l] = _mm512_maskz_load_ps((__mmask16)(0xFFFFu << sh), w + l * ldw - sh);
        for (; p + 32 <= k; p += 16) {
            __m512 xv[4];
#pragma GCC unroll 4
            for (int r = 0; r < M; ++r) xv[r] = _mm512_loadu_ps(x + r * ldx + p);
#pragma GCC unroll 8
            for (int l = 0; l < NW; ++l) {
                const __m512 nxt = _mm512_load_ps(w + l * ldw - sh + p + 16);
                const __m512 wv = _mm512_permutex2var_ps(cur[l], idx, nxt);
                cur[l] = nxt;
#pragma GCC unroll 4
                for (int r = 0; r < M; ++r) acc[r][l] = _mm512_fmadd_ps(wv, xv[r], acc[r][l]);
            }
        }
    }
    for (; p + 16 <= k; p += 16) {
        if (pf) {
#pragma GCC unroll 8
            for (int l = 0; l < NW; ++l) _mm_prefetch((const char *)(w + l * ldw + p + GEMV_PREFETCH), _MM_HINT_T0);
        }
        __m512 xv[4];
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) xv[r] = _mm512_loadu_ps(x + r * ldx + p);
#pragma GCC unroll 8
        for (int l = 0; l < NW; ++l) {
            const __m512 wv = _mm512_loadu_ps(w + l * ldw + p);
#pragma GCC unroll 4
            for (int r = 0; r < M; ++r) acc[r][l] = _mm512_fmadd_ps(wv, xv[r], acc[r][l]);
        }
    }
    if (p < k) {
        const __mmask16 mk = (__mmask16)((1u << (k - p)) - 1u);
        __m512 xv[4];
#pragma GCC unroll 4
        for (int r = 0; r < M; ++r) xv[r] = _mm512_maskz_loadu_ps(mk, x + r * ldx + p);
#pragma GCC unroll 8
        for (int l = 0; l < NW; ++l) {
            const __m512 wv = _mm512_maskz_loadu_ps(mk, w + l * ldw + p);
#pragma GCC unroll 4
            for (int r = 0; r < M; ++r) acc[r][l] = _mm512_mask3_fmadd_ps(wv, xv[r], acc[r][l], mk);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < M; ++r)
#pragma GCC unroll 8
        for (int l = 0; l < NW; ++l) {
            const float s = gemv_reduce16(acc[r][l]);
            y[r * ldy + l] = bias ? s + bias[l] : s;
        }
}

#define GEMV_ROWS(M, NW)                                                                                 \
    do {                                                                                                 \
        for (; j + (NW) <= n; j += (NW))                                                                 \
            gemv_block(M, NW, k, x, ldx, w + j * ldw, ldw, bias ? bias + j : NULL, y + j, ldy, pf, sh);  \
        for (; j < n; ++j)                                                                               \
            gemv_block(M, 1, k, x, ldx, w + j * ldw, ldw, bias ? bias + j : NULL, y + j, ldy, pf, sh);   \
    } while (0)

void fc_linear_gemv_f32_avx512(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *x, ptrdiff_t ldx,
                               const float *w, ptrdiff_t ldw, const float *bias, float *y, ptrdiff_t ldy, int big)
{
    const int pf = GEMV_PREFETCH > 0 && k >= 2 * GEMV_PREFETCH;
    /* the rows' common offset in a line, when they have one */
    const uintptr_t a = (uintptr_t)w;
    const int sh = (a & 3) == 0 && (ldw & 15) == 0 ? (int)((a >> 2) & 15) : 0;
    ptrdiff_t j = 0;
    switch (m) {
    case 1:
        if (big)
            GEMV_ROWS(1, 4);
        else
            GEMV_ROWS(1, 8);
        break;
    case 2: GEMV_ROWS(2, 4); break;
    case 3: GEMV_ROWS(3, 4); break;
    default: GEMV_ROWS(4, 4); break;
    }
}
