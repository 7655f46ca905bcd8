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
int fc_in_forked_child(void);       /* 1 in a child forked from a process that loaded fastconv */
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

/* ---- finiteness ------------------------------------------------------------ */
/* 1 when every value of x[0..n) is finite (no inf or NaN), else 0; on all
 * threads for long arrays. */
int fc_all_finite_f32(const float *x, ptrdiff_t n);
int fc_all_finite_f64(const double *x, ptrdiff_t n);

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
/* half-width companions (nr / 2 columns) used for column edges */
void fc_sgemm_ukernel_4x8_ref(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_4x4_ref(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);
void fc_sgemm_ukernel_6x8_avx2(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_6x4_avx2(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);
void fc_sgemm_ukernel_12x16_avx512(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int);
void fc_dgemm_ukernel_12x8_avx512(ptrdiff_t, const double *, const double *, double *, ptrdiff_t, int);

/* Optional ISA-specific A packing for full mr-row panels with unit column
 * stride: dst[p * mr + i] = alpha * a[i * rs + p]. */
typedef void (*fc_sgemm_pack_a_fn)(ptrdiff_t kc, const float *a, ptrdiff_t rs, float alpha, float *dst);
typedef void (*fc_dgemm_pack_a_fn)(ptrdiff_t kc, const double *a, ptrdiff_t rs, double alpha, double *dst);
void fc_sgemm_pack_a6_avx2(ptrdiff_t, const float *, ptrdiff_t, float, float *);
void fc_dgemm_pack_a6_avx2(ptrdiff_t, const double *, ptrdiff_t, double, double *);
void fc_sgemm_pack_a12_avx2(ptrdiff_t, const float *, ptrdiff_t, float, float *);
void fc_dgemm_pack_a12_avx2(ptrdiff_t, const double *, ptrdiff_t, double, double *);
void fc_sgemm_pack_bt_avx2(ptrdiff_t kc, ptrdiff_t nr, const float *b, ptrdiff_t cs, float *dst);

/* ---- convolution (im2col.c, conv.c) --------------------------------------- */
/*
 * Geometry of one 2-D convolution; a 1-D one is the same with in_h = out_h =
 * kernel_h = 1.  Every field is explicit: Python resolves padding strings and
 * checks shapes before any call.  Arrays are dense in their layout:
 *   NCHW: x (batch, in_channels, in_h, in_w),  y (batch, out_channels, out_h, out_w)
 *   NHWC: x (batch, in_h, in_w, in_channels),  y (batch, out_h, out_w, out_channels)
 *   weight always (out_channels, in_channels / groups, kernel_h, kernel_w).
 * Output (oh, ow) reads input row oh * stride_h - pad_top + r * dilation_h and
 * column ow * stride_w - pad_left + s * dilation_w (cross-correlation); reads
 * outside the input are zeros.  out_h / out_w may be smaller than the largest
 * that fits (a transposed convolution's output_padding); pad_bottom and
 * pad_right are only checked.
 */
enum { FC_LAYOUT_NCHW = 0, FC_LAYOUT_NHWC = 1 };
enum {
    FC_CONV_AUTO = 0,     /* the library chooses per layer                  */
    FC_CONV_GEMM = 1,     /* implicit GEMM (im2col gathered while packing)  */
    FC_CONV_DIRECT = 2,   /* direct SIMD loops: depthwise (in_channels / groups == 1) only */
    FC_CONV_WINOGRAD = 3  /* Winograd F(2x2, 3x3): 3x3, stride 1, dilation 1 only */
};

typedef struct {
    ptrdiff_t batch, in_channels, in_h, in_w;
    ptrdiff_t out_channels, out_h, out_w;
    ptrdiff_t kernel_h, kernel_w;
    ptrdiff_t stride_h, stride_w;
    ptrdiff_t dilation_h, dilation_w;
    ptrdiff_t pad_top, pad_bottom, pad_left, pad_right;
    ptrdiff_t groups;
    int layout;       /* FC_LAYOUT_*                        */
    int algorithm;    /* FC_CONV_*, read by the forward pass */
} fc_conv_geom;

/* FC_OK when every field is in its domain and consistent, else FC_EINVAL. */
int fc_conv_geom_check(const fc_conv_geom *g);
/* The algorithm FC_CONV_AUTO runs for this layer's forward pass:
 * FC_CONV_DIRECT, FC_CONV_WINOGRAD or FC_CONV_GEMM (g must pass the check). */
int fc_conv2d_auto_algorithm(const fc_conv_geom *g);

/* im2col: col is (batch, in_channels*kernel_h*kernel_w, out_h*out_w) for NCHW
 * (rows ordered channel, kernel row, kernel column: torch's unfold) and
 * (batch, out_h*out_w, kernel_h*kernel_w*in_channels) for NHWC.  col2im sums
 * every window back into x (torch's fold) and overwrites x.  groups and
 * out_channels are ignored. */
int fc_im2col_f32(const fc_conv_geom *g, const float *x, float *col);
int fc_im2col_f64(const fc_conv_geom *g, const double *x, double *col);
int fc_col2im_f32(const fc_conv_geom *g, const float *col, float *x);
int fc_col2im_f64(const fc_conv_geom *g, const double *col, double *x);

/* y = conv2d(x, w) (+ bias[k] when bias != NULL). */
int fc_conv2d_forward_f32(const fc_conv_geom *g, const float *x, const float *w,
                          const float *bias, float *y);
int fc_conv2d_forward_f64(const fc_conv_geom *g, const double *x, const double *w,
                          const double *bias, double *y);
/* dx = gradient of conv2d with respect to x for output gradient dy
 * (+ bias[c] when bias != NULL: then it is the transposed convolution of dy). */
int fc_conv2d_backward_input_f32(const fc_conv_geom *g, const float *dy, const float *w,
                                 const float *bias, float *dx);
int fc_conv2d_backward_input_f64(const fc_conv_geom *g, const double *dy, const double *w,
                                 const double *bias, double *dx);
/* dw (overwritten) = gradient with respect to the weight. */
int fc_conv2d_backward_weight_f32(const fc_conv_geom *g, const float *dy, const float *x, float *dw);
int fc_conv2d_backward_weight_f64(const fc_conv_geom *g, const double *dy, const double *x, double *dw);
/* db[k] = sum of dy over batch and pixels. */
int fc_conv2d_backward_bias_f32(const fc_conv_geom *g, const float *dy, float *db);
int fc_conv2d_backward_bias_f64(const fc_conv_geom *g, const double *dy, double *db);

/* ---- pooling (pool.c) -------------------------------------------------------- */
/*
 * Geometry of one 2-D pooling (a 1-D one has in_h = out_h = kernel_h = 1).
 * "in" is the larger plane (the pooling input, its gradient, the unpooled
 * output), "out" the pooled one.  Window (oh, ow) covers input rows
 * oh * stride_h - pad_top + i * dilation_h (i < kernel_h) and the matching
 * columns; cells outside the input are padding: they never win a max and
 * count in an average's divisor only with count_include_pad, up to
 * pad_bottom / pad_right (which matter for nothing else).  out_h / out_w are
 * the caller's (Python applies PyTorch's size rule).  Adaptive functions
 * ignore kernel, stride, dilation and padding: window o spans
 * [floor(o * in / out), ceil((o + 1) * in / out)).
 *
 * Arrays are dense in their layout (FC_LAYOUT_*): (batch, channels, h, w) for
 * NCHW, (batch, h, w, channels) for NHWC, except the forward input x, which
 * may be any view: x_strides holds its element strides in the order
 * (batch, channels, h, w) (NULL: dense), with unit stride along w (NCHW) or
 * the channels (NHWC).  Every output is fully overwritten.  Indices are int64
 * positions ih * in_w + iw within a plane, in the layout of the pooled array;
 * an index outside the plane makes backward and unpooling return FC_EINVAL.
 * Results are bitwise identical for any thread count.
 */
typedef struct {
    ptrdiff_t batch, channels;
    ptrdiff_t in_h, in_w;
    ptrdiff_t out_h, out_w;
    ptrdiff_t kernel_h, kernel_w;
    ptrdiff_t stride_h, stride_w;
    ptrdiff_t dilation_h, dilation_w;
    ptrdiff_t pad_top, pad_bottom, pad_left, pad_right;
    int layout;       /* FC_LAYOUT_* */
} fc_pool_geom;

/* y = max over each window (NaN wins, as in PyTorch); indices may be NULL. */
int fc_max_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides,
                      float *y, int64_t *indices);
int fc_max_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides,
                      double *y, int64_t *indices);
