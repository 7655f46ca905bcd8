/*
 * winograd.c -- Winograd F(2x2, 3x3) convolution (3x3, stride 1, dilation 1,
 * one group, either layout) on the project's GEMM micro-kernels.  The per-type code
 * lives in winograd_impl.h; the AVX2 transforms in kernels/winograd_avx2.c.
 */
#include "conv_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int fc_winograd_applies(const fc_conv_geom *g)
{
    return g->kernel_h == 3 && g->kernel_w == 3 && g->stride_h == 1 && g->stride_w == 1 &&
           g->dilation_h == 1 && g->dilation_w == 1 && g->groups == 1;
}

/* Worth it over the direct implicit GEMM: enough channels for the GEMMs, and
 * enough tiles that transforming 16/9 times the weights is paid back (the
 * transformed weights are read once per tile block). */
int fc_winograd_pays(const fc_conv_geom *g)
{
    /* (float32 on AVX-512 too: with the AVX2 transforms writing the 12x32
     * kernel's 32-wide panels, VGG 3x3 128 (batch 8, 56x56) measured 1.46x /
     * 1.24x the indirect GEMM at one thread (NCHW / NHWC), ResNet's 3x3 64
     * (batch 1, 56x56) 1.29x / 1.21x; on few tiles per weight, ResNet's
     * 14x14 and 7x7 stages, the weight transform costs more than it saves) */
    const double tiles = (double)g->batch * ((g->out_h + 1) / 2) * (((g->out_w + 1) / 2 + 7) / 8 * 8);
    const double widest = (double)FC_MAX(g->in_channels, g->out_channels);
    return g->in_channels >= 16 && g->out_channels >= 16 && tiles >= 4 * widest;
}

#define FT float
#define FSUF _f32
#define WINO_BL s
#define WINO_UK sgemm
#define WINO_IS_F32 1
#include "winograd_impl.h"
#undef FT
#undef FSUF
#undef WINO_BL
#undef WINO_UK
#undef WINO_IS_F32
#undef WINO_TB
#undef WINO_KCB
#undef WINO_KC

#define FT double
#define FSUF _f64
#define WINO_BL d
#define WINO_UK dgemm
#define WINO_IS_F32 0
#include "winograd_impl.h"
