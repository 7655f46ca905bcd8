/*
 * pool_rows_avx512.c -- AVX-512 row kernels for the common NCHW float
 * forward windows (see pool_rows.h): 16 outputs a step, the window's
 * vertical reduction in registers, stride 2 by two-source permutes, the
 * neighbouring columns by lane alignment, borders by masked loads; and the
 * NHWC 3-wide stride-1 average with its column sums carried in registers.
 *
 * Each output is computed with the operations of the generic path
 * (pool_impl.h: vmax/vsum over the rows, then hmax/hsum along the row, or
 * the fused 2x2 kernels), in the same order, so the results are bitwise those
 * of the AVX2 and generic copies.  The 3-wide stride-2 max with one padded
 * column (3x3/2 pad 1) and the 2x2 max with indices take plain x86 max /
 * greater-than, which give the NaN rule's bits when no NaN is read: each
 * row checks its inputs for NaN as it goes and is redone with the rule when
 * it read one.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "pool_rows.h"

/* PyTorch's max step (pool_impl.h's nanmax): v wins if v > a or v is NaN.
 * x86 max(v, a) is v > a ? v : a (a NaN a survives); a NaN v is put back. */
static inline __m512 nanmax(__m512 a, __m512 v)
{
    return _mm512_mask_max_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v, a);
}

/* The max step without the NaN rule: x86 max(v, a) is v > a ? v : a, which
 * is nanmax(a, v) whenever v is not NaN (a NaN a survives either way; -0
 * against +0 keeps a in both).  exact (a constant): nanmax itself. */
static inline __m512 xmax(__m512 a, __m512 v, const int exact)
{
    return exact ? nanmax(a, v) : _mm512_max_ps(v, a);
}

/* lanes where neither a nor b is NaN */
static inline __mmask16 ordered(__m512 a, __m512 b)
{
    return _mm512_cmp_ps_mask(a, b, _CMP_ORD_Q);
}

/* lanes l of a 16-float load at column c with 0 <= c + l < w */
static inline __mmask16 col_mask(ptrdiff_t c, ptrdiff_t w)
{
    const ptrdiff_t lo = c < 0 ? -c : 0;
    const ptrdiff_t hi = w - c < 16 ? w - c : 16;
    if (hi <= lo) return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}

/* lanes below n (n may exceed 16) */
static inline __mmask16 head_mask(ptrdiff_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)(((uint32_t)1 << n) - 1);
}

/* the even and odd columns of the 32 columns lo:hi */
static inline void deinterleave(__m512 lo, __m512 hi, __m512 *even, __m512 *odd)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(lo, ie, hi);
    *odd = _mm512_permutex2var_ps(lo, io, hi);
}

static inline void store_head(float *y, __m512 v, ptrdiff_t n)
{
    if (n >= 16) _mm512_storeu_ps(y, v);
    else _mm512_mask_storeu_ps(y, head_mask(n), v);
}

/* The 16 window pairs of columns c .. c + 31 (masks m0, m1 for the two
 * halves; masked-off lanes read 0): the vertical reduction of rows r0 and
 * r1 (max, or sum when avg), de-interleaved into even and odd columns. */
static inline void pairs2x2(const float *r0, const float *r1, ptrdiff_t c, __mmask16 m0, __mmask16 m1, int avg,
                            __m512 *e, __m512 *d)
{
    const __m512 a0 = _mm512_maskz_loadu_ps(m0, r0 + c), b0 = _mm512_maskz_loadu_ps(m0, r1 + c);
    const __m512 a1 = _mm512_maskz_loadu_ps(m1, r0 + c + 16), b1 = _mm512_maskz_loadu_ps(m1, r1 + c + 16);
    deinterleave(avg ? _mm512_add_ps(a0, b0) : nanmax(a0, b0), avg ? _mm512_add_ps(a1, b1) : nanmax(a1, b1), e, d);
}

/* y[o] = max(max(r0[2o], r1[2o]), max(r0[2o+1], r1[2o+1])), or
 * ((r0[2o] + r1[2o]) + (r0[2o+1] + r1[2o+1])) / div[o] when avg; whole
 * steps without masks, the row's tail masked.  pf: prefetch two rows' bytes
 * a row about WIN2X2_PF bytes after r1 (runs of rows out of L3). */
#define WIN2X2_PF 2048
static inline __attribute__((always_inline)) void win2x2(float *restrict y, const float *r0, const float *r1,
                                                         ptrdiff_t ow, const float *div, const int avg,
                                                         const int pf)
{
    __m512 e, d;
    ptrdiff_t o = 0;
    for (; o + 16 <= ow; o += 16) {
        if (pf)
            for (int q = 0; q < 4; ++q)
                _mm_prefetch((const char *)(r1 + WIN2X2_PF / sizeof(float) + 4 * o + 16 * q), _MM_HINT_T0);
        pairs2x2(r0, r1, 2 * o, 0xFFFF, 0xFFFF, avg, &e, &d);
        _mm512_storeu_ps(y + o, avg ? _mm512_div_ps(_mm512_add_ps(e, d), _mm512_loadu_ps(div + o)) : nanmax(e, d));
    }
    if (o < ow) {
        const ptrdiff_t n = ow - o;
        pairs2x2(r0, r1, 2 * o, head_mask(2 * n), head_mask(2 * n - 16), avg, &e, &d);
        /* masked-off divisor lanes load 0: 0/0 there is never stored */
        store_head(y + o, avg ? _mm512_div_ps(_mm512_add_ps(e, d), _mm512_maskz_loadu_ps(head_mask(n), div + o))
                              : nanmax(e, d), n);
    }
}

/* The same windows with indices, PyTorch's scan (pool_impl.h's argmax2x2):
 * the taps (r0, 2o), (r0, 2o+1), (r1, 2o), (r1, 2o+1) in order, each
 * taken when greater than the best so far or NaN; the index is the plane
 * position pos + 2o, + 1, + w, + w + 1 of the last tap taken.  Unless
 * exact, a tap is taken when greater (the rule when no NaN is read: then
 * the best so far is x86 max(v, best)).  The offsets 0, 1, w, w + 1 are
 * chosen in 32-bit lanes (w < INT32_MAX) and widened to add to the 64-bit
 * positions.  Returns 1 when no NaN was read, 0 otherwise (the fast path's
 * result is then to be redone exactly); pf: prefetch as max3s2p1 does, two
 * rows' bytes a row, about ARGMAX2X2_PF bytes after r1. */
