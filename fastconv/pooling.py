"""Pooling and unpooling: max, average, stochastic, adaptive and global.

Forward passes, their gradients and unpooling on NumPy arrays, in the NCHW or
NHWC layout, float32 or float64, equal to ``torch.nn.functional`` where
PyTorch has the operation.  The C core reads the input once at memory speed
(vectorised along the width for NCHW, along the channels for NHWC), computes
indices only when asked, and gives bitwise identical results for every
thread count.

Common conventions
------------------
* ``x`` is ``(N, C, H, W)`` with ``layout="NCHW"`` or ``(N, H, W, C)`` with
  ``layout="NHWC"``; an unbatched 3-D input (``(C, H, W)`` or ``(H, W, C)``)
  gives an unbatched result, as in PyTorch.  1-D pooling takes ``(N, C, L)``
  (``layout="NCL"``) or ``(N, L, C)`` (``layout="NLC"``).
* float32 stays float32 and float64 stays float64; float16 computes in
  float32, integers and bool in float64.  Inputs are never modified; any view
  is accepted (one copy is made when the innermost axis is not contiguous).
* ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int or a
  pair ``(h, w)``; ``stride=None`` means the kernel size.  Padding is at most
  half the kernel.  Output sizes follow PyTorch, ceil_mode included (the last
  window must start inside the input or the left padding).
* Indices are int64 flat positions ``h * W + w`` within each input plane,
  returned in the layout of the output, exactly as PyTorch returns them.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _pool
from ._validate import as_float_array, compute_dtype
from .conv import _window_count

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_unpool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool1d",
    "max_pool2d",
    "max_pool2d_backward",
    "max_unpool2d",
    "stochastic_pool2d",
]

_LAYOUTS = {"NCHW": 0, "NHWC": 1}          # values of FC_LAYOUT_* in fastconv.h
_LAYOUTS_1D = {"NCL": "NCHW", "NLC": "NHWC"}
_DIM_MAX = 2**31 - 1                        # the C core's bound on every size


# ---- argument normalisation ------------------------------------------------------

def _layout(layout, allowed=_LAYOUTS):
    if type(layout) is str and layout in allowed:  # the common case, first
        return layout
    if not isinstance(layout, str):
        raise TypeError(f"layout must be a string, got {type(layout).__name__}")
    key = layout.upper()
    if key not in allowed:
        raise ValueError(f"layout must be one of {tuple(allowed)}, got {layout!r}")
    return key


_F32, _F64, _I64 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64)


def _int(value, name):
    if type(value) is int:  # the common case, first
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer or a tuple of integers, got {value!r}") from None


def _ints(value, name, n, minimum):
    """An int or a sequence of n ints (a 1-sequence is repeated), each >= minimum."""
    if type(value) is int and minimum <= value <= _DIM_MAX:
        return (value,) * n
    if isinstance(value, (tuple, list)):
        values = tuple(_int(v, name) for v in value)
        if len(values) == 1:
            values = values * n
        if len(values) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    else:
        values = (_int(value, name),) * n
    for v in values:
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
        if v > _DIM_MAX:
            raise ValueError(f"{name} is too large: {value!r}")
    return values


def _stride(stride, kernel, name="stride"):
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel
    return _ints(stride, name, len(kernel), 1)


def _check_padding(padding, kernel):
    for p, k in zip(padding, kernel):
        if p > k // 2:
            raise ValueError(
                f"padding must be at most half the kernel size, got padding={padding} "
                f"for kernel_size={kernel}"
            )


def _divisor(divisor_override):
    if divisor_override is None:
        return 0
    d = _int(divisor_override, "divisor_override")
    if d == 0:
        raise ValueError("divisor_override must be non-zero (or None)")
    if abs(d) > _DIM_MAX:
        raise ValueError(f"divisor_override is too large: {d}")
    return d


def _pooled_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size along one axis (may be < 1: checked by the caller)."""
    return _window_count(size, p, p, d * (k - 1) + 1, s, ceil_mode)


def _pooled_sizes(hw, kernel, stride, padding, dilation, ceil_mode, name="x"):
    out = tuple(
        _pooled_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(hw, kernel, stride, padding, dilation)
    )
    if min(out) < 1:
        raise ValueError(
            f"{name}: the output would be empty: input size {hw}, kernel_size={kernel}, "
            f"stride={stride}, padding={padding}, dilation={dilation} give {out}"
        )
    return out


# ---- arrays ---------------------------------------------------------------------------

