"""Convolution: im2col/col2im, conv1d/conv2d forward and backward, transposed convolution.

Every function follows the semantics of the PyTorch function of the same name
(``torch.nn.functional.conv2d``, ``unfold``, ``fold``, ...), so swapping one
for the other gives the same numbers within floating-point tolerance.  The
computation is cross-correlation, as in deep-learning libraries.

Arguments are normalised here once: padding strings become explicit
``(before, after)`` pairs, layouts become axis orders, dtypes are promoted
(float32 and float64 compute natively, float16 computes in float32, integers
and bool in float64, complex raises ``TypeError``).  The C core receives dense
arrays and a geometry of plain integers.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import _conv
from ._validate import all_finite, check_out, compute_dtype

__all__ = [
    "col2im",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "im2col",
]

_LAYOUT_NCHW, _LAYOUT_NHWC = 0, 1
_ALGORITHMS = {"auto": 0, "gemm": 1, "direct": 2, "winograd": 3}
_PADDING_STRINGS = ("valid", "same", "full")
_NEEDS = ("input", "weight", "bias")


# ---------------------------------------------------------------------------
# argument normalisation
# ---------------------------------------------------------------------------

def _int(value, name):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None


def _tuple(value, nd, name):
    """An int or a sequence of nd ints -> tuple of nd ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            raise ValueError(f"{name} must be an int or a sequence of {nd} ints, got {value!r}")
        return tuple(_int(v, name) for v in value)
    return (_int(value, name),) * nd


def _positive(value, nd, name):
    out = _tuple(value, nd, name)
    if any(v < 1 for v in out):
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return out


def _layout(layout, nd):
    names = ("NCL", "NLC") if nd == 1 else ("NCHW", "NHWC")
    if layout == names[0]:
        return _LAYOUT_NCHW
    if layout == names[1]:
        return _LAYOUT_NHWC
    raise ValueError(f"layout must be {names[0]!r} or {names[1]!r}, got {layout!r}")


def _explicit_padding(padding, nd, name="padding"):
    """int | sequence of nd entries, each an int or a (before, after) pair."""
    if isinstance(padding, (tuple, list)):
        if len(padding) != nd:
            hint = " (for asymmetric padding write ((before, after),))" if nd == 1 and len(padding) == 2 else ""
            raise ValueError(
                f"{name} must be an int, a string or a sequence of {nd} entries "
                f"(each an int or a (before, after) pair), got {padding!r}{hint}"
            )
        pads = []
        for entry in padding:
            if isinstance(entry, (tuple, list)):
                if len(entry) != 2:
                    raise ValueError(f"{name} entries must be an int or a (before, after) pair, got {padding!r}")
                pads.append((_int(entry[0], name), _int(entry[1], name)))
            else:
                v = _int(entry, name)
                pads.append((v, v))
    else:
        v = _int(padding, name)
        pads = [(v, v)] * nd
    if any(p < 0 for pair in pads for p in pair):
        raise ValueError(f"{name} must be non-negative, got {padding!r}")
    return pads