#define ARGMAX2X2_PF 2048
static inline __attribute__((always_inline)) __mmask16 take_tap(__m512 *best, __m512 v, const int exact)
{
    if (exact) {
        const __mmask16 k = _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        *best = _mm512_mask_mov_ps(*best, k, v);
        return k;
    }
    const __mmask16 k = _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ);
    *best = _mm512_max_ps(v, *best);
    return k;
}

static inline __attribute__((always_inline)) int argmax2x2(float *restrict y, int64_t *restrict id,
                                                           const float *r0, const float *r1, ptrdiff_t ow,
                                                           ptrdiff_t w, int64_t pos, const int exact, const int pf)
{
    const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32((int32_t)w);
    const __m512i w1 = _mm512_set1_epi32((int32_t)(w + 1)), step32 = _mm512_set1_epi64(32);
    __m512i base0 = _mm512_add_epi64(_mm512_set1_epi64(pos), _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14));
    __m512i base1 = _mm512_add_epi64(base0, _mm512_set1_epi64(16));
    __mmask16 ok = 0xFFFF;
    for (ptrdiff_t o = 0; o < ow; o += 16) {
        const ptrdiff_t c = 2 * o, n = ow - o;
        if (pf)
            for (int q = 0; q < 4; ++q)
                _mm_prefetch((const char *)(r1 + ARGMAX2X2_PF / sizeof(float) + 2 * c + 16 * q), _MM_HINT_T0);
        __m512 a0, a1, b0, b1;
        if (n >= 16) {
            a0 = _mm512_loadu_ps(r0 + c), a1 = _mm512_loadu_ps(r0 + c + 16);
            b0 = _mm512_loadu_ps(r1 + c), b1 = _mm512_loadu_ps(r1 + c + 16);
        } else {
            const __mmask16 m0 = head_mask(2 * n), m1 = head_mask(2 * n - 16);
            a0 = _mm512_maskz_loadu_ps(m0, r0 + c), a1 = _mm512_maskz_loadu_ps(m1, r0 + c + 16);
            b0 = _mm512_maskz_loadu_ps(m0, r1 + c), b1 = _mm512_maskz_loadu_ps(m1, r1 + c + 16);
        }
        ok &= _mm512_mask_cmp_ps_mask(ordered(a0, a1), b0, b1, _CMP_ORD_Q);
        __m512 e0, d0, e1, d1;
        deinterleave(a0, a1, &e0, &d0);
        deinterleave(b0, b1, &e1, &d1);
        __m512 best = e0;
        const __mmask16 k1 = take_tap(&best, d0, exact);
        const __mmask16 k2 = take_tap(&best, e1, exact);
        const __mmask16 k3 = take_tap(&best, d1, exact);
        __m512i off = _mm512_maskz_mov_epi32(k1, one);
        off = _mm512_mask_mov_epi32(off, k2, wv);
        off = _mm512_mask_mov_epi32(off, k3, w1);
        const __m512i ix0 = _mm512_add_epi64(base0, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(off)));
        const __m512i ix1 = _mm512_add_epi64(base1, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(off, 1)));
        base0 = _mm512_add_epi64(base0, step32);
        base1 = _mm512_add_epi64(base1, step32);
        if (n >= 16) {
            _mm512_storeu_si512((void *)(id + o), ix0);
            _mm512_storeu_si512((void *)(id + o + 8), ix1);
            _mm512_storeu_ps(y + o, best);
        } else {
            if (n >= 8) _mm512_storeu_si512((void *)(id + o), ix0);
            else _mm512_mask_storeu_epi64(id + o, (__mmask8)((1u << n) - 1u), ix0);
            if (n > 8) _mm512_mask_storeu_epi64(id + o + 8, (__mmask8)((1u << (n - 8)) - 1u), ix1);
            store_head(y + o, best, n);
        }
    }
    return ok == 0xFFFF;
}

/* argmax2x2 with the greater-than rule, redone exactly when a NaN was read;
 * exactly at once when *nan (as max3s2p1_row) */
static inline __attribute__((always_inline)) void argmax2x2_row(float *restrict y, int64_t *restrict id,
                                                                const float *r0, const float *r1, ptrdiff_t ow,
                                                                ptrdiff_t w, int64_t pos, int *nan, const int pf)
{
    if (*nan || !argmax2x2(y, id, r0, r1, ow, w, pos, 0, pf)) *nan = !argmax2x2(y, id, r0, r1, ow, w, pos, 1, 0);
}

/* max over the rows (r0 max r1) max r2 of the 16 columns from c, -inf
 * outside the row (the padded row buffer's value).  Fewer rows repeat the
 * last: max(m, r) is m when m already took r, NaN or not. */
static inline __m512 vmax3(const float *r0, const float *r1, const float *r2, ptrdiff_t c, ptrdiff_t w)
{
    if (c >= 0 && c + 16 <= w)
        return nanmax(nanmax(_mm512_loadu_ps(r0 + c), _mm512_loadu_ps(r1 + c)), _mm512_loadu_ps(r2 + c));
    const __mmask16 m = col_mask(c, w);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512 a = _mm512_mask_loadu_ps(ninf, m, r0 + c);
    const __m512 b = _mm512_mask_loadu_ps(ninf, m, r1 + c);
    const __m512 d = _mm512_mask_loadu_ps(ninf, m, r2 + c);
    return nanmax(nanmax(a, b), d);
}

/* y[o] = max(max(t[2o], t[2o+1]), t[2o+2]), t[i] the vertical max of column
 * i - pl: the even columns, the odd ones, and the even ones shifted by one
 * lane (the next step's first even column in the last lane). */
static inline __attribute__((always_inline)) void max3s2(float *restrict y, const float *const *rows, ptrdiff_t nr,
                                                         ptrdiff_t w, ptrdiff_t ow, ptrdiff_t pl)
{
    const float *r0 = rows[0], *r1 = rows[nr > 1 ? 1 : 0], *r2 = rows[nr - 1];
    ptrdiff_t c = -pl;
    __m512 e, d;
    deinterleave(vmax3(r0, r1, r2, c, w), vmax3(r0, r1, r2, c + 16, w), &e, &d);
    for (ptrdiff_t o = 0; o < ow; o += 16, c += 32) {
        /* the next step's columns; a last whole step needs only the first
         * (lane 0 of its even columns, column c + 32), a partial one none */
        __m512 en = e, dn = d;
        if (ow - o > 16) deinterleave(vmax3(r0, r1, r2, c + 32, w), vmax3(r0, r1, r2, c + 48, w), &en, &dn);
        else if (ow - o == 16) en = vmax3(r0, r1, r2, c + 32, w);
        const __m512 third = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(en), _mm512_castps_si512(e), 1));
        const __m512 v = nanmax(nanmax(e, d), third);
        if (o + 16 <= ow) _mm512_storeu_ps(y + o, v);
        else store_head(y + o, v, ow - o);
        e = en;
        d = dn;
    }
}

