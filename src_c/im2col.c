/*
 * im2col.c -- im2col / col2im for both layouts, with stride, dilation and
 * asymmetric padding, and the geometry check every convolution entry point
 * runs first.  The per-type code lives in im2col_impl.h.
 */
#include "conv_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

int fc_conv_geom_check(const fc_conv_geom *g)
{
    if (!g) return FC_EINVAL;
    if (g->batch < 0 || g->in_channels < 1 || g->in_h < 1 || g->in_w < 1) return FC_EINVAL;
    if (g->out_channels < 1 || g->out_h < 1 || g->out_w < 1) return FC_EINVAL;
    if (g->kernel_h < 1 || g->kernel_w < 1 || g->stride_h < 1 || g->stride_w < 1) return FC_EINVAL;
    if (g->dilation_h < 1 || g->dilation_w < 1) return FC_EINVAL;
    if (g->pad_top < 0 || g->pad_bottom < 0 || g->pad_left < 0 || g->pad_right < 0) return FC_EINVAL;
    if (g->groups < 1 || g->in_channels % g->groups || g->out_channels % g->groups) return FC_EINVAL;
    if (g->layout != FC_LAYOUT_NCHW && g->layout != FC_LAYOUT_NHWC) return FC_EINVAL;
    if (g->algorithm < FC_CONV_AUTO || g->algorithm > FC_CONV_WINOGRAD) return FC_EINVAL;
    /* the last window must fit inside the padded input (in double: no overflow) */
    double need_h = (double)(g->out_h - 1) * g->stride_h + (double)g->dilation_h * (g->kernel_h - 1) + 1;
    double need_w = (double)(g->out_w - 1) * g->stride_w + (double)g->dilation_w * (g->kernel_w - 1) + 1;
    if (need_h > (double)g->in_h + g->pad_top + g->pad_bottom) return FC_EINVAL;
    if (need_w > (double)g->in_w + g->pad_left + g->pad_right) return FC_EINVAL;
    /* the largest array any call indexes must be addressable */
    size_t t;
    if (fc_size_mul3((size_t)g->in_channels, (size_t)g->kernel_h, (size_t)g->kernel_w, &t) ||
        fc_size_mul3(t, (size_t)g->out_h, (size_t)g->out_w, &t) || t > (size_t)PTRDIFF_MAX / 8)
        return FC_EOVERFLOW;
    return FC_OK;
}

#define FT float
#define FSUF _f32
#include "im2col_impl.h"
#undef FT
#undef FSUF

#define FT double
#define FSUF _f64
#include "im2col_impl.h"
#undef FT
#undef FSUF