def _dims(shape4, layout):
    """(N, C, H, W) of a 4-D shape in this layout."""
    if layout == "NCHW":
        return tuple(shape4)
    return shape4[0], shape4[3], shape4[1], shape4[2]


def _shape(layout, n, c, h, w):
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


def _batched(arr, name, layout):
    if arr.ndim not in (3, 4):
        want = "(N, C, H, W) or (C, H, W)" if layout == "NCHW" else "(N, H, W, C) or (H, W, C)"
        raise ValueError(f"{name} must be 4-D {want} for layout={layout!r}, got shape {arr.shape}")
    return (arr[None], True) if arr.ndim == 3 else (arr, False)


def _native_float(a):
    """True for a C-contiguous float32/float64 ndarray of native byte order (no conversion needed)."""
    return type(a) is np.ndarray and (a.dtype is _F32 or a.dtype is _F64) and a.flags.c_contiguous


def _input(x, layout, name="x"):
    """x as a 4-D float array the C core reads in place (unit innermost stride)."""
    if _native_float(x) and x.ndim in (3, 4):
        arr, unbatched = (x[None], True) if x.ndim == 3 else (x, False)
    else:
        arr = np.asarray(x)
        dtype = compute_dtype(arr, name=name)
        arr, unbatched = _batched(arr, name, layout)
        arr = as_float_array(arr, dtype, name)
        if arr.shape[3] > 1 and arr.strides[3] != arr.itemsize:
            arr = np.ascontiguousarray(arr)
    n, c, h, w = _dims(arr.shape, layout)
    if h == 0 or w == 0:
        raise ValueError(f"{name} has an empty spatial size: shape {np.shape(x)}")
    for v in (h, w):
        if v > _DIM_MAX:
            raise ValueError(f"{name} is too large: shape {np.shape(x)}")
    return arr, unbatched, (n, c, h, w)


def _dense(a, dtype, name):
    return np.ascontiguousarray(as_float_array(a, dtype, name))


def _indices(indices, shape, name="indices"):
    if type(indices) is np.ndarray and indices.dtype is _I64 and indices.flags.c_contiguous:
        if indices.shape != tuple(shape):
            raise ValueError(f"{name} has shape {indices.shape}, expected {tuple(shape)}")
        return indices
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {idx.dtype}")
    if idx.shape != tuple(shape):
        raise ValueError(f"{name} has shape {idx.shape}, expected {tuple(shape)}")
    if idx.dtype.kind == "u" and idx.size and idx.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} holds a position outside the input plane")
    return np.ascontiguousarray(idx, dtype=np.int64)


def _geometry(n, c, hw, out_hw, kernel=(1, 1), stride=(1, 1), dilation=(1, 1),
              padding=(0, 0), layout="NCHW"):
    return (n, c, hw[0], hw[1], out_hw[0], out_hw[1], kernel[0], kernel[1], stride[0], stride[1],
            dilation[0], dilation[1], padding[0], padding[0], padding[1], padding[1],
            _LAYOUTS[layout])


def _finish(y, unbatched):
    return y[0] if unbatched else y


def _target(out, shape4, dtype, unbatched, inputs, name="out"):
    """Where a result goes: (the dense 4-D array the C core writes, the array returned).

    A new array, or the caller's ``out``: exactly the result's shape and dtype,
    C-contiguous, writeable and sharing no memory with the inputs.
    """
    if out is None:
        arr = np.empty(shape4, dtype=dtype)
        return arr, _finish(arr, unbatched)
    want = tuple(shape4[1:]) if unbatched else tuple(shape4)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != want:
        raise ValueError(f"{name} has shape {out.shape}, expected {want}")
    if out.dtype != dtype:
        raise ValueError(f"{name} has dtype {out.dtype}, expected {np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError(f"{name} is not writeable")
    for a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"{name} must not overlap the inputs")
    return (out[None] if unbatched else out), out


def _targets(out, shape4, dtype, unbatched, inputs, return_indices):
    """Values (and indices) targets of a max pooling; out is an array or a (values, indices) pair."""
    if not return_indices:
        return _target(out, shape4, dtype, unbatched, inputs) + (None, None)
    if out is None:
        out = (None, None)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("out must be a (values, indices) pair with return_indices=True")
    y4, y = _target(out[0], shape4, dtype, unbatched, inputs, "out[0]")
    i4, i = _target(out[1], shape4, np.dtype(np.int64), unbatched, list(inputs) + [y4], "out[1]")
    return y4, y, i4, i