/* 16 columns of row r from c: all inside the row (full), or those of mask
 * m, -inf elsewhere */
static inline __m512 load_cols(const float *r, ptrdiff_t c, int full, __mmask16 m)
{
    return full ? _mm512_loadu_ps(r + c) : _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, r + c);
}

/* max3s2 with one padded column on the left (3x3/2 pad 1), column pairs
 * aligned to the row: t the column maxima (r0 max r1) max r2,
 * y[o] = max(max(t[2o-1], t[2o]), t[2o+1]) is the previous odd column (the
 * odd columns shifted by one lane, the previous step's last in lane 0, -inf
 * before the row), the even one and the odd one.  Unless exact, every max
 * is a plain x86 max, which gives nanmax's bits when no NaN is read.
 * Returns 1 when no NaN was read, 0 otherwise (the fast path's result is
 * then to be redone exactly).  pf: prefetch the rows about MAX3S2_PF bytes
 * after r2, two rows' worth a row (the next output row's new rows), for
 * runs of rows out of L3. */
#define MAX3S2_PF 2048
static inline __attribute__((always_inline)) int max3s2p1(float *restrict y, const float *r0, const float *r1,
                                                          const float *r2, ptrdiff_t w, ptrdiff_t ow,
                                                          const int exact, const int pf)
{
    __m512 prev = _mm512_set1_ps(-INFINITY);
    __mmask16 ok = 0xFFFF;
    for (ptrdiff_t o = 0; o < ow; o += 16) {
        const ptrdiff_t c = 2 * o;
        const int full = c + 32 <= w;
        const __mmask16 m0 = full ? 0 : col_mask(c, w), m1 = full ? 0 : col_mask(c + 16, w);
        if (pf) /* four lines a step of 32 columns: two rows' bytes */
            for (int q = 0; q < 4; ++q)
                _mm_prefetch((const char *)(r2 + MAX3S2_PF / sizeof(float) + 2 * c + 16 * q), _MM_HINT_T0);
        const __m512 a0 = load_cols(r0, c, full, m0), a1 = load_cols(r0, c + 16, full, m1);
        const __m512 b0 = load_cols(r1, c, full, m0), b1 = load_cols(r1, c + 16, full, m1);
        const __m512 c0 = load_cols(r2, c, full, m0), c1 = load_cols(r2, c + 16, full, m1);
        ok &= _mm512_mask_cmp_ps_mask(ordered(a0, b0), c0, a1, _CMP_ORD_Q) & ordered(b1, c1);
        __m512 e, d;
        deinterleave(xmax(xmax(a0, b0, exact), c0, exact), xmax(xmax(a1, b1, exact), c1, exact), &e, &d);
        const __m512 left = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(d),
                                                                    _mm512_castps_si512(prev), 15));
        const __m512 v = xmax(xmax(left, e, exact), d, exact);
        prev = d;
        if (o + 16 <= ow) _mm512_storeu_ps(y + o, v);
        else store_head(y + o, v, ow - o);
    }
    return ok == 0xFFFF;
}

/* max3s2p1 of the rows rows[0..nr) (fewer than three repeat the last):
 * plain max, redone with nanmax when a NaN was read; with nanmax at once
 * when *nan (a NaN in the caller's previous row: NaNs come in clusters).
 * *nan: whether this row read a NaN. */
static inline __attribute__((always_inline)) void max3s2p1_row(float *restrict y, const float *const *rows,
                                                               ptrdiff_t nr, ptrdiff_t w, ptrdiff_t ow, int *nan,
                                                               const int pf)
{
    const float *r0 = rows[0], *r1 = rows[nr > 1 ? 1 : 0], *r2 = rows[nr - 1];
    if (*nan || !max3s2p1(y, r0, r1, r2, w, ow, 0, pf)) *nan = !max3s2p1(y, r0, r1, r2, w, ow, 1, 0);
}

/* vertical sums (r0 + r1) + r2 (or r0 + r1) of the 16 columns from c, +0
 * outside the row */
static inline __m512 vsum3(const float *const *rows, ptrdiff_t nr, ptrdiff_t c, ptrdiff_t w)
{
    if (c >= 0 && c + 16 <= w) {
        const __m512 s = _mm512_add_ps(_mm512_loadu_ps(rows[0] + c), _mm512_loadu_ps(rows[1] + c));
        return nr == 3 ? _mm512_add_ps(s, _mm512_loadu_ps(rows[2] + c)) : s;
    }
    const __mmask16 m = col_mask(c, w);
    const __m512 s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, rows[0] + c), _mm512_maskz_loadu_ps(m, rows[1] + c));
    return nr == 3 ? _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, rows[2] + c)) : s;
}

/* y[o] = ((v[o-1] + v[o]) + v[o+1]) / div[o], v the vertical sums, v[-1] =
 * v[w] = +0 (kernels/pool_avg3.h at 16 lanes) */
static inline __attribute__((always_inline)) void avg3s1(float *restrict y, const float *const *rows, ptrdiff_t nr,
                                                         ptrdiff_t w, const float *div)
{
    __m512 prev = _mm512_setzero_ps(), cur = vsum3(rows, nr, 0, w);
    for (ptrdiff_t o = 0; o < w; o += 16) {
        const __m512 next = vsum3(rows, nr, o + 16, w);
        const __m512i ci = _mm512_castps_si512(cur);
        const __m512 left = _mm512_castsi512_ps(_mm512_alignr_epi32(ci, _mm512_castps_si512(prev), 15));
        const __m512 right = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), ci, 1));
        const __m512 s = _mm512_add_ps(_mm512_add_ps(left, cur), right);
        if (o + 16 <= w) _mm512_storeu_ps(y + o, _mm512_div_ps(s, _mm512_loadu_ps(div + o)));
        else store_head(y + o, _mm512_div_ps(s, _mm512_maskz_loadu_ps(head_mask(w - o), div + o)), w - o);
        prev = cur;
        cur = next;
    }
}