/* y = sum over each window / divisor: divisor_override when non-zero, else the
 * window's size with (count_include_pad) or without its padded cells. */
int fc_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides,
                      float *y, int count_include_pad, ptrdiff_t divisor_override);
int fc_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides,
                      double *y, int count_include_pad, ptrdiff_t divisor_override);
int fc_adaptive_max_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides,
                               float *y, int64_t *indices);
int fc_adaptive_max_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides,
                               double *y, int64_t *indices);
int fc_adaptive_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides,
                               float *y);
int fc_adaptive_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides,
                               double *y);
/* Stochastic pooling of non-negative x (no padding, no dilation).  training:
 * each window outputs one of its values, drawn with probability a_i / sum(a)
 * from a counter-based hash of (seed, the output's NCHW position), so any
 * thread count and either layout give the same draws; an all-zero window
 * outputs 0 (and its first cell).  Otherwise sum(a^2) / sum(a). */
int fc_stochastic_pool2d_f32(const fc_pool_geom *g, const float *x, const ptrdiff_t *x_strides,
                             float *y, int64_t *indices, uint64_t seed, int training);
int fc_stochastic_pool2d_f64(const fc_pool_geom *g, const double *x, const ptrdiff_t *x_strides,
                             double *y, int64_t *indices, uint64_t seed, int training);
