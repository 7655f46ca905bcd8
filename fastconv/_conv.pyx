# Convolution wrappers: flat C-contiguous memoryviews in, one C call without
# the GIL, status -> exception.  Shapes, dtypes and layouts are checked and
# the outputs allocated by fastconv.conv; these functions only convert.
from fastconv._cconv cimport *
from fastconv._common cimport check_status

include "_isa.pxi"

ctypedef fused floating:
    float
    double


cdef int fill_geom(fc_conv_geom *g, tuple geom) except -1:
    """geom: (batch, in_channels, in_h, in_w, out_channels, out_h, out_w,
    kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
    pad_top, pad_bottom, pad_left, pad_right, groups, layout, algorithm)."""
    (g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.out_h, g.out_w,
     g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
     g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, g.groups, g.layout,
     g.algorithm) = geom
    return 0


def geom_check(tuple geom):
    """0 when the C core accepts the geometry, else its status code."""
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    return fc_conv_geom_check(&g)


def auto_algorithm(tuple geom):
    """The FC_CONV_* algorithm that algorithm="auto" runs for this (checked) forward geometry."""
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    return fc_conv2d_auto_algorithm(&g)


def im2col(tuple geom, const floating[::1] x, floating[::1] col):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_im2col_f32(&g, &x[0], &col[0])
        else:
            st = fc_im2col_f64(&g, &x[0], &col[0])
    check_status(st, "im2col")


def col2im(tuple geom, const floating[::1] col, floating[::1] x):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_col2im_f32(&g, &col[0], &x[0])
        else:
            st = fc_col2im_f64(&g, &col[0], &x[0])
    check_status(st, "col2im")


cdef _with_bias(bint input_grad, tuple geom, const floating[::1] a, const floating[::1] w,
                const floating[::1] bias, floating[::1] out, str what):
    """The forward pass (input_grad False) or the input gradient: both take
    (data, weights, optional bias) and write one array."""
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef const floating *bp = NULL
    if bias is not None:
        bp = &bias[0]
    cdef int st
    with nogil:
        if floating is float:
            if input_grad:
                st = fc_conv2d_backward_input_f32(&g, &a[0], &w[0], bp, &out[0])
            else:
                st = fc_conv2d_forward_f32(&g, &a[0], &w[0], bp, &out[0])
        else:
            if input_grad:
                st = fc_conv2d_backward_input_f64(&g, &a[0], &w[0], bp, &out[0])
            else:
                st = fc_conv2d_forward_f64(&g, &a[0], &w[0], bp, &out[0])
    check_status(st, what)


def forward(tuple geom, const floating[::1] x, const floating[::1] w,
            const floating[::1] bias, floating[::1] y):
    """y = conv2d(x, w) + bias (bias may be None)."""
    _with_bias(False, geom, x, w, bias, y, "conv2d")


def backward_input(tuple geom, const floating[::1] dy, const floating[::1] w,
                   const floating[::1] bias, floating[::1] dx):
    """dx = input gradient of conv2d (+ bias: the transposed convolution)."""
    _with_bias(True, geom, dy, w, bias, dx, "conv2d input gradient")


def backward_weight(tuple geom, const floating[::1] dy, const floating[::1] x, floating[::1] dw):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_conv2d_backward_weight_f32(&g, &dy[0], &x[0], &dw[0])
        else:
            st = fc_conv2d_backward_weight_f64(&g, &dy[0], &x[0], &dw[0])
    check_status(st, "conv2d weight gradient")


def backward_bias(tuple geom, const floating[::1] dy, floating[::1] db):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_conv2d_backward_bias_f32(&g, &dy[0], &db[0])
        else:
            st = fc_conv2d_backward_bias_f64(&g, &dy[0], &db[0])
    check_status(st, "conv2d bias gradient")
