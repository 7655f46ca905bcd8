/*
 * finite.c -- whether an array holds only finite values: the check behind
 * algorithm="auto" where a kernel (Winograd, the depthwise loops, the FFT)
 * would mix an inf or NaN into other outputs.  One pass at memory speed on
 * every thread: x * 0 is NaN exactly for inf and NaN, so a sum of x * 0
 * (never overflowing, order irrelevant) is NaN exactly when one is present.
 */
#include "internal.h"

#define FC_FINITE_BLOCK 65536   /* elements per task */

static int block_f32(const float *x, ptrdiff_t n)
{
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX2) return fc_finite_f32_avx2(x, n);
#endif
    float acc[8] = {0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += x[i + l] * 0.0f;
    for (; i < n; ++i) acc[0] += x[i] * 0.0f;
    float s = 0;
    for (int l = 0; l < 8; ++l) s += acc[l];
    return s == 0;
}

static int block_f64(const double *x, ptrdiff_t n)
{
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() >= FC_ISA_AVX2) return fc_finite_f64_avx2(x, n);
#endif
    double acc[4] = {0};
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; ++l) acc[l] += x[i + l] * 0.0;
    for (; i < n; ++i) acc[0] += x[i] * 0.0;
    return acc[0] + acc[1] + acc[2] + acc[3] == 0;
}

static int block_f32v(const void *x, ptrdiff_t n) { return block_f32((const float *)x, n); }
static int block_f64v(const void *x, ptrdiff_t n) { return block_f64((const double *)x, n); }

/* x[0..n) of `size`-byte values in tasks of FC_FINITE_BLOCK, on every thread */
static int all_finite(const char *x, ptrdiff_t n, size_t size, int (*block)(const void *, ptrdiff_t))
{
    if (n <= 0) return 1;
    const ptrdiff_t blocks = (n + FC_FINITE_BLOCK - 1) / FC_FINITE_BLOCK;
    int nt = fc_resolve_threads(0);
    if (nt > blocks) nt = (int)blocks;
    int ok = 1;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(&& : ok) if (nt > 1)
    for (ptrdiff_t b = 0; b < blocks; ++b) {
        const ptrdiff_t lo = b * FC_FINITE_BLOCK;
        ok = ok && block(x + (size_t)lo * size, FC_MIN(n - lo, (ptrdiff_t)FC_FINITE_BLOCK));
    }
    return ok;
}

int fc_all_finite_f32(const float *x, ptrdiff_t n) { return all_finite((const char *)x, n, sizeof(float), block_f32v); }
int fc_all_finite_f64(const double *x, ptrdiff_t n) { return all_finite((const char *)x, n, sizeof(double), block_f64v); }
