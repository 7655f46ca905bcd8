/*
 * cpu.c -- CPU feature detection, the kernel table, threads and aligned
 * allocation.
 *
 * A wide-register ISA is usable only if the CPU implements it (CPUID) *and*
 * the operating system saves its registers on a context switch (XGETBV on
 * XCR0): a kernel that passes CPUID alone can fault or corrupt state under an
 * OS or hypervisor that masks AVX-512.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define FC_X86_64 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

/* ---- feature detection ------------------------------------------------- */

#ifdef FC_X86_64
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER)
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    for (int i = 0; i < 4; ++i) r[i] = (unsigned)v[i];
#else
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

static unsigned long long xgetbv0(void)
{
#if defined(_MSC_VER)
    return _xgetbv(0);
#else
    unsigned lo, hi;
    /* encoded as bytes so that no -mxsave flag is needed */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
#endif
}

static int detect_best(void)
{
#ifdef FC_TESTING_ASSUME_ISA
    /* test builds only: kernels compiled against an emulation header */
    return FC_TESTING_ASSUME_ISA;
#endif
    unsigned r[4];
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    if (max_leaf < 7) return FC_ISA_GENERIC;

    cpuid(1, 0, r);
    int has_fma = (r[2] >> 12) & 1;
    int has_osxsave = (r[2] >> 27) & 1;
    int has_avx = (r[2] >> 28) & 1;
    if (!has_osxsave || !has_avx) return FC_ISA_GENERIC;

    unsigned long long xcr0 = xgetbv0();
    int os_avx = (xcr0 & 0x6) == 0x6;            /* XMM and YMM state      */
    int os_avx512 = (xcr0 & 0xe6) == 0xe6;       /* + opmask, ZMM_Hi256, Hi16_ZMM */

    cpuid(7, 0, r);
    int has_avx2 = (r[1] >> 5) & 1;
    int has_avx512f = (r[1] >> 16) & 1;

    if (has_avx512f && has_avx2 && has_fma && os_avx512) return FC_ISA_AVX512;
    if (has_avx2 && has_fma && os_avx) return FC_ISA_AVX2;
    return FC_ISA_GENERIC;
}
#else
static int detect_best(void) { return FC_ISA_GENERIC; }
#endif

int fc_isa_compiled(int level)
{
    switch (level) {
    case FC_ISA_GENERIC: return 1;
#ifdef FC_HAVE_X86_KERNELS
    case FC_ISA_AVX2: return 1;
    case FC_ISA_AVX512: return 1;
#endif
    default: return 0;
    }
}

/* ---- kernel tables ------------------------------------------------------- */
/*
 * Block sizes: a kc x nr micro-panel of B stays in L1 (32 KiB), an mc x kc
 * block of A in half of L2, a kc x nc panel of B in L3.  mc is a multiple of
 * mr and nc of nr.
 */
static const fc_kernel_table table_generic = {
    {4, 16, 128, 256, 4096},
    {4, 8, 64, 256, 2048},
    fc_sgemm_ukernel_4x16_ref,
    fc_dgemm_ukernel_4x8_ref,
    NULL,
    NULL,
    fc_sgemm_ukernel_4x8_ref,
    fc_dgemm_ukernel_4x4_ref,
};

#ifdef FC_HAVE_X86_KERNELS
static const fc_kernel_table table_avx2 = {
    {6, 16, 72, 512, 4080},
    {6, 8, 72, 256, 2040},
    fc_sgemm_ukernel_6x16_avx2,
    fc_dgemm_ukernel_6x8_avx2,
    fc_sgemm_pack_a6_avx2,
    fc_dgemm_pack_a6_avx2,
    fc_sgemm_ukernel_6x8_avx2,
    fc_dgemm_ukernel_6x4_avx2,
};

static const fc_kernel_table table_avx512 = {
    {12, 32, 240, 192, 3072},
    {12, 16, 120, 192, 1536},
    fc_sgemm_ukernel_12x32_avx512,
    fc_dgemm_ukernel_12x16_avx512,
    fc_sgemm_pack_a12_avx2,
    fc_dgemm_pack_a12_avx2,
    fc_sgemm_ukernel_12x16_avx512,
    fc_dgemm_ukernel_12x8_avx512,
};
#endif