def _resolve_padding(padding, nd, sizes, kernel, stride, dilation):
    """Padding as nd (before, after) pairs; strings resolved for these sizes."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "full":
            return [(d * (k - 1), d * (k - 1)) for k, d in zip(kernel, dilation)]
        if padding == "same":
            # TensorFlow/Keras: ceil(n / stride) outputs, the odd extra at the end
            pads = []
            for n, k, s, d in zip(sizes, kernel, stride, dilation):
                out = -(-n // s)
                total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
                pads.append((total // 2, total - total // 2))
            return pads
        raise ValueError(f"padding must be one of {_PADDING_STRINGS}, an int or a sequence, got {padding!r}")
    return _explicit_padding(padding, nd)


def _check_fits(sizes, kernel, dilation, pads, nd, what="input"):
    dims = ("length",) if nd == 1 else ("height", "width")
    for dim, n, k, d, (a, b) in zip(dims, sizes, kernel, dilation, pads):
        span = d * (k - 1) + 1
        if span > n + a + b:
            raise ValueError(
                f"kernel_size={tuple(kernel)} with dilation={tuple(dilation)} spans {span} along the "
                f"{dim}, larger than the padded {what} ({n} + padding {a}+{b} = {n + a + b})"
            )


def _out_len(n, k, s, d, a, b):
    return (n + a + b - d * (k - 1) - 1) // s + 1


def _asarray(x, name):
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex dtype {arr.dtype} is not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}")
    return arr


def _dense(arr, dtype):
    """C-contiguous, native, of dtype (a view when it already is)."""
    return np.ascontiguousarray(arr, dtype=dtype)


def _flat(arr):
    return arr.reshape(-1)


def _to4d(arr, nd, layout):
    """A batched array of nd spatial dims as the 4-D array the core takes."""
    if nd == 2:
        return arr
    if layout == _LAYOUT_NCHW:
        return arr.reshape(arr.shape[0], arr.shape[1], 1, arr.shape[2])
    return arr.reshape(arr.shape[0], 1, arr.shape[1], arr.shape[2])


def _split_shape(shape, layout):
    """(N, C, spatial...) from a batched shape in the layout."""
    if layout == _LAYOUT_NCHW:
        return shape[0], shape[1], tuple(shape[2:])
    return shape[0], shape[-1], tuple(shape[1:-1])


def _join_shape(n, c, spatial, layout):
    if layout == _LAYOUT_NCHW:
        return (n, c) + tuple(spatial)
    return (n,) + tuple(spatial) + (c,)


def _geom(n, c_in, in_sp, c_out, out_sp, kernel, stride, dilation, pads, groups, layout, algorithm=0):
    if len(in_sp) == 1:
        in_sp, out_sp = (1,) + tuple(in_sp), (1,) + tuple(out_sp)
        kernel, stride, dilation = (1,) + tuple(kernel), (1,) + tuple(stride), (1,) + tuple(dilation)
        pads = [(0, 0)] + list(pads)
    return (
        n, c_in, in_sp[0], in_sp[1], c_out, out_sp[0], out_sp[1],
        kernel[0], kernel[1], stride[0], stride[1], dilation[0], dilation[1],
        pads[0][0], pads[0][1], pads[1][0], pads[1][1], groups, layout, algorithm,
    )


def _batched(x, nd, name):
    """(array with a batch axis, whether the caller's had one)."""
    if x.ndim == nd + 2:
        return x, True
    if x.ndim == nd + 1:
        return x[np.newaxis], False
    raise ValueError(f"{name} must be {nd + 1}-D (unbatched) or {nd + 2}-D, got shape {x.shape}")


def _prepare_out(out, shape, dtype, inputs):
    """Where the core writes: `out` itself when dense and not aliasing an input."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    check_out(out, shape, dtype)
    if out.flags.c_contiguous and not any(np.shares_memory(out, a) for a in inputs):
        return out
    return np.empty(shape, dtype=dtype)


def _finish(target, out):
    if out is not None and target is not out:
        np.copyto(out, target)
        return out
    return target


class _ConvPlan:
    """Validated geometry of one convolution (the forward direction)."""

    def __init__(self, x_shape, w_shape, nd, stride, padding, dilation, groups, layout, *, name="conv"):
        self.nd = nd
        self.layout = layout
        n, c_in, in_sp = _split_shape(x_shape, layout)
        self.stride = _positive(stride, nd, "stride")
        self.dilation = _positive(dilation, nd, "dilation")
        self.groups = _int(groups, "groups")
        if self.groups < 1:
            raise ValueError(f"groups must be >= 1, got {groups!r}")
        if len(w_shape) != nd + 2:
            raise ValueError(f"weight must be {nd + 2}-D (out_channels, in_channels/groups, kernel...), got shape {tuple(w_shape)}")
        c_out, cg = w_shape[0], w_shape[1]
        self.kernel = tuple(int(k) for k in w_shape[2:])
        if any(k < 1 for k in self.kernel):
            raise ValueError(f"weight has an empty kernel: shape {tuple(w_shape)}")
        if c_in % self.groups:
            raise ValueError(f"in_channels={c_in} is not divisible by groups={self.groups}")
        if c_out % self.groups:
            raise ValueError(f"out_channels={c_out} (weight.shape[0]) is not divisible by groups={self.groups}")
        if cg * self.groups != c_in:
            raise ValueError(
                f"weight has shape {tuple(w_shape)}: weight.shape[1] * groups = {cg * self.groups} "
                f"does not match the input's {c_in} channels"
            )
        if any(s < 1 for s in in_sp):
            raise ValueError(f"x has an empty spatial dimension: shape {tuple(x_shape)}")
        self.pads = _resolve_padding(padding, nd, in_sp, self.kernel, self.stride, self.dilation)
        _check_fits(in_sp, self.kernel, self.dilation, self.pads, nd)
        out_sp = tuple(
            _out_len(nn, k, s, d, a, b)
            for nn, k, s, d, (a, b) in zip(in_sp, self.kernel, self.stride, self.dilation, self.pads)
        )
        self.n, self.c_in, self.in_sp, self.c_out, self.out_sp = n, c_in, in_sp, c_out, out_sp
        self.x_shape = tuple(x_shape)
        self.w_shape = tuple(w_shape)
        self.y_shape = _join_shape(n, c_out, out_sp, layout)

    def geom(self, algorithm=0):
        return _geom(self.n, self.c_in, self.in_sp, self.c_out, self.out_sp, self.kernel,
                     self.stride, self.dilation, self.pads, self.groups, self.layout, algorithm)

    @property
    def empty(self):
        return self.n == 0 or self.c_in == 0 or self.c_out == 0


def _algorithm(algorithm, plan):
    if not isinstance(algorithm, str) or algorithm not in _ALGORITHMS:
        raise ValueError(f"algorithm must be one of {tuple(_ALGORITHMS)}, got {algorithm!r}")
    if algorithm == "direct" and plan.c_in != plan.groups:
        raise ValueError(
            f"algorithm='direct' is the depthwise kernel: it needs groups == in_channels, "
            f"got groups={plan.groups}, in_channels={plan.c_in}"
        )
    if algorithm == "winograd" and not _winograd_applies(plan):
        raise ValueError(
            f"algorithm='winograd' is F(2x2, 3x3): it needs a 3x3 kernel, stride 1, dilation 1 and groups=1, "
            f"got kernel {plan.kernel}, stride={plan.stride}, dilation={plan.dilation}, groups={plan.groups}"
        )
    return _ALGORITHMS[algorithm]


def _auto_algorithm(plan, x, w):
    """The kernel algorithm='auto' runs on these values (an ``_ALGORITHMS`` code).

    The C core picks by geometry (``fc_conv2d_auto_algorithm``); the values
    are checked only where that pick cannot take them.  Non-finite values
    must propagate as in an explicit zero-padded GEMM convolution (PyTorch's
    reference path): a padded tap is 0 * weight, so an inf weight makes it
    NaN, and each output sees only its own window.  The direct (depthwise)
    kernels skip padded taps and Winograd mixes a 4x4 input tile into every
    output of its 2x2 tile, so for inf/NaN they give way to the GEMM.
    """
    algo = _conv.auto_algorithm(plan.geom())
    if algo == _ALGORITHMS["winograd"] and not (all_finite(w) and all_finite(x)):
        return _ALGORITHMS["gemm"]
    if algo == _ALGORITHMS["direct"] and any(a or b for a, b in plan.pads) and not all_finite(w):
        return _ALGORITHMS["gemm"]
    return algo


def _winograd_applies(plan):
    return (plan.nd == 2 and plan.kernel == (3, 3) and plan.stride == (1, 1) and plan.dilation == (1, 1)
            and plan.groups == 1)


def _check_bias(bias, c_out, name="bias"):
    if bias is None:
        return None
    b = _asarray(bias, name)
    if b.shape != (c_out,):
        raise ValueError(f"{name} must have shape ({c_out},), got {b.shape}")
    return b


def _needs(needs):
    if isinstance(needs, str):
        needs = (needs,)
    try:
        items = tuple(needs)
    except TypeError:
        raise TypeError(f"needs must be a sequence of strings from {_NEEDS}, got {needs!r}") from None
    for item in items:
        if item not in _NEEDS:
            raise ValueError(f"needs entries must be among {_NEEDS}, got {needs!r}")
    return set(items)


def _check_grad_shape(grad_out, expected, batched):
    exp = expected if batched else expected[1:]
    if grad_out.shape != tuple(exp):
        raise ValueError(f"grad_out has shape {grad_out.shape}, expected {tuple(exp)}")


# ---------------------------------------------------------------------------
# output sizes
# ---------------------------------------------------------------------------

def conv_output_size(n, k, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Length of a convolution's (or pooling's) output along one dimension.

    ``floor((n + pad_total - dilation * (k - 1) - 1) / stride) + 1``.

    Parameters
    ----------
    n : int
        Input length (>= 0).
    k : int
        Kernel length (>= 1).
    stride, dilation : int
        At least 1.
    padding : int, (before, after) or str
        An int pads both ends; a pair pads asymmetrically; ``"valid"``,
        ``"same"`` (output ``ceil(n / stride)``) or ``"full"``
        (``dilation * (k - 1)`` on both ends).
    ceil_mode : bool
        Round up instead of down, as pooling does; as in PyTorch the last
        window must still start inside the input or the leading padding.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        When the (dilated) kernel is larger than the padded input (with
        ``ceil_mode``, PyTorch's pooling rule: when no window starts inside
        the padded input), or an argument is out of its domain.

    Examples
    --------
    >>> conv_output_size(224, 7, stride=2, padding=3)
    112
    >>> conv_output_size(5, 3, stride=2, padding="same")
    3
    """
    n = _int(n, "n")
    k = _int(k, "k")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    (s,) = _positive(stride, 1, "stride")
    (d,) = _positive(dilation, 1, "dilation")
    if isinstance(padding, str):
        ((a, b),) = _resolve_padding(padding, 1, (n,), (k,), (s,), (d,))
    elif isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"padding must be an int, a (before, after) pair or a string, got {padding!r}")
        ((a, b),) = _explicit_padding((tuple(padding),), 1)
    else:
        ((a, b),) = _explicit_padding(padding, 1)
    span = d * (k - 1) + 1
    out = _window_count(n, a, b, span, s, ceil_mode)
    if ceil_mode and out < 1:
        raise ValueError(f"kernel k={k} with dilation={d} spans {span}: no window of stride {s} "
                         f"starts inside the padded input {n + a + b}")
    if not ceil_mode and span > n + a + b:
        raise ValueError(f"kernel k={k} with dilation={d} spans {span}, larger than the padded input {n + a + b}")
    return out