/* NHWC 3-wide stride-1 averages of one row segment, NB blocks of 16
 * channels (see pool_rows.h): the carried column sums stay in registers */
static inline __attribute__((always_inline)) void nhwc_avg3(float *restrict y, const float *r0, const float *r1,
                                                            const float *r2, const int three, ptrdiff_t q0col,
                                                            ptrdiff_t n, ptrdiff_t w, const float *p0,
                                                            const float *q0, ptrdiff_t dvh, const ptrdiff_t *dvw,
                                                            const int NB)
{
    const ptrdiff_t C = 16 * NB;
    __m512 P[4], Q[4];
    for (int b = 0; b < NB; ++b) {
        P[b] = _mm512_loadu_ps(p0 + 16 * b);
        Q[b] = _mm512_loadu_ps(q0 + 16 * b);
    }
    for (ptrdiff_t i = 0; i < n; ++i, y += C) {
        const ptrdiff_t col = q0col + 2 + i;
        const int in = col >= 0 && col < w;
        const __m512 dv = _mm512_set1_ps((float)(dvh * dvw[i]));
        for (int b = 0; b < NB; ++b) {
            __m512 v = _mm512_setzero_ps();
            if (in) {
                const ptrdiff_t off = col * C + 16 * b;
                v = _mm512_add_ps(_mm512_loadu_ps(r0 + off), _mm512_loadu_ps(r1 + off));
                if (three) v = _mm512_add_ps(v, _mm512_loadu_ps(r2 + off));
            }
            _mm512_storeu_ps(y + 16 * b, _mm512_div_ps(_mm512_add_ps(_mm512_add_ps(P[b], Q[b]), v), dv));
            P[b] = Q[b];
            Q[b] = v;
        }
    }
}

int fc_pool_nhwc_avg3s1_f32_avx512(float *y, const float *r0, const float *r1, const float *r2, ptrdiff_t nr,
                                   ptrdiff_t q0col, ptrdiff_t n, ptrdiff_t w, ptrdiff_t c, const float *p0,
                                   const float *q0, ptrdiff_t dvh, const ptrdiff_t *dvw)
{
    if ((nr != 2 && nr != 3) || c % 16 || c < 16 || c > 64) return 0;
#define NHWC_AVG3_CASE(NB)                                                                      \
    case NB:                                                                                    \
        if (nr == 3) nhwc_avg3(y, r0, r1, r2, 1, q0col, n, w, p0, q0, dvh, dvw, NB);            \
        else nhwc_avg3(y, r0, r1, r2, 0, q0col, n, w, p0, q0, dvh, dvw, NB);                    \
        return 1;
    switch (c / 16) {
        NHWC_AVG3_CASE(1)
        NHWC_AVG3_CASE(2)
        NHWC_AVG3_CASE(3)
        NHWC_AVG3_CASE(4)
    }
#undef NHWC_AVG3_CASE
    return 0;
}

/* two output rows of nhwc_avg3 at once, both of three rows: ra..rd the four
 * input rows (row A sums ra, rb, rc; row B rb, rc, rd), each input pixel read
 * once for both (the rows of a 112-pixel, 64-channel image are 28 KiB: three
 * do not stay in L1, and the loads from L2 were the limit) */
static inline __attribute__((always_inline)) void nhwc_avg3x2(float *restrict ya, float *restrict yb, const float *ra,
                                                              const float *rb, const float *rc, const float *rd,
                                                              ptrdiff_t q0col, ptrdiff_t n, ptrdiff_t w,
                                                              const float *pa0, const float *qa0, const float *pb0,
                                                              const float *qb0, ptrdiff_t dvh, const ptrdiff_t *dvw,
                                                              const int NB)
{
    const ptrdiff_t C = 16 * NB;
    __m512 PA[4], QA[4], PB[4], QB[4];
    for (int b = 0; b < NB; ++b) {
        PA[b] = _mm512_loadu_ps(pa0 + 16 * b);
        QA[b] = _mm512_loadu_ps(qa0 + 16 * b);
        PB[b] = _mm512_loadu_ps(pb0 + 16 * b);
        QB[b] = _mm512_loadu_ps(qb0 + 16 * b);
    }
    for (ptrdiff_t i = 0; i < n; ++i, ya += C, yb += C) {
        const ptrdiff_t col = q0col + 2 + i;
        const int in = col >= 0 && col < w;
        const __m512 dv = _mm512_set1_ps((float)(dvh * dvw[i]));
        for (int b = 0; b < NB; ++b) {
            __m512 va = _mm512_setzero_ps(), vb = va;
            if (in) {
                const ptrdiff_t off = col * C + 16 * b;
                const __m512 xb = _mm512_loadu_ps(rb + off), xc = _mm512_loadu_ps(rc + off);
                va = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(ra + off), xb), xc);
                vb = _mm512_add_ps(_mm512_add_ps(xb, xc), _mm512_loadu_ps(rd + off));
            }
            _mm512_storeu_ps(ya + 16 * b, _mm512_div_ps(_mm512_add_ps(_mm512_add_ps(PA[b], QA[b]), va), dv));
            _mm512_storeu_ps(yb + 16 * b, _mm512_div_ps(_mm512_add_ps(_mm512_add_ps(PB[b], QB[b]), vb), dv));
            PA[b] = QA[b];
            QA[b] = va;
            PB[b] = QB[b];
            QB[b] = vb;
        }
    }
}

int fc_pool_nhwc_avg3s1x2_f32_avx512(float *ya, float *yb, const float *ra, const float *rb, const float *rc,
                                     const float *rd, ptrdiff_t q0col, ptrdiff_t n, ptrdiff_t w, ptrdiff_t c,
                                     const float *pa0, const float *qa0, const float *pb0, const float *qb0,
                                     ptrdiff_t dvh, const ptrdiff_t *dvw)
{
    if (c % 16 || c < 16 || c > 64) return 0;
#define NHWC_AVG3X2_CASE(NB)                                                                       \
    case NB:                                                                                       \
        nhwc_avg3x2(ya, yb, ra, rb, rc, rd, q0col, n, w, pa0, qa0, pb0, qb0, dvh, dvw, NB);        \
        return 1;
    switch (c / 16) {
        NHWC_AVG3X2_CASE(1)
        NHWC_AVG3X2_CASE(2)
        NHWC_AVG3X2_CASE(3)
        NHWC_AVG3X2_CASE(4)
    }
#undef NHWC_AVG3X2_CASE
    return 0;
}

