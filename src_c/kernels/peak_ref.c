/*
 * peak_ref.c -- portable throughput probe (multiply-add chains the compiler
 * may vectorise for the baseline ISA); see peak_avx2.c.
 */
#include "../fastconv.h"

double fc_fma_probe_ref(long iters)
{
    float c[32];
    for (int j = 0; j < 32; ++j) c[j] = (float)j; /* distinct chains */
    const float x = 0.999999f, y = 1e-7f;
    for (long i = 0; i < iters; ++i)
        for (int j = 0; j < 32; ++j) c[j] = c[j] * x + y;
    float s = 0;
    for (int j = 0; j < 32; ++j) s += c[j];
    return (double)iters * 32 * 2 + (double)(s * 0.0f);
}
