/*
 * internal.h -- declarations shared between the C files of the core that are
 * not part of the public API (the kernel table filled by cpu.c).
 */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include "fastconv.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    fc_gemm_blocking s;           /* float32 blocking */
    fc_gemm_blocking d;           /* float64 blocking */
    fc_sgemm_ukernel_fn sgemm;
    fc_dgemm_ukernel_fn dgemm;
    fc_sgemm_pack_a_fn spack_a; /* NULL: the portable packing routine */
    fc_dgemm_pack_a_fn dpack_a;
    fc_sgemm_ukernel_fn sgemm_half; /* mr x nr/2 companions for column edges */
    fc_dgemm_ukernel_fn dgemm_half;
} fc_kernel_table;

/* The table of the active ISA level; never NULL. */
const fc_kernel_table *fc_kernels(void);

#define FC_ALIGN 64

/* finite.c's per-block check at AVX2 (kernels/finite_avx2.c): 1 when every
 * value of x[0..n) is finite. */
int fc_finite_f32_avx2(const float *x, ptrdiff_t n);
int fc_finite_f64_avx2(const double *x, ptrdiff_t n);

/* Inside a parallel region: this thread's contiguous share [*lo, *hi) of n
 * items (a static partition fixed by the team size); returns the thread
 * number. */
static inline int fc_thread_share(ptrdiff_t n, ptrdiff_t *lo, ptrdiff_t *hi)
{
#ifdef _OPENMP
    const ptrdiff_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const ptrdiff_t t = 0, nt = 1;
#endif
    *lo = n / nt * t + (t < n % nt ? t : n % nt);
    *hi = *lo + n / nt + (t < n % nt);
    return (int)t;
}

#if defined(__GNUC__) || defined(__clang__)
#define FC_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
#define FC_PREFETCH_L2(p) __builtin_prefetch((const void *)(p), 0, 2)
#else
#define FC_PREFETCH(p) ((void)0)
#define FC_PREFETCH_L2(p) ((void)0)
#endif
#define FC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FC_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