/* NHWC max of 3-wide stride-2 windows over nr = 2 or 3 rows (pool_impl.h's
 * pix_max3s2), the n output pixels of one row segment, NB blocks of 16
 * channels with the carried column in registers: output i's columns are
 * q1 = q1first + 2 i and q1 + 1 (columns outside [0, w) are -inf),
 * y = nanmax(nanmax(carry, V(q1)), V(q1 + 1)), V(q) = nanmax(nanmax(r0, r1), r2)
 * (r2 = r1 for two rows), then carry = V(q1 + 1). */
static inline __attribute__((always_inline)) void nhwc_max3s2(float *restrict y, const float *r0, const float *r1,
                                                              const float *r2, ptrdiff_t q1first, ptrdiff_t n,
                                                              ptrdiff_t w, float *carry, const int NB)
{
    const ptrdiff_t C = 16 * NB;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 K[4];
    for (int b = 0; b < NB; ++b) K[b] = _mm512_loadu_ps(carry + 16 * b);
    for (ptrdiff_t i = 0; i < n; ++i, y += C) {
        const ptrdiff_t q1 = q1first + 2 * i, q2 = q1 + 1;
        const int in1 = q1 >= 0 && q1 < w, in2 = q2 >= 0 && q2 < w;
        for (int b = 0; b < NB; ++b) {
            __m512 v1 = ninf, v2 = ninf;
            if (in1) {
                const ptrdiff_t o = q1 * C + 16 * b;
                v1 = nanmax(nanmax(_mm512_loadu_ps(r0 + o), _mm512_loadu_ps(r1 + o)), _mm512_loadu_ps(r2 + o));
            }
            if (in2) {
                const ptrdiff_t o = q2 * C + 16 * b;
                v2 = nanmax(nanmax(_mm512_loadu_ps(r0 + o), _mm512_loadu_ps(r1 + o)), _mm512_loadu_ps(r2 + o));
            }
            _mm512_storeu_ps(y + 16 * b, nanmax(nanmax(K[b], v1), v2));
            K[b] = v2;
        }
    }
    for (int b = 0; b < NB; ++b) _mm512_storeu_ps(carry + 16 * b, K[b]);
}

int fc_pool_nhwc_max3s2_f32_avx512(float *y, const float *r0, const float *r1, const float *r2, ptrdiff_t q1first,
                                   ptrdiff_t n, ptrdiff_t w, ptrdiff_t c, float *carry)
{
    if (c % 16 || c < 16 || c > 64) return 0;
    switch (c / 16) {
    case 1: nhwc_max3s2(y, r0, r1, r2, q1first, n, w, carry, 1); return 1;
    case 2: nhwc_max3s2(y, r0, r1, r2, q1first, n, w, carry, 2); return 1;
    case 3: nhwc_max3s2(y, r0, r1, r2, q1first, n, w, carry, 3); return 1;
    default: nhwc_max3s2(y, r0, r1, r2, q1first, n, w, carry, 4); return 1;
    }
}

/* a + b with a NaN a returned before a NaN b: x86 returns the first
 * source's NaN, and the compiler, taking the addition for commutative, may
 * swap an intrinsic's operands, which would change which of two NaNs'
 * payloads a sum keeps */
static inline __m512 add_first(__m512 a, __m512 b)
{
#if defined(__GNUC__)
    __m512 r;
    __asm__("vaddps %2, %1, %0" : "=v"(r) : "v"(a), "vm"(b));
    return r;
#else
    return _mm512_add_ps(a, b);
#endif
}

static inline __m256 add_first8(__m256 a, __m256 b)
{
#if defined(__GNUC__)
    __m256 r;
    __asm__("vaddps %2, %1, %0" : "=v"(r) : "v"(a), "vm"(b));
    return r;
#else
    return _mm256_add_ps(a, b);
#endif
}

/* pool_impl.h's vsum (the vertical sums of nr >= 2 rows, rs floats apart
 * from p, in its order: the first two (three when nr == 3), then groups of
 * four added as ((c0 + c1) + (c2 + c3)), then one at a time) over 16 columns
 * a step with every row's sum in a register, instead of adding the rows into
 * the destination row (a load and a store of it per group) 8 columns at a
 * time.  The operands come in the order GCC gave them in the AVX2 copy's
 * 8-column loop (the NaN kept when two meet: add_first), which covers every
 * column when n is a multiple of 8 (its 4-column and scalar tails order some
 * sums differently).  Rows are addressed from one base and the row stride (a
 * pointer per row, loaded again for every 16 columns, was about a fifth
 * slower over a 16-row window of an in-L3 plane).  pf: prefetch (to L1) the
 * same columns ahead floats on (the next window's rows, for windows of rows
 * one after another: adaptive ones; adaptive 32x64x112x112 -> 7x7 float32 at
 * one thread 1.58x, two 1.17x). */
#define VSUM_STRIDED_STEP(V, ADD, LOAD, STORE)                                                                     \
    do {                                                                                                           \
        const float *q = p + i;                                                                                    \
        if (pf)                                                                                                    \
            for (ptrdiff_t r = 0; r < nr; ++r) _mm_prefetch((const char *)(q + r * rs + ahead), _MM_HINT_T0);      \
        V acc = nr == 3 ? ADD(ADD(LOAD(q), LOAD(q + rs)), LOAD(q + 2 * rs)) : ADD(LOAD(q), LOAD(q + rs));          \
        ptrdiff_t r = nr == 3 ? 3 : 2;                                                                             \
        for (; r + 4 <= nr; r += 4) {                                                                              \
            const float *u = q + r * rs;                                                                           \
            acc = ADD(ADD(ADD(LOAD(u + rs), LOAD(u)), ADD(LOAD(u + 2 * rs), LOAD(u + 3 * rs))), acc);              \
        }                                                                                                          \
        for (; r < nr; ++r) acc = ADD(LOAD(q + r * rs), acc);                                                      \
        STORE(dst + i, acc);                                                                                       \
    } while (0)

