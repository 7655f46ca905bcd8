"""Matrix multiply on fastconv's own packed, cache-blocked GEMM."""
from __future__ import annotations

import numbers

import numpy as np

from . import _gemm
from ._validate import as_float_array, check_out, compute_dtype

__all__ = ["gemm"]

_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_scalar(value, name):
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        raise TypeError(f"{name} must be real, got complex {value!r}")
    raise TypeError(f"{name} must be a real number, got {type(value).__name__}")


def _unit_col_stride(arr: np.ndarray) -> bool:
    return arr.shape[1] <= 1 or arr.strides[1] == arr.itemsize


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, out=None):
    """General matrix multiply ``alpha * op(a) @ op(b) + beta * c``.

    ``op(x)`` is ``x.T`` when the matching ``trans_*`` flag is set, else ``x``.

    Parameters
    ----------
    a : array_like, shape (m, k) (or (k, m) with ``trans_a``)
    b : array_like, shape (k, n) (or (n, k) with ``trans_b``)
    c : array_like, shape (m, n), optional
        Term added with weight ``beta``.  It is not modified unless it is
        also passed as ``out``, which accumulates in place as BLAS does.
    alpha, beta : float
        Scalars.  ``beta`` must be 0 when ``c`` is None.  With ``beta == 0``,
        ``c`` is never read (NaN in it does not propagate).
    trans_a, trans_b : bool
        Use the transpose of ``a`` / ``b``.  No copy is made.
    out : ndarray, shape (m, n), optional
        Where to write the result; must have the result dtype and be
        writeable.

    Returns
    -------
    ndarray, shape (m, n)
        float32 when every input is float32 (or float16), float64 otherwise.
        Mixed inputs promote like NumPy; integer and bool inputs compute in
        float64; complex inputs raise ``TypeError``.

    Notes
    -----
    Any strides are accepted: transposed, sliced, negative-stride and
    Fortran-ordered operands are packed directly without an extra copy.  The
    result is bitwise identical for every thread count.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> fastconv.gemm(a, a, trans_b=True)
    array([[ 5., 14.],
           [14., 50.]], dtype=float32)
    """
    alpha = _check_scalar(alpha, "alpha")
    beta = _check_scalar(beta, "beta")
    a_arr = a if type(a) is np.ndarray else np.asarray(a)
    b_arr = b if type(b) is np.ndarray else np.asarray(b)
    c_arr = None
    if c is not None:
        c_arr = c if type(c) is np.ndarray else np.asarray(c)
        dtype = compute_dtype(a_arr, b_arr, c_arr, name="gemm")
    else:
        if beta != 0:
            raise ValueError(f"beta={beta} needs a c operand (got c=None)")
        if a_arr.dtype == b_arr.dtype and a_arr.dtype in _FAST_DTYPES:
            dtype = a_arr.dtype
        else:
            dtype = compute_dtype(a_arr, b_arr, name="gemm")

    if a_arr.ndim != 2:
        raise ValueError(f"a must be 2-D, got shape {a_arr.shape}")
    if b_arr.ndim != 2:
        raise ValueError(f"b must be 2-D, got shape {b_arr.shape}")
    opa = a_arr.T if trans_a else a_arr
    opb = b_arr.T if trans_b else b_arr
    m, k = opa.shape
    k2, n = opb.shape
    if k != k2:
        raise ValueError(
            f"shapes do not align: op(a) has shape {opa.shape} and op(b) has shape {opb.shape} "
            f"(a.shape={a_arr.shape}, trans_a={bool(trans_a)}; b.shape={b_arr.shape}, trans_b={bool(trans_b)})"
        )
    if c_arr is not None and c_arr.shape != (m, n):
        try:
            ok = c_arr.ndim <= 2 and np.broadcast_shapes(c_arr.shape, (m, n)) == (m, n)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"c has shape {c_arr.shape}, expected ({m}, {n}) (or broadcastable to it)")

    if out is not None:
        check_out(out, (m, n), dtype)

    opa = as_float_array(opa, dtype, "a")
    opb = as_float_array(opb, dtype, "b")

    # Decide where the kernel writes: directly into `out` when its layout and
    # aliasing allow (may_share_memory is a cheap, conservative bounds test),
    # otherwise into a fresh array copied over at the end.
    target = out
    direct = (
        out is not None
        and _unit_col_stride(out)
        and out.strides[0] % out.itemsize == 0
        and not np.may_share_memory(out, opa)
        and not np.may_share_memory(out, opb)
    )
    in_place = c_arr is not None and out is not None and direct and c_arr is out
    if not direct:
        target = np.empty((m, n), dtype=dtype)
    kernel_beta = beta
    if c_arr is None:
        kernel_beta = 0.0
    elif not in_place:
        if beta != 0:
            np.copyto(target, c_arr, casting="unsafe")
        else:
            kernel_beta = 0.0

    if m and n:
        if k == 0 or alpha == 0:
            if kernel_beta == 0:
                target[...] = 0
            else:
                target *= target.dtype.type(kernel_beta)
        else:
            (_gemm.sgemm if dtype == np.float32 else _gemm.dgemm)(opa, opb, target, alpha, kernel_beta)
    if out is not None and target is not out:
        np.copyto(out, target)
        return out
    return target
