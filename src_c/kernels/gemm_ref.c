/*
 * gemm_ref.c -- portable C micro-kernels: the fallback on every CPU and the
 * oracle the SIMD kernels are tested against.  Written so that a compiler can
 * vectorise the inner loop over the NR columns for whatever baseline SIMD the
 * target has (SSE2 on x86-64, NEON on aarch64).
 */
#include "../fastconv.h"

#define REF_KERNEL(NAME, T, MR, NR)                                             \
    void NAME(ptrdiff_t kc, const T *a, const T *b, T *c, ptrdiff_t ldc,        \
              int accumulate)                                                   \
    {                                                                           \
        T acc[MR][NR];                                                          \
        for (int i = 0; i < MR; ++i)                                            \
            for (int j = 0; j < NR; ++j) acc[i][j] = 0;                         \
        for (ptrdiff_t p = 0; p < kc; ++p) {                                    \
            for (int i = 0; i < MR; ++i) {                                      \
                T ai = a[p * MR + i];                                           \
                for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[p * NR + j];   \
            }                                                                   \
        }                                                                       \
        for (int i = 0; i < MR; ++i) {                                          \
            T *ci = c + i * ldc;                                                \
            if (accumulate)                                                     \
                for (int j = 0; j < NR; ++j) ci[j] += acc[i][j];                \
            else                                                                \
                for (int j = 0; j < NR; ++j) ci[j] = acc[i][j];                 \
        }                                                                       \
    }

REF_KERNEL(fc_sgemm_ukernel_4x16_ref, float, 4, 16)
REF_KERNEL(fc_dgemm_ukernel_4x8_ref, double, 4, 8)
/* half-width companions for column edges */
REF_KERNEL(fc_sgemm_ukernel_4x8_ref, float, 4, 8)
REF_KERNEL(fc_dgemm_ukernel_4x4_ref, double, 4, 4)
