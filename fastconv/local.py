"""Unshared convolutions and the fully connected layer.

An ordinary convolution shares one filter bank across all output positions.
Its relatives do not:

* :func:`local_conv2d`, the locally connected layer, has its own bank at
  every output position (Keras 2's ``LocallyConnected2D``);
* :func:`tiled_conv2d`, the tiled convolution, cycles through ``tH x tW``
  banks: output position ``(i, j)`` uses bank ``(i % tH, j % tW)``;
* :func:`linear`, the fully connected layer, connects every input to every
  output (``torch.nn.functional.linear``).

A locally connected layer is the tiled convolution whose tiles are the whole
output, and an ordinary convolution the one with ``1 x 1`` tiles; one C engine
serves all of them.  The output positions of a tile class share their bank,
so each class is one GEMM on the project's micro-kernels, with the im2col
matrix of its windows gathered straight into the packed panels block by block
(never stored whole).

Arguments follow :func:`fastconv.conv2d`: padding as an int, a pair,
asymmetric pairs or ``"valid"`` / ``"same"`` / ``"full"``, stride and
dilation, ``layout="NCHW"`` or ``"NHWC"``, unbatched 3-D inputs, and the same
dtype rules (float32 and float64 compute natively, float16 in float32,
integers and bool in float64, complex raises ``TypeError``).  Results are
bitwise identical for every thread count.
"""
from __future__ import annotations

import math

import numpy as np

from . import _local
from ._validate import as_float_array, compute_dtype
from .conv import (
    _LAYOUT_NCHW,
    _asarray,
    _batched,
    _check_fits,
    _check_grad_shape,
    _dense,
    _flat,
    _geom,
    _int,
    _join_shape,
    _layout,
    _needs,
    _out_len,
    _positive,
    _resolve_padding,
    _split_shape,
)

__all__ = [
    "linear",
    "linear_backward",
    "local_conv2d",
    "local_conv2d_backward",
    "local_weights_from_keras",
    "param_count",
    "tiled_conv2d",
    "tiled_conv2d_backward",
]


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------

_WEIGHT_DOC = {
    "local": "(OH, OW, C_out, C_in, kH, kW)",
    "tiled": "(tH, tW, C_out, C_in, kH, kW)",
}


