/*
 * signal_fft_impl.h -- the batch kernel of the overlap-save FFT correlation
 * (see signal_fft_internal.h), included once per type by each ISA's file with
 * FT (element type), IT (the signed integer type of its width), FL (lanes),
 * VL (lanes per native SIMD vector of the file's ISA) and FN(name) (name
 * suffix) defined.
 *
 * Transforms are radix-4 (one radix-2 step where log2 N is odd), in place:
 * the forward one decimates in frequency and leaves its output in
 * digit-reversed order, the kernel spectrum is stored in that same order,
 * and the inverse one decimates in time from that order back to natural
 * order, so no permutation pass is ever made.  The passes run depth-first:
 * once a sub-transform's points fit in L1 (FC_FFT_LEAF_BYTES), all its
 * remaining passes, the product with the spectrum and the inverse passes
 * back up to its size run on it before the next one is touched.
 */

#ifndef FC_FFT_LEAF_BYTES
#define FC_FFT_LEAF_BYTES 32768
#endif

/* point t of the batch: real parts at z + 2 FL t, imaginary parts FL further */
#define PT(z, t) ((z) + (size_t)(t) * 2 * FL)

/* VT: a GNU C vector of VL lanes, the file's native width (VL, and IT, the
 * integer type of FT's width, come with FT), NV = FL / VL of them per part of
 * a point; other compilers loop over NV = FL scalars.  Either way a[l] and
 * a[NV + l] are the real and imaginary vectors l of point a. */
#if defined(__GNUC__) || defined(__clang__)
typedef FT FN(vt) __attribute__((vector_size(VL * sizeof(FT))));
typedef IT FN(vi) __attribute__((vector_size(VL * sizeof(FT))));
#define VT FN(vt)
#define NV (FL / VL)
/* |v| (the sign bit cleared) and min(a, b) (a where a < b, else b) */
#define FC_VABS(v) ((VT)((FN(vi))(v) & ((FN(vi)){0} + (IT)(((unsigned long long)-1) >> (65 - 8 * sizeof(FT))))))
#define FC_VMIN(a, b) ((VT)(((FN(vi))(a) & (FN(vi))((a) < (b))) | ((FN(vi))(b) & ~(FN(vi))((a) < (b)))))
#else
#define VT FT
#define NV FL
#define FC_VABS(v) ((v) < 0 ? -(v) : (v))
#define FC_VMIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Register transposes of VL x VL lanes (gather and scatter of whole
 * batches): log2(VL) rounds of interleaving rows i and i + VL/2, each round
 * rotating the (row, column) index bits by one. */
#if defined(__GNUC__) && defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define FC_FFT_TRANSPOSE 1
#endif
#endif
#ifdef FC_FFT_TRANSPOSE
typedef FT FN(vtu) __attribute__((vector_size(VL * sizeof(FT)), aligned(sizeof(FT))));
#if VL == 16
#define FC_LO(a, b) __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define FC_HI(a, b) __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#define FC_LOG2VL 4
#elif VL == 8
#define FC_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define FC_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define FC_LOG2VL 3
#elif VL == 4
#define FC_LO(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define FC_HI(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#define FC_LOG2VL 2
#else
#define FC_LO(a, b) __builtin_shufflevector(a, b, 0, 2)
#define FC_HI(a, b) __builtin_shufflevector(a, b, 1, 3)
#define FC_LOG2VL 1
#endif
static inline void FN(transpose)(VT *v)
{
    VT t[VL];
#pragma GCC unroll 4
    for (int r = 0; r < FC_LOG2VL; ++r) {
#pragma GCC unroll 8
        for (int i = 0; i < VL / 2; ++i) {
            t[2 * i] = FC_LO(v[i], v[i + VL / 2]);
            t[2 * i + 1] = FC_HI(v[i], v[i + VL / 2]);
        }
#pragma GCC unroll 16
        for (int i = 0; i < VL; ++i) v[i] = t[i];
    }
}
#undef FC_LO
#undef FC_HI
#undef FC_LOG2VL
#endif

