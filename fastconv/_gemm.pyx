# GEMM wrapper: memoryviews in, one C call without the GIL, status -> exception.
from fastconv._cfastconv cimport fc_sgemm, fc_dgemm
from fastconv._common cimport check_status

include "_isa.pxi"

ctypedef fused floating:
    float
    double


def gemm(const floating[:, :] a, const floating[:, :] b, floating[:, :] c,
         double alpha, double beta, int nthreads=0):
    """c = alpha * a @ b + beta * c for non-empty operands; c has unit column stride.

    Shapes, dtypes and strides are validated by fastconv.linalg.gemm.
    """
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1], k = a.shape[1]
    cdef Py_ssize_t isz = sizeof(floating)
    cdef Py_ssize_t rs_a = a.strides[0] // isz, cs_a = a.strides[1] // isz
    cdef Py_ssize_t rs_b = b.strides[0] // isz, cs_b = b.strides[1] // isz
    cdef Py_ssize_t rs_c = c.strides[0] // isz
    cdef int status
    with nogil:
        if floating is float:
            status = fc_sgemm(m, n, k, <float>alpha, &a[0, 0], rs_a, cs_a,
                              &b[0, 0], rs_b, cs_b, <float>beta, &c[0, 0], rs_c, nthreads)
        else:
            status = fc_dgemm(m, n, k, alpha, &a[0, 0], rs_a, cs_a,
                              &b[0, 0], rs_b, cs_b, beta, &c[0, 0], rs_c, nthreads)
    check_status(status, "gemm")
