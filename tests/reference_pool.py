"""Slow, obvious NumPy references for pooling, written for clarity, not speed.

Everything works on NCHW arrays (tests transpose NHWC data before and after),
with nested Python loops over output cells and window taps.  Window sums are
computed in float64 and the result is cast back to the input dtype.
"""
import math

import numpy as np


def pooled_size(size, k, s, p, d=1, ceil_mode=False):
    """PyTorch's output size along one axis."""
    span = d * (k - 1) + 1
    if ceil_mode:
        out = math.ceil((size + 2 * p - span) / s) + 1
        if (out - 1) * s >= size + p:  # the last window would start in the right padding
            out -= 1
    else:
        out = math.floor((size + 2 * p - span) / s) + 1
    return out


def _taps(o, size, k, s, p, d):
    """Input positions of window o along one axis, the padded ones left out."""
    return [o * s - p + i * d for i in range(k) if 0 <= o * s - p + i * d < size]


def _first_tap(o, s, p, d):
    """PyTorch's starting position of window o: its first tap at or after 0."""
    t = o * s - p
    while t < 0:
        t += d
    return t


def max_pool2d(x, k, s, p=(0, 0), d=(1, 1), ceil_mode=False):
    """Values and indices (flat h * W + w) of 2-D max pooling, PyTorch's rules:
    a tap wins when greater than the running max or NaN."""
    n, c, h, w = x.shape
    oh = pooled_size(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = pooled_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    idx = np.empty((n, c, oh, ow), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    best = -np.inf
                    best_i = _first_tap(i, s[0], p[0], d[0]) * w + _first_tap(j, s[1], p[1], d[1])
                    for r in _taps(i, h, k[0], s[0], p[0], d[0]):
                        for q in _taps(j, w, k[1], s[1], p[1], d[1]):
                            v = x[b, ch, r, q]
                            if v > best or np.isnan(v):
                                best, best_i = v, r * w + q
                    y[b, ch, i, j] = best
                    idx[b, ch, i, j] = best_i
    return y, idx


def avg_pool2d(x, k, s, p=(0, 0), ceil_mode=False, count_include_pad=True, divisor_override=None):
    n, c, h, w = x.shape
    oh = pooled_size(h, k[0], s[0], p[0], 1, ceil_mode)
    ow = pooled_size(w, k[1], s[1], p[1], 1, ceil_mode)
    y = np.empty((n, c, oh, ow), dtype=x.dtype)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    rows = _taps(i, h, k[0], s[0], p[0], 1)
                    cols = _taps(j, w, k[1], s[1], p[1], 1)
                    total = sum(float(x[b, ch, r, q]) for r in rows for q in cols)
                    y[b, ch, i, j] = total / _avg_divisor(i, j, h, w, k, s, p, count_include_pad,
                                                          divisor_override, len(rows) * len(cols))
    return y


def _avg_divisor(i, j, h, w, k, s, p, count_include_pad, divisor_override, inside):
    if divisor_override:
        return divisor_override
    if count_include_pad:
        # the window clipped to the padded input (ceil_mode's overhang does not count)
        hs, ws = i * s[0] - p[0], j * s[1] - p[1]
        return (min(hs + k[0], h + p[0]) - hs) * (min(ws + k[1], w + p[1]) - ws)
    return inside


def _adaptive_range(o, size, out):
    return math.floor(o * size / out), math.ceil((o + 1) * size / out)


def adaptive_avg_pool2d(x, out_hw):
    n, c, h, w = x.shape
    y = np.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    for i in range(out_hw[0]):
        h0, h1 = _adaptive_range(i, h, out_hw[0])
        for j in range(out_hw[1]):
            w0, w1 = _adaptive_range(j, w, out_hw[1])
            for b in range(n):
                for ch in range(c):
                    y[b, ch, i, j] = x[b, ch, h0:h1, w0:w1].astype(np.float64).mean()
    return y


def adaptive_max_pool2d(x, out_hw):
    n, c, h, w = x.shape
    y = np.empty((n, c) + tuple(out_hw), dtype=x.dtype)
    idx = np.empty((n, c) + tuple(out_hw), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(out_hw[0]):
                h0, h1 = _adaptive_range(i, h, out_hw[0])
                for j in range(out_hw[1]):
                    w0, w1 = _adaptive_range(j, w, out_hw[1])
                    best, best_i = -np.inf, h0 * w + w0
                    for r in range(h0, h1):
                        for q in range(w0, w1):
                            v = x[b, ch, r, q]
                            if v > best or np.isnan(v):
                                best, best_i = v, r * w + q
                    y[b, ch, i, j] = best
                    idx[b, ch, i, j] = best_i
    return y, idx


def stochastic_windows(x, k, s):
    """Every window of stochastic pooling as a list of (value, flat index) pairs, row-major."""
    n, c, h, w = x.shape
    oh, ow = pooled_size(h, k[0], s[0], 0), pooled_size(w, k[1], s[1], 0)
    windows = np.empty((n, c, oh, ow), dtype=object)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    windows[b, ch, i, j] = [
                        (x[b, ch, r, q], r * w + q)
                        for r in range(i * s[0], i * s[0] + k[0])
                        for q in range(j * s[1], j * s[1] + k[1])
                    ]
    return windows


def stochastic_pool2d_inference(x, k, s):
    """sum(a^2) / sum(a) per window (0 for an all-zero window)."""
    windows = stochastic_windows(x, k, s)
    y = np.empty(windows.shape, dtype=x.dtype)
    for pos, cells in np.ndenumerate(windows):
        a = np.array([float(v) for v, _ in cells])
        y[pos] = (a * a).sum() / a.sum() if a.sum() > 0 else 0.0
    return y


def max_pool2d_backward(grad_out, indices, input_shape):
    """Each gradient added to the cell its index names."""
    gx = np.zeros(input_shape, dtype=np.float64)
    n, c, h, w = input_shape
    for b, ch, i, j in np.ndindex(grad_out.shape):
        k = indices[b, ch, i, j]
        gx[b, ch, k // w, k % w] += grad_out[b, ch, i, j]
    return gx


def avg_pool2d_backward(grad_out, input_shape, k, s, p=(0, 0), ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
    """Each gradient divided by its window's divisor and added to every cell of the window."""
    gx = np.zeros(input_shape, dtype=np.float64)
    n, c, h, w = input_shape
    oh, ow = grad_out.shape[2:]
    for i in range(oh):
        rows = _taps(i, h, k[0], s[0], p[0], 1)
        for j in range(ow):
            cols = _taps(j, w, k[1], s[1], p[1], 1)
            div = _avg_divisor(i, j, h, w, k, s, p, count_include_pad, divisor_override,
                               len(rows) * len(cols))
            for r in rows:
                for q in cols:
                    gx[:, :, r, q] += grad_out[:, :, i, j] / div
    return gx


def adaptive_avg_pool2d_backward(grad_out, input_shape):
    gx = np.zeros(input_shape, dtype=np.float64)
    n, c, h, w = input_shape
    oh, ow = grad_out.shape[2:]
    for i in range(oh):
        h0, h1 = _adaptive_range(i, h, oh)
        for j in range(ow):
            w0, w1 = _adaptive_range(j, w, ow)
            gx[:, :, h0:h1, w0:w1] += grad_out[:, :, i:i + 1, j:j + 1] / ((h1 - h0) * (w1 - w0))
    return gx


def unpooled_size(size, k, s, p):
    return (size - 1) * s - 2 * p + k


def max_unpool2d(x, indices, out_hw):
    """Zeros, then each value written at its index, in row-major order."""
    n, c = x.shape[:2]
    y = np.zeros((n, c) + tuple(out_hw), dtype=x.dtype)
    for b, ch, i, j in np.ndindex(x.shape):
        k = indices[b, ch, i, j]
        y[b, ch, k // out_hw[1], k % out_hw[1]] = x[b, ch, i, j]
    return y


def avg_unpool2d(x, k, s, p, out_hw):
    """Each output cell: the mean of x over every window covering it, 0 if none does."""
    n, c, oh, ow = x.shape
    y = np.zeros((n, c) + tuple(out_hw), dtype=np.float64)
    for r in range(out_hw[0]):
        for q in range(out_hw[1]):
            covering = [
                (i, j)
                for i in range(oh)
                for j in range(ow)
                if i * s[0] - p[0] <= r < i * s[0] - p[0] + k[0]
                and j * s[1] - p[1] <= q < j * s[1] - p[1] + k[1]
            ]
            if covering:
                y[:, :, r, q] = sum(x[:, :, i, j].astype(np.float64) for i, j in covering) / len(covering)
    return y.astype(x.dtype)