def _window_count(n, before, after, span, stride, ceil_mode):
    """Windows of ``span`` cells, ``stride`` apart, over ``n`` cells padded by ``before`` /
    ``after`` (may be < 1: the callers check): floor, or with ``ceil_mode`` PyTorch's pooling
    rule -- rounded up (floor division of a negative numerator included: a kernel up to a
    stride longer than the input still gives one window), then the last window must start
    inside the input or the leading padding."""
    num = n + before + after - span
    if not ceil_mode:
        return num // stride + 1
    out = (num + stride - 1) // stride + 1
    if (out - 1) * stride >= n + before:
        out -= 1
    return out


def conv_output_shape(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, layout="NCHW"):
    """Shape of ``conv2d`` (4-D weight) or ``conv1d`` (3-D weight) output.

    Parameters
    ----------
    input_shape : tuple of int
        ``(N, C, H, W)`` / ``(N, H, W, C)`` or unbatched without ``N``; for a
        1-D convolution ``(N, C, L)`` / ``(N, L, C)`` or unbatched.
    weight_shape : tuple of int
        ``(C_out, C_in / groups, kH, kW)`` or ``(C_out, C_in / groups, k)``.
    stride, padding, dilation, groups
        As in :func:`conv2d`.
    layout : str
        ``"NCHW"`` / ``"NHWC"``; for 1-D also ``"NCL"`` / ``"NLC"`` (``"NCHW"``
        and ``"NHWC"`` then mean channels first / last).

    Returns
    -------
    tuple of int
        The output shape, unbatched when the input shape is.

    Raises
    ------
    ValueError
        For every invalid combination :func:`conv2d` rejects.

    Examples
    --------
    >>> conv_output_shape((1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3)
    (1, 64, 112, 112)
    """
    input_shape = tuple(_int(v, "input_shape") for v in input_shape)
    weight_shape = tuple(_int(v, "weight_shape") for v in weight_shape)
    nd = len(weight_shape) - 2
    if nd not in (1, 2):
        raise ValueError(f"weight_shape must have 3 or 4 entries, got {weight_shape}")
    if nd == 1 and layout in ("NCHW", "NHWC"):
        layout = {"NCHW": "NCL", "NHWC": "NLC"}[layout]
    lay = _layout(layout, nd)
    if len(input_shape) == nd + 1:
        shape, batched = (1,) + input_shape, False
    elif len(input_shape) == nd + 2:
        shape, batched = input_shape, True
    else:
        raise ValueError(f"input_shape must have {nd + 1} or {nd + 2} entries, got {input_shape}")
    plan = _ConvPlan(shape, weight_shape, nd, stride, padding, dilation, groups, lay)
    return plan.y_shape if batched else plan.y_shape[1:]


