"""Slow, obvious NumPy references for the unshared-convolution and linear tests.

Written for clarity, not speed: explicit zero padding, then a Python loop over
the output positions with one small tensor contraction per window, in float64.
Everything is NCHW (the tests transpose for NHWC).  Padding is
``((top, bottom), (left, right))``; weights are ``(OH, OW, K, C, kh, kw)``
for the locally connected layer and ``(tH, tW, K, C, kh, kw)`` for the tiled
convolution.
"""
import numpy as np


def out_size(n, k, stride, dilation, before, after):
    return (n + before + after - dilation * (k - 1) - 1) // stride + 1


def _pad(x, pads):
    (t, b), (l, r) = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))


def _taps(i, j, kernel, stride, dilation):
    """Rows and columns of the padded input read by output (i, j)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    return i * sh + dh * np.arange(kh), j * sw + dw * np.arange(kw)


def output_shape(x_shape, kernel, stride, pads, dilation):
    return (out_size(x_shape[2], kernel[0], stride[0], dilation[0], *pads[0]),
            out_size(x_shape[3], kernel[1], stride[1], dilation[1], *pads[1]))


def expand_tiles(w, oh, ow):
    """Tiled weights (tH, tW, ...) as one bank per output position (OH, OW, ...)."""
    th, tw = w.shape[:2]
    return np.asarray(w)[np.arange(oh)[:, None] % th, np.arange(ow)[None, :] % tw]


def local_conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    """y[n, k, i, j] = b + sum_{c, r, s} w[i, j, k, c, r, s] * xpad[n, c, rows[r], cols[s]]."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    oh_n, ow_n, k = w.shape[:3]
    kernel = w.shape[4:]
    assert (oh_n, ow_n) == output_shape(x.shape, kernel, stride, pads, dilation)
    xp = _pad(x, pads)
    y = np.zeros((x.shape[0], k, oh_n, ow_n))
    for i in range(oh_n):
        for j in range(ow_n):
            rows, cols = _taps(i, j, kernel, stride, dilation)
            win = xp[:, :, rows[:, None], cols[None, :]]               # (N, C, kh, kw)
            y[:, :, i, j] = np.einsum("ncrs,kcrs->nk", win, w[i, j])
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        y += b[None] if b.ndim == 3 else b[None, :, None, None]
    return y


def tiled_conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    kernel = w.shape[4:]
    oh, ow = output_shape(np.shape(x), kernel, stride, pads, dilation)
    return local_conv2d(x, expand_tiles(w, oh, ow), b, stride, pads, dilation)


def local_conv2d_grads(go, x, w, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    """(grad_input, grad_weight, grad_bias (K, OH, OW)) for output gradient go."""
    go = np.asarray(go, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    kernel = w.shape[4:]
    xp = _pad(x, pads)
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            rows, cols = _taps(i, j, kernel, stride, dilation)
            win = xp[:, :, rows[:, None], cols[None, :]]
            g = go[:, :, i, j]                                          # (N, K)
            gw[i, j] = np.einsum("nk,ncrs->kcrs", g, win)
            contrib = np.einsum("nk,kcrs->ncrs", g, w[i, j])
            for r in range(kernel[0]):
                for s in range(kernel[1]):
                    gxp[:, :, rows[r], cols[s]] += contrib[:, :, r, s]
    (t, _), (l, _) = pads
    gx = gxp[:, :, t:t + x.shape[2], l:l + x.shape[3]]
    return gx, gw, go.sum(axis=0)


def tiled_conv2d_grads(go, x, w, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1)):
    """(grad_input, grad_weight, grad_bias (K,)): the per-position weight
    gradients summed back into their tiles."""
    w = np.asarray(w, dtype=np.float64)
    th, tw = w.shape[:2]
    oh, ow = np.shape(go)[2:]
    gx, gw_full, gb = local_conv2d_grads(go, x, expand_tiles(w, oh, ow), stride, pads, dilation)
    gw = np.zeros_like(w)
    for i in range(oh):
        for j in range(ow):
            gw[i % th, j % tw] += gw_full[i, j]
    return gx, gw, gb.sum(axis=(1, 2))


def keras_local_conv2d(x_nhwc, kernel, bias, kernel_size, strides, output_size):
    """Keras 2's LocallyConnected2D (channels_last, valid padding), as its
    backend computes it: every window flattened in (row, column, channel)
    order, one batched dot per position with the kernel
    (OH * OW, kh * kw * C, K), plus the (OH, OW, K) bias."""
    x = np.asarray(x_nhwc, dtype=np.float64)
    (kh, kw), (sh, sw), (oh, ow) = kernel_size, strides, output_size
    out = np.zeros((x.shape[0], oh, ow, kernel.shape[2]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :].reshape(x.shape[0], -1)
            out[:, i, j, :] = patch @ np.asarray(kernel, dtype=np.float64)[i * ow + j]
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None]
    return out


def linear(x, w, b=None):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    y = np.zeros(x.shape[:-1] + (w.shape[0],))
    for o in range(w.shape[0]):
        y[..., o] = (x * w[o]).sum(axis=-1)
    if b is not None:
        y += np.asarray(b, dtype=np.float64)
    return y


def linear_grads(go, x, w):
    go = np.asarray(go, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    g2 = go.reshape(-1, w.shape[0])
    x2 = x.reshape(-1, w.shape[1])
    return (g2 @ w).reshape(x.shape), g2.T @ x2, g2.sum(axis=0)


def numerical_gradient(f, a, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of
    a (modified in place and restored)."""
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = a[idx]
        a[idx] = old + eps
        fp = f()
        a[idx] = old - eps
        fm = f()
        a[idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g