static void vsum_strided(float *dst, const float *p, ptrdiff_t rs, ptrdiff_t nr, ptrdiff_t n, int pf,
                         ptrdiff_t ahead)
{
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) VSUM_STRIDED_STEP(__m512, add_first, _mm512_loadu_ps, _mm512_storeu_ps);
    if (i < n) VSUM_STRIDED_STEP(__m256, add_first8, _mm256_loadu_ps, _mm256_storeu_ps);
}
#undef VSUM_STRIDED_STEP

int fc_pool_vsum_f32_avx512(float *dst, const float *const *rows, ptrdiff_t nr, ptrdiff_t n, int pf)
{
    if (nr < 2 || n % 8) return 0;
    /* the same columns of the next window's rows, when the windows are runs of rows one after another */
    const ptrdiff_t ahead = (rows[nr - 1] - rows[0]) + (rows[1] - rows[0]);
    /* rows evenly spaced (every window pool_impl.h builds): from one base */
    const ptrdiff_t rs = rows[1] - rows[0];
    ptrdiff_t r = 2;
    while (r < nr && rows[r] == rows[0] + r * rs) ++r;
    if (r < nr) return 0;
    vsum_strided(dst, rows[0], rs, nr, n, pf, ahead);
    return 1;
}

/* Average windows of two or more consecutive rows (adaptive ones), the output
 * rows oh0 <= oh < oh1 of one plane: the vertical sums into buf
 * (vsum_strided), then each output's columns left to right,
 * divided by (float)(dv_h[oh] * dv_w[o]) -- pool_impl.h's generic row, the
 * same bits, without its per-row calls and checks (about a fifth of a
 * 112 -> 7 plane's time at batch 1).  Returns the rows done: it stops before
 * a row of fewer than two window rows, or when w is not a multiple of 8. */
ptrdiff_t fc_pool_avg_rows_f32_avx512(float *y, float *buf, const float *plane, ptrdiff_t rs,
                                      const ptrdiff_t *lo_h, const ptrdiff_t *cnt_h, const ptrdiff_t *dv_h,
                                      ptrdiff_t oh0, ptrdiff_t oh1, ptrdiff_t w, ptrdiff_t ow, const ptrdiff_t *lo_w,
                                      const ptrdiff_t *cnt_w, const ptrdiff_t *dv_w, int pf)
{
    for (ptrdiff_t oh = oh0; oh < oh1; ++oh, y += ow) {
        const ptrdiff_t nr = cnt_h[oh];
        if (nr < 2 || w % 8) return oh - oh0;
        vsum_strided(buf, plane + lo_h[oh] * rs, rs, nr, w, pf, nr * rs);
        const ptrdiff_t fh = dv_h[oh];
        for (ptrdiff_t o = 0; o < ow; ++o) {
            const float *t = buf + lo_w[o];
            const ptrdiff_t nc = cnt_w[o];
            float acc = nc ? t[0] : 0.0f;
            for (ptrdiff_t q = 1; q < nc; ++q) acc += t[q];
            y[o] = acc / (float)(fh * dv_w[o]);
        }
    }
    return oh1 - oh0;
}

/* ---- 3x3 stride-1 averages over whole planes, on the output's alignment ----
 *
 * NumPy's large arrays start 16 bytes past a cache line, so the row kernel's
 * loads and stores (avg3s1) each straddle two lines: one thread reached about
 * half of numpy.copyto's bandwidth on an in-cache (1, 64, 112, 112) input.
 * Here the plane is one flat run of h * w floats: block g holds the 16 outputs
 * from flat position g, g chosen so that y + g is 64-byte aligned, and every
 * lane does the row kernel's operations on its own (row, column): vertical sums
 * (r0 + r1) + r2 of the rows above, at and below it (the first and last rows
 * add their two rows), then ((v[o-1] + v[o]) + v[o+1]) / div with +0 for the
 * neighbour beyond the row's first or last column.  The neighbouring columns
 * are lane alignments of the previous / next block's sums, zeroed by a mask
 * per column (keep[c]); blocks that touch the first or last row, or the ends
 * of the range, take masked loads.  A block's lanes may belong to two rows:
 * no per-row setup.  An input at the output's offset is read with aligned
 * loads too; at another offset, by whole aligned lines realigned with
 * permutes (avg3_run).  The bits are the row kernel's. */

/* lanes l with lo <= l < hi */
static inline __mmask16 lane_range(ptrdiff_t lo, ptrdiff_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo) return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}

/* lanes m of the 16 floats at p, +0 elsewhere; no access at all when m is
 * empty (a masked load whose masked-off lanes fall on an unmapped page takes
 * a microcode assist of hundreds of cycles: the rows above the first row) */
static inline __m512 load_lanes(__mmask16 m, const float *p)
{
    return m == 0xFFFF ? _mm512_loadu_ps(p) : m ? _mm512_maskz_loadu_ps(m, p) : _mm512_setzero_ps();
}

