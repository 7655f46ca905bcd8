# Signal-filtering wrapper: flat memoryviews in, one C call without the GIL,
# status -> exception.  fastconv.signal validates every argument, resolves
# modes and boundaries to numbers, lays the operands out and allocates the
# output; this module only converts.
from libc.stdint cimport int32_t, int64_t

from fastconv._csignal cimport *
from fastconv._common cimport check_status

include "_isa.pxi"

cdef int fill_geom(fc_corr2d_geom *g, tuple geom) except -1:
    """geom: (items, channels, outputs, in_h, in_w, in_rs, in_cs, kernel_h, kernel_w,
    out_h, out_w, pad_top, pad_left, boundary, interleave)."""
    (g.items, g.channels, g.outputs, g.in_h, g.in_w, g.in_rs, g.in_cs, g.kernel_h,
     g.kernel_w, g.out_h, g.out_w, g.pad_top, g.pad_left, g.boundary, g.interleave) = geom
    return 0


def geom_check(tuple geom):
    """0 when the C core accepts the geometry, else its status code."""
    cdef fc_corr2d_geom g
    fill_geom(&g, geom)
    return fc_corr2d_geom_check(&g)


ctypedef fused elem:
    float
    double
    int32_t
    int64_t


cdef int run_corr2d(tuple geom, const elem[::1] x, const Py_ssize_t[::1] x_off,
                    const elem[::1] k, const Py_ssize_t[::1] k_off,
                    const elem[::1] fill, elem[::1] y) except -1:
    """One C call without the GIL; x may be empty (a plane with no element: FILL
    boundary only); fill holds one value per channel."""
    cdef fc_corr2d_geom g
    fill_geom(&g, geom)
    cdef const elem *xp = &x[0] if x.shape[0] > 0 else NULL
    cdef int st
    with nogil:
        if elem is float:
            st = fc_corr2d_f32(&g, xp, &x_off[0], &k[0], &k_off[0], &fill[0], &y[0])
        elif elem is double:
            st = fc_corr2d_f64(&g, xp, &x_off[0], &k[0], &k_off[0], &fill[0], &y[0])
        elif elem is int32_t:
            st = fc_corr2d_i32(&g, xp, &x_off[0], &k[0], &k_off[0], &fill[0], &y[0])
        else:
            st = fc_corr2d_i64(&g, xp, &x_off[0], &k[0], &k_off[0], &fill[0], &y[0])
    check_status(st, "signal correlation")
    return 0


# One def per type (a fused def dispatches through slow signature matching on
# every call, which costs more than a short convolution); each is the
# compile-time specialisation of run_corr2d for its type.

def corr2d_f32(tuple geom, const float[::1] x, const Py_ssize_t[::1] x_off, const float[::1] k,
               const Py_ssize_t[::1] k_off, const float[::1] fill, float[::1] y):
    """y = the extended cross-correlation of fastconv.h's fc_corr2d_f32."""
    run_corr2d(geom, x, x_off, k, k_off, fill, y)


def corr2d_f64(tuple geom, const double[::1] x, const Py_ssize_t[::1] x_off, const double[::1] k,
               const Py_ssize_t[::1] k_off, const double[::1] fill, double[::1] y):
    """y = the extended cross-correlation of fastconv.h's fc_corr2d_f64."""
    run_corr2d(geom, x, x_off, k, k_off, fill, y)


def corr2d_i32(tuple geom, const int32_t[::1] x, const Py_ssize_t[::1] x_off, const int32_t[::1] k,
               const Py_ssize_t[::1] k_off, const int32_t[::1] fill, int32_t[::1] y):
    """y = the extended cross-correlation of fastconv.h's fc_corr2d_i32 (modulo 2**32)."""
    run_corr2d(geom, x, x_off, k, k_off, fill, y)


def corr2d_i64(tuple geom, const int64_t[::1] x, const Py_ssize_t[::1] x_off, const int64_t[::1] k,
               const Py_ssize_t[::1] k_off, const int64_t[::1] fill, int64_t[::1] y):
    """y = the extended cross-correlation of fastconv.h's fc_corr2d_i64 (modulo 2**64)."""
    run_corr2d(geom, x, x_off, k, k_off, fill, y)


cdef int fill_fft_params(fc_fftcorr1d_params *p, tuple params) except -1:
    """params: (n, pad, taps, out_w, fft_n, guard, guard_c)."""
    (p.n, p.pad, p.taps, p.out_w, p.fft_n, p.guard, p.guard_c) = params
    return 0


def fftcorr1d_pairs(tuple params):
    """Pairs of overlap-save blocks (the length of the guard's flags); 0 if invalid."""
    cdef fc_fftcorr1d_params p
    fill_fft_params(&p, params)
    return fc_fftcorr1d_pairs(&p)


ctypedef fused real:
    float
    double


cdef int run_fftcorr1d(tuple params, const real[::1] x, const real[::1] k, real fill, real[::1] y,
                       unsigned char[::1] bad) except -1:
    cdef fc_fftcorr1d_params p
    fill_fft_params(&p, params)
    cdef const real *xp = &x[0] if x.shape[0] > 0 else NULL
    cdef unsigned char *bp = &bad[0] if bad.shape[0] > 0 else NULL
    cdef int st
    with nogil:
        if real is float:
            st = fc_fftcorr1d_f32(&p, xp, &k[0], fill, &y[0], bp)
        else:
            st = fc_fftcorr1d_f64(&p, xp, &k[0], fill, &y[0], bp)
    check_status(st, "FFT correlation")
    return 0


def fftcorr1d_f32(tuple params, const float[::1] x, const float[::1] k, float fill, float[::1] y,
                  unsigned char[::1] bad):
    """y = the overlap-save FFT correlation of signal_fft.h's fc_fftcorr1d_f32; bad: the
    guard's flags per pair of blocks (params[5] != 0)."""
    run_fftcorr1d(params, x, k, fill, y, bad)


def fftcorr1d_f64(tuple params, const double[::1] x, const double[::1] k, double fill, double[::1] y,
                  unsigned char[::1] bad):
    """As fftcorr1d_f32 in float64."""
    run_fftcorr1d(params, x, k, fill, y, bad)