class _UnsharedPlan:
    """Validated geometry of one locally connected or tiled convolution."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, layout, kind, x_ndim):
        self.kind = kind
        self.layout = layout
        n, c_in, in_sp = _split_shape(x_shape, layout)
        w_shape = tuple(int(v) for v in w_shape)
        if len(w_shape) != 6:
            raise ValueError(f"weight must be 6-D {_WEIGHT_DOC[kind]}, got shape {w_shape}")
        a, b, c_out, cw, kh, kw = w_shape
        if kh < 1 or kw < 1:
            raise ValueError(f"weight has an empty kernel: shape {w_shape} (expected {_WEIGHT_DOC[kind]})")
        if a < 1 or b < 1:
            what = "output positions" if kind == "local" else "tiles"
            raise ValueError(f"weight has no {what}: shape {w_shape} (expected {_WEIGHT_DOC[kind]})")
        if cw != c_in:
            axis = "x.shape[1]" if layout == _LAYOUT_NCHW else "x.shape[-1]"
            xs = tuple(x_shape) if x_ndim == 4 else tuple(x_shape[1:])
            raise ValueError(
                f"weight has shape {w_shape}: weight.shape[3] = {cw} input channels, but x has shape "
                f"{xs} with {c_in} channels ({axis} for layout "
                f"{'NCHW' if layout == _LAYOUT_NCHW else 'NHWC'})"
            )
        if any(s < 1 for s in in_sp):
            raise ValueError(f"x has an empty spatial dimension: shape {tuple(x_shape)}")
        self.kernel = (kh, kw)
        self.stride = _positive(stride, 2, "stride")
        self.dilation = _positive(dilation, 2, "dilation")
        self.pads = _resolve_padding(padding, 2, in_sp, self.kernel, self.stride, self.dilation)
        _check_fits(in_sp, self.kernel, self.dilation, self.pads, 2)
        out_sp = tuple(
            _out_len(nn, k, s, d, p, q)
            for nn, k, s, d, (p, q) in zip(in_sp, self.kernel, self.stride, self.dilation, self.pads)
        )
        if kind == "local" and (a, b) != out_sp:
            raise ValueError(
                f"weight has shape {w_shape}: its output size (OH, OW) = {(a, b)} does not match the "
                f"output size {out_sp} computed from the input's spatial size {tuple(in_sp)} with "
                f"kernel {self.kernel}, stride {self.stride}, padding {tuple(map(tuple, self.pads))} "
                f"and dilation {self.dilation}"
            )
        self.tiles = out_sp if kind == "local" else (a, b)
        self.n, self.c_in, self.in_sp, self.c_out, self.out_sp = n, c_in, tuple(in_sp), c_out, out_sp
        self.x_shape = tuple(x_shape)
        self.w_shape = w_shape
        self.y_shape = _join_shape(n, c_out, out_sp, layout)

    def geom(self):
        return _geom(self.n, self.c_in, self.in_sp, self.c_out, self.out_sp, self.kernel, self.stride,
                     self.dilation, self.pads, 1, self.layout)

    @property
    def empty(self):
        return self.n == 0 or self.c_in == 0 or self.c_out == 0


def _check_bias(bias, plan):
    """(bias array or None, whether it is per position)."""
    if bias is None:
        return None, False
    b = _asarray(bias, "bias")
    c_out = plan.c_out
    if b.shape == (c_out,):
        return b, False
    if plan.kind == "local":
        full = (c_out,) + plan.out_sp
        if b.shape == full:
            return b, True
        raise ValueError(f"bias must have shape {full} (C_out, OH, OW) or ({c_out},), got {b.shape}")
    raise ValueError(f"bias must have shape ({c_out},), got {b.shape}")


def _bias_broadcast(b, per_position, layout):
    """The bias shaped to broadcast against a batched output."""
    if per_position:
        return b[np.newaxis] if layout == _LAYOUT_NCHW else np.moveaxis(b, 0, -1)[np.newaxis]
    return b.reshape(-1, 1, 1) if layout == _LAYOUT_NCHW else b


def _unshared_forward(x, weight, bias, stride, padding, dilation, layout, kind, fname):
    lay = _layout(layout, 2)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    xb, batched = _batched(x, 2, "x")
    plan = _UnsharedPlan(xb.shape, weight.shape, stride, padding, dilation, lay, kind, x.ndim)
    b, per_position = _check_bias(bias, plan)
    inputs = [x, weight] + ([b] if b is not None else [])
    dtype = compute_dtype(*inputs, name=fname)
    y = np.empty(plan.y_shape, dtype=dtype)
    if y.size:
        if plan.empty:
            y[...] = 0
            if b is not None:
                y += _bias_broadcast(b.astype(dtype), per_position, lay)
        else:
            bd = None if b is None else _flat(_dense(b, dtype))
            _local.tiled_forward(plan.geom(), plan.tiles[0], plan.tiles[1], _flat(_dense(xb, dtype)),
                                 _flat(_dense(weight, dtype)), bd, per_position, _flat(y))
    return y if batched else y[0]


def _unshared_backward(grad_out, x, weight, stride, padding, dilation, layout, needs, kind, per_position,
                       fname):
    lay = _layout(layout, 2)
    want = _needs(needs)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    grad_out = _asarray(grad_out, "grad_out")
    xb, batched = _batched(x, 2, "x")
    plan = _UnsharedPlan(xb.shape, weight.shape, stride, padding, dilation, lay, kind, x.ndim)
    _check_grad_shape(grad_out, plan.y_shape, batched)
    dtype = compute_dtype(grad_out, x, weight, name=fname)
    gb = grad_out if batched else grad_out[np.newaxis]
    geom = plan.geom()
    th, tw = plan.tiles
    gi = gw = gbias = None
    # the C core overwrites every element of the gradients it computes
    run = not plan.empty
    if "input" in want:
        gi = (np.empty if run else np.zeros)(plan.x_shape, dtype=dtype)
        if run and gi.size:
            _local.tiled_backward_input(geom, th, tw, _flat(_dense(gb, dtype)), _flat(_dense(weight, dtype)),
                                        _flat(gi))
        if not batched:
            gi = gi[0]
    if "weight" in want:
        gw = (np.empty if run else np.zeros)(plan.w_shape, dtype=dtype)
        if run and gw.size:
            _local.tiled_backward_weight(geom, th, tw, _flat(_dense(gb, dtype)), _flat(_dense(xb, dtype)),
                                         _flat(gw))
    if "bias" in want:
        shape = (plan.c_out,) + (plan.out_sp if per_position else ())
        gbias = (np.empty if plan.n else np.zeros)(shape, dtype=dtype)
        if plan.n and plan.c_out:
            _local.tiled_backward_bias(geom, _flat(_dense(gb, dtype)), per_position, _flat(gbias))
    return gi, gw, gbias


# ---------------------------------------------------------------------------
# locally connected and tiled convolution
# ---------------------------------------------------------------------------

def local_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Locally connected (unshared) 2-D convolution.

    Every output position has its own filter bank:
    ``y[n, k, i, j] = bias + sum_{c, r, s} weight[i, j, k, c, r, s] *
    x[n, c, i*sH - top + r*dH, j*sW - left + s*dW]``, reads outside ``x``
    being zeros.  These are the semantics of Keras 2's ``LocallyConnected2D``
    (see Notes for its weight layout), extended with padding, dilation and
    both layouts.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W), or (N, H, W, C_in) with ``layout="NHWC"``
        An unbatched 3-D input gives a 3-D output.
    weight : array_like, shape (OH, OW, C_out, C_in, kH, kW)
        ``weight[i, j]`` is the ``(C_out, C_in, kH, kW)`` bank of output
        position ``(i, j)``; ``(OH, OW)`` must be the output size that the
        input size, kernel, stride, padding and dilation give.  The same in
        both layouts.
    bias : array_like, shape (C_out, OH, OW) or (C_out,), optional
        One bias per channel and position (untied, as in Keras), or one per
        channel.
    stride, dilation : int or (int, int)
        At least 1.
    padding : int, (pH, pW), ((top, bottom), (left, right)) or str
        ``"valid"``, ``"same"`` or ``"full"`` as in :func:`fastconv.conv2d`.
    layout : {"NCHW", "NHWC"}
        Axis order of ``x`` and of the result.

    Returns
    -------
    ndarray, shape (N, C_out, OH, OW) (or (N, OH, OW, C_out))
        float32 for float32/float16 inputs, float64 otherwise.

    Raises
    ------
    ValueError
        When ``weight``'s ``(OH, OW)`` differs from the output size computed
        from the input (the message names both), when its ``C_in`` differs
        from ``x``'s channels, for a bias of another shape, a kernel larger
        than the padded input, stride or dilation < 1, negative padding or an
        unknown padding string or layout.
    TypeError
        For complex or non-numeric inputs.

    See Also
    --------
    tiled_conv2d : the same with banks shared in a periodic pattern.
    local_conv2d_backward : the gradients.
    local_weights_from_keras : convert a Keras ``LocallyConnected2D`` kernel.

    Notes
    -----
    A Keras 2 ``LocallyConnected2D`` layer (``implementation=1``, padding
    ``"valid"``, no dilation) stores its kernel as ``(OH * OW, kH * kW *
    C_in, C_out)``: row ``i * OW + j`` is position ``(i, j)``, and the middle
    axis is the flattened window, ordered (kernel row, kernel column, channel)
    for ``data_format="channels_last"`` and (channel, kernel row, kernel
    column) for ``"channels_first"``.  Its bias is ``(OH, OW, C_out)``
    (channels_last) or ``(C_out, OH, OW)`` (channels_first).  So, for
    channels_last::

        weight = kernel.reshape(OH, OW, kH, kW, C_in, C_out).transpose(0, 1, 5, 4, 2, 3)
        bias = keras_bias.transpose(2, 0, 1)

    and for channels_first::

        weight = kernel.reshape(OH, OW, C_in, kH, kW, C_out).transpose(0, 1, 5, 2, 3, 4)
        bias = keras_bias

    which :func:`local_weights_from_keras` does.  A layer has ``OH * OW``
    times the weights of the matching convolution (:func:`param_count`).

    The computation is one small GEMM per position, ``(C_out x C_in*kH*kW)
    . (C_in*kH*kW x N)``, with the windows gathered straight into the packed
    panels; positions run in parallel.  Memory beyond the output stays
    bounded whatever the batch.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    >>> w = np.zeros((2, 2, 1, 1, 2, 2), np.float32)
    >>> w[0, 0, 0, 0, 0, 0] = 1     # position (0, 0) picks its window's top-left
    >>> w[1, 1, 0, 0, 1, 1] = 1     # position (1, 1) its bottom-right
    >>> local_conv2d(x, w)[0, 0]
    array([[0., 0.],
           [0., 8.]], dtype=float32)
    """
    return _unshared_forward(x, weight, bias, stride, padding, dilation, layout, "local", "local_conv2d")


