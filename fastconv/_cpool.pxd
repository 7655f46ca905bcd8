# Cython view of the pooling section of src_c/fastconv.h.
from libc.stdint cimport int64_t, uint64_t

cdef extern from "fastconv.h" nogil:
    enum:
        FC_LAYOUT_NCHW
        FC_LAYOUT_NHWC

    ctypedef struct fc_pool_geom:
        Py_ssize_t batch, channels
        Py_ssize_t in_h, in_w
        Py_ssize_t out_h, out_w
        Py_ssize_t kernel_h, kernel_w
        Py_ssize_t stride_h, stride_w
        Py_ssize_t dilation_h, dilation_w
        Py_ssize_t pad_top, pad_bottom, pad_left, pad_right
        int layout

    int fc_max_pool2d_f32(const fc_pool_geom *g, const float *x, const Py_ssize_t *x_strides,
                          float *y, int64_t *indices)
    int fc_max_pool2d_f64(const fc_pool_geom *g, const double *x, const Py_ssize_t *x_strides,
                          double *y, int64_t *indices)
    int fc_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const Py_ssize_t *x_strides,
                          float *y, int count_include_pad, Py_ssize_t divisor_override)
    int fc_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const Py_ssize_t *x_strides,
                          double *y, int count_include_pad, Py_ssize_t divisor_override)
    int fc_adaptive_max_pool2d_f32(const fc_pool_geom *g, const float *x, const Py_ssize_t *x_strides,
                                   float *y, int64_t *indices)
    int fc_adaptive_max_pool2d_f64(const fc_pool_geom *g, const double *x, const Py_ssize_t *x_strides,
                                   double *y, int64_t *indices)
    int fc_adaptive_avg_pool2d_f32(const fc_pool_geom *g, const float *x, const Py_ssize_t *x_strides,
                                   float *y)
    int fc_adaptive_avg_pool2d_f64(const fc_pool_geom *g, const double *x, const Py_ssize_t *x_strides,
                                   double *y)
    int fc_stochastic_pool2d_f32(const fc_pool_geom *g, const float *x, const Py_ssize_t *x_strides,
                                 float *y, int64_t *indices, uint64_t seed, int training)
    int fc_stochastic_pool2d_f64(const fc_pool_geom *g, const double *x, const Py_ssize_t *x_strides,
                                 double *y, int64_t *indices, uint64_t seed, int training)
    int fc_max_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out,
                                   const int64_t *indices, float *grad_in)
    int fc_max_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out,
                                   const int64_t *indices, double *grad_in)
    int fc_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in,
                                   int count_include_pad, Py_ssize_t divisor_override)
    int fc_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in,
                                   int count_include_pad, Py_ssize_t divisor_override)
    int fc_adaptive_avg_pool2d_backward_f32(const fc_pool_geom *g, const float *grad_out, float *grad_in)
    int fc_adaptive_avg_pool2d_backward_f64(const fc_pool_geom *g, const double *grad_out, double *grad_in)
    int fc_max_unpool2d_f32(const fc_pool_geom *g, const float *x, const int64_t *indices, float *y)
    int fc_max_unpool2d_f64(const fc_pool_geom *g, const double *x, const int64_t *indices, double *y)
    int fc_avg_unpool2d_f32(const fc_pool_geom *g, const float *x, float *y)
    int fc_avg_unpool2d_f64(const fc_pool_geom *g, const double *x, double *y)