/* grad_in = 0, then grad_in[plane][indices] += grad_out (max, adaptive max and
 * stochastic pooling). */
int fc_max_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out,
                               const int64_t *indices, float *grad_in);
int fc_max_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out,
                               const int64_t *indices, double *grad_in);
/* grad_in = each grad_out / its divisor spread over its window (no dilation). */
int fc_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in,
                               int count_include_pad, ptrdiff_t divisor_override);
int fc_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in,
                               int count_include_pad, ptrdiff_t divisor_override);
int fc_adaptive_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in);
int fc_adaptive_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in);
/* y (the "in" shape) = 0, then y[plane][indices] = x (the "out" shape); the
 * last write to a cell wins, in row-major order. */
int fc_max_unpool2d_f32(const fc_pool_geom *g, const float *x, const int64_t *indices, float *y);
int fc_max_unpool2d_f64(const fc_pool_geom *g, const double *x, const int64_t *indices, double *y);
/* y (the "in" shape): each cell the mean of x over the windows covering it,
 * 0 where none does (no dilation). */
int fc_avg_unpool2d_f32(const fc_pool_geom *g, const float *x, float *y);
int fc_avg_unpool2d_f64(const fc_pool_geom *g, const double *x, double *y);

/* ---- signal filtering (signal.c) ------------------------------------------ */
/*
 * Direct 2-D cross-correlation of a stack of planes with SciPy's boundary
 * rules: the engine of fastconv.convolve / correlate / convolve2d /
 * correlate2d / filter2d.  A 1-D signal is a plane of one row; a convolution
 * is a correlation with the flipped kernel (Python flips it).
 *
 *   y_m[i][oh][ow] = sum over c < channels, r < kernel_h, s < kernel_w of
 *                    k[k_off[(i*outputs + m)*channels + c] + r*kernel_w + s]
 *                  * xe_c(oh - pad_top + r, ow - pad_left + s)
 *
 * for every group i < items and output m < outputs (a group's input planes
 * are gathered once for all its outputs), accumulated from zero in an order
 * fixed by the ISA level, never by the tiling or the thread count.
 * xe_c(u, v) is input plane x + x_off[i*channels + c] extended beyond its
 * in_h x in_w elements (element (u, v) at u*in_rs + v*in_cs, any strides):
 * FC_BOUNDARY_FILL reads fill[c] outside the plane, FC_BOUNDARY_WRAP is
 * periodic, FC_BOUNDARY_SYMM mirrors with the edge repeated
 * (... 1 0 | 0 1 ... n-1 | n-1 n-2 ...), both as far as needed; they need
 * in_h, in_w >= 1.  Kernels are dense kernel_h x kernel_w at k + k_off[...].
 * y is dense: (items, outputs, out_h, out_w) with interleave = 0, (items,
 * out_h, out_w, outputs) with interleave = 1.  A complex correlation is two
 * channels (real and imaginary parts) and two interleaved outputs, written
 * straight into a complex array.  The i32 / i64 variants compute modulo
 * 2^32 / 2^64, so truncating the result to an integer type of at most that
 * width gives NumPy's and SciPy's wrap-around.  Results are bitwise
 * identical for every thread count.
 */
