"""Argument checks and dtype rules shared by the public functions."""
from __future__ import annotations

import numpy as np

from . import _runtime

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def compute_dtype(*arrays, name="inputs") -> np.dtype:
    """The float dtype fastconv computes in for these arrays.

    NumPy's promotion, then: float32/float64 stay; float16 computes in
    float32; integers and bool compute in float64; complex raises TypeError.
    """
    dt = np.result_type(*arrays)
    if dt.kind == "c":
        raise TypeError(f"{name}: complex dtype {dt} is not supported")
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt.kind == "f":
        if dt == np.float16:
            return np.dtype(np.float32)
        if dt in _FLOATS:
            return dt
        return np.dtype(np.float64)  # longdouble computes in float64
    raise TypeError(f"{name}: unsupported dtype {dt}")


def as_float_array(x, dtype: np.dtype, name: str) -> np.ndarray:
    """``x`` as an ndarray of ``dtype`` whose strides are whole elements.

    Views are kept as they are when possible (the C core takes any element
    strides, negative and zero included); a copy is made only for another
    dtype or for byte strides that are not a multiple of the item size.
    """
    arr = x if type(x) is np.ndarray else np.asarray(x)
    if arr.dtype == dtype and arr.dtype.isnative:
        size = arr.itemsize
        for st in arr.strides:
            if st % size:
                break
        else:
            return arr
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex dtype {arr.dtype} is not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
    if arr.dtype != dtype or not arr.dtype.isnative:
        arr = arr.astype(dtype)
    if any(s % arr.itemsize for s in arr.strides):
        arr = np.array(arr, order="C")
    return arr


def check_out(out, shape, dtype, name="out") -> np.ndarray:
    """Validate a user-provided output array."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is not writeable")
    return out


def all_finite(a) -> bool:
    """True when no element of ``a`` is inf or NaN.

    float32 / float64 arrays that are contiguous are checked by the C core in
    one pass on every thread; others in one NumPy pass with no temporary (any
    inf or NaN makes the sum non-finite; a sum of finite values that
    overflows only answers False, the safe side: the callers then take their
    exact path for non-finite input).
    """
    if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) and (
            a.flags.c_contiguous or a.flags.f_contiguous):
        return _runtime.all_finite(a.reshape(-1, order="A"))
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def filter2d_batch(image_shape, kernel_shape) -> tuple:
    """The broadcast leading shape of filter2d's images ``(..., H, W)`` and kernels ``(..., kH, kW)``."""
    if len(image_shape) < 2:
        raise ValueError(f"images must have shape (..., H, W), got shape {tuple(image_shape)}")
    if len(kernel_shape) < 2:
        raise ValueError(f"kernel must have shape (..., kH, kW), got shape {tuple(kernel_shape)}")
    try:
        return tuple(np.broadcast_shapes(tuple(image_shape[:-2]), tuple(kernel_shape[:-2])))
    except ValueError:
        raise ValueError(f"the leading dimensions of images {tuple(image_shape[:-2])} and kernel "
                         f"{tuple(kernel_shape[:-2])} do not broadcast") from None


def real(value, name: str) -> float:
    """``float(value)`` for a real number (a hyper-parameter); ``TypeError`` naming the argument
    for anything else (strings, None, sequences, complex)."""
    if isinstance(value, (str, bytes)) or np.iscomplexobj(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