def tiled_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, *, layout="NCHW"):
    """Tiled 2-D convolution: output position (i, j) uses bank ``weight[i % tH, j % tW]``.

    ``y[n, k, i, j] = bias[k] + sum_{c, r, s} weight[i % tH, j % tW, k, c, r, s]
    * x[n, c, i*sH - top + r*dH, j*sW - left + s*dW]`` (Le et al., "Tiled
    convolutional neural networks", 2010).  With ``tH = tW = 1`` it is
    :func:`fastconv.conv2d`; with ``(tH, tW) = (OH, OW)`` it is
    :func:`local_conv2d`.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W), or (N, H, W, C_in) with ``layout="NHWC"``
        An unbatched 3-D input gives a 3-D output.
    weight : array_like, shape (tH, tW, C_out, C_in, kH, kW)
        ``tH x tW`` filter banks.  Tiles larger than the output are allowed:
        the banks past it are never used.
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (pH, pW), ((top, bottom), (left, right)) or str
        As in :func:`fastconv.conv2d`.
    layout : {"NCHW", "NHWC"}

    Returns
    -------
    ndarray, shape (N, C_out, OH, OW) (or (N, OH, OW, C_out))

    Raises
    ------
    ValueError, TypeError
        As :func:`local_conv2d` (any ``tH, tW >= 1`` is accepted).

    Notes
    -----
    The output positions of one tile class share their bank, so each class
    is one GEMM ``(C_out x C_in*kH*kW) . (C_in*kH*kW x N*positions)``; classes
    and blocks of their columns run in parallel.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 1, 4, 4))
    >>> w = np.array([1.0, 2.0, 3.0, 4.0]).reshape(2, 2, 1, 1, 1, 1)   # 2 x 2 tiles of 1x1 filters
    >>> tiled_conv2d(x, w)[0, 0]
    array([[1., 2., 1., 2.],
           [3., 4., 3., 4.],
           [1., 2., 1., 2.],
           [3., 4., 3., 4.]])
    """
    return _unshared_forward(x, weight, bias, stride, padding, dilation, layout, "tiled", "tiled_conv2d")