/* One radix-4 DIF pass over the n points at z (span s = n / 4): with
 * P = a0 + a2, D = a0 - a2, Q = a1 + a3, E = a1 - a3 and t = W^(j N / n),
 * a0 = P + Q, a1 = (P - Q) t^2, a2 = (D - iE) t, a3 = (D + iE) t^3. */
static void FN(dif4)(FT *z, ptrdiff_t n, ptrdiff_t m, const FT *restrict tw)
{
    const ptrdiff_t s = n / 4;
    for (ptrdiff_t j = 0; j < s; ++j) {
        const ptrdiff_t k = j * m;
        const FT w1r = tw[2 * k], w1i = tw[2 * k + 1];
        const FT w2r = tw[4 * k], w2i = tw[4 * k + 1];
        const FT w3r = tw[6 * k], w3i = tw[6 * k + 1];
        VT *restrict a0 = (VT *)PT(z, j), *restrict a1 = (VT *)PT(z, j + s);
        VT *restrict a2 = (VT *)PT(z, j + 2 * s), *restrict a3 = (VT *)PT(z, j + 3 * s);
        for (int l = 0; l < NV; ++l) {
            const VT a0r = a0[l], a0i = a0[NV + l], a1r = a1[l], a1i = a1[NV + l];
            const VT a2r = a2[l], a2i = a2[NV + l], a3r = a3[l], a3i = a3[NV + l];
            const VT pr = a0r + a2r, pi = a0i + a2i, dr = a0r - a2r, di = a0i - a2i;
            const VT qr = a1r + a3r, qi = a1i + a3i, er = a1r - a3r, ei = a1i - a3i;
            const VT ur = pr - qr, ui = pi - qi;
            const VT vr = dr + ei, vi = di - er;
            const VT xr = dr - ei, xi = di + er;
            a0[l] = pr + qr;
            a0[NV + l] = pi + qi;
            a1[l] = ur * w2r - ui * w2i;
            a1[NV + l] = ur * w2i + ui * w2r;
            a2[l] = vr * w1r - vi * w1i;
            a2[NV + l] = vr * w1i + vi * w1r;
            a3[l] = xr * w3r - xi * w3i;
            a3[NV + l] = xr * w3i + xi * w3r;
        }
    }
}

/* The inverse of FN(dif4) times 4 (conjugate twiddles, decimation in time). */
static void FN(dit4)(FT *z, ptrdiff_t n, ptrdiff_t m, const FT *restrict tw)
{
    const ptrdiff_t s = n / 4;
    for (ptrdiff_t j = 0; j < s; ++j) {
        const ptrdiff_t k = j * m;
        const FT w1r = tw[2 * k], w1i = tw[2 * k + 1];
        const FT w2r = tw[4 * k], w2i = tw[4 * k + 1];
        const FT w3r = tw[6 * k], w3i = tw[6 * k + 1];
        VT *restrict a0 = (VT *)PT(z, j), *restrict a1 = (VT *)PT(z, j + s);
        VT *restrict a2 = (VT *)PT(z, j + 2 * s), *restrict a3 = (VT *)PT(z, j + 3 * s);
        for (int l = 0; l < NV; ++l) {
            const VT b0r = a0[l], b0i = a0[NV + l], b1r = a1[l], b1i = a1[NV + l];
            const VT b2r = a2[l], b2i = a2[NV + l], b3r = a3[l], b3i = a3[NV + l];
            const VT r1r = b1r * w2r + b1i * w2i, r1i = b1i * w2r - b1r * w2i;
            const VT r2r = b2r * w1r + b2i * w1i, r2i = b2i * w1r - b2r * w1i;
            const VT r3r = b3r * w3r + b3i * w3i, r3i = b3i * w3r - b3r * w3i;
            const VT pr = b0r + r1r, pi = b0i + r1i, qr = b0r - r1r, qi = b0i - r1i;
            const VT dr = r2r + r3r, di = r2i + r3i, fr = r2r - r3r, fi = r2i - r3i;
            a0[l] = pr + dr;
            a0[NV + l] = pi + di;
            a2[l] = pr - dr;
            a2[NV + l] = pi - di;
            a1[l] = qr - fi;     /* Q + iF */
            a1[NV + l] = qi + fr;
            a3[l] = qr + fi;     /* Q - iF */
            a3[NV + l] = qi - fr;
        }
    }
}

