# Cython view of the convolution section of src_c/fastconv.h.

cdef extern from "fastconv.h" nogil:
    enum:
        FC_LAYOUT_NCHW
        FC_LAYOUT_NHWC

    enum:
        FC_CONV_AUTO
        FC_CONV_GEMM
        FC_CONV_DIRECT
        FC_CONV_WINOGRAD

    ctypedef struct fc_conv_geom:
        Py_ssize_t batch, in_channels, in_h, in_w
        Py_ssize_t out_channels, out_h, out_w
        Py_ssize_t kernel_h, kernel_w
        Py_ssize_t stride_h, stride_w
        Py_ssize_t dilation_h, dilation_w
        Py_ssize_t pad_top, pad_bottom, pad_left, pad_right
        Py_ssize_t groups
        int layout
        int algorithm

    int fc_conv_geom_check(const fc_conv_geom *g)
    int fc_conv2d_auto_algorithm(const fc_conv_geom *g)

    int fc_im2col_f32(const fc_conv_geom *g, const float *x, float *col)
    int fc_im2col_f64(const fc_conv_geom *g, const double *x, double *col)
    int fc_col2im_f32(const fc_conv_geom *g, const float *col, float *x)
    int fc_col2im_f64(const fc_conv_geom *g, const double *col, double *x)

    int fc_conv2d_forward_f32(const fc_conv_geom *g, const float *x, const float *w,
                              const float *bias, float *y)
    int fc_conv2d_forward_f64(const fc_conv_geom *g, const double *x, const double *w,
                              const double *bias, double *y)
    int fc_conv2d_backward_input_f32(const fc_conv_geom *g, const float *dy, const float *w,
                                     const float *bias, float *dx)
    int fc_conv2d_backward_input_f64(const fc_conv_geom *g, const double *dy, const double *w,
                                     const double *bias, double *dx)
    int fc_conv2d_backward_weight_f32(const fc_conv_geom *g, const float *dy, const float *x,
                                      float *dw)
    int fc_conv2d_backward_weight_f64(const fc_conv_geom *g, const double *dy, const double *x,
                                      double *dw)
    int fc_conv2d_backward_bias_f32(const fc_conv_geom *g, const float *dy, float *db)
    int fc_conv2d_backward_bias_f64(const fc_conv_geom *g, const double *dy, double *db)