def local_conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, *, layout="NCHW",
                          shared_bias=False, needs=("input", "weight", "bias")):
    """Gradients of :func:`local_conv2d`, equal to PyTorch autograd's.

    Parameters
    ----------
    grad_out : array_like
        Gradient of the loss with respect to ``local_conv2d(x, weight, ...)``;
        its shape must be that output's.
    x, weight, stride, padding, dilation, layout
        The forward call's arguments.
    shared_bias : bool
        False (default): the bias gradient has shape ``(C_out, OH, OW)``, for
        an untied bias; True: ``(C_out,)``, for a per-channel bias.
    needs : sequence of {"input", "weight", "bias"}
        Which gradients to compute.

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        Arrays shaped like ``x``, ``weight`` and the bias; ``None`` for what
        ``needs`` does not list.

    Raises
    ------
    ValueError, TypeError
        As :func:`local_conv2d`, or for a ``grad_out`` of the wrong shape.

    Notes
    -----
    The weight gradient is one GEMM per position over the batch.  The input
    gradient computes each window's gradient (one GEMM per position) and
    adds it into the input gradient at once; output rows are coloured so
    that rows of one colour never share an input row, and threads take
    whole rows of one colour at a time.  Both are bitwise identical for
    every thread count.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 1, 3, 3)); w = np.ones((2, 2, 1, 1, 2, 2))
    >>> gi, gw, gb = local_conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gi[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gb.shape
    (1, 2, 2)
    """
    return _unshared_backward(grad_out, x, weight, stride, padding, dilation, layout, needs, "local",
                              not shared_bias, "local_conv2d_backward")


