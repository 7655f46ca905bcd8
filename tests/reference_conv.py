"""Slow, obvious NumPy references for the convolution tests.

Written for clarity, not speed: explicit zero padding, then a Python loop over
the output windows (or input pixels) with one small tensor contraction per
window.  Everything is NCHW (the tests transpose for NHWC) and 2-D (1-D cases
use a height of 1).  Padding is ``((top, bottom), (left, right))``.
"""
import numpy as np


def out_size(n, k, stride, dilation, before, after):
    return (n + before + after - dilation * (k - 1) - 1) // stride + 1


def same_padding(n, k, stride, dilation):
    """TensorFlow's "same": ceil(n / stride) outputs, the odd extra after."""
    out = -(-n // stride)
    total = max((out - 1) * stride + dilation * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


def _pad(x, pads):
    (t, b), (l, r) = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))


def _window(xp, oh, ow, kernel, stride, dilation):
    """The (N, C, kh, kw) window of padded input feeding output (oh, ow)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    rows = oh * sh + dh * np.arange(kh)
    cols = ow * sw + dw * np.arange(kw)
    return xp[:, :, rows[:, None], cols[None, :]]


def conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    kg = k // groups
    oh_n = out_size(h, kh, stride[0], dilation[0], *pads[0])
    ow_n = out_size(wd, kw, stride[1], dilation[1], *pads[1])
    xp = _pad(x, pads)
    y = np.zeros((n, k, oh_n, ow_n))
    for oh in range(oh_n):
        for ow in range(ow_n):
            win = _window(xp, oh, ow, (kh, kw), stride, dilation)
            for g in range(groups):
                wg = w[g * kg:(g + 1) * kg]
                xg = win[:, g * cg:(g + 1) * cg]
                y[:, g * kg:(g + 1) * kg, oh, ow] = np.einsum("ncrs,kcrs->nk", xg, wg)
    if b is not None:
        y += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def conv2d_grads(go, x, w, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """(grad_input, grad_weight, grad_bias) of conv2d for output gradient go."""
    go = np.asarray(go, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    kg = k // groups
    xp = _pad(x, pads)
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    (sh, sw), (dh, dw) = stride, dilation
    for oh in range(go.shape[2]):
        for ow in range(go.shape[3]):
            rows = oh * sh + dh * np.arange(kh)
            cols = ow * sw + dw * np.arange(kw)
            win = xp[:, :, rows[:, None], cols[None, :]]
            for g in range(groups):
                gk = go[:, g * kg:(g + 1) * kg, oh, ow]                    # (N, kg)
                gw[g * kg:(g + 1) * kg] += np.einsum("nk,ncrs->kcrs", gk, win[:, g * cg:(g + 1) * cg])
                contrib = np.einsum("nk,kcrs->ncrs", gk, w[g * kg:(g + 1) * kg])
                for r in range(kh):
                    for s in range(kw):
                        gxp[:, g * cg:(g + 1) * cg, rows[r], cols[s]] += contrib[:, :, r, s]
    (t, _), (l, _) = pads
    gx = gxp[:, :, t:t + h, l:l + wd]
    gb = go.sum(axis=(0, 2, 3))
    return gx, gw, gb


def conv_transpose2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), output_padding=(0, 0),
                     dilation=(1, 1), groups=1):
    """Scatter every input pixel times its weight slice into the (padded) output."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    _, kog, kh, kw = w.shape
    cg = c // groups
    (sh, sw), (dh, dw) = stride, dilation
    (t, bt), (l, r) = pads
    full_h = (h - 1) * sh + dh * (kh - 1) + 1 + output_padding[0]
    full_w = (wd - 1) * sw + dw * (kw - 1) + 1 + output_padding[1]
    yp = np.zeros((n, kog * groups, max(full_h, t + 1), max(full_w, l + 1)))
    for ih in range(h):
        for iw in range(wd):
            rows = ih * sh + dh * np.arange(kh)
            cols = iw * sw + dw * np.arange(kw)
            for g in range(groups):
                xg = x[:, g * cg:(g + 1) * cg, ih, iw]                       # (N, cg)
                contrib = np.einsum("nc,ckrs->nkrs", xg, w[g * cg:(g + 1) * cg])
                for rr in range(kh):
                    for ss in range(kw):
                        yp[:, g * kog:(g + 1) * kog, rows[rr], cols[ss]] += contrib[:, :, rr, ss]
    oh = full_h - t - bt
    ow = full_w - l - r
    y = yp[:, :, t:t + oh, l:l + ow]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def im2col(x, kernel, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    """(N, C*kh*kw, L), rows ordered (c, r, s): torch's unfold."""
    x = np.asarray(x, dtype=np.float64)
    n, c, h, wd = x.shape
    kh, kw = kernel
    oh_n = out_size(h, kh, stride[0], dilation[0], *pads[0])
    ow_n = out_size(wd, kw, stride[1], dilation[1], *pads[1])
    xp = _pad(x, pads)
    col = np.zeros((n, c * kh * kw, oh_n * ow_n))
    for oh in range(oh_n):
        for ow in range(ow_n):
            col[:, :, oh * ow_n + ow] = _window(xp, oh, ow, kernel, stride, dilation).reshape(n, -1)
    return col


def col2im(col, size, kernel, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    """Sum every window of col back into an (N, C, H, W) image: torch's fold."""
    col = np.asarray(col, dtype=np.float64)
    n = col.shape[0]
    kh, kw = kernel
    c = col.shape[1] // (kh * kw)
    h, wd = size
    (t, b), (l, r) = pads
    oh_n = out_size(h, kh, stride[0], dilation[0], t, b)
    ow_n = out_size(wd, kw, stride[1], dilation[1], l, r)
    xp = np.zeros((n, c, h + t + b, wd + l + r))
    for oh in range(oh_n):
        for ow in range(ow_n):
            rows = oh * stride[0] + dilation[0] * np.arange(kh)
            cols = ow * stride[1] + dilation[1] * np.arange(kw)
            blk = col[:, :, oh * ow_n + ow].reshape(n, c, kh, kw)
            for rr in range(kh):
                for ss in range(kw):
                    xp[:, :, rows[rr], cols[ss]] += blk[:, :, rr, ss]
    return xp[:, :, t:t + h, l:l + wd]
