# Pooling wrappers: memoryviews in, one C call without the GIL, status -> exception.
#
# Arrays are 4-D in their memory layout ((N, C, H, W) or (N, H, W, C)); the
# geometry arrives as the 17-tuple built by fastconv.pooling._geometry.  Every
# shape and option is validated there, so a C status other than FC_OK means
# memory exhaustion or, for the index scatters, an index outside the plane.
from libc.stdint cimport int64_t, uint64_t

from fastconv._cpool cimport *
from fastconv._cfastconv cimport FC_EINVAL
from fastconv._common cimport check_status

include "_isa.pxi"

ctypedef fused floating:
    float
    double

cdef enum:
    KIND_MAX = 0
    KIND_AVG = 1
    KIND_ADAPTIVE_MAX = 2
    KIND_ADAPTIVE_AVG = 3

# kinds of forward(), for the Python layer
MAX = KIND_MAX
AVG = KIND_AVG
ADAPTIVE_MAX = KIND_ADAPTIVE_MAX
ADAPTIVE_AVG = KIND_ADAPTIVE_AVG


cdef int fill_geom(fc_pool_geom *g, tuple t) except -1:
    (g.batch, g.channels, g.in_h, g.in_w, g.out_h, g.out_w, g.kernel_h, g.kernel_w,
     g.stride_h, g.stride_w, g.dilation_h, g.dilation_w,
     g.pad_top, g.pad_bottom, g.pad_left, g.pad_right, g.layout) = t
    return 0


cdef int scatter_status(int status, str what) except -1:
    if status == FC_EINVAL:
        raise ValueError(f"{what}: indices hold a position outside the input plane")
    return check_status(status, what)


cdef void plane_strides(int layout, Py_ssize_t *strides, Py_ssize_t isz, Py_ssize_t *xs) noexcept:
    """x's element strides in (N, C, H, W) order, whatever its layout."""
    if layout == FC_LAYOUT_NCHW:
        xs[0] = strides[0] // isz; xs[1] = strides[1] // isz
        xs[2] = strides[2] // isz; xs[3] = strides[3] // isz
    else:
        xs[0] = strides[0] // isz; xs[1] = strides[3] // isz
        xs[2] = strides[1] // isz; xs[3] = strides[2] // isz


def forward(int kind, tuple geom, const floating[:, :, :, :] x, floating[:, :, :, ::1] y,
            int64_t[:, :, :, ::1] indices=None, bint count_include_pad=True,
            Py_ssize_t divisor_override=0):
    """Max / average / adaptive pooling of a non-empty x into a dense y (and indices)."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef Py_ssize_t xs[4]
    plane_strides(g.layout, x.strides, sizeof(floating), xs)
    cdef int64_t *ip = NULL
    if indices is not None:
        ip = &indices[0, 0, 0, 0]
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *yp = &y[0, 0, 0, 0]
    cdef int status
    with nogil:
        if floating is float:
            if kind == KIND_MAX:
                status = fc_max_pool2d_f32(&g, xp, xs, yp, ip)
            elif kind == KIND_AVG:
                status = fc_avg_pool2d_f32(&g, xp, xs, yp, count_include_pad, divisor_override)
            elif kind == KIND_ADAPTIVE_MAX:
                status = fc_adaptive_max_pool2d_f32(&g, xp, xs, yp, ip)
            else:
                status = fc_adaptive_avg_pool2d_f32(&g, xp, xs, yp)
        else:
            if kind == KIND_MAX:
                status = fc_max_pool2d_f64(&g, xp, xs, yp, ip)
            elif kind == KIND_AVG:
                status = fc_avg_pool2d_f64(&g, xp, xs, yp, count_include_pad, divisor_override)
            elif kind == KIND_ADAPTIVE_MAX:
                status = fc_adaptive_max_pool2d_f64(&g, xp, xs, yp, ip)
            else:
                status = fc_adaptive_avg_pool2d_f64(&g, xp, xs, yp)
    check_status(status, "pooling")


def stochastic(tuple geom, const floating[:, :, :, :] x, floating[:, :, :, ::1] y,
               int64_t[:, :, :, ::1] indices, uint64_t seed, bint training):
    """Stochastic pooling of a non-empty, non-negative x."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef Py_ssize_t xs[4]
    plane_strides(g.layout, x.strides, sizeof(floating), xs)
    cdef int64_t *ip = NULL
    if indices is not None:
        ip = &indices[0, 0, 0, 0]
    cdef int status
    with nogil:
        if floating is float:
            status = fc_stochastic_pool2d_f32(&g, &x[0, 0, 0, 0], xs, &y[0, 0, 0, 0], ip, seed, training)
        else:
            status = fc_stochastic_pool2d_f64(&g, &x[0, 0, 0, 0], xs, &y[0, 0, 0, 0], ip, seed, training)
    check_status(status, "stochastic_pool2d")