def tiled_conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, *, layout="NCHW",
                          needs=("input", "weight", "bias")):
    """Gradients of :func:`tiled_conv2d`, equal to PyTorch autograd's.

    Parameters
    ----------
    grad_out : array_like
        Gradient with respect to ``tiled_conv2d(x, weight, ...)``.
    x, weight, stride, padding, dilation, layout
        The forward call's arguments.
    needs : sequence of {"input", "weight", "bias"}

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        Shaped like ``x``, ``weight`` and ``(C_out,)``; ``None`` for what
        ``needs`` does not list.  Banks that no output position uses (tiles
        larger than the output) get a zero gradient.

    Raises
    ------
    ValueError, TypeError
        As :func:`tiled_conv2d`, or for a ``grad_out`` of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> _, gw, gb = tiled_conv2d_backward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 4, 4)),
    ...                                   np.ones((2, 2, 1, 1, 1, 1)), needs=("weight", "bias"))
    >>> gw.ravel(), gb
    (array([4., 4., 4., 4.]), array([16.]))
    """
    return _unshared_backward(grad_out, x, weight, stride, padding, dilation, layout, needs, "tiled", False,
                              "tiled_conv2d_backward")


def local_weights_from_keras(kernel, bias=None, *, kernel_size, output_size, data_format="channels_last"):
    """Convert a Keras 2 ``LocallyConnected2D`` kernel (and bias) to :func:`local_conv2d`'s layout.

    Parameters
    ----------
    kernel : array_like, shape (OH * OW, kH * kW * C_in, C_out)
        ``layer.get_weights()[0]`` of a layer built with ``implementation=1``.
    bias : array_like, optional
        ``layer.get_weights()[1]``: ``(OH, OW, C_out)`` for channels_last,
        ``(C_out, OH, OW)`` for channels_first.
    kernel_size : int or (int, int)
    output_size : (int, int)
        The layer's output ``(OH, OW)``.
    data_format : {"channels_last", "channels_first"}
        The layer's data format; it fixes the order of the flattened window.

    Returns
    -------
    (weight, bias)
        ``weight`` of shape ``(OH, OW, C_out, C_in, kH, kW)`` and ``bias`` of
        shape ``(C_out, OH, OW)`` (``None`` when ``bias`` is), both copies.
        ``local_conv2d(x, weight, bias, stride=strides, layout=...)`` then
        equals the Keras layer, with ``layout="NHWC"`` for channels_last.

    Raises
    ------
    ValueError
        When the shapes do not agree with ``kernel_size`` and ``output_size``.

    Examples
    --------
    >>> import numpy as np
    >>> k = np.arange(4 * 18 * 5, dtype=np.float32).reshape(4, 2 * 3 * 3, 5)   # 2x2 output, 3x3 kernel, 2 channels
    >>> w, _ = local_weights_from_keras(k, kernel_size=3, output_size=(2, 2))
    >>> w.shape
    (2, 2, 5, 2, 3, 3)
    >>> float(w[0, 1, 4, 1, 2, 0]) == float(k[1, (2 * 3 + 0) * 2 + 1, 4])
    True
    """
    kh, kw = _positive(kernel_size, 2, "kernel_size")
    oh, ow = _positive(output_size, 2, "output_size")
    k = _asarray(kernel, "kernel")
    if k.ndim != 3 or k.shape[0] != oh * ow or k.shape[1] % (kh * kw):
        raise ValueError(
            f"kernel must have shape (OH * OW, kH * kW * C_in, C_out) = ({oh * ow}, {kh * kw} * C_in, C_out) "
            f"for output_size={(oh, ow)} and kernel_size={(kh, kw)}, got {k.shape}"
        )
    c_in, c_out = k.shape[1] // (kh * kw), k.shape[2]
    if data_format == "channels_last":
        w = k.reshape(oh, ow, kh, kw, c_in, c_out).transpose(0, 1, 5, 4, 2, 3)
        bias_shape, bias_axes = (oh, ow, c_out), (2, 0, 1)
    elif data_format == "channels_first":
        w = k.reshape(oh, ow, c_in, kh, kw, c_out).transpose(0, 1, 5, 2, 3, 4)
        bias_shape, bias_axes = (c_out, oh, ow), (0, 1, 2)
    else:
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    b = None
    if bias is not None:
        b = _asarray(bias, "bias")
        if b.shape != bias_shape:
            raise ValueError(f"bias must have shape {bias_shape} for data_format={data_format!r}, got {b.shape}")
        b = np.ascontiguousarray(b.transpose(bias_axes))
    return np.ascontiguousarray(w), b