static int best_level = -1;
static int active_level = -1;

int fc_isa_best(void)
{
    if (best_level < 0) {
        int b = detect_best();
        while (b > 0 && !fc_isa_compiled(b)) --b;
        best_level = b;
    }
    return best_level;
}

int fc_isa_active(void)
{
    if (active_level < 0) active_level = fc_isa_best();
    return active_level;
}

int fc_isa_set(int level)
{
    if (level < FC_ISA_GENERIC || level > FC_ISA_AVX512) return FC_EINVAL;
    if (level > fc_isa_best()) return FC_EUNSUPPORTED;
    active_level = level;
    return FC_OK;
}

const char *fc_isa_name(int level)
{
    switch (level) {
    case FC_ISA_GENERIC: return "generic";
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

const fc_kernel_table *fc_kernels(void)
{
    switch (fc_isa_active()) {
#ifdef FC_HAVE_X86_KERNELS
    case FC_ISA_AVX512: return &table_avx512;
    case FC_ISA_AVX2: return &table_avx2;
#endif
    default: return &table_generic;
    }
}

void fc_gemm_get_blocking(int dtype_size, fc_gemm_blocking *out)
{
    const fc_kernel_table *t = fc_kernels();
    *out = dtype_size == 4 ? t->s : t->d;
}

/* ---- threads --------------------------------------------------------------- */
/*
 * Fork safety: GNU libgomp's thread pool does not survive fork(); a child
 * that enters a parallel region after the parent has used one waits forever
 * for threads that do not exist.  A child handler registered when the
 * module loads marks forked children, and they run every kernel on the
 * calling thread only (serial, same results: work is split along outputs).
 * Use the "spawn" or "forkserver" start methods to get threads in workers.
 */
#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define FC_FORK_GUARD 1
static volatile int in_forked_child = 0;
static void mark_forked_child(void) { in_forked_child = 1; }
__attribute__((constructor)) static void register_fork_guard(void)
{
    pthread_atfork(NULL, NULL, mark_forked_child);
}
#endif

int fc_in_forked_child(void)
{
#ifdef FC_FORK_GUARD
    return in_forked_child;
#else
    return 0;
#endif
}

int fc_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fc_openmp_version(void)
{
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

int fc_get_num_threads(void)
{
#ifdef _OPENMP
    if (fc_in_forked_child()) return 1;
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void fc_set_num_threads(int n)
{
#ifdef _OPENMP
    if (n >= 1) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int fc_resolve_threads(int requested)
{
#ifdef _OPENMP
    if (omp_in_parallel() || fc_in_forked_child()) return 1;
    int n = requested > 0 ? requested : omp_get_max_threads();
    return n < 1 ? 1 : n;
#else
    (void)requested;
    return 1;
#endif
}

const char *fc_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

/* ---- FMA probe ---------------------------------------------------------- */

double fc_fma_probe(long iters, int nthreads)
{
    double (*probe)(long) = fc_fma_probe_ref;
#ifdef FC_HAVE_X86_KERNELS
    if (fc_isa_active() == FC_ISA_AVX512) probe = fc_fma_probe_avx512;
    else if (fc_isa_active() == FC_ISA_AVX2) probe = fc_fma_probe_avx2;
#endif
    int nt = fc_resolve_threads(nthreads);
    double flops = 0;
#pragma omp parallel num_threads(nt) reduction(+ : flops)
    flops += probe(iters);
    return flops;
}

/* ---- memory --------------------------------------------------------------- */

int fc_size_mul3(size_t a, size_t b, size_t c, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return FC_EOVERFLOW;
    size_t ab = a * b;
    if (ab != 0 && c > SIZE_MAX / ab) return FC_EOVERFLOW;
    *out = ab * c;
    return FC_OK;
}

void *fc_aligned_alloc(size_t bytes)
{
    if (bytes == 0) bytes = FC_ALIGN;
    if (bytes > SIZE_MAX - FC_ALIGN) return NULL;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, FC_ALIGN);
#else
    void *p = NULL;
    if (posix_memalign(&p, FC_ALIGN, bytes) != 0) return NULL;
    return p;
#endif
}

void fc_aligned_free(void *p)
{
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    free(p);
#endif
}
