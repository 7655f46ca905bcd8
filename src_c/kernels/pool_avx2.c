/*
 * pool_avx2.c -- the pooling drivers of pool_impl.h compiled with AVX2 + FMA.
 *
 * The row and pixel loops of the template vectorise to 256-bit code when
 * compiled with these flags (stride-2 windows to a two-load de-interleave, the
 * NaN-propagating max to max + compare + blend).  The only intrinsics are the
 * streaming stores below, which the template uses for outputs too large for
 * the caches.  pool.c selects these tables when fc_isa_active() >= FC_ISA_AVX2.
 */
#include <immintrin.h>
#include <stdint.h>

#include "../pool_impl.h"

/* dst[0..n) = src[0..n): plain stores up to a cache-line boundary, then
 * non-temporal 256-bit stores, plain stores for the tail. */
static inline void stream_f32(float *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_f64(double *dst, const double *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 4 <= n; i += 4) _mm256_stream_pd(dst + i, _mm256_loadu_pd(src + i));
    for (; i < n; ++i) dst[i] = src[i];
}

static inline void stream_i64(int64_t *dst, const int64_t *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & 63); ++i) dst[i] = src[i];
    for (; i + 4 <= n; i += 4)
        _mm256_stream_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
    for (; i < n; ++i) dst[i] = src[i];
}

#define FC_POOL_STREAM_I64(dst, src, n) stream_i64(dst, src, n)
#define FC_POOL_STREAM_FENCE() _mm_sfence()

#define FT float
#define FSUF _f32_avx2
#define FC_POOL_OPS_T fc_pool_ops_f32
#define FC_POOL_OPS fc_pool_ops_f32_avx2
#define FC_POOL_STREAM_FT(dst, src, n) stream_f32(dst, src, n)
#include "../pool_impl.h"
#undef FT
#undef FSUF
#undef FC_POOL_OPS_T
#undef FC_POOL_OPS
#undef FC_POOL_STREAM_FT

#define FT double
#define FSUF _f64_avx2
#define FC_POOL_OPS_T fc_pool_ops_f64
#define FC_POOL_OPS fc_pool_ops_f64_avx2
#define FC_POOL_STREAM_FT(dst, src, n) stream_f64(dst, src, n)
#include "../pool_impl.h"