enum { FC_BOUNDARY_FILL = 0, FC_BOUNDARY_WRAP = 1, FC_BOUNDARY_SYMM = 2 };

typedef struct {
    ptrdiff_t items, channels;          /* input groups; input planes per group    */
    ptrdiff_t outputs;                  /* output planes per group (>= 1)          */
    ptrdiff_t in_h, in_w;               /* input plane (may be 0 with FILL)        */
    ptrdiff_t in_rs, in_cs;             /* element strides of its rows, columns    */
    ptrdiff_t kernel_h, kernel_w;       /* >= 1                                    */
    ptrdiff_t out_h, out_w;             /* >= 1                                    */
    ptrdiff_t pad_top, pad_left;        /* output (0, 0) reads xe(-pad_top, -pad_left) */
    int boundary;                       /* FC_BOUNDARY_*                           */
    int interleave;                     /* y layout: 0 planes, 1 outputs innermost */
} fc_corr2d_geom;

/* FC_OK when every field is in its domain, else FC_EINVAL (or FC_EOVERFLOW). */
int fc_corr2d_geom_check(const fc_corr2d_geom *g);
int fc_corr2d_f32(const fc_corr2d_geom *g, const float *x, const ptrdiff_t *x_off,
                  const float *k, const ptrdiff_t *k_off, const float *fill, float *y);
int fc_corr2d_f64(const fc_corr2d_geom *g, const double *x, const ptrdiff_t *x_off,
                  const double *k, const ptrdiff_t *k_off, const double *fill, double *y);
int fc_corr2d_i32(const fc_corr2d_geom *g, const int32_t *x, const ptrdiff_t *x_off,
                  const int32_t *k, const ptrdiff_t *k_off, const int32_t *fill, int32_t *y);
int fc_corr2d_i64(const fc_corr2d_geom *g, const int64_t *x, const ptrdiff_t *x_off,
                  const int64_t *k, const ptrdiff_t *k_off, const int64_t *fill, int64_t *y);

/* ---- unshared convolutions and the fully connected layer (local.c) ------- */
/*
 * Tiled convolution: output position (i, j) uses the filter bank
 * w[i % tiles_h][j % tiles_w]; the locally connected (unshared) layer is the
 * tiled convolution with tiles_h = out_h and tiles_w = out_w, an ordinary
 * convolution the one with 1 x 1 tiles.  g is the geometry of fastconv's
 * convolutions (groups must be 1; algorithm is ignored) and the arrays are
 * dense in g->layout:
 *   w     (tiles_h, tiles_w, out_channels, in_channels, kernel_h, kernel_w)
 *   bias  NULL, (out_channels) or, with bias_per_position, (out_channels, out_h, out_w)
 * Tiles larger than the output are allowed: the banks past it are unused
 * (their weight gradient is zero).  Workspaces are bounded (cache-sized
 * blocks per thread; the forward pass adds a transposed, zero-padded copy of
 * a block of images: about 2^20 elements, or one micro-panel's worth of
 * images when those are larger); results are bitwise identical for any
 * thread count.
 */