# ---------------------------------------------------------------------------
# fully connected layer
# ---------------------------------------------------------------------------

def _linear_shapes(x, weight):
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim < 1:
        raise ValueError("x must have at least one dimension (..., in_features), got a 0-d array")
    out_f, in_f = weight.shape
    if x.shape[-1] != in_f:
        raise ValueError(
            f"x has shape {x.shape}: its last dimension {x.shape[-1]} does not match in_features = {in_f} "
            f"of weight with shape {weight.shape} (out_features, in_features)"
        )
    return out_f, in_f, x.shape[:-1], math.prod(x.shape[:-1])


def linear(x, weight, bias=None, *, batch_invariant=False):
    """Fully connected layer ``y = x @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : array_like, shape (..., in_features)
        Any number of leading (batch) dimensions, none included.
    weight : array_like, shape (out_features, in_features)
        Any strides: a transposed view is used without a copy.
    bias : array_like, shape (out_features,), optional
    batch_invariant : bool, keyword-only
        True: a row's result is bitwise the same whatever the batch it comes
        in (the few-row loops follow the batched GEMM's summation order;
        :class:`fastconv.layers.Linear` passes it).  False (default): up to
        16 float32 rows run as plain dot products, faster (see Notes), whose
        last bits may differ from the same rows in a batch of more than 16.  Either way the result does not depend on the thread
        count.

    Returns
    -------
    ndarray, shape (..., out_features)
        float32 for float32/float16 inputs, float64 otherwise.

    Raises
    ------
    ValueError
        When ``weight`` is not 2-D, ``x``'s last dimension is not
        ``in_features`` or ``bias`` is not ``(out_features,)``.
    TypeError
        For complex or non-numeric inputs, or a ``batch_invariant`` that is
        not a bool.

    Notes
    -----
    A fully connected map from a ``W x H`` image to an ``X x Y`` map has
    ``W*H*X*Y`` weights.  With up to four rows (batch 1 is a matrix-vector
    product, memory-bound on the weight) the weight is streamed once,
    parallel over output features; larger batches run on the packed GEMM.

    By default (``batch_invariant=False``) up to 16 float32 rows, at AVX2
    or AVX-512 and with rows of ``weight`` contiguous (``x`` is copied when
    its rows are not), take each output as one dot product read straight
    from the weight's rows (the weight read once per group of 4 rows, from
    cache after the first): 16 partial sums (lane ``l`` over inputs ``l,
    l + 16, ...`` in order, fused multiply-adds), added as a fixed tree, the
    bias last.  That order is the same for every batch of 1 to 16 rows,
    every thread count and both ISA levels, but not the GEMM's, so such a
    row may differ in the last bits from the same row in a larger batch.
    float64, other strides and the generic level take the batch-invariant
    loops (up to four rows) or the GEMM.

    With ``batch_invariant=True`` the streaming loops sum in the GEMM's
    order (in-register transposes of the weight, slower at batch 1), so a
    row's result is bitwise the same whatever the batch it is computed in.

    Examples
    --------
    >>> import numpy as np
    >>> linear(np.array([1.0, 2.0]), np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]), np.array([0.5, 0.0, 0.0]))
    array([1.5, 3. , 4. ])
    """
    if not isinstance(batch_invariant, (bool, np.bool_)):
        raise TypeError(f"batch_invariant must be a bool, got {type(batch_invariant).__name__}")
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    out_f, in_f, lead, m = _linear_shapes(x, weight)
    b = None
    if bias is not None:
        b = _asarray(bias, "bias")
        if b.shape != (out_f,):
            raise ValueError(f"bias must have shape ({out_f},) (out_features,), got {b.shape}")
    dtype = compute_dtype(*([x, weight] + ([b] if b is not None else [])), name="linear")
    y = np.empty(lead + (out_f,), dtype=dtype)
    if y.size:
        if in_f == 0:
            y[...] = 0 if b is None else b.astype(dtype)
        else:
            x2 = as_float_array(x.reshape(m, in_f), dtype, "x")
            w2 = as_float_array(weight, dtype, "weight")
            bd = None if b is None else _dense(b, dtype)
            batch_invariant = bool(batch_invariant)
            if not batch_invariant and m <= 16 and dtype == np.float32 and x2.strides[-1] != x2.itemsize:
                x2 = np.ascontiguousarray(x2)       # a few rows: the dot-product path wants them contiguous
            _local.linear_forward(x2, w2, bd, y.reshape(m, out_f), batch_invariant)
    return y


