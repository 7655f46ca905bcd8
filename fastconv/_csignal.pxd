# Cython view of the signal-filtering section of src_c/fastconv.h.
from libc.stdint cimport int32_t, int64_t

cdef extern from "fastconv.h" nogil:
    enum:
        FC_BOUNDARY_FILL
        FC_BOUNDARY_WRAP
        FC_BOUNDARY_SYMM

    ctypedef struct fc_corr2d_geom:
        Py_ssize_t items, channels
        Py_ssize_t outputs
        Py_ssize_t in_h, in_w
        Py_ssize_t in_rs, in_cs
        Py_ssize_t kernel_h, kernel_w
        Py_ssize_t out_h, out_w
        Py_ssize_t pad_top, pad_left
        int boundary
        int interleave

    int fc_corr2d_geom_check(const fc_corr2d_geom *g)
    int fc_corr2d_f32(const fc_corr2d_geom *g, const float *x, const Py_ssize_t *x_off,
                      const float *k, const Py_ssize_t *k_off, const float *fill, float *y)
    int fc_corr2d_f64(const fc_corr2d_geom *g, const double *x, const Py_ssize_t *x_off,
                      const double *k, const Py_ssize_t *k_off, const double *fill, double *y)
    int fc_corr2d_i32(const fc_corr2d_geom *g, const int32_t *x, const Py_ssize_t *x_off,
                      const int32_t *k, const Py_ssize_t *k_off, const int32_t *fill, int32_t *y)
    int fc_corr2d_i64(const fc_corr2d_geom *g, const int64_t *x, const Py_ssize_t *x_off,
                      const int64_t *k, const Py_ssize_t *k_off, const int64_t *fill, int64_t *y)


cdef extern from "signal_fft.h" nogil:
    ctypedef struct fc_fftcorr1d_params:
        Py_ssize_t n, pad, taps, out_w, fft_n
        int guard
        double guard_c

    Py_ssize_t fc_fftcorr1d_pairs(const fc_fftcorr1d_params *p)
    int fc_fftcorr1d_f32(const fc_fftcorr1d_params *p, const float *x, const float *k, float fill,
                         float *y, unsigned char *bad)
    int fc_fftcorr1d_f64(const fc_fftcorr1d_params *p, const double *x, const double *k, double fill,
                         double *y, unsigned char *bad)
