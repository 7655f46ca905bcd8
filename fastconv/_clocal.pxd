# Cython view of the unshared-convolution and fully-connected section of
# src_c/fastconv.h (local.c).
from fastconv._cconv cimport fc_conv_geom

cdef extern from "fastconv.h" nogil:
    int fc_tiled_conv2d_check(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w)

    int fc_tiled_conv2d_forward_f32(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                    const float *x, const float *w, const float *bias,
                                    int bias_per_position, float *y)
    int fc_tiled_conv2d_forward_f64(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                    const double *x, const double *w, const double *bias,
                                    int bias_per_position, double *y)
    int fc_tiled_conv2d_backward_input_f32(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                           const float *dy, const float *w, float *dx)
    int fc_tiled_conv2d_backward_input_f64(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                           const double *dy, const double *w, double *dx)
    int fc_tiled_conv2d_backward_weight_f32(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                            const float *dy, const float *x, float *dw)
    int fc_tiled_conv2d_backward_weight_f64(const fc_conv_geom *g, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                                            const double *dy, const double *x, double *dw)
    int fc_tiled_conv2d_backward_bias_f32(const fc_conv_geom *g, const float *dy, int per_position,
                                          float *db)
    int fc_tiled_conv2d_backward_bias_f64(const fc_conv_geom *g, const double *dy, int per_position,
                                          double *db)

    int fc_linear_forward_f32(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                              const float *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                              const float *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                              const float *bias, float *y)
    int fc_linear_forward_f64(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                              const double *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                              const double *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                              const double *bias, double *y)
    int fc_linear_forward_gemv_f32(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                   const float *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                                   const float *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                                   const float *bias, float *y)
    int fc_linear_forward_gemv_f64(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                   const double *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                                   const double *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                                   const double *bias, double *y)
    int fc_linear_backward_input_f32(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                     const float *dy, const float *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                                     float *dx)
    int fc_linear_backward_input_f64(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                     const double *dy, const double *w, Py_ssize_t rs_w, Py_ssize_t cs_w,
                                     double *dx)
    int fc_linear_backward_weight_f32(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                      const float *dy, const float *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                                      float *dw)
    int fc_linear_backward_weight_f64(Py_ssize_t m, Py_ssize_t in_features, Py_ssize_t out_features,
                                      const double *dy, const double *x, Py_ssize_t rs_x, Py_ssize_t cs_x,
                                      double *dw)
    int fc_linear_backward_bias_f32(Py_ssize_t m, Py_ssize_t out_features, const float *dy, float *db)
    int fc_linear_backward_bias_f64(Py_ssize_t m, Py_ssize_t out_features, const double *dy, double *db)
