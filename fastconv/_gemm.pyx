# GEMM wrapper: memoryviews in, one C call without the GIL, status -> exception.
# One def per dtype: a fused-type def dispatches through slow signature
# matching on every call, which costs more than a small GEMM.
from fastconv._cfastconv cimport fc_sgemm, fc_dgemm
from fastconv._common cimport check_status

include "_isa.pxi"


def sgemm(const float[:, :] a, const float[:, :] b, float[:, :] c,
          double alpha, double beta, int nthreads=0):
    """c = alpha * a @ b + beta * c (float32) for non-empty operands; c has unit column stride.

    Shapes, dtypes and strides are validated by fastconv.linalg.gemm.
    """
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1], k = a.shape[1]
    cdef Py_ssize_t rs_a = a.strides[0] // 4, cs_a = a.strides[1] // 4
    cdef Py_ssize_t rs_b = b.strides[0] // 4, cs_b = b.strides[1] // 4
    cdef Py_ssize_t rs_c = c.strides[0] // 4
    cdef int status
    with nogil:
        status = fc_sgemm(m, n, k, <float>alpha, &a[0, 0], rs_a, cs_a,
                          &b[0, 0], rs_b, cs_b, <float>beta, &c[0, 0], rs_c, nthreads)
    check_status(status, "gemm")


def dgemm(const double[:, :] a, const double[:, :] b, double[:, :] c,
          double alpha, double beta, int nthreads=0):
    """c = alpha * a @ b + beta * c (float64); see sgemm."""
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1], k = a.shape[1]
    cdef Py_ssize_t rs_a = a.strides[0] // 8, cs_a = a.strides[1] // 8
    cdef Py_ssize_t rs_b = b.strides[0] // 8, cs_b = b.strides[1] // 8
    cdef Py_ssize_t rs_c = c.strides[0] // 8
    cdef int status
    with nogil:
        status = fc_dgemm(m, n, k, alpha, &a[0, 0], rs_a, cs_a,
                          &b[0, 0], rs_b, cs_b, beta, &c[0, 0], rs_c, nthreads)
    check_status(status, "gemm")
