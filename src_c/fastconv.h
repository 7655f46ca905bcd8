/*
 * fastconv.h -- the one public header of the fastconv C core.
 *
 * Every entry point of the C library is declared here.  The C core never
 * includes Python.h, never allocates Python objects, never prints and never
 * exits: it returns 0 (FC_OK) or a negative status code, and the Cython layer
 * turns that code into a Python exception.
 *
 * Matrices are described by element strides (not byte strides): element
 * (i, j) of a matrix X lies at x[i * rs_x + j * cs_x].  A transposed operand
 * is simply the same memory with the two strides swapped, so the GEMM needs no
 * transpose flags and accepts any NumPy view without copying it.
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ----------------------------------------------------- */
enum {
    FC_OK = 0,
    FC_EINVAL = -1,       /* an argument is out of its domain            */
    FC_ENOMEM = -2,       /* a workspace could not be allocated          */
    FC_EOVERFLOW = -3,    /* a size computation would overflow size_t    */
    FC_EUNSUPPORTED = -4  /* the CPU cannot run the requested ISA level  */
};

/* ---- instruction-set levels (runtime dispatch) -------------------------- */
enum {
    FC_ISA_GENERIC = 0,   /* portable C, any CPU                         */
    FC_ISA_AVX2 = 1,      /* x86-64 AVX2 + FMA                           */
    FC_ISA_AVX512 = 2     /* x86-64 AVX-512F                             */
};

int fc_isa_best(void);              /* best level this CPU and OS support    */
int fc_isa_active(void);            /* level the kernels run at now          */
int fc_isa_set(int level);          /* FC_EUNSUPPORTED above fc_isa_best()   */
const char *fc_isa_name(int level); /* "generic", "avx2", "avx512"           */
int fc_isa_compiled(int level);     /* 1 if kernels for level were built in  */

/* ---- threads -------------------------------------------------------------- */
int fc_get_num_threads(void);       /* omp_get_max_threads(), 1 without OpenMP */
void fc_set_num_threads(int n);
int fc_have_openmp(void);
int fc_openmp_version(void);        /* _OPENMP date macro, 0 without OpenMP    */
const char *fc_compiler(void);

/* Threads a call may use: the requested count (<= 0: fc_get_num_threads()),
 * one when already inside a parallel region (we never nest). */
int fc_resolve_threads(int requested);

/* ---- aligned, overflow-checked allocation ---------------------------- */
/* Product a*b*c in size_t; returns 0 and sets *out, or FC_EOVERFLOW. */
int fc_size_mul3(size_t a, size_t b, size_t c, size_t *out);
void *fc_aligned_alloc(size_t bytes);   /* 64-byte aligned; NULL on failure */
void fc_aligned_free(void *p);

/* ---- GEMM ------------------------------------------------------------------ */
/*
 * C = alpha * A @ B + beta * C, with A m x k, B k x n, C m x n.
 * A and B take any element strides (negative included); C takes any row
 * stride and a unit column stride.  beta == 0 never reads C.
 * nthreads <= 0 means fc_get_num_threads().  Results are bitwise identical
 * for every thread count.
 */
int fc_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
             const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
             const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
             float beta, float *c, ptrdiff_t rs_c, int nthreads);
int fc_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
             const double *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
             const double *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
             double beta, double *c, ptrdiff_t rs_c, int nthreads);

/* Block sizes and micro-tile of the kernels chosen at run time. */
typedef struct {
    int mr, nr;      /* micro-tile: rows of A x columns of B in registers */
    int mc, kc, nc;  /* cache blocks: A block (L2), B micro-panel depth (L1), B panel (L3) */
} fc_gemm_blocking;
void fc_gemm_get_blocking(int dtype_size, fc_gemm_blocking *out);

/* ---- FMA throughput probe (benchmarks time it to report the peak) ------- */
/* Runs `iters` iterations of independent FMA chains at the active ISA level
 * on `nthreads` threads (<= 0: all); returns the float32 FLOPs executed. */
double fc_fma_probe(long iters, int nthreads);
double fc_fma_probe_ref(long iters);
double fc_fma_probe_avx2(long iters);
double fc_fma_probe_avx512(long iters);

/* ---- micro-kernels --------------------------------------------------------- */
/*
 * One signature per data type.  a: packed MR x kc panel (MR values per k),
 * b: packed kc x NR panel (NR values per k), both 64-byte aligned;
 * c: MR x NR tile, row stride ldc, unit column stride.
 * accumulate == 0: C = A B; accumulate != 0: C += A B.
 */
typedef void (*fc_sgemm_ukernel_fn)(ptrdiff_t kc, const float *a, const float *b,
                                    float *c, ptrdiff_t ldc, int accumulate);
typedef void (*fc_dgemm_ukernel_fn)(ptrdiff_t kc, const double *a, const double *b,
                                    double *c, ptrdiff_t ldc, int accumulate);

void fc_sgemm_ukernel_4x16_ref(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_4x8_ref(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);
void fc_sgemm_ukernel_6x16_avx2(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_6x8_avx2(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);
void fc_sgemm_ukernel_12x32_avx512(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_12x16_avx512(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_H */
