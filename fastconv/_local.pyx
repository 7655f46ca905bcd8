# Unshared-convolution and fully-connected wrappers: typed memoryviews in,
# one C call without the GIL, status -> exception.  Shapes, dtypes and
# layouts are checked and the outputs allocated by fastconv.local; these
# functions only convert.
from fastconv._cconv cimport fc_conv_geom
from fastconv._clocal cimport *
from fastconv._common cimport check_status

include "_isa.pxi"

ctypedef fused floating:
    float
    double


cdef int fill_geom(fc_conv_geom *g, tuple geom) except -1:
    """geom: (batch, in_channels, in_h, in_w, out_channels, out_h, out_w,
    kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
    pad_top, pad_bottom, pad_left, pad_right, groups, layout, algorithm),
    the tuple fastconv.conv builds."""
    (g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.out_h, g.out_w,
     g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
     g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, g.groups, g.layout,
     g.algorithm) = geom
    return 0


def check(tuple geom, Py_ssize_t tiles_h, Py_ssize_t tiles_w):
    """0 when the C core accepts the geometry and tiles, else its status code."""
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    return fc_tiled_conv2d_check(&g, tiles_h, tiles_w)


def tiled_forward(tuple geom, Py_ssize_t tiles_h, Py_ssize_t tiles_w, const floating[::1] x,
                  const floating[::1] w, const floating[::1] bias, bint bias_per_position,
                  floating[::1] y):
    """y = tiled_conv2d(x, w) + bias (bias may be None)."""
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef const floating *bp = NULL
    if bias is not None:
        bp = &bias[0]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_tiled_conv2d_forward_f32(&g, tiles_h, tiles_w, &x[0], &w[0], bp,
                                             bias_per_position, &y[0])
        else:
            st = fc_tiled_conv2d_forward_f64(&g, tiles_h, tiles_w, &x[0], &w[0], bp,
                                             bias_per_position, &y[0])
    check_status(st, "tiled_conv2d")


def tiled_backward_input(tuple geom, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                         const floating[::1] dy, const floating[::1] w, floating[::1] dx):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_tiled_conv2d_backward_input_f32(&g, tiles_h, tiles_w, &dy[0], &w[0], &dx[0])
        else:
            st = fc_tiled_conv2d_backward_input_f64(&g, tiles_h, tiles_w, &dy[0], &w[0], &dx[0])
    check_status(st, "tiled_conv2d input gradient")


def tiled_backward_weight(tuple geom, Py_ssize_t tiles_h, Py_ssize_t tiles_w,
                          const floating[::1] dy, const floating[::1] x, floating[::1] dw):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_tiled_conv2d_backward_weight_f32(&g, tiles_h, tiles_w, &dy[0], &x[0], &dw[0])
        else:
            st = fc_tiled_conv2d_backward_weight_f64(&g, tiles_h, tiles_w, &dy[0], &x[0], &dw[0])
    check_status(st, "tiled_conv2d weight gradient")


def tiled_backward_bias(tuple geom, const floating[::1] dy, bint per_position, floating[::1] db):
    cdef fc_conv_geom g
    fill_geom(&g, geom)
    cdef int st
    with nogil:
        if floating is float:
            st = fc_tiled_conv2d_backward_bias_f32(&g, &dy[0], per_position, &db[0])
        else:
            st = fc_tiled_conv2d_backward_bias_f64(&g, &dy[0], per_position, &db[0])
    check_status(st, "tiled_conv2d bias gradient")


def linear_forward(const floating[:, :] x, const floating[:, :] w, const floating[::1] bias,
                   floating[:, ::1] y, bint batch_invariant=True):
    """y = x @ w.T + bias for non-empty x (m, in) and w (out, in), any strides;
    batch_invariant=False: few float32 rows as plain dot products (not the
    batched GEMM's row bits)."""
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], n = w.shape[0]
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t rs_x = x.strides[0] // isz, cs_x = x.strides[1] // isz
    cdef Py_ssize_t rs_w = w.strides[0] // isz, cs_w = w.strides[1] // isz
    cdef const floating *bp = NULL
    if bias is not None:
        bp = &bias[0]
    cdef int st
    with nogil:
        if floating is float:
            if batch_invariant:
                st = fc_linear_forward_f32(m, k, n, &x[0, 0], rs_x, cs_x, &w[0, 0], rs_w, cs_w, bp, &y[0, 0])
            else:
                st = fc_linear_forward_gemv_f32(m, k, n, &x[0, 0], rs_x, cs_x, &w[0, 0], rs_w, cs_w, bp,
                                                &y[0, 0])
        else:
            if batch_invariant:
                st = fc_linear_forward_f64(m, k, n, &x[0, 0], rs_x, cs_x, &w[0, 0], rs_w, cs_w, bp, &y[0, 0])
            else:
                st = fc_linear_forward_gemv_f64(m, k, n, &x[0, 0], rs_x, cs_x, &w[0, 0], rs_w, cs_w, bp,
                                                &y[0, 0])
    check_status(st, "linear")


def linear_backward_input(const floating[:, ::1] dy, const floating[:, :] w, floating[:, ::1] dx):
    """dx = dy @ w for non-empty dy (m, out) and w (out, in)."""
    cdef Py_ssize_t m = dy.shape[0], n = w.shape[0], k = w.shape[1]
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t rs_w = w.strides[0] // isz, cs_w = w.strides[1] // isz
    cdef int st
    with nogil:
        if floating is float:
            st = fc_linear_backward_input_f32(m, k, n, &dy[0, 0], &w[0, 0], rs_w, cs_w, &dx[0, 0])
        else:
            st = fc_linear_backward_input_f64(m, k, n, &dy[0, 0], &w[0, 0], rs_w, cs_w, &dx[0, 0])
    check_status(st, "linear input gradient")


def linear_backward_weight(const floating[:, ::1] dy, const floating[:, :] x, floating[:, ::1] dw):
    """dw = dy.T @ x for non-empty dy (m, out) and x (m, in)."""
    cdef Py_ssize_t m = dy.shape[0], n = dy.shape[1], k = x.shape[1]
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t rs_x = x.strides[0] // isz, cs_x = x.strides[1] // isz
    cdef int st
    with nogil:
        if floating is float:
            st = fc_linear_backward_weight_f32(m, k, n, &dy[0, 0], &x[0, 0], rs_x, cs_x, &dw[0, 0])
        else:
            st = fc_linear_backward_weight_f64(m, k, n, &dy[0, 0], &x[0, 0], rs_x, cs_x, &dw[0, 0])
    check_status(st, "linear weight gradient")


def linear_backward_bias(const floating[:, ::1] dy, floating[::1] db):
    """db = dy.sum(axis=0) for non-empty dy (m, out)."""
    cdef Py_ssize_t m = dy.shape[0], n = dy.shape[1]
    cdef int st
    with nogil:
        if floating is float:
            st = fc_linear_backward_bias_f32(m, n, &dy[0, 0], &db[0])
        else:
            st = fc_linear_backward_bias_f64(m, n, &dy[0, 0], &db[0])
    check_status(st, "linear bias gradient")