/* the position in its plane of each of the 16 lanes from position pos */
static inline __m512i plane_pos(ptrdiff_t pos)
{
    return _mm512_add_epi32(_mm512_set1_epi32((int)pos),
                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* vertical sums of block g (plane position g), lanes outside [f0, f1) read
 * nothing; the first and last rows sum their two rows */
static __m512 avg3_vsum_any(const float *x, ptrdiff_t g, ptrdiff_t f0, ptrdiff_t f1, ptrdiff_t w, ptrdiff_t hw)
{
    const __mmask16 valid = lane_range(f0 - g, f1 - g);
    const __m512i pv = plane_pos(g);
    const __mmask16 top = _mm512_cmplt_epi32_mask(pv, _mm512_set1_epi32((int)w));
    const __mmask16 bot = _mm512_cmpge_epi32_mask(pv, _mm512_set1_epi32((int)(hw - w)));
    const float *p = x + g;
    const __m512 a = load_lanes(valid & ~top, p - w);
    const __m512 b = load_lanes(valid, p);
    const __m512 c = load_lanes(valid & ~bot, p + w);
    const __m512 ab = add_first(b, a);
    const __m512 v = _mm512_mask_blend_ps(bot, add_first(ab, c), ab);
    return _mm512_mask_blend_ps(top, v, add_first(c, b));
}

/* the same for a block of middle rows inside the range */
static inline __m512 avg3_vsum_mid(const float *p, ptrdiff_t w)
{
    return add_first(add_first(_mm512_loadu_ps(p), _mm512_loadu_ps(p - w)), _mm512_loadu_ps(p + w));
}

/* ((left + cur) + right) over the lanes, left / right from the neighbouring
 * blocks; km: lanes keeping their left (bits 0-15) and right (16-31) neighbour */
static inline __m512 avg3_hsum(__m512 prev, __m512 cur, __m512 next, uint32_t km)
{
    const __m512i ci = _mm512_castps_si512(cur);
    const __m512 left = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32((__mmask16)km, ci, _mm512_castps_si512(prev), 15));
    const __m512 right =
        _mm512_castsi512_ps(_mm512_maskz_alignr_epi32((__mmask16)(km >> 16), _mm512_castps_si512(next), ci, 1));
    return add_first(add_first(cur, left), right);
}

/* the float offset of p past a 64-byte boundary */
static inline ptrdiff_t lane_offset(const float *p)
{
    return (ptrdiff_t)(((uintptr_t)p & 63) / sizeof(float));
}

/* lanes d .. d + 15 of the 32 lanes lo:hi */
static inline __m512 lanes_from(__m512 lo, __m512 hi, __m512i idx)
{
    return _mm512_permutex2var_ps(lo, idx, hi);
}

static inline __m512i lane_index(ptrdiff_t d)
{
    return _mm512_add_epi32(_mm512_set1_epi32((int)d),
                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* n blocks from *g, each with its next block in middle rows: the input's
 * loads straight (mode 0: the rows on the output's alignment), or whole
 * aligned lines realigned by a two-source permute (split loads cost about a
 * third of the time): of the vertical sums when the three rows share one
 * offset (mode 1), of each row when not (mode 2) */
static inline __attribute__((always_inline)) void avg3_run(float *y, const float *x, ptrdiff_t *g_, ptrdiff_t *col_,
                                                           ptrdiff_t n, ptrdiff_t w, const float *dmid,
                                                           const uint32_t *keep, __m512 *prev_, __m512 *cur_,
                                                           const int uniform, const int mode)
{
    ptrdiff_t g = *g_, col = *col_;
    __m512 prev = *prev_, cur = *cur_;
    const __m512 d1 = _mm512_set1_ps(dmid[0]);
    const float *pa = x + g + 16 - w, *pb = x + g + 16, *pc = x + g + 16 + w;
    const ptrdiff_t oa = lane_offset(pa), ob = lane_offset(pb), oc = lane_offset(pc);
    const __m512i ia = lane_index(oa), ib = lane_index(ob), ic = lane_index(oc);
    pa -= oa;
    pb -= ob;
    pc -= oc;
    __m512 la = _mm512_setzero_ps(), lb = la, lc = la;
    if (mode == 1) lb = avg3_vsum_mid(pb, w);
    if (mode == 2) {
        la = _mm512_load_ps(pa);
        lb = _mm512_load_ps(pb);
        lc = _mm512_load_ps(pc);
    }
    for (; n > 0; --n) {
        __m512 next;
        if (mode == 0) {
            next = avg3_vsum_mid(x + g + 16, w);
        } else if (mode == 1) {
            const __m512 hb = avg3_vsum_mid(pb + 16, w);
            next = lanes_from(lb, hb, ib);
            lb = hb;
        } else {
            const __m512 ha = _mm512_load_ps(pa + 16), hb = _mm512_load_ps(pb + 16), hc = _mm512_load_ps(pc + 16);
            next = add_first(add_first(lanes_from(lb, hb, ib), lanes_from(la, ha, ia)), lanes_from(lc, hc, ic));
            la = ha;
            lb = hb;
            lc = hc;
            pa += 16;
            pc += 16;
        }
        pb += 16;
        const __m512 s = avg3_hsum(prev, cur, next, keep[col]);
        _mm512_store_ps(y + g, _mm512_div_ps(s, uniform ? d1 : _mm512_loadu_ps(dmid + col)));
        prev = cur;
        cur = next;
        g += 16;
        col += 16;
        col = col >= w ? col - w : col;
    }
    *g_ = g;
    *col_ = col;
    *prev_ = prev;
    *cur_ = cur;
}

/* outputs f0 <= f < f1 (whole rows) of one plane of h rows */
static inline __attribute__((always_inline)) void avg3x3_plane(float *y, const float *x, ptrdiff_t f0, ptrdiff_t f1,
                                                               ptrdiff_t h, ptrdiff_t w, const float *dmid,
                                                               const float *dedge, const uint32_t *keep,
                                                               const int uniform)
{
    const ptrdiff_t hw = h * w;
    ptrdiff_t g = f0 - (ptrdiff_t)(((uintptr_t)(y + f0) & 63) / sizeof(float));
    ptrdiff_t col = g % w;
    col = col < 0 ? col + w : col;
    __m512 prev = _mm512_setzero_ps(), cur = avg3_vsum_any(x, g, f0, f1, w, hw);
    while (g < f1) {
        /* blocks whose outputs and next block are whole, in range and in
         * middle rows (and, realigning, the aligned lines after the next) */
        const ptrdiff_t da = lane_offset(x + g + 16 - w), db = lane_offset(x + g + 16), dc = lane_offset(x + g + 16 + w);
        const int mode = (da | db | dc) == 0 ? 0 : da == db && db == dc ? 1 : 2;
        ptrdiff_t n = 0;
        if (g >= f0 && g >= w) {
            const ptrdiff_t a = hw - w - g - (mode ? 48 : 32), b = f1 - g - 32, m = a < b ? a : b;
            n = m >= 0 ? m / 16 + 1 : 0;
        }
        if (n > 0) {
            if (uniform) {
                if (mode == 0) avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 1, 0);
                else if (mode == 1) avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 1, 1);
                else avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 1, 2);
            } else {
                if (mode == 0) avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 0, 0);
                else if (mode == 1) avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 0, 1);
                else avg3_run(y, x, &g, &col, n, w, dmid, keep, &prev, &cur, 0, 2);
            }
        }
        if (g >= f1) break;
        /* one block anywhere */
        const __m512 next = g + 16 < f1 ? avg3_vsum_any(x, g + 16, f0, f1, w, hw) : _mm512_setzero_ps();
        const __m512 s = avg3_hsum(prev, cur, next, keep[col]);
        __m512 d = _mm512_loadu_ps(dmid + col);
        if (g < w || g + 16 > hw - w) {
            const __m512i pv = plane_pos(g);
            const __mmask16 edge = _mm512_cmplt_epi32_mask(pv, _mm512_set1_epi32((int)w)) |
                                   _mm512_cmpge_epi32_mask(pv, _mm512_set1_epi32((int)(hw - w)));
            d = _mm512_mask_loadu_ps(d, edge, dedge + col);
        }
        const __m512 o = _mm512_div_ps(s, d);
        if (g >= f0 && g + 16 <= f1) _mm512_store_ps(y + g, o);
        else _mm512_mask_storeu_ps(y + g, lane_range(f0 - g, f1 - g), o);
        prev = cur;
        cur = next;
        g += 16;
        col += 16;
        col = col >= w ? col - w : col;
    }
}