# ---------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------

def im2col(x, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Extract sliding windows into columns (``torch.nn.functional.unfold``).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or unbatched (C, H, W)
        ``(N, H, W, C)`` / ``(H, W, C)`` with ``layout="NHWC"``.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (pH, pW), ((top, bottom), (left, right)) or str
        ``"valid"``, ``"same"`` or ``"full"`` as in :func:`conv2d`.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray
        NCHW: ``(N, C * kH * kW, L)`` with rows ordered (channel, kernel row,
        kernel column), ``L = out_h * out_w`` -- exactly ``unfold``'s result.
        NHWC: ``(N, L, kH * kW * C)`` (rows are output pixels, columns
        ordered kernel row, kernel column, channel).  Unbatched input gives
        an unbatched result.

    Examples
    --------
    >>> import numpy as np
    >>> im2col(np.arange(16.).reshape(1, 1, 4, 4), 2, stride=2)[0]
    array([[ 0.,  2.,  8., 10.],
           [ 1.,  3.,  9., 11.],
           [ 4.,  6., 12., 14.],
           [ 5.,  7., 13., 15.]])
    """
    lay = _layout(layout, 2)
    x = _asarray(x, "x")
    dtype = compute_dtype(x, name="im2col")
    xb, batched = _batched(x, 2, "x")
    kernel = _positive(kernel_size, 2, "kernel_size")
    stride = _positive(stride, 2, "stride")
    dilation = _positive(dilation, 2, "dilation")
    n, c, sp = _split_shape(xb.shape, lay)
    if any(v < 1 for v in sp):
        raise ValueError(f"x has an empty spatial dimension: shape {x.shape}")
    pads = _resolve_padding(padding, 2, sp, kernel, stride, dilation)
    _check_fits(sp, kernel, dilation, pads, 2)
    out_sp = tuple(_out_len(a, k, s, d, p, q) for a, k, s, d, (p, q) in zip(sp, kernel, stride, dilation, pads))
    L = out_sp[0] * out_sp[1]
    rows = c * kernel[0] * kernel[1]
    shape = (n, rows, L) if lay == _LAYOUT_NCHW else (n, L, rows)
    col = np.empty(shape, dtype=dtype)
    if col.size:
        xd = _dense(xb, dtype)
        geom = _geom(n, c, sp, 1, out_sp, kernel, stride, dilation, pads, 1, lay)
        _conv.im2col(geom, _flat(xd), _flat(col))
    return col if batched else col[0]


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Sum columns back into an image (``torch.nn.functional.fold``).

    The adjoint of :func:`im2col`: every window is added back where it came
    from, so overlapping windows sum.

    Parameters
    ----------
    cols : array_like, shape (N, C * kH * kW, L) or unbatched (C * kH * kW, L)
        ``(N, L, kH * kW * C)`` / ``(L, kH * kW * C)`` with ``layout="NHWC"``.
    output_size : int or (int, int)
        The image's ``(H, W)``.
    kernel_size, stride, padding, dilation
        As in :func:`im2col`; ``L`` must equal the number of windows.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, shape (N, C, H, W) (or (N, H, W, C)), unbatched for unbatched cols

    Examples
    --------
    >>> import numpy as np
    >>> col2im(np.ones((1, 4, 4)), (3, 3), 2)[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    lay = _layout(layout, 2)
    cols = _asarray(cols, "cols")
    dtype = compute_dtype(cols, name="col2im")
    if cols.ndim == 3:
        cb, batched = cols, True
    elif cols.ndim == 2:
        cb, batched = cols[np.newaxis], False
    else:
        raise ValueError(f"cols must be 2-D (unbatched) or 3-D, got shape {cols.shape}")
    size = _positive(output_size, 2, "output_size")
    kernel = _positive(kernel_size, 2, "kernel_size")
    stride = _positive(stride, 2, "stride")
    dilation = _positive(dilation, 2, "dilation")
    pads = _resolve_padding(padding, 2, size, kernel, stride, dilation)
    _check_fits(size, kernel, dilation, pads, 2, what="output")
    out_sp = tuple(_out_len(a, k, s, d, p, q) for a, k, s, d, (p, q) in zip(size, kernel, stride, dilation, pads))
    L = out_sp[0] * out_sp[1]
    kk = kernel[0] * kernel[1]
    n = cb.shape[0]
    rows, blocks = (cb.shape[1], cb.shape[2]) if lay == _LAYOUT_NCHW else (cb.shape[2], cb.shape[1])
    if rows % kk:
        raise ValueError(
            f"cols has shape {cols.shape}: its {rows} rows per window are not a multiple of "
            f"kernel_size {kernel[0]}x{kernel[1]} = {kk}"
        )
    if blocks != L:
        raise ValueError(
            f"cols has shape {cols.shape}: {blocks} windows, but output_size={size} with these "
            f"kernel_size, stride, padding and dilation gives {L} ({out_sp[0]} x {out_sp[1]})"
        )
    c = rows // kk
    x = np.empty(_join_shape(n, c, size, lay), dtype=dtype)
    if x.size:
        if cb.size:
            geom = _geom(n, c, size, 1, out_sp, kernel, stride, dilation, pads, 1, lay)
            _conv.col2im(geom, _flat(_dense(cb, dtype)), _flat(x))
        else:
            x[...] = 0
    return x if batched else x[0]


# ---------------------------------------------------------------------------
# forward convolution
# ---------------------------------------------------------------------------

def _conv_forward(x, weight, bias, stride, padding, dilation, groups, layout, out, algorithm, nd, fname):
    lay = _layout(layout, nd)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    xb, batched = _batched(x, nd, "x")
    if weight.ndim != nd + 2:
        raise ValueError(f"weight must be {nd + 2}-D, got shape {weight.shape}")
    plan = _ConvPlan(xb.shape, weight.shape, nd, stride, padding, dilation, groups, lay)
    algo = _algorithm(algorithm, plan)
    b = _check_bias(bias, plan.c_out)
    dtype = compute_dtype(*([x, weight] + ([b] if b is not None else [])), name=fname)
    shape = plan.y_shape if batched else plan.y_shape[1:]
    inputs = [x, weight] + ([b] if b is not None else [])
    target = _prepare_out(out, shape, dtype, inputs)
    if target.size:
        if plan.empty:
            target[...] = 0
            if b is not None and plan.n:
                target += b.astype(dtype).reshape((-1,) + (1,) * nd if lay == _LAYOUT_NCHW else (-1,))
        else:
            xd = _to4d(_dense(xb, dtype), nd, lay)
            wd = _dense(weight, dtype)
            bd = None if b is None else _dense(b, dtype)
            if algo == _ALGORITHMS["auto"]:
                algo = _auto_algorithm(plan, xd, wd)
            _conv.forward(plan.geom(algo), _flat(xd), _flat(wd), bd, _flat(target))
    return _finish(target, out)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           layout="NCHW", out=None, algorithm="auto"):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``y[n, k, i, j] = bias[k] + sum_{c, r, s} weight[k, c, r, s] *
    x[n, g*Cg + c, i*sH - top + r*dH, j*sW - left + s*dW]`` where ``g`` is the
    group of output channel ``k`` and reads outside ``x`` are zero.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W), or (N, H, W, C_in) with ``layout="NHWC"``
        An unbatched 3-D input gives a 3-D output.
    weight : array_like, shape (C_out, C_in / groups, kH, kW)
        The same in both layouts.
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or (int, int)
        At least 1.
    padding : int, (pH, pW), ((top, bottom), (left, right)) or str
        ``"valid"`` (none), ``"same"`` (TensorFlow/Keras: ``ceil(in / stride)``
        outputs for any stride, the odd extra row/column at the bottom/right)
        or ``"full"`` (``dilation * (k - 1)`` on every side).
    groups : int
        ``C_in`` and ``C_out`` must both be divisible by it; ``groups ==
        C_in`` is a depthwise convolution.
    layout : {"NCHW", "NHWC"}
        Axis order of ``x`` and of the result.
    out : ndarray, optional
        Receives the result; must have its shape and dtype.
    algorithm : {"auto", "gemm", "direct", "winograd"}
        ``"gemm"``: implicit GEMM -- the im2col matrix is never stored: for
        float32 on AVX2 and AVX-512 the micro-kernel (6 pixels x 16, or x 32
        output channels) reads each output pixel's input through a pointer
        per kernel tap (NHWC one-group layers under 32 channels: per row of the
        window, ``kernel_w`` pixels of all channels at once), elsewhere
        im2col panels are gathered block by block into the GEMM's packing
        buffers.  ``"direct"``: the depthwise
        SIMD kernel (``groups == C_in`` only).  ``"winograd"``: Winograd
        F(2x2, 3x3) (3x3 kernel, stride 1, dilation 1, ``groups=1``),
        2.25 times fewer multiplications; its transforms only add, subtract
        and halve, and results agree with ``"gemm"`` to a few units of
        rounding (relative error about 5e-7 of the output's magnitude in
        float32); its transforms mix a 4x4 input tile into every output of
        the tile, so an inf input gives NaN where ``"gemm"`` and PyTorch give
        inf (``"auto"`` takes ``"gemm"`` for non-finite inputs).
        ``"auto"`` (default): ``"direct"`` for depthwise layers,
        ``"winograd"`` where it applies and the layer has enough output
        tiles (at least 16 channels in and out, at least 4 tiles per channel
        of the wider side: VGG's and ResNet's 56x56 3x3 layers measured
        1.1-1.5x faster than ``"gemm"``), else ``"gemm"``.

    Returns
    -------
    ndarray
        ``(N, C_out, out_h, out_w)`` (or ``(N, out_h, out_w, C_out)``), with
        ``out_h = floor((H + top + bottom - dH * (kH - 1) - 1) / sH) + 1``;
        float32 for float32/float16 inputs, float64 otherwise.

    Raises
    ------
    ValueError
        For a kernel larger than the padded input, channels not divisible by
        ``groups``, ``weight`` not matching ``x``'s channels, stride or
        dilation < 1, negative padding, an unknown padding string, layout or
        algorithm, or a wrong ``out``.
    TypeError
        For complex or non-numeric inputs.

    Notes
    -----
    Memory beyond the output stays bounded whatever the batch: a few
    cache-sized blocks per thread plus the packed weights.  Results are
    bitwise identical for every thread count.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]], dtype=float32)
    """
    return _conv_forward(x, weight, bias, stride, padding, dilation, groups, layout, out, algorithm, 2, "conv2d")


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           layout="NCL", out=None, algorithm="auto"):
    """1-D convolution (cross-correlation), as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, L), or (N, L, C_in) with ``layout="NLC"``
        An unbatched 2-D input gives a 2-D output.
    weight : array_like, shape (C_out, C_in / groups, k)
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or (int,)
    padding : int, (p,), ((before, after),) or str
        ``"valid"``, ``"same"`` or ``"full"`` as in :func:`conv2d`.
    groups : int
    layout : {"NCL", "NLC"}
    out : ndarray, optional
    algorithm : {"auto", "gemm", "direct"}
        As in :func:`conv2d` (Winograd is 2-D only).

    Returns
    -------
    ndarray, shape (N, C_out, out_len) (or (N, out_len, C_out))

    Raises
    ------
    ValueError, TypeError
        As :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np
    >>> conv1d(np.arange(5.).reshape(1, 1, 5), np.ones((1, 1, 3)), padding="same")
    array([[[1., 3., 6., 9., 7.]]])
    """
    return _conv_forward(x, weight, bias, stride, padding, dilation, groups, layout, out, algorithm, 1, "conv1d")