def max_backward(tuple geom, const floating[:, :, :, ::1] grad_out,
                 const int64_t[:, :, :, ::1] indices, floating[:, :, :, ::1] grad_in):
    """grad_in = 0, then grad_in[plane][indices] += grad_out (grad_out non-empty)."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_max_pool2d_backward_f32(&g, &grad_out[0, 0, 0, 0], &indices[0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0])
        else:
            status = fc_max_pool2d_backward_f64(&g, &grad_out[0, 0, 0, 0], &indices[0, 0, 0, 0],
                                                &grad_in[0, 0, 0, 0])
    scatter_status(status, "max_pool2d_backward")


def max_unpool(tuple geom, const floating[:, :, :, ::1] x, const int64_t[:, :, :, ::1] indices,
               floating[:, :, :, ::1] y):
    """y = 0, then y[plane][indices] = x (x non-empty)."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_max_unpool2d_f32(&g, &x[0, 0, 0, 0], &indices[0, 0, 0, 0], &y[0, 0, 0, 0])
        else:
            status = fc_max_unpool2d_f64(&g, &x[0, 0, 0, 0], &indices[0, 0, 0, 0], &y[0, 0, 0, 0])
    scatter_status(status, "max_unpool2d")


def avg_backward(tuple geom, const floating[:, :, :, ::1] grad_out, floating[:, :, :, ::1] grad_in,
                 bint adaptive, bint count_include_pad=True, Py_ssize_t divisor_override=0):
    """Gradient of average or adaptive average pooling (grad_out non-empty)."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef int status
    with nogil:
        if floating is float:
            if adaptive:
                status = fc_adaptive_avg_pool2d_backward_f32(&g, &grad_out[0, 0, 0, 0], &grad_in[0, 0, 0, 0])
            else:
                status = fc_avg_pool2d_backward_f32(&g, &grad_out[0, 0, 0, 0], &grad_in[0, 0, 0, 0],
                                                    count_include_pad, divisor_override)
        else:
            if adaptive:
                status = fc_adaptive_avg_pool2d_backward_f64(&g, &grad_out[0, 0, 0, 0], &grad_in[0, 0, 0, 0])
            else:
                status = fc_avg_pool2d_backward_f64(&g, &grad_out[0, 0, 0, 0], &grad_in[0, 0, 0, 0],
                                                    count_include_pad, divisor_override)
    check_status(status, "avg_pool2d_backward")


def avg_unpool(tuple geom, const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y):
    """y = the mean of x over the windows covering each cell (x and y non-empty)."""
    cdef fc_pool_geom g
    fill_geom(&g, geom)
    cdef int status
    with nogil:
        if floating is float:
            status = fc_avg_unpool2d_f32(&g, &x[0, 0, 0, 0], &y[0, 0, 0, 0])
        else:
            status = fc_avg_unpool2d_f64(&g, &x[0, 0, 0, 0], &y[0, 0, 0, 0])
    check_status(status, "avg_unpool2d")
