"""Slow, obvious reference implementations of fastconv's signal API.

Written from the definitions in NumPy's and SciPy's documentation for
clarity, one output at a time; never fast.  Integer results are computed with
Python integers (exact) and then wrapped to the result dtype, as NumPy and
SciPy wrap; float and complex results are summed in Python floats / complex
(double precision) in the libraries' tap order.
"""
from __future__ import annotations

import numpy as np

NP_MODES = {0: "valid", 1: "same", 2: "full"}


def wrap_int(value: int, dtype: np.dtype):
    """A Python integer reduced modulo 2**bits into an integer dtype (two's complement)."""
    bits = 8 * dtype.itemsize
    value &= (1 << bits) - 1
    if dtype.kind == "i" and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def _to_python(arr: np.ndarray, dtype: np.dtype):
    """Elements as Python numbers of the computation: int for integers and bool, else complex/float."""
    if dtype.kind in "iub":
        return [int(x) for x in arr.astype(dtype).ravel()]
    if dtype.kind == "c":
        return [complex(x) for x in arr.astype(dtype).ravel()]
    return [float(x) for x in arr.astype(dtype).ravel()]


def _finish(values, dtype: np.dtype, shape):
    if dtype.kind == "b":
        return np.array([v != 0 for v in values], dtype=bool).reshape(shape)
    if dtype.kind in "iu":
        return np.array([wrap_int(v, dtype) for v in values], dtype=dtype).reshape(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array(values, dtype=np.complex128 if dtype.kind == "c" else np.float64).astype(
            dtype).reshape(shape)


# ---------------------------------------------------------------------------
# numpy.convolve / numpy.correlate
# ---------------------------------------------------------------------------

def _np_core(x, y, mode, dtype):
    """out[k] = sum_j x[k - n_left + j] * y[j], x zero outside, len(x) >= len(y)."""
    n1, n = len(x), len(y)
    if mode == "valid":
        n_left, length = 0, n1 - n + 1
    elif mode == "same":
        n_left, length = n // 2, n1
    else:
        n_left, length = n - 1, n1 + n - 1
    xs = _to_python(x, dtype)
    ys = _to_python(y, dtype)
    out = []
    for k in range(length):
        acc = 0
        for j in range(n):
            i = k - n_left + j
            if 0 <= i < n1:
                acc = acc + xs[i] * ys[j]
        out.append(acc)
    return _finish(out, dtype, (length,))


def np_convolve(a, v, mode="full"):
    """numpy.convolve: the longer sequence first, the shorter reversed."""
    mode = NP_MODES.get(mode, mode)
    a = np.array(a, ndmin=1)
    v = np.array(v, ndmin=1)
    if len(v) > len(a):
        a, v = v, a
    dtype = np.result_type(a, v)
    return _np_core(a, v[::-1], mode, dtype)


def np_correlate(a, v, mode="valid"):
    """numpy.correlate: c[k] = sum_n a[n + k] conj(v[n]); a shorter a swaps and reverses."""
    mode = NP_MODES.get(mode, mode)
    a = np.asarray(a)
    v = np.asarray(v)
    dtype = np.result_type(a, v)
    v = np.conjugate(v.astype(dtype))
    if len(a) < len(v):
        return _np_core(v, a, mode, dtype)[::-1]
    return _np_core(a, v, mode, dtype)


# ---------------------------------------------------------------------------
# scipy.signal.convolve2d / correlate2d
# ---------------------------------------------------------------------------

def extend_index(j: int, n: int, boundary: str):
    """Index j of an extended axis of length n: an index in [0, n), or None for the fill value."""
    if 0 <= j < n:
        return j
    if boundary in ("fill", "pad"):
        return None
    if boundary in ("wrap", "circular"):
        return j % n
    # symmetric: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..., repeated with period 2n
    k = j % (2 * n) if j >= 0 else (-j - 1) % (2 * n)
    return 2 * n - 1 - k if k >= n else k


def scipy_2d(in1, in2, mode="full", boundary="fill", fillvalue=0, convolve=False):
    """scipy.signal.convolve2d (convolve=True) / correlate2d, one output at a time.

    Output (m, n) of a correlation sums in2[j, k] * in1e[m - top + j, n - left + k]
    with in1e the extended in1; a convolution sums in2[j, k] * in1e[m + top - j, ...].
    For 'valid' mode, the inputs are swapped when in2 is the larger (and a
    swapped correlation is reversed).
    """
    in1 = np.asarray(in1)
    in2 = np.asarray(in2)
    swap = mode == "valid" and all(b >= a for a, b in zip(in1.shape, in2.shape)) and \
        not all(a >= b for a, b in zip(in1.shape, in2.shape))
    if swap:
        in1, in2 = in2, in1
    if not convolve:
        in2 = in2.conj()
    dtype = np.result_type(in1, in2)
    (H, W), (kh, kw) = in1.shape, in2.shape
    if mode == "full":
        oh, ow = H + kh - 1, W + kw - 1
    elif mode == "same":
        oh, ow = H, W
    else:
        oh, ow = H - kh + 1, W - kw + 1
    x = _to_python(in1, dtype)
    h = _to_python(in2, dtype)
    fill = _to_python(np.asarray(fillvalue), dtype)[0] if boundary in ("fill", "pad") else 0
    out = []
    for m in range(oh):
        for n in range(ow):
            acc = 0
            for j in range(kh):
                for k in range(kw):
                    if convolve:
                        top = {"full": 0, "same": (kh - 1) // 2, "valid": kh - 1}[mode]
                        left = {"full": 0, "same": (kw - 1) // 2, "valid": kw - 1}[mode]
                        u, v = m + top - j, n + left - k
                    else:
                        top = {"full": kh - 1, "same": (kh - 1) // 2, "valid": 0}[mode]
                        left = {"full": kw - 1, "same": (kw - 1) // 2, "valid": 0}[mode]
                        u, v = m - top + j, n - left + k
                    iu = extend_index(u, H, boundary)
                    iv = extend_index(v, W, boundary) if iu is not None else None
                    value = fill if iu is None or iv is None else x[iu * W + iv]
                    acc = acc + h[j * kw + k] * value
            out.append(acc)
    res = _finish(out, dtype, (oh, ow))
    if swap and not convolve:
        res = res[::-1, ::-1]
    return res


def filter2d(images, kernel, mode="same", boundary="fill", fillvalue=0, convolve=False):
    """fastconv.filter2d: scipy_2d over every pair of the broadcast leading dimensions."""
    images = np.asarray(images)
    kernel = np.asarray(kernel)
    batch = np.broadcast_shapes(images.shape[:-2], kernel.shape[:-2])
    xs = np.broadcast_to(images, batch + images.shape[-2:])
    ks = np.broadcast_to(kernel, batch + kernel.shape[-2:])
    outs = [scipy_2d(xs[idx], ks[idx], mode, boundary, fillvalue, convolve) for idx in np.ndindex(*batch)]
    first = outs[0]
    return np.stack(outs).reshape(batch + first.shape) if outs else None