def linear_backward(grad_out, x, weight, *, needs=("input", "weight", "bias")):
    """Gradients of :func:`linear`, equal to PyTorch autograd's.

    Parameters
    ----------
    grad_out : array_like, shape (..., out_features)
        Gradient with respect to ``linear(x, weight, ...)``.
    x, weight
        The forward call's arguments.
    needs : sequence of {"input", "weight", "bias"}

    Returns
    -------
    (grad_input, grad_weight, grad_bias)
        ``grad_out @ weight`` shaped like ``x``, ``grad_out.T @ x`` (over all
        leading dimensions) shaped like ``weight``, and ``grad_out`` summed
        over the leading dimensions, ``(out_features,)``; ``None`` for what
        ``needs`` does not list.

    Raises
    ------
    ValueError, TypeError
        As :func:`linear`, or for a ``grad_out`` of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> gi, gw, gb = linear_backward(np.ones((2, 3)), np.ones((2, 4)), np.ones((3, 4)))
    >>> gi.shape, gw[0], gb
    ((2, 4), array([2., 2., 2., 2.]), array([2., 2., 2.]))
    """
    want = _needs(needs)
    x = _asarray(x, "x")
    weight = _asarray(weight, "weight")
    grad_out = _asarray(grad_out, "grad_out")
    out_f, in_f, lead, m = _linear_shapes(x, weight)
    if grad_out.shape != lead + (out_f,):
        raise ValueError(f"grad_out has shape {grad_out.shape}, expected {lead + (out_f,)}")
    dtype = compute_dtype(grad_out, x, weight, name="linear_backward")
    g2 = _dense(grad_out, dtype).reshape(m, out_f)
    gi = gw = gb = None
    # the C core overwrites every element of the gradients it computes
    if "input" in want:
        gi = (np.empty if out_f else np.zeros)((m, in_f), dtype=dtype)
        if gi.size and out_f:
            _local.linear_backward_input(g2, as_float_array(weight, dtype, "weight"), gi)
        gi = gi.reshape(x.shape)
    if "weight" in want:
        gw = (np.empty if m else np.zeros)((out_f, in_f), dtype=dtype)
        if gw.size and m:
            _local.linear_backward_weight(g2, as_float_array(x.reshape(m, in_f), dtype, "x"), gw)
    if "bias" in want:
        gb = (np.empty if m else np.zeros)((out_f,), dtype=dtype)
        if gb.size and m:
            _local.linear_backward_bias(g2, gb)
    return gi, gw, gb


# ---------------------------------------------------------------------------
# parameter counts
# ---------------------------------------------------------------------------

_PARAM_ARGS = {
    "conv2d": ("in_channels", "out_channels", "kernel_size"),
    "local_conv2d": ("in_channels", "out_channels", "kernel_size", "output_size"),
    "tiled_conv2d": ("in_channels", "out_channels", "kernel_size", "tiles"),
    "linear": ("in_features", "out_features"),
}