def _input_shape(input_shape, like_ndim, layout, n, c, name="input_shape"):
    """(H, W) of the input of a pooling whose output has batch n and channels c."""
    try:
        if type(input_shape) is tuple and all(type(v) is int for v in input_shape):
            shape = input_shape  # the common case: no conversion
        else:
            shape = tuple(_int(v, name) for v in input_shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of integers, got {input_shape!r}") from None
    if len(shape) != like_ndim:
        raise ValueError(f"{name} must have {like_ndim} entries like grad_out, got {shape}")
    shape4 = shape if like_ndim == 4 else (1,) + shape
    n2, c2, h, w = _dims(shape4, layout)
    if (n2, c2) != (n, c):
        raise ValueError(
            f"{name}={shape} does not match grad_out's batch and channels ({n}, {c}) for layout={layout!r}"
        )
    if h < 1 or w < 1 or h > _DIM_MAX or w > _DIM_MAX:
        raise ValueError(f"{name}={shape} has an invalid spatial size")
    return shape, (h, w)


def _seed(rng):
    if rng is None:
        gen = np.random.default_rng()
    elif isinstance(rng, np.random.Generator):
        gen = rng
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng seed must be non-negative, got {rng}")
        gen = np.random.default_rng(int(rng))
    else:
        raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
    return int(gen.integers(0, 2**64, dtype=np.uint64))


# ---- max and average pooling --------------------------------------------------------

def _max_pool(arr, unbatched, dims, layout, kernel, stride, padding, dilation, ceil_mode,
              return_indices, out=None):
    n, c, h, w = dims
    oh, ow = _pooled_sizes((h, w), kernel, stride, padding, dilation, ceil_mode)
    y4, y, i4, idx = _targets(out, _shape(layout, n, c, oh, ow), arr.dtype, unbatched, [arr],
                              return_indices)
    if y4.size:
        geom = _geometry(n, c, (h, w), (oh, ow), kernel, stride, dilation, padding, layout)
        _pool.forward(_pool.MAX, geom, arr, y4, i4)
    return (y, idx) if return_indices else y


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCHW", out=None):
    """2-D max pooling, equal to ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C) (see ``layout``), or unbatched 3-D
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.  Smaller strides give overlapping windows.
    padding : int or (int, int)
        Implicit padding on both sides, at most half the kernel; padded cells
        never win.
    dilation : int or (int, int)
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up instead of down (the last window must still
        start inside the input or the left padding).
    return_indices : bool
        Also return the position of each maximum.
    layout : {"NCHW", "NHWC"}
    out : ndarray, or (ndarray, ndarray) with ``return_indices``, optional
        Where to write the result (and the indices): exactly its shape and
        dtype (int64 for indices), C-contiguous, not overlapping ``x``.
        Reusing it skips the allocation of a new array, whose first write
        costs the operating system a pass of zeroing.

    Returns
    -------
    y : ndarray
        float32 for float32 (and float16) input, float64 otherwise; same layout.
    indices : ndarray of int64, only with ``return_indices``
        Flat positions ``h * W + w`` of the maxima within their input plane,
        the first maximum in row-major order on ties.  Feed them to
        :func:`max_pool2d_backward` or :func:`max_unpool2d`.

    Notes
    -----
    NaN propagates: a window containing NaN outputs NaN (its index is the
    last NaN in row-major order), as in PyTorch.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> fastconv.max_pool2d(x, 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]], dtype=float32)
    """
    layout = _layout(layout)
    kernel = _ints(kernel_size, "kernel_size", 2, 1)
    stride = _stride(stride, kernel)
    padding = _ints(padding, "padding", 2, 0)
    dilation = _ints(dilation, "dilation", 2, 1)
    _check_padding(padding, kernel)
    arr, unbatched, dims = _input(x, layout)
    return _max_pool(arr, unbatched, dims, layout, kernel, stride, padding, dilation,
                     bool(ceil_mode), bool(return_indices), out)


def _avg_pool(arr, unbatched, dims, layout, kernel, stride, padding, ceil_mode,
              count_include_pad, divisor, out=None):
    n, c, h, w = dims
    oh, ow = _pooled_sizes((h, w), kernel, stride, padding, (1, 1), ceil_mode)
    y4, y = _target(out, _shape(layout, n, c, oh, ow), arr.dtype, unbatched, [arr])
    if y4.size:
        geom = _geometry(n, c, (h, w), (oh, ow), kernel, stride, (1, 1), padding, layout)
        _pool.forward(_pool.AVG, geom, arr, y4, None, count_include_pad, divisor)
    return y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, layout="NCHW", out=None):
    """2-D average pooling, equal to ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C) (see ``layout``), or unbatched 3-D
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d` (``stride`` defaults to ``kernel_size``).
    ceil_mode : bool
        Round the output size up; cells of the overhang past the padding are
        never counted.
    count_include_pad : bool
        Count the zero padding in the divisor.
    divisor_override : int, optional
        Divide every window sum by this non-zero integer instead.
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Where to write the result, as in :func:`max_pool2d`.

    Returns
    -------
    ndarray
        Same layout and float dtype rules as :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> fastconv.avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    """
    layout = _layout(layout)
    kernel = _ints(kernel_size, "kernel_size", 2, 1)
    stride = _stride(stride, kernel)
    padding = _ints(padding, "padding", 2, 0)
    _check_padding(padding, kernel)
    divisor = _divisor(divisor_override)
    arr, unbatched, dims = _input(x, layout)
    return _avg_pool(arr, unbatched, dims, layout, kernel, stride, padding, bool(ceil_mode),
                     bool(count_include_pad), divisor, out)