# ---------------------------------------------------------------------------
# transposed convolution
# ---------------------------------------------------------------------------

class _TransposedPlan:
    """Geometry of a transposed convolution, held as the convolution it transposes."""

    def __init__(self, x_shape, w_shape, nd, stride, padding, output_padding, groups, dilation, layout):
        n, c_in, in_sp = _split_shape(x_shape, layout)
        self.stride = _positive(stride, nd, "stride")
        self.dilation = _positive(dilation, nd, "dilation")
        self.groups = _int(groups, "groups")
        if self.groups < 1:
            raise ValueError(f"groups must be >= 1, got {groups!r}")
        if len(w_shape) != nd + 2:
            raise ValueError(f"weight must be {nd + 2}-D (in_channels, out_channels/groups, kernel...), got shape {tuple(w_shape)}")
        if isinstance(padding, str):
            if padding != "valid":
                raise ValueError(f"padding for a transposed convolution must be 'valid', an int or a sequence, got {padding!r}")
            padding = 0
        self.pads = _explicit_padding(padding, nd)
        op = _tuple(output_padding, nd, "output_padding")
        if any(v < 0 for v in op):
            raise ValueError(f"output_padding must be non-negative, got {output_padding!r}")
        for v, s, d in zip(op, self.stride, self.dilation):
            if v >= s and v >= d:
                raise ValueError(
                    f"output_padding={output_padding!r} must be smaller than either stride="
                    f"{tuple(self.stride)} or dilation={tuple(self.dilation)}"
                )
        self.kernel = tuple(int(k) for k in w_shape[2:])
        if any(k < 1 for k in self.kernel):
            raise ValueError(f"weight has an empty kernel: shape {tuple(w_shape)}")
        if c_in % self.groups:
            raise ValueError(f"in_channels={c_in} is not divisible by groups={self.groups}")
        if w_shape[0] != c_in:
            raise ValueError(f"weight has shape {tuple(w_shape)}: weight.shape[0] must equal the input's {c_in} channels")
        c_out = w_shape[1] * self.groups
        if any(s < 1 for s in in_sp):
            raise ValueError(f"x has an empty spatial dimension: shape {tuple(x_shape)}")
        out_sp = tuple(
            (m - 1) * s - a - b + d * (k - 1) + o + 1
            for m, s, (a, b), d, k, o in zip(in_sp, self.stride, self.pads, self.dilation, self.kernel, op)
        )
        if any(v < 1 for v in out_sp):
            raise ValueError(
                f"the transposed convolution's output would be {out_sp}: padding={padding!r} is too "
                f"large for input size {in_sp} and kernel {self.kernel}"
            )
        self.nd, self.layout = nd, layout
        self.n, self.c_in, self.in_sp, self.c_out, self.out_sp = n, c_in, in_sp, c_out, out_sp
        self.x_shape, self.w_shape = tuple(x_shape), tuple(w_shape)
        self.y_shape = _join_shape(n, c_out, out_sp, layout)

    def geom(self, algorithm=0):
        # the convolution whose input gradient this is: input = our output
        return _geom(self.n, self.c_out, self.out_sp, self.c_in, self.in_sp, self.kernel,
                     self.stride, self.dilation, self.pads, self.groups, self.layout, algorithm)

    @property
    def empty(self):
        return self.n == 0 or self.c_in == 0 or self.c_out == 0


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, layout, out, nd, fname):
    lay = _layout(layout, nd)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    xb, batched = _batched(x, nd, "x")
    if weight.ndim != nd + 2:
        raise ValueError(f"weight must be {nd + 2}-D, got shape {weight.shape}")
    plan = _TransposedPlan(xb.shape, weight.shape, nd, stride, padding, output_padding, groups, dilation, lay)
    b = _check_bias(bias, plan.c_out)
    inputs = [x, weight] + ([b] if b is not None else [])
    dtype = compute_dtype(*inputs, name=fname)
    shape = plan.y_shape if batched else plan.y_shape[1:]
    target = _prepare_out(out, shape, dtype, inputs)
    if target.size:
        if plan.empty:
            target[...] = 0
            if b is not None:
                target += b.astype(dtype).reshape((-1,) + (1,) * nd if lay == _LAYOUT_NCHW else (-1,))
        else:
            xd = _to4d(_dense(xb, dtype), nd, lay)
            wd = _dense(weight, dtype)
            bd = None if b is None else _dense(b, dtype)
            _conv.backward_input(plan.geom(), _flat(xd), _flat(wd), bd, _flat(target))
    return _finish(target, out)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     layout="NCHW", out=None):
    """2-D transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    Multiplication by the transpose of the convolution matrix: a GEMM with
    the weights followed by col2im (for stride 1, an equivalent direct
    convolution with the flipped weights).  It is the input gradient of
    :func:`conv2d` with the same arguments.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W), or (N, H, W, C_in) with ``layout="NHWC"``
        An unbatched 3-D input gives a 3-D output.
    weight : array_like, shape (C_in, C_out / groups, kH, kW)
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (pH, pW) or ((top, bottom), (left, right))
        Removed from the output's borders (``"valid"`` means 0).
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right; each must be smaller than the
        stride or the dilation of its dimension.
    groups : int
    layout : {"NCHW", "NHWC"}
    out : ndarray, optional

    Returns
    -------
    ndarray, shape (N, C_out, out_h, out_w) (or (N, out_h, out_w, C_out))
        ``out_h = (H - 1) * sH - top - bottom + dH * (kH - 1) + output_padding + 1``.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments, as :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, layout, out,
                           2, "conv_transpose2d")


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     layout="NCL", out=None):
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, L), or (N, L, C_in) with ``layout="NLC"``
    weight : array_like, shape (C_in, C_out / groups, k)
    bias : array_like, shape (C_out,), optional
    stride, padding, output_padding, groups, dilation
        As in :func:`conv_transpose2d`, one value per dimension.
    layout : {"NCL", "NLC"}
    out : ndarray, optional

    Returns
    -------
    ndarray, shape (N, C_out, out_len) (or (N, out_len, C_out))

    Examples
    --------
    >>> import numpy as np
    >>> conv_transpose1d(np.ones((1, 1, 3)), np.ones((1, 1, 2)))
    array([[[1., 2., 2., 1.]]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, layout, out,
                           1, "conv_transpose1d")


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------

def _bias_grad_geom(n, c, sp, layout):
    """A geometry whose output is grad_out itself (a 1x1 convolution), for the bias sum."""
    ones = (1,) * len(sp)
    return _geom(n, c, sp, c, sp, ones, ones, ones, [(0, 0)] * len(sp), 1, layout)


def _backward_args(grad_out, x, weight, nd, layout, needs, fname, make_plan):
    """The argument handling every *_backward shares: returns (plan, lay,
    want, xb, weight, gb, batched, dtype), xb and gb batched."""
    lay = _layout(layout, nd)
    want = _needs(needs)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    grad_out = _asarray(grad_out, "grad_out")
    xb, batched = _batched(x, nd, "x")
    if weight.ndim != nd + 2:
        raise ValueError(f"weight must be {nd + 2}-D, got shape {weight.shape}")
    plan = make_plan(xb.shape, weight.shape, lay)
    _check_grad_shape(grad_out, plan.y_shape, batched)
    dtype = compute_dtype(grad_out, x, weight, name=fname)
    gb = grad_out if batched else grad_out[np.newaxis]
    return plan, lay, want, xb, weight, gb, batched, dtype


def _backward_results(plan, lay, want, gb, batched, dtype, fill_input, fill_weight):
    """(grad_input, grad_weight, grad_bias) for `want`: fill_input(gi) and
    fill_weight(gw) overwrite the whole array (so it is allocated
    uninitialised); empty problems give zeros."""
    gi = gw = gbias = None
    if "input" in want:
        run = not plan.empty and math.prod(plan.x_shape) > 0
        gi = (np.empty if run else np.zeros)(plan.x_shape, dtype=dtype)
        if run:
            fill_input(gi)
        if not batched:
            gi = gi[0]
    if "weight" in want:
        run = not plan.empty and math.prod(plan.w_shape) > 0
        gw = (np.empty if run else np.zeros)(plan.w_shape, dtype=dtype)
        if run:
            fill_weight(gw)
    if "bias" in want:
        gbias = np.zeros((plan.c_out,), dtype=dtype)
        if plan.n and plan.c_out:
            bgeom = _bias_grad_geom(plan.n, plan.c_out, plan.out_sp, lay)
            _conv.backward_bias(bgeom, _flat(_dense(gb, dtype)), gbias)
    return gi, gw, gbias


def _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, layout, needs, nd, fname):
    plan, lay, want, xb, weight, gb, batched, dtype = _backward_args(
        grad_out, x, weight, nd, layout, needs, fname,
        lambda xs, ws, lay: _ConvPlan(xs, ws, nd, stride, padding, dilation, groups, lay))
    geom = plan.geom()
    gd = lambda: _flat(_to4d(_dense(gb, dtype), nd, lay))  # noqa: E731

    def fill_input(gi):
        _conv.backward_input(geom, gd(), _flat(_dense(weight, dtype)), None, _flat(gi))

    def fill_weight(gw):
        xw, g, dy = _dense(xb, dtype), geom, gd()
        if any(a or b for a, b in plan.pads) and not all_finite(dy):
            # PyTorch multiplies the zero padding by grad_out (0 * inf = NaN);
            # some kernels skip padded taps, so pad x explicitly here
            first = 2 if lay == _LAYOUT_NCHW else 1
            widths = [(0, 0)] * xw.ndim
            widths[first:first + nd] = plan.pads
            xw = np.pad(xw, widths)
            in_sp = tuple(v + a + b for v, (a, b) in zip(plan.in_sp, plan.pads))
            g = _geom(plan.n, plan.c_in, in_sp, plan.c_out, plan.out_sp, plan.kernel, plan.stride,
                      plan.dilation, tuple((0, 0) for _ in plan.pads), plan.groups, plan.layout)
        _conv.backward_weight(g, dy, _flat(_to4d(xw, nd, lay)), _flat(gw))

    return _backward_results(plan, lay, want, gb, batched, dtype, fill_input, fill_weight)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    layout="NCHW", needs=("input", "weight", "bias")):
    """Gradients of :func:`conv2d`, equal to PyTorch autograd's.

    Parameters
    ----------
    grad_out : array_like
        Gradient of the loss with respect to ``conv2d(x, weight, ...)``; its
        shape must be that output's.
    x, weight, stride, padding, dilation, groups, layout
        The forward call's arguments.
    needs : sequence of {"input", "weight", "bias"}
        Which gradients to compute.

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        Arrays shaped like ``x``, ``weight`` and ``(C_out,)``; ``None`` for
        what ``needs`` does not list.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments, as :func:`conv2d`, or a ``grad_out`` of the
        wrong shape.

    Notes
    -----
    The input gradient is a GEMM with the weights followed by col2im, image
    by image (for stride 1, a convolution with the flipped weights); the
    weight gradient accumulates one GEMM per image in batch order; both are
    bitwise identical for every thread count.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 1, 3, 3)); w = np.ones((1, 1, 2, 2))
    >>> gi, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, layout, needs, 2,
                          "conv2d_backward")


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    layout="NCL", needs=("input", "weight", "bias")):
    """Gradients of :func:`conv1d`, equal to PyTorch autograd's.

    Parameters and results as :func:`conv2d_backward`, with the 1-D shapes
    and layouts of :func:`conv1d`.

    Examples
    --------
    >>> import numpy as np
    >>> _, gw, gb = conv1d_backward(np.ones((1, 1, 3)), np.arange(4.).reshape(1, 1, 4), np.ones((1, 1, 2)))
    >>> gw, gb
    (array([[[3., 6.]]]), array([3.]))
    """
    return _conv_backward(grad_out, x, weight, stride, padding, dilation, groups, layout, needs, 1,
                          "conv1d_backward")