def _count(value, name):
    v = _int(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def param_count(layer, *, bias=True, groups=1, **sizes):
    """Number of learnable parameters of a layer of kind ``layer``.

    Parameters
    ----------
    layer : {"conv2d", "local_conv2d", "tiled_conv2d", "linear"}
    bias : bool or {"shared", "untied"}
        Whether the layer has a bias.  For ``"local_conv2d"``, ``True`` (or
        ``"untied"``) counts one per output channel and position, as Keras
        does, and ``"shared"`` one per output channel; the other layers have
        one per output channel (or feature).
    groups : int
        For ``"conv2d"`` only: grouped convolution.
    **sizes
        ``"conv2d"``: ``in_channels``, ``out_channels``, ``kernel_size``;
        ``"local_conv2d"``: the same and ``output_size`` ``(OH, OW)``;
        ``"tiled_conv2d"``: the same as conv2d and ``tiles`` ``(tH, tW)``;
        ``"linear"``: ``in_features``, ``out_features``.  Sizes are ints or
        pairs.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For an unknown layer, a missing size, a negative one, or channels not
        divisible by ``groups``.
    TypeError
        For an argument the layer does not take.

    Examples
    --------
    Ten 3x3 filters over 3 channels, with biases:

    >>> param_count("conv2d", in_channels=3, out_channels=10, kernel_size=3)
    280

    A locally connected layer has OH*OW times the convolution's weights:

    >>> param_count("local_conv2d", in_channels=3, out_channels=10, kernel_size=3,
    ...             output_size=(30, 30), bias=False)
    243000

    A fully connected map from a 32x32 image to an 8x8 map:

    >>> param_count("linear", in_features=32 * 32, out_features=8 * 8, bias=False)
    65536
    """
    if layer not in _PARAM_ARGS:
        raise ValueError(f"layer must be one of {tuple(_PARAM_ARGS)}, got {layer!r}")
    needed = _PARAM_ARGS[layer]
    extra = sorted(set(sizes) - set(needed))
    if extra:
        raise TypeError(f"param_count({layer!r}) got unexpected argument(s) {extra}; it takes {list(needed)}")
    missing = [k for k in needed if k not in sizes]
    if missing:
        raise ValueError(f"param_count({layer!r}) needs {list(needed)}; missing {missing}")
    if groups != 1 and layer != "conv2d":
        raise TypeError(f"groups applies to 'conv2d' only, got groups={groups!r} for {layer!r}")
    if isinstance(bias, str):
        if layer != "local_conv2d" or bias not in ("shared", "untied"):
            forms = "True, False, 'shared' or 'untied'" if layer == "local_conv2d" else "True or False"
            raise ValueError(f"bias must be {forms} for {layer!r}, got {bias!r}")
    elif not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"bias must be a bool, got {type(bias).__name__}")

    if layer == "linear":
        i = _count(sizes["in_features"], "in_features")
        o = _count(sizes["out_features"], "out_features")
        return i * o + (o if bias else 0)

    c_in = _count(sizes["in_channels"], "in_channels")
    c_out = _count(sizes["out_channels"], "out_channels")
    kh, kw = _positive(sizes["kernel_size"], 2, "kernel_size")
    g = _int(groups, "groups")
    if g < 1:
        raise ValueError(f"groups must be >= 1, got {groups!r}")
    if c_in % g or c_out % g:
        raise ValueError(f"in_channels={c_in} and out_channels={c_out} must be divisible by groups={g}")
    bank = c_out * (c_in // g) * kh * kw
    if layer == "conv2d":
        return bank + (c_out if bias else 0)
    if layer == "tiled_conv2d":
        th, tw = _positive(sizes["tiles"], 2, "tiles")
        return th * tw * bank + (c_out if bias else 0)
    oh, ow = _positive(sizes["output_size"], 2, "output_size")
    if bias is False:
        nb = 0
    elif bias == "shared":
        nb = c_out
    else:
        nb = c_out * oh * ow
    return oh * ow * bank + nb