def _input_1d(x, layout):
    """(N, C, L) / (N, L, C) as a 4-D NCHW / NHWC view with H = 1."""
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        want = "(N, C, L) or (C, L)" if layout == "NCL" else "(N, L, C) or (L, C)"
        raise ValueError(f"x must be 3-D {want} for layout={layout!r}, got shape {arr.shape}")
    unbatched = arr.ndim == 2
    if unbatched:
        arr = arr[None]
    arr = arr[:, :, None, :] if layout == "NCL" else arr[:, None, :, :]
    arr, _, dims = _input(arr, _LAYOUTS_1D[layout])
    return arr, unbatched, dims


def _squeeze_1d(y, layout, unbatched):
    y = y[:, :, 0, :] if layout == "NCL" else y[:, 0, :, :]
    return y[0] if unbatched else y


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, layout="NCL"):
    """1-D max pooling, equal to ``torch.nn.functional.max_pool1d``.

    Parameters
    ----------
    x : array_like, shape (N, C, L) (``layout="NCL"``) or (N, L, C) (``"NLC"``), or unbatched 2-D
    kernel_size, stride, padding, dilation : int
        ``stride`` defaults to ``kernel_size``; padding at most half the kernel.
    ceil_mode, return_indices : bool
        As in :func:`max_pool2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    y : ndarray
    indices : ndarray of int64, only with ``return_indices``
        Positions along L.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.max_pool1d(np.array([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    array([[[3., 2.]]])
    """
    layout = _layout(layout, _LAYOUTS_1D)
    (k,) = _ints(kernel_size, "kernel_size", 1, 1)
    (s,) = (k,) if stride is None else _ints(stride, "stride", 1, 1)
    (p,) = _ints(padding, "padding", 1, 0)
    (d,) = _ints(dilation, "dilation", 1, 1)
    _check_padding((p,), (k,))
    arr, unbatched, dims = _input_1d(x, layout)
    res = _max_pool(arr, False, dims, _LAYOUTS_1D[layout], (1, k), (1, s), (0, p), (1, d),
                    bool(ceil_mode), bool(return_indices))
    if return_indices:
        return _squeeze_1d(res[0], layout, unbatched), _squeeze_1d(res[1], layout, unbatched)
    return _squeeze_1d(res, layout, unbatched)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               *, layout="NCL"):
    """1-D average pooling, equal to ``torch.nn.functional.avg_pool1d``.

    Parameters
    ----------
    x : array_like, shape (N, C, L) (``layout="NCL"``) or (N, L, C) (``"NLC"``), or unbatched 2-D
    kernel_size, stride, padding : int
    ceil_mode, count_include_pad : bool
        As in :func:`avg_pool2d`.
    layout : {"NCL", "NLC"}

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool1d(np.array([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    array([[[2., 1.]]])
    """
    layout = _layout(layout, _LAYOUTS_1D)
    (k,) = _ints(kernel_size, "kernel_size", 1, 1)
    (s,) = (k,) if stride is None else _ints(stride, "stride", 1, 1)
    (p,) = _ints(padding, "padding", 1, 0)
    _check_padding((p,), (k,))
    arr, unbatched, dims = _input_1d(x, layout)
    y = _avg_pool(arr, False, dims, _LAYOUTS_1D[layout], (1, k), (1, s), (0, p), bool(ceil_mode),
                  bool(count_include_pad), 0)
    return _squeeze_1d(y, layout, unbatched)