def _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation, layout,
                             needs, nd, fname):
    plan, lay, want, xb, weight, gb, batched, dtype = _backward_args(
        grad_out, x, weight, nd, layout, needs, fname,
        lambda xs, ws, lay: _TransposedPlan(xs, ws, nd, stride, padding, output_padding, groups, dilation, lay))
    geom = plan.geom()
    gd = lambda: _flat(_to4d(_dense(gb, dtype), nd, lay))  # noqa: E731

    def fill_input(gi):
        # the input gradient of a transposed convolution is the convolution of grad_out,
        # on the kernel algorithm="auto" takes for these values (inf/NaN: not Winograd,
        # not the direct kernels that skip padded taps)
        g, wd = gd(), _flat(_dense(weight, dtype))
        _conv.forward(plan.geom(_auto_algorithm(plan, g, wd)), g, wd, None, _flat(gi))

    def fill_weight(gw):
        # x plays the convolution's output gradient, grad_out its input
        _conv.backward_weight(geom, _flat(_to4d(_dense(xb, dtype), nd, lay)), gd(), _flat(gw))

    return _backward_results(plan, lay, want, gb, batched, dtype, fill_input, fill_weight)


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1, *, layout="NCHW", needs=("input", "weight", "bias")):
    """Gradients of :func:`conv_transpose2d`, equal to PyTorch autograd's.

    Parameters
    ----------
    grad_out : array_like
        Gradient with respect to ``conv_transpose2d(x, weight, ...)``.
    x, weight, stride, padding, output_padding, groups, dilation, layout
        The forward call's arguments.
    needs : sequence of {"input", "weight", "bias"}

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        ``None`` for what ``needs`` does not list.

    Examples
    --------
    >>> import numpy as np
    >>> gi, _, _ = conv_transpose2d_backward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)),
    ...                                      np.ones((1, 1, 2, 2)), needs=("input",))
    >>> gi[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation,
                                    layout, needs, 2, "conv_transpose2d_backward")


def conv_transpose1d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1,
                              dilation=1, *, layout="NCL", needs=("input", "weight", "bias")):
    """Gradients of :func:`conv_transpose1d`, equal to PyTorch autograd's.

    Parameters and results as :func:`conv_transpose2d_backward`, with 1-D
    shapes and the layouts ``"NCL"`` / ``"NLC"``.

    Examples
    --------
    >>> import numpy as np
    >>> gi, _, _ = conv_transpose1d_backward(np.ones((1, 1, 4)), np.ones((1, 1, 3)),
    ...                                      np.ones((1, 1, 2)), needs=("input",))
    >>> gi
    array([[[2., 2., 2.]]])
    """
    return _conv_transpose_backward(grad_out, x, weight, stride, padding, output_padding, groups, dilation,
                                    layout, needs, 1, "conv_transpose1d_backward")
