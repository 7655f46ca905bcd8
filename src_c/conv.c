/*
 * conv.c -- 2-D convolution (1-D is the same with a height of 1): forward,
 * input / weight / bias gradients, on the project's GEMM micro-kernels.
 * The per-type code lives in conv_impl.h, included once per type.
 */
#include "conv_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* A 1x1, stride-1, unpadded layer: the image is a GEMM operand as it lies. */
static int conv_plain_1x1(const fc_conv_geom *g)
{
    return g->kernel_h == 1 && g->kernel_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_top == 0 && g->pad_left == 0 && g->out_h == g->in_h && g->out_w == g->in_w;
}

/* The layers the direct kernels take (conv_fwd_direct, conv_impl.h). */
#define FC_DIRECT_MAX_CG 8

static int conv_direct_ok(const fc_conv_geom *g)
{
    const ptrdiff_t Cg = g->in_channels / g->groups, Kg = g->out_channels / g->groups;
    return Cg == 1 || (Kg == 1 && Cg <= FC_DIRECT_MAX_CG);
}

int fc_conv2d_auto_algorithm(const fc_conv_geom *g)
{
    if (conv_direct_ok(g)) return FC_CONV_DIRECT;
    if (fc_winograd_applies(g) && fc_winograd_pays(g)) return FC_CONV_WINOGRAD;
    return FC_CONV_GEMM;
}

/* The threads a convolution of `work` multiply-adds gets: never more than
 * the work can feed (about 64^3 per thread, as the GEMM), so a small call
 * runs serially instead of waking a thread team.  Results never depend on
 * the count. */
static int conv_threads(double work)
{
    int nt = fc_resolve_threads(0);
    const double cap = work / (64.0 * 64.0 * 64.0);
    if (cap < (double)nt) nt = cap < 1.0 ? 1 : (int)cap;
    return nt;
}

/* Multiply-adds of the layer's forward pass (= each gradient's). */
static double conv_work(const fc_conv_geom *g)
{
    return (double)g->batch * (double)g->out_channels * (double)(g->out_h * g->out_w) *
           (double)(g->in_channels / g->groups) * (double)(g->kernel_h * g->kernel_w);
}

#define FT float
#define FSUF _f32
#define FC_CONV_BL s
#define FC_CONV_UK sgemm
#define FC_CONV_GEMM_FN fc_sgemm
#define FC_CONV_IS_F32 1
#include "conv_impl.h"
#undef FT
#undef FSUF
#undef FC_CONV_BL
#undef FC_CONV_UK
#undef FC_CONV_GEMM_FN
#undef FC_CONV_IS_F32
#undef FC_CONV_KC

#define FT double
#define FSUF _f64
#define FC_CONV_BL d
#define FC_CONV_UK dgemm
#define FC_CONV_GEMM_FN fc_dgemm
#define FC_CONV_IS_F32 0
#include "conv_impl.h"
