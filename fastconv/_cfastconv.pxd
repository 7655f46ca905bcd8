# Cython view of src_c/fastconv.h: the C API every extension module uses.

cdef extern from "fastconv.h" nogil:
    enum:
        FC_OK
        FC_EINVAL
        FC_ENOMEM
        FC_EOVERFLOW
        FC_EUNSUPPORTED

    enum:
        FC_ISA_GENERIC
        FC_ISA_AVX2
        FC_ISA_AVX512

    int fc_isa_best()
    int fc_isa_active()
    int fc_isa_set(int level)
    const char *fc_isa_name(int level)
    int fc_isa_compiled(int level)

    int fc_get_num_threads()
    void fc_set_num_threads(int n)
    int fc_have_openmp()
    int fc_openmp_version()
    const char *fc_compiler()

    int fc_sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                 const float *a, Py_ssize_t rs_a, Py_ssize_t cs_a,
                 const float *b, Py_ssize_t rs_b, Py_ssize_t cs_b,
                 float beta, float *c, Py_ssize_t rs_c, int nthreads)
    int fc_dgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                 const double *a, Py_ssize_t rs_a, Py_ssize_t cs_a,
                 const double *b, Py_ssize_t rs_b, Py_ssize_t cs_b,
                 double beta, double *c, Py_ssize_t rs_c, int nthreads)

    double fc_fma_probe(long iters, int nthreads)

    int fc_all_finite_f32(const float *x, Py_ssize_t n)
    int fc_all_finite_f64(const double *x, Py_ssize_t n)

    ctypedef struct fc_gemm_blocking:
        int mr, nr, mc, kc, nc
    void fc_gemm_get_blocking(int dtype_size, fc_gemm_blocking *out)