# ---- stochastic pooling ----------------------------------------------------------------

def stochastic_pool2d(x, kernel_size, stride=None, *, training=True, rng=None,
                      return_indices=False, layout="NCHW"):
    """Stochastic pooling (Zeiler & Fergus, 2013) of non-negative activations.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
        Non-negative and finite (after a ReLU, say); a negative value, NaN or
        infinity raises ``ValueError``.
    kernel_size, stride : int or (int, int)
        ``stride`` defaults to ``kernel_size``.  No padding.
    training : bool
        True: each window outputs one of its values, drawn with probability
        ``a_i / sum(a)`` (an all-zero window outputs 0).  False: the
        probability-weighted average ``sum(a_i**2) / sum(a_i)``.
    rng : numpy.random.Generator or int, optional
        Source of the seed (one 64-bit draw from the Generator; an int is a
        seed for ``numpy.random.default_rng``).  The same seed gives the same
        result whatever the thread count and the layout.
    return_indices : bool
        Also return the position of each drawn value (training only); feed
        them to :func:`max_pool2d_backward` for the gradient.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    y : ndarray
    indices : ndarray of int64, only with ``return_indices``

    Notes
    -----
    Each window's uniform number comes from a counter-based hash (splitmix64)
    of the seed and the window's NCHW output position, computed in C, so no
    thread partition can change it.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[0.0, 1.0], [0.0, 0.0]]]])
    >>> fastconv.stochastic_pool2d(x, 2, rng=0)
    array([[[[1.]]]])
    >>> fastconv.stochastic_pool2d(x, 2, training=False)
    array([[[[1.]]]])
    """
    layout = _layout(layout)
    kernel = _ints(kernel_size, "kernel_size", 2, 1)
    stride = _stride(stride, kernel)
    training = bool(training)
    if return_indices and not training:
        raise ValueError("return_indices needs training=True (inference draws nothing)")
    seed = _seed(rng) if training else 0
    arr, unbatched, (n, c, h, w) = _input(x, layout)
    if arr.size:
        lo, hi = arr.min(), arr.max()
        if np.isnan(lo) or np.isnan(hi):
            raise ValueError("x must be non-negative for stochastic pooling, got NaN")
        if lo < 0:
            raise ValueError(f"x must be non-negative for stochastic pooling, got a minimum of {lo}")
        if not np.isfinite(hi):
            raise ValueError("x must be finite for stochastic pooling, got inf")
    oh, ow = _pooled_sizes((h, w), kernel, stride, (0, 0), (1, 1), False)
    y = np.empty(_shape(layout, n, c, oh, ow), dtype=arr.dtype)
    idx = np.empty(y.shape, dtype=np.int64) if return_indices else None
    if y.size:
        geom = _geometry(n, c, (h, w), (oh, ow), kernel, stride, (1, 1), (0, 0), layout)
        _pool.stochastic(geom, arr, y, idx, seed, training)
    if return_indices:
        return _finish(y, unbatched), _finish(idx, unbatched)
    return _finish(y, unbatched)


# ---- adaptive and global pooling ---------------------------------------------------------

def _output_size(output_size, hw):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) == 1:
            output_size = tuple(output_size) * 2
        if len(output_size) != 2:
            raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
        sizes = tuple(n if v is None else _int(v, "output_size") for v, n in zip(output_size, hw))
    else:
        sizes = (_int(output_size, "output_size"),) * 2
    if min(sizes) < 0 or max(sizes) > _DIM_MAX:
        raise ValueError(f"output_size must be non-negative, got {output_size!r}")
    return sizes


def _adaptive(kind, x, output_size, layout, return_indices=False, out=None):
    layout = _layout(layout)
    arr, unbatched, (n, c, h, w) = _input(x, layout)
    oh, ow = _output_size(output_size, (h, w))
    y4, y, i4, idx = _targets(out, _shape(layout, n, c, oh, ow), arr.dtype, unbatched, [arr],
                              return_indices)
    if y4.size:
        _pool.forward(kind, _geometry(n, c, (h, w), (oh, ow), layout=layout), arr, y4, i4)
    return (y, idx) if return_indices else y