int fc_tiled_conv2d_check(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w);
int fc_tiled_conv2d_forward_f32(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                const float *x, const float *w, const float *bias,
                                int bias_per_position, float *y);
int fc_tiled_conv2d_forward_f64(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                const double *x, const double *w, const double *bias,
                                int bias_per_position, double *y);
/* dx (overwritten) = gradient with respect to x for output gradient dy. */
int fc_tiled_conv2d_backward_input_f32(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                       const float *dy, const float *w, float *dx);
int fc_tiled_conv2d_backward_input_f64(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                       const double *dy, const double *w, double *dx);
/* dw (overwritten) = gradient with respect to the weights. */
int fc_tiled_conv2d_backward_weight_f32(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                        const float *dy, const float *x, float *dw);
int fc_tiled_conv2d_backward_weight_f64(const fc_conv_geom *g, ptrdiff_t tiles_h, ptrdiff_t tiles_w,
                                        const double *dy, const double *x, double *dw);
/* db = dy summed over the images (per_position: shape (out_channels, out_h,
 * out_w)) or over the images and positions (shape (out_channels)). */
int fc_tiled_conv2d_backward_bias_f32(const fc_conv_geom *g, const float *dy, int per_position, float *db);
int fc_tiled_conv2d_backward_bias_f64(const fc_conv_geom *g, const double *dy, int per_position, double *db);

/*
 * Fully connected layer, y = x . w^T + bias (torch.nn.functional.linear):
 * x (m, in_features) and w (out_features, in_features) take any element
 * strides; y, dy, dx, dw and db are dense.  A few rows (batch 1) run as
 * dot / axpy loops that stream w once; more run on the GEMM.
 */
int fc_linear_forward_f32(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                          const float *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                          const float *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const float *bias, float *y);
int fc_linear_forward_f64(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                          const double *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                          const double *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const double *bias, double *y);
/* The same product, not bound to the GEMM's sums: float32 with at most 16
 * rows (x and w rows contiguous, AVX2 or above) as one dot product per
 * output in a fixed order (the same for every thread count and ISA level,
 * but not the batched GEMM's row bits); anything else as fc_linear_forward. */
int fc_linear_forward_gemv_f32(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                               const float *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                               const float *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const float *bias, float *y);
int fc_linear_forward_gemv_f64(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                               const double *x, ptrdiff_t rs_x, ptrdiff_t cs_x,
                               const double *w, ptrdiff_t rs_w, ptrdiff_t cs_w, const double *bias, double *y);
/* dx (m, in_features) = dy (m, out_features) . w */
int fc_linear_backward_input_f32(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                 const float *dy, const float *w, ptrdiff_t rs_w, ptrdiff_t cs_w, float *dx);
int fc_linear_backward_input_f64(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                 const double *dy, const double *w, ptrdiff_t rs_w, ptrdiff_t cs_w, double *dx);
/* dw (out_features, in_features) = dy^T . x */
int fc_linear_backward_weight_f32(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                  const float *dy, const float *x, ptrdiff_t rs_x, ptrdiff_t cs_x, float *dw);
int fc_linear_backward_weight_f64(ptrdiff_t m, ptrdiff_t in_features, ptrdiff_t out_features,
                                  const double *dy, const double *x, ptrdiff_t rs_x, ptrdiff_t cs_x, double *dw);
/* db (out_features) = the column sums of dy (m, out_features) */
int fc_linear_backward_bias_f32(ptrdiff_t m, ptrdiff_t out_features, const float *dy, float *db);
int fc_linear_backward_bias_f64(ptrdiff_t m, ptrdiff_t out_features, const double *dy, double *db);

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_H */