/* The last forward pass (twiddles 1), the product with the spectrum and the
 * first inverse pass, fused: groups of r (4 or 2) points of the n at z, whose
 * spectrum values start at hs (pairs). */
static void FN(middle)(FT *z, ptrdiff_t n, int r, const FT *restrict hs)
{
    for (ptrdiff_t g = 0; g < n; g += r) {
        VT *restrict a0 = (VT *)PT(z, g), *restrict a1 = (VT *)PT(z, g + 1);
        const FT *h = hs + 2 * g;
        if (r == 2) {
            for (int l = 0; l < NV; ++l) {
                const VT b0r = a0[l], b0i = a0[NV + l], b1r = a1[l], b1i = a1[NV + l];
                const VT s0r = b0r + b1r, s0i = b0i + b1i, s1r = b0r - b1r, s1i = b0i - b1i;
                const VT c0r = s0r * h[0] - s0i * h[1], c0i = s0r * h[1] + s0i * h[0];
                const VT c1r = s1r * h[2] - s1i * h[3], c1i = s1r * h[3] + s1i * h[2];
                a0[l] = c0r + c1r;
                a0[NV + l] = c0i + c1i;
                a1[l] = c0r - c1r;
                a1[NV + l] = c0i - c1i;
            }
            continue;
        }
        VT *restrict a2 = (VT *)PT(z, g + 2), *restrict a3 = (VT *)PT(z, g + 3);
        for (int l = 0; l < NV; ++l) {
            const VT a0r = a0[l], a0i = a0[NV + l], a1r = a1[l], a1i = a1[NV + l];
            const VT a2r = a2[l], a2i = a2[NV + l], a3r = a3[l], a3i = a3[NV + l];
            const VT pr = a0r + a2r, pi = a0i + a2i, dr = a0r - a2r, di = a0i - a2i;
            const VT qr = a1r + a3r, qi = a1i + a3i, er = a1r - a3r, ei = a1i - a3i;
            /* forward outputs 0..3 times the spectrum */
            const VT o0r = pr + qr, o0i = pi + qi, o1r = pr - qr, o1i = pi - qi;
            const VT o2r = dr + ei, o2i = di - er, o3r = dr - ei, o3i = di + er;
            const VT b0r = o0r * h[0] - o0i * h[1], b0i = o0r * h[1] + o0i * h[0];
            const VT b1r = o1r * h[2] - o1i * h[3], b1i = o1r * h[3] + o1i * h[2];
            const VT b2r = o2r * h[4] - o2i * h[5], b2i = o2r * h[5] + o2i * h[4];
            const VT b3r = o3r * h[6] - o3i * h[7], b3i = o3r * h[7] + o3i * h[6];
            /* the inverse butterfly with twiddles 1 */
            const VT ppr = b0r + b1r, ppi = b0i + b1i, qqr = b0r - b1r, qqi = b0i - b1i;
            const VT ddr = b2r + b3r, ddi = b2i + b3i, ffr = b2r - b3r, ffi = b2i - b3i;
            a0[l] = ppr + ddr;
            a0[NV + l] = ppi + ddi;
            a2[l] = ppr - ddr;
            a2[NV + l] = ppi - ddi;
            a1[l] = qqr - ffi;
            a1[NV + l] = qqi + ffr;
            a3[l] = qqr + ffi;
            a3[NV + l] = qqi - ffr;
        }
    }
}

/* Every remaining pass of the sub-transform of n points at z (global point
 * offset p0), which fits in L1. */