int fc_pool_avg3x3_f32_avx512(float *y, const float *x, ptrdiff_t xps, ptrdiff_t h, ptrdiff_t w, ptrdiff_t it0,
                              ptrdiff_t it1, float *dmid, float *dedge, uint32_t *keep)
{
    if (h < 2 || w < 16 || h * w > INT32_MAX - 64) return 0;
    /* periodic divisors: d[c] = d[c mod w] for c < w + 16 */
    int uniform = 1;
    for (ptrdiff_t c = 0; c < 16; ++c) {
        dmid[w + c] = dmid[c % w];
        dedge[w + c] = dedge[c % w];
    }
    for (ptrdiff_t c = 0; c < w; ++c) uniform &= dmid[c] == dmid[0];
    for (ptrdiff_t c = 0; c < w; ++c) {
        /* the lanes at column 0 and w - 1 of a block starting at column c */
        ptrdiff_t l0 = c == 0 ? 0 : w - c, r0 = w - 1 - c;
        l0 = l0 < 16 ? l0 : 16;
        r0 = r0 < 16 ? r0 : 16;
        keep[c] = (uint32_t)(uint16_t)~(1u << l0) | ((uint32_t)(uint16_t)~(1u << r0) << 16);
    }
    const ptrdiff_t hw = h * w;
    for (ptrdiff_t it = it0; it < it1;) {
        const ptrdiff_t p = it / h, r = it - p * h, r1 = it1 - p * h < h ? it1 - p * h : h;
        float *yp = y + p * hw;
        const float *xp = x + p * xps;
        if (uniform) avg3x3_plane(yp, xp, r * w, r1 * w, h, w, dmid, dedge, keep, 1);
        else avg3x3_plane(yp, xp, r * w, r1 * w, h, w, dmid, dedge, keep, 0);
        it += r1 - r;
    }
    return 1;
}

/* one output row; 0 when the kernel does not cover nr rows */
static inline int row(int kind, float *y, int64_t *id, const float *const *rows, ptrdiff_t nr, ptrdiff_t w,
                      ptrdiff_t ow, ptrdiff_t pl, const float *div, int64_t pos)
{
    switch (kind) {
    case FC_ROWK_ARGMAX2X2:
        if (nr != 2 || w >= INT32_MAX) return 0;
        {
            int nan = 0;
            argmax2x2_row(y, id, rows[0], rows[1], ow, w, pos, &nan, 0);
        }
        return 1;
    case FC_ROWK_MAX2X2:
        if (nr != 2) return 0;
        win2x2(y, rows[0], rows[1], ow, NULL, 0, 0);
        return 1;
    case FC_ROWK_AVG2X2:
        if (nr != 2) return 0;
        win2x2(y, rows[0], rows[1], ow, div, 1, 0);
        return 1;
    case FC_ROWK_MAX3S2:
        if (nr < 1 || nr > 3) return 0;
        if (pl == 1) {
            int nan = 0;
            max3s2p1_row(y, rows, nr, w, ow, &nan, 0);
        } else {
            max3s2(y, rows, nr, w, ow, pl);
        }
        return 1;
    case FC_ROWK_AVG3S1:
        if (nr != 2 && nr != 3) return 0;
        avg3s1(y, rows, nr, w, div);
        return 1;
    default:
        return 0;
    }
}

int fc_pool_row_f32_avx512(int kind, float *y, int64_t *id, const float *const *rows, ptrdiff_t nr, ptrdiff_t w,
                           ptrdiff_t ow, ptrdiff_t pl, const float *div, int64_t pos)
{
    return row(kind, y, id, rows, nr, w, ow, pl, div, pos);
}

ptrdiff_t fc_pool_rows_f32_avx512(int kind, float *y, int64_t *id, const float *plane, ptrdiff_t rs, ptrdiff_t dh,
                                  const ptrdiff_t *lo_h, const ptrdiff_t *cnt_h, ptrdiff_t oh0, ptrdiff_t oh1,
                                  ptrdiff_t w, ptrdiff_t ow, ptrdiff_t pl, const float *div)
{
    int nan = 0; /* the previous max3s2p1 / argmax2x2 row read a NaN */
    for (ptrdiff_t oh = oh0; oh < oh1; ++oh, y += ow, id = id ? id + ow : NULL) {
        const ptrdiff_t nr = cnt_h[oh];
        if (nr > 3) return oh - oh0;
        const float *rows[3];
        for (ptrdiff_t r = 0; r < nr; ++r) rows[r] = plane + (lo_h[oh] + r * dh) * rs;
        /* the common rows (all but the borders) with nr a constant, inlined */
        if (nr == 2 && kind == FC_ROWK_MAX2X2) win2x2(y, rows[0], rows[1], ow, NULL, 0, 1);
        else if (nr == 2 && kind == FC_ROWK_AVG2X2) win2x2(y, rows[0], rows[1], ow, div, 1, 1);
        else if (nr == 3 && kind == FC_ROWK_AVG3S1) avg3s1(y, rows, 3, w, div);
        else if (nr == 3 && kind == FC_ROWK_MAX3S2 && pl == 1) max3s2p1_row(y, rows, 3, w, ow, &nan, 1);
        else if (nr == 2 && kind == FC_ROWK_ARGMAX2X2 && w < INT32_MAX)
            argmax2x2_row(y, id, rows[0], rows[1], ow, w, (int64_t)(lo_h[oh] * w), &nan, 1);
        else if (nr == 3 && kind == FC_ROWK_MAX3S2) max3s2(y, rows, 3, w, ow, pl);
        else if (!row(kind, y, id, rows, nr, w, ow, pl, div, (int64_t)(lo_h[oh] * w))) return oh - oh0;
    }
    return oh1 - oh0;
}