def adaptive_avg_pool2d(x, output_size, *, layout="NCHW", out=None):
    """Adaptive average pooling, equal to ``torch.nn.functional.adaptive_avg_pool2d``.

    Output cell ``i`` along an axis averages input ``[floor(i*in/out),
    ceil((i+1)*in/out))``, so inputs of any size give an ``output_size`` map.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    output_size : int or (int or None, int or None)
        None keeps that input size.
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Where to write the result, as in :func:`max_pool2d`.

    Returns
    -------
    ndarray, spatial size ``output_size``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d(np.ones((2, 3, 11, 7)), 7).shape
    (2, 3, 7, 7)
    """
    return _adaptive(_pool.ADAPTIVE_AVG, x, output_size, layout, out=out)


def adaptive_max_pool2d(x, output_size, return_indices=False, *, layout="NCHW", out=None):
    """Adaptive max pooling, equal to ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    output_size : int or (int or None, int or None)
    return_indices : bool
        Also return the positions of the maxima (for :func:`max_pool2d_backward`).
    layout : {"NCHW", "NHWC"}
    out : ndarray, or (ndarray, ndarray) with ``return_indices``, optional
        Where to write the result, as in :func:`max_pool2d`.

    Returns
    -------
    y : ndarray
    indices : ndarray of int64, only with ``return_indices``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> fastconv.adaptive_max_pool2d(x, 2)
    array([[[[4., 5.],
             [7., 8.]]]])
    """
    return _adaptive(_pool.ADAPTIVE_MAX, x, output_size, layout, bool(return_indices), out)


def _global(kind, x, keepdims, layout):
    layout = _layout(layout)
    y = _adaptive(kind, x, 1, layout)
    if keepdims:
        return y
    return y.reshape(y.shape[:-3] + (y.shape[-3 if layout == "NCHW" else -1],))


def global_avg_pool2d(x, keepdims=False, *, layout="NCHW"):
    """Mean over each whole plane.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    keepdims : bool
        Keep the two spatial axes (of size 1) in the result.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, shape (N, C) (unbatched: (C,)), or 4-D with ``keepdims``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_avg_pool2d(np.ones((2, 3, 5, 5))).shape
    (2, 3)
    """
    return _global(_pool.ADAPTIVE_AVG, x, keepdims, layout)


def global_max_pool2d(x, keepdims=False, *, layout="NCHW"):
    """Maximum over each whole plane (NaN propagates).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    keepdims : bool
        Keep the two spatial axes (of size 1) in the result.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, shape (N, C) (unbatched: (C,)), or 4-D with ``keepdims``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.global_max_pool2d(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[3., 7.]])
    """
    return _global(_pool.ADAPTIVE_MAX, x, keepdims, layout)


# ---- backward ------------------------------------------------------------------------------

def _grad_out(grad_out, layout):
    if _native_float(grad_out) and grad_out.ndim in (3, 4):
        gy4, unbatched = _batched(grad_out, "grad_out", layout)
        return gy4, unbatched, grad_out.ndim
    gy = np.asarray(grad_out)
    dtype = compute_dtype(gy, name="grad_out")
    gy4, unbatched = _batched(gy, "grad_out", layout)
    return _dense(gy4, dtype, "grad_out"), unbatched, gy.ndim


