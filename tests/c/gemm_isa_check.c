/*
 * gemm_isa_check.c -- runs fc_sgemm / fc_dgemm with a chosen kernel table
 * (given as argv[1]: 0 generic, 1 avx2, 2 avx512) over many shapes, strides
 * and alpha/beta values, and prints the worst error relative to a naive
 * double-precision product, scaled by k * eps.  Built by
 * tests/test_avx512_emulated.py with the AVX-512 kernels compiled against
 * avx512_emul.h and cpu.c told to assume the ISA (FC_TESTING_ASSUME_ISA).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "fastconv.h"

static double urand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

#define CHECK(T, GEMM, EPS)                                                                        \
    static double check_##T(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int ta, int tb, T alpha,        \
                            T beta, unsigned long long *seed)                                     \
    {                                                                                              \
        ptrdiff_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;                    \
        T *a = malloc(sizeof(T) * (size_t)(ta ? k : m) * lda);                                    \
        T *b = malloc(sizeof(T) * (size_t)(tb ? n : k) * ldb);                                    \
        T *c = malloc(sizeof(T) * (size_t)m * ldc);                                               \
        double *r = malloc(sizeof(double) * (size_t)m * n);                                       \
        for (ptrdiff_t i = 0; i < (ta ? k : m) * lda; ++i) a[i] = (T)urand(seed);                 \
        for (ptrdiff_t i = 0; i < (tb ? n : k) * ldb; ++i) b[i] = (T)urand(seed);                 \
        for (ptrdiff_t i = 0; i < m * ldc; ++i) c[i] = (T)urand(seed);                            \
        double scale = 1;                                                                          \
        for (ptrdiff_t i = 0; i < m; ++i)                                                          \
            for (ptrdiff_t j = 0; j < n; ++j) {                                                    \
                double s = 0, sa = 0;                                                              \
                for (ptrdiff_t p = 0; p < k; ++p) {                                                \
                    double x = ta ? a[p * lda + i] : a[i * lda + p];                               \
                    double y = tb ? b[j * ldb + p] : b[p * ldb + j];                               \
                    s += x * y;                                                                    \
                    sa += fabs(x * y);                                                             \
                }                                                                                  \
                r[i * n + j] = alpha * s + (beta != 0 ? beta * (double)c[i * ldc + j] : 0);        \
                if (sa > scale) scale = sa;                                                        \
            }                                                                                      \
        int st = GEMM(m, n, k, alpha, a, ta ? 1 : lda, ta ? lda : 1, b, tb ? 1 : ldb, tb ? ldb : 1, \
                      beta, c, ldc, 0);                                                            \
        double worst = st ? 1e30 : 0;                                                              \
        for (ptrdiff_t i = 0; i < m; ++i)                                                          \
            for (ptrdiff_t j = 0; j < n; ++j) {                                                    \
                double e = fabs((double)c[i * ldc + j] - r[i * n + j]);                            \
                if (!(e <= 1e300)) e = 1e30;                                                       \
                if (e > worst) worst = e;                                                          \
            }                                                                                      \
        free(a); free(b); free(c); free(r);                                                        \
        return worst / ((double)(k + 2) * EPS * scale * (fabs(alpha) + fabs(beta) + 1));            \
    }

CHECK(float, fc_sgemm, 1.1920929e-07)
CHECK(double, fc_dgemm, 2.220446049250313e-16)

int main(int argc, char **argv)
{
    int level = argc > 1 ? atoi(argv[1]) : 0;
    if (fc_isa_set(level) != 0) {
        printf("cannot set isa %d\n", level);
        return 2;
    }
    fc_gemm_blocking bs, bd;
    fc_gemm_get_blocking(4, &bs);
    fc_gemm_get_blocking(8, &bd);
    unsigned long long seed = 42;
    const ptrdiff_t dims[] = {1, 2, 5, 11, 12, 13, 31, 32, 33, 47, 64, 97};
    double worst_s = 0, worst_d = 0;
    for (int t = 0; t < 120; ++t) {
        ptrdiff_t m = dims[(t * 7) % 12], n = dims[(t * 5 + 3) % 12], k = dims[(t * 3 + 1) % 12];
        if (t % 10 == 0) { m = bs.mc + 13; k = bs.kc + 7; }
        if (t % 10 == 1) { n = bs.nr * 3 + 1; k = bd.kc * 2 + 1; m = bd.mc + 1; }
        int ta = t & 1, tb = (t >> 1) & 1;
        double alpha = (t % 3 == 0) ? 1.0 : -0.75, beta = (t % 4 == 0) ? 0.0 : (t % 4 == 1 ? 1.0 : 0.5);
        double es = check_float(m, n, k, ta, tb, (float)alpha, (float)beta, &seed);
        double ed = check_double(m, n, k, ta, tb, alpha, beta, &seed);
        if (es > worst_s) worst_s = es;
        if (ed > worst_d) worst_d = ed;
    }
    printf("isa=%s mr=%d nr=%d worst_float=%.3g worst_double=%.3g\n", fc_isa_name(fc_isa_active()),
           bs.mr, bs.nr, worst_s, worst_d);
    return 0;
}
