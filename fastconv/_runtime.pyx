# Runtime facts of the compiled core: ISA levels, threads, compiler.
from fastconv._cfastconv cimport (
    fc_isa_best, fc_isa_name, fc_isa_compiled, fc_get_num_threads,
    fc_set_num_threads, fc_have_openmp, fc_openmp_version, fc_compiler,
    fc_gemm_blocking, fc_gemm_get_blocking, fc_fma_probe, fc_all_finite_f32, fc_all_finite_f64,
)

include "_isa.pxi"

ctypedef fused floating:
    float
    double


def isa_best():
    return fc_isa_best()


def isa_name(int level):
    return fc_isa_name(level).decode()


def isa_compiled(int level):
    return bool(fc_isa_compiled(level))


def get_num_threads():
    return fc_get_num_threads()


def set_num_threads(int n):
    fc_set_num_threads(n)


def have_openmp():
    return bool(fc_have_openmp())


def openmp_version():
    return fc_openmp_version()


def compiler():
    return fc_compiler().decode()


def gemm_blocking(int dtype_size):
    cdef fc_gemm_blocking b
    fc_gemm_get_blocking(dtype_size, &b)
    return {"mr": b.mr, "nr": b.nr, "mc": b.mc, "kc": b.kc, "nc": b.nc}


def fma_probe(long iters, int nthreads=0):
    """Run the FMA throughput probe; returns the float32 FLOPs executed (time it outside)."""
    cdef double flops
    with nogil:
        flops = fc_fma_probe(iters, nthreads)
    return flops


def all_finite(const floating[::1] x):
    """Whether a contiguous float32/float64 vector holds no inf or NaN."""
    cdef int ok
    if x.shape[0] == 0:
        return True
    with nogil:
        if floating is float:
            ok = fc_all_finite_f32(&x[0], x.shape[0])
        else:
            ok = fc_all_finite_f64(&x[0], x.shape[0])
    return bool(ok)