def max_pool2d_backward(grad_out, indices, input_shape, *, layout="NCHW", out=None):
    """Gradient of max pooling with respect to its input.

    Routes each output gradient to the input cell its index names, summing
    where several windows picked the same cell (overlapping windows).  The
    same function serves :func:`adaptive_max_pool2d` and
    :func:`stochastic_pool2d`, through their ``return_indices``.

    Parameters
    ----------
    grad_out : array_like
        Gradient of the pooled output (its shape and layout).
    indices : array_like of int
        The indices the forward pass returned, same shape as ``grad_out``.
    input_shape : tuple of int
        Shape of the forward input (same layout, batched or not like ``grad_out``).
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Where to write the gradient: shape ``input_shape``, the gradient's
        dtype, C-contiguous, not overlapping the inputs.

    Returns
    -------
    ndarray, shape ``input_shape``

    Raises
    ------
    ValueError
        For mismatched shapes or an index outside the input plane.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> y, i = fastconv.max_pool2d(x, 2, return_indices=True)
    >>> fastconv.max_pool2d_backward(np.ones_like(y), i, x.shape)
    array([[[[0., 0.],
             [1., 0.]]]])
    """
    layout = _layout(layout)
    gy, unbatched, ndim = _grad_out(grad_out, layout)
    idx = _indices(indices, np.shape(grad_out))
    if unbatched:
        idx = idx[None]
    n, c, oh, ow = _dims(gy.shape, layout)
    _, (h, w) = _input_shape(input_shape, ndim, layout, n, c)
    gx4, gx = _target(out, _shape(layout, n, c, h, w), gy.dtype, unbatched, [gy, idx])
    if gy.size:
        _pool.max_backward(_geometry(n, c, (h, w), (oh, ow), layout=layout), gy, idx, gx4)
    else:
        gx4[...] = 0
    return gx


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None, *, layout="NCHW", out=None):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Each output gradient, divided by its window's divisor, is added to every
    cell of its window.

    Parameters
    ----------
    grad_out : array_like
        Gradient of the pooled output.
    input_shape : tuple of int
        Shape of the forward input (same layout, batched or not like ``grad_out``).
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        The arguments of the forward call.
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Where to write the gradient: shape ``input_shape``, the gradient's
        dtype, C-contiguous, not overlapping the inputs.

    Returns
    -------
    ndarray, shape ``input_shape``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2, 2), 2)
    array([[[[0.25, 0.25],
             [0.25, 0.25]]]])
    """
    layout = _layout(layout)
    kernel = _ints(kernel_size, "kernel_size", 2, 1)
    stride = _stride(stride, kernel)
    padding = _ints(padding, "padding", 2, 0)
    _check_padding(padding, kernel)
    divisor = _divisor(divisor_override)
    gy, unbatched, ndim = _grad_out(grad_out, layout)
    n, c, oh, ow = _dims(gy.shape, layout)
    shape, (h, w) = _input_shape(input_shape, ndim, layout, n, c)
    expected = _pooled_sizes((h, w), kernel, stride, padding, (1, 1), bool(ceil_mode), "input_shape")
    if (oh, ow) != expected:
        raise ValueError(
            f"grad_out has spatial size {(oh, ow)}, but pooling input_shape={shape} gives {expected}"
        )
    gx4, gx = _target(out, _shape(layout, n, c, h, w), gy.dtype, unbatched, [gy])
    if gy.size:
        geom = _geometry(n, c, (h, w), (oh, ow), kernel, stride, (1, 1), padding, layout)
        _pool.avg_backward(geom, gy, gx4, False, bool(count_include_pad), divisor)
    else:
        gx4[...] = 0
    return gx


def adaptive_avg_pool2d_backward(grad_out, input_shape, *, layout="NCHW", out=None):
    """Gradient of :func:`adaptive_avg_pool2d` with respect to its input.

    Parameters
    ----------
    grad_out : array_like
        Gradient of the pooled output; its spatial size is the ``output_size``.
    input_shape : tuple of int
        Shape of the forward input (same layout, batched or not like ``grad_out``).
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional
        Where to write the gradient: shape ``input_shape``, the gradient's
        dtype, C-contiguous, not overlapping the inputs.

    Returns
    -------
    ndarray, shape ``input_shape``

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.adaptive_avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 1, 4))
    array([[[[0.25, 0.25, 0.25, 0.25]]]])
    """
    layout = _layout(layout)
    gy, unbatched, ndim = _grad_out(grad_out, layout)
    n, c, oh, ow = _dims(gy.shape, layout)
    _, (h, w) = _input_shape(input_shape, ndim, layout, n, c)
    gx4, gx = _target(out, _shape(layout, n, c, h, w), gy.dtype, unbatched, [gy])
    if gy.size:
        _pool.avg_backward(_geometry(n, c, (h, w), (oh, ow), layout=layout), gy, gx4, True)
    else:
        gx4[...] = 0
    return gx


# ---- unpooling -------------------------------------------------------------------------------

def _unpooled_sizes(out_hw, kernel, stride, padding, output_size, ndim, layout):
    default = tuple((n - 1) * s - 2 * p + k for n, k, s, p in zip(out_hw, kernel, stride, padding))
    if output_size is None:
        sizes = default
    else:
        try:
            given = tuple(_int(v, "output_size") for v in output_size)
        except TypeError:
            raise TypeError(f"output_size must be a tuple of integers, got {output_size!r}") from None
        if len(given) == ndim:
            given4 = given if ndim == 4 else (1,) + given
            given = _dims(given4, layout)[2:]
        if len(given) != 2:
            raise ValueError(f"output_size must have 2 entries (or one per axis of x), got {output_size!r}")
        for g, d, s in zip(given, default, stride):
            if not d - s < g < d + s:
                raise ValueError(
                    f"output_size={output_size!r} is inconsistent with the pooling: each spatial "
                    f"size must lie strictly between default - stride and default + stride "
                    f"(default {default}, stride {stride})"
                )
        sizes = given
    if min(sizes) < 0 or max(sizes) > _DIM_MAX:  # (0: an empty result, as PyTorch's)
        raise ValueError(f"the unpooled size {sizes} is invalid (kernel_size={kernel}, "
                         f"stride={stride}, padding={padding})")
    return sizes


def _unpool_args(x, kernel_size, stride, padding, layout):
    layout = _layout(layout)
    kernel = _ints(kernel_size, "kernel_size", 2, 1)
    stride = _stride(stride, kernel)
    padding = _ints(padding, "padding", 2, 0)
    arr = np.asarray(x)
    dtype = compute_dtype(arr, name="x")
    x4, unbatched = _batched(arr, "x", layout)
    return layout, kernel, stride, padding, _dense(x4, dtype, "x"), unbatched, arr.ndim


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None, *, layout="NCHW"):
    """Partial inverse of max pooling, equal to ``torch.nn.functional.max_unpool2d``.

    Each value of ``x`` goes to the position its index names; every other
    cell is 0.  Where two indices name the same cell, the later one in
    row-major order wins.

    Parameters
    ----------
    x : array_like, the pooled array (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    indices : array_like of int
        The indices :func:`max_pool2d` returned, same shape as ``x``.
    kernel_size, stride, padding : int or (int, int)
        The pooling's arguments; they give the default output size
        ``(H - 1) * stride - 2 * padding + kernel_size``.
    output_size : tuple of int, optional
        The size to restore (2 entries, or one per axis of ``x``), strictly
        between ``default - stride`` and ``default + stride``.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, the unpooled array

    Raises
    ------
    ValueError
        For an inconsistent ``output_size``, mismatched shapes or an index
        outside the output plane.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> x = np.array([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> y, i = fastconv.max_pool2d(x, 2, return_indices=True)
    >>> fastconv.max_unpool2d(y, i, 2)
    array([[[[0., 0.],
             [4., 0.]]]])
    """
    layout, kernel, stride, padding, x4, unbatched, ndim = _unpool_args(
        x, kernel_size, stride, padding, layout)
    idx = _indices(indices, np.shape(x))
    if unbatched:
        idx = idx[None]
    n, c, oh, ow = _dims(x4.shape, layout)
    h, w = _unpooled_sizes((oh, ow), kernel, stride, padding, output_size, ndim, layout)
    y = np.empty(_shape(layout, n, c, h, w), dtype=x4.dtype)
    if x4.size and y.size:
        _pool.max_unpool(_geometry(n, c, (h, w), (oh, ow), layout=layout), x4, idx, y)
    else:
        y[...] = 0
    return _finish(y, unbatched)


def avg_unpool2d(x, kernel_size, stride=None, padding=0, output_size=None, *, layout="NCHW"):
    """Partial inverse of average pooling.

    Every output cell receives the mean of the pooled values of the windows
    covering it (for non-overlapping windows: each value copied over its
    whole window), and 0 where no window covers it.

    Parameters
    ----------
    x : array_like, the pooled array (N, C, H, W) or (N, H, W, C), or unbatched 3-D
    kernel_size, stride, padding : int or (int, int)
        The pooling's arguments; window ``o`` covers
        ``[o * stride - padding, o * stride - padding + kernel_size)``.
    output_size : tuple of int, optional
        As in :func:`max_unpool2d`.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, the unpooled array

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.avg_unpool2d(np.array([[[[1.0, 2.0]]]]), 2)
    array([[[[1., 1., 2., 2.],
             [1., 1., 2., 2.]]]])
    """
    layout, kernel, stride, padding, x4, unbatched, ndim = _unpool_args(
        x, kernel_size, stride, padding, layout)
    n, c, oh, ow = _dims(x4.shape, layout)
    h, w = _unpooled_sizes((oh, ow), kernel, stride, padding, output_size, ndim, layout)
    y = np.empty(_shape(layout, n, c, h, w), dtype=x4.dtype)
    if x4.size and y.size:
        geom = _geometry(n, c, (h, w), (oh, ow), kernel, stride, (1, 1), padding, layout)
        _pool.avg_unpool(geom, x4, y)
    else:
        y[...] = 0
    return _finish(y, unbatched)