static void FN(leaf)(FT *z, ptrdiff_t p0, ptrdiff_t n, ptrdiff_t N, const FT *tw, const FT *hs)
{
    ptrdiff_t len = n;
    for (; len > 4; len /= 4)
        for (ptrdiff_t o = 0; o < n; o += len) FN(dif4)(PT(z, o), len, N / len, tw);
    FN(middle)(z, n, (int)len, hs + 2 * p0);
    for (len *= 4; len <= n; len *= 4)
        for (ptrdiff_t o = 0; o < n; o += len) FN(dit4)(PT(z, o), len, N / len, tw);
}

static void FN(transform)(FT *z, ptrdiff_t p0, ptrdiff_t n, ptrdiff_t N, const FT *tw, const FT *hs)
{
    if (n <= 4 || (size_t)n * 2 * FL * sizeof(FT) <= FC_FFT_LEAF_BYTES) {
        FN(leaf)(z, p0, n, N, tw, hs);
        return;
    }
    FN(dif4)(z, n, N / n, tw);
    for (int q = 0; q < 4; ++q) FN(transform)(PT(z, q * (n / 4)), p0 + q * (n / 4), n / 4, N, tw, hs);
    FN(dit4)(z, n, N / n, tw);
}

void FN(fc_fftcorr_batch)(const fc_fftcorr_plan *p, ptrdiff_t batch, FT *ws, FT *y, unsigned char *bad)
{
    const ptrdiff_t N = p->N, K = p->K, step = p->step, n = p->n;
    const FT *x = (const FT *)p->x;
    const FT fill = (FT)p->fill;
    FT *z = ws, *tmp = ws + (size_t)N * 2 * FL;
    const ptrdiff_t b0 = batch * 2 * FL;

    /* gather: block b0 + 2l + part into lane l of part (0: real, 1: imaginary);
     * a batch whose blocks all lie inside the signal is transposed in registers */
    const int inside = b0 * step - p->pad >= 0 && (b0 + 2 * FL - 1) * step - p->pad + N <= n &&
                       b0 + 2 * FL <= p->nblocks;
    (void)inside;
#ifdef FC_FFT_TRANSPOSE
    if (inside) {
        const FT *src0 = x + b0 * step - p->pad;
        for (ptrdiff_t t = 0; t < N; t += VL)
            for (int part = 0; part < 2; ++part)
                for (int br = 0; br < NV; ++br) {
                    VT v[VL];
                    for (int i = 0; i < VL; ++i)
                        v[i] = *(const FN(vtu) *)(src0 + (2 * (br * VL + i) + part) * step + t);
                    FN(transpose)(v);
                    for (int u = 0; u < VL; ++u) ((VT *)PT(z, t + u))[part * NV + br] = v[u];
                }
    } else
#endif
    for (int l = 0; l < FL; ++l) {
        for (int part = 0; part < 2; ++part) {
            const ptrdiff_t b = b0 + 2 * l + part;
            FT *dst = z + part * FL + l;
            if (b >= p->nblocks) {
                for (ptrdiff_t t = 0; t < N; ++t) dst[(size_t)t * 2 * FL] = 0;
                continue;
            }
            const ptrdiff_t j0 = b * step - p->pad;
            const FT *src = x + j0;
            if (!(j0 >= 0 && j0 + N <= n)) {
                for (ptrdiff_t t = 0; t < N; ++t) {
                    const ptrdiff_t j = j0 + t;
                    tmp[t] = j >= 0 && j < n ? x[j] : fill;
                }
                src = tmp;
            }
            for (ptrdiff_t t = 0; t < N; ++t) dst[(size_t)t * 2 * FL] = src[t];
        }
    }

    if (p->guard) {
        /* per lane: the sum of squares of the pair, and the least sum of |e|
         * over the aligned chunks of 8 samples of either block that lie inside
         * the signal (the outputs whose windows reach outside it are
         * recomputed directly anyway: see signal_fft.c) */
        VT ss[2 * NV], cmin[2 * NV];
        for (int l = 0; l < 2 * NV; ++l) ss[l] = (VT){0}, cmin[l] = (VT){0} + (FT)INFINITY;
        for (ptrdiff_t t = 0; t + 8 <= N; t += 8) {
            VT cs[2 * NV];
            for (int l = 0; l < 2 * NV; ++l) cs[l] = (VT){0};
            for (int u = 0; u < 8; ++u) {
                const VT *v = (const VT *)PT(z, t + u);
                for (int l = 0; l < 2 * NV; ++l) {
                    cs[l] += FC_VABS(v[l]);
                    ss[l] += v[l] * v[l];
                }
            }
            if (inside) {
                for (int l = 0; l < 2 * NV; ++l) cmin[l] = FC_VMIN(cs[l], cmin[l]);
                continue;
            }
            /* an edge batch: only the chunks inside the signal count */
            FT *csf = (FT *)cs, *cmf = (FT *)cmin;
            for (int l = 0; l < FL; ++l)
                for (int part = 0; part < 2; ++part) {
                    const ptrdiff_t at = (b0 + 2 * l + part) * step - p->pad + t;
                    if (at >= 0 && at + 8 <= n && csf[part * FL + l] < cmf[part * FL + l])
                        cmf[part * FL + l] = csf[part * FL + l];
                }
        }
        const FT *ssf = (const FT *)ss, *cmf = (const FT *)cmin;
        for (int l = 0; l < FL; ++l) {
            const ptrdiff_t q = b0 / 2 + l;
            if (2 * q >= p->nblocks) break;
            const double s2 = (double)ssf[l] + (double)ssf[FL + l];
            const double c = FC_MIN((double)cmf[l], (double)cmf[FL + l]) * p->g_rhs;
            /* not (error estimate <= bound): NaN and inf count as bad */
            bad[q] = !(s2 * p->g_lhs <= c * c);
        }
    }

    FN(transform)(z, 0, N, N, (const FT *)p->tw, (const FT *)p->hs);

    /* scatter: samples K - 1 .. N - 1 of each block are its linear outputs */
#ifdef FC_FFT_TRANSPOSE
    if (b0 + 2 * FL < p->nblocks) {
        /* every block of the batch has step outputs: FL at a time transposed */
        const ptrdiff_t full = step / VL * VL;
        for (ptrdiff_t t = 0; t < full; t += VL)
            for (int part = 0; part < 2; ++part)
                for (int br = 0; br < NV; ++br) {
                    VT v[VL];
                    for (int u = 0; u < VL; ++u) v[u] = ((const VT *)PT(z, K - 1 + t + u))[part * NV + br];
                    FN(transpose)(v);
                    for (int i = 0; i < VL; ++i)
                        *(FN(vtu) *)(y + (b0 + 2 * (br * VL + i) + part) * step + t) = v[i];
                }
        for (int l = 0; l < FL; ++l)
            for (int part = 0; part < 2; ++part) {
                const FT *src = PT(z, K - 1) + part * FL + l;
                FT *yb = y + (b0 + 2 * l + part) * step;
                for (ptrdiff_t t = full; t < step; ++t) yb[t] = src[(size_t)t * 2 * FL];
            }
        return;
    }
#endif
    for (int l = 0; l < FL; ++l) {
        for (int part = 0; part < 2; ++part) {
            const ptrdiff_t b = b0 + 2 * l + part;
            if (b >= p->nblocks) break;
            const ptrdiff_t i0 = b * step, cnt = FC_MIN(step, p->out_w - i0);
            const FT *src = PT(z, K - 1) + part * FL + l;
            FT *yb = y + i0;
            for (ptrdiff_t t = 0; t < cnt; ++t) yb[t] = src[(size_t)t * 2 * FL];
        }
    }
}

#undef PT
#undef FC_VABS
#undef FC_VMIN
#undef VL
#undef IT
#undef FC_FFT_TRANSPOSE
#undef VT
#undef NV
#undef FT
#undef FL
#undef FN
