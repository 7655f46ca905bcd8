"""Layers: a small neural-network toolkit over fastconv's functional API.

The classic design where each layer has a forward and a backward pass:

* ``layer.forward(x)`` (also ``layer(x)``) computes the output and keeps what
  the backward pass needs (a reference to the input, never a copy, never
  modified);
* ``layer.backward(grad_out)`` returns the gradient with respect to the
  input and stores the gradients of the parameters in ``layer.grads``
  (overwriting, not accumulating);
* ``layer.params`` and ``layer.grads`` are dicts of NumPy arrays keyed like
  PyTorch's parameter names (``"weight"``, ``"bias"``; containers prefix
  their children's names: ``"0.weight"``, ``"3.1.bias"``); ``layer.buffers``
  holds state that is not trained (BatchNorm2D's running statistics);
* ``layer.train()`` / ``layer.eval()`` switch Dropout, BatchNorm2D and
  StochasticPool2D between training and inference behaviour.

Layers are plain Python objects holding NumPy arrays: they pickle (the cached
activations are dropped), and ``save(path)`` / ``load(path)`` store the
parameters and buffers in an ``.npz`` file.  :func:`from_torch` copies a
PyTorch ``state_dict`` into the matching model.

Conventions
-----------
* Inputs are batched: ``(N, C, H, W)`` (``layout="NCHW"``) or
  ``(N, H, W, C)`` (``layout="NHWC"``) for 2-D layers, ``(N, C, L)`` /
  ``(N, L, C)`` for :class:`Conv1D`, ``(N, ..., features)`` for
  :class:`Linear`.  A layer with parameters computes in its own dtype
  (float32 by default, float64 on request) and converts its input to it.
* A wrong input (rank, channel count, spatial size too small) raises
  ``ValueError`` naming the layer and the shape it expects; ``backward``
  before ``forward`` raises ``RuntimeError``.
* Semantics follow the PyTorch layer of the same name where there is one,
  defaults included; the differences are listed in each class.
* Everything is vectorised: the convolutions and pools run on fastconv's C
  kernels, the rest on whole-array NumPy operations.
"""
from __future__ import annotations

import contextlib
import math
import numbers
import os

import numpy as np

from ._init import as_rng, initialise, layer_dtype
from ._validate import real
from .conv import (
    col2im,
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv_output_shape,
    conv_output_size,
    conv_transpose2d,
    conv_transpose2d_backward,
)
from .linalg import gemm
from .local import (
    linear,
    linear_backward,
    local_conv2d,
    local_conv2d_backward,
    tiled_conv2d,
    tiled_conv2d_backward,
)
from .losses import SoftmaxCrossEntropy
from .pooling import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_unpool2d,
    stochastic_pool2d,
)

__all__ = [
    "Layer",
    "Conv2D",
    "Conv1D",
    "ConvTranspose2D",
    "LocallyConnected2D",
    "TiledConv2D",
    "Linear",
    "MaxPool2D",
    "AvgPool2D",
    "StochasticPool2D",
    "AdaptiveAvgPool2D",
    "GlobalAvgPool2D",
    "MaxUnpool2D",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "Dropout",
    "Flatten",
    "Identity",
    "BatchNorm2D",
    "LocalResponseNorm",
    "Sequential",
    "Concat",
    "Add",
    "SoftmaxCrossEntropy",
    "from_torch",
]


# ---------------------------------------------------------------------------
# argument helpers
# ---------------------------------------------------------------------------

def _int(value, name, minimum=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _ints(value, n, name, minimum=None):
    """An int or a sequence of n ints -> tuple of n ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
        return tuple(_int(v, name, minimum) for v in value)
    return (_int(value, name, minimum),) * n


def _padding(padding, n, name="padding", strings=("valid", "same", "full")):
    """A padding argument kept as given for the functional API, after a light check."""
    if isinstance(padding, str):
        if padding not in strings:
            raise ValueError(f"{name} must be one of {strings}, an int or a sequence, got {padding!r}")
        return padding
    if isinstance(padding, (tuple, list)):
        if len(padding) != n:
            raise ValueError(f"{name} must be an int, a string or a sequence of {n} entries, got {padding!r}")
        out = []
        for p in padding:
            if isinstance(p, (tuple, list)):
                out.append(_ints(p, 2, name, 0))
            else:
                out.append(_int(p, name, 0))
        return tuple(out)
    return _int(padding, name, 0)


def _layout(layout, names=("NCHW", "NHWC")):
    if layout not in names:
        raise ValueError(f"layout must be one of {names}, got {layout!r}")
    return layout


def _as_input(x, dtype=None):
    """x as a float ndarray: in ``dtype`` when given, else its own float dtype."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"complex input (dtype {arr.dtype}) is not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"input has unsupported dtype {arr.dtype}")
    if dtype is not None:
        return arr if arr.dtype == dtype else arr.astype(dtype)
    if arr.dtype.kind != "f":
        return arr.astype(np.float64)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr


def _spatial(shape, layout):
    """Spatial sizes of a batched shape in this layout."""
    return tuple(shape[2:]) if layout in ("NCHW", "NCL") else tuple(shape[1:-1])


def _join(n, c, spatial, layout):
    if layout in ("NCHW", "NCL"):
        return (n, c) + tuple(spatial)
    return (n,) + tuple(spatial) + (c,)


def _channel_axis(layout):
    return 1 if layout in ("NCHW", "NCL") else -1


def _describe(layout, c, spatial=("H", "W")):
    """An expected input shape for messages: ``(N, C, H, W)``, ``(N, H, W, C)``, ``(N, C, L)``, ..."""
    return "(" + ", ".join(str(v) for v in _join("N", c, spatial, layout)) + ")"


def _changed(*options):
    """The repr tail ``", name=value"`` of each (name, value, default) whose value is not the default."""
    return "".join(f", {name}={value!r}" for name, value, default in options if value != default)


# Receptive-field bookkeeping for summary(): one (r, j, n) triple per spatial
# axis -- receptive field r and jump j in input pixels, and n positions now.

def _rf_window(rf, kernel, stride, dilation, out_sizes):
    if rf is None:
        return None
    return [(r + d * (k - 1) * j, j * s, m)
            for (r, j, _), k, s, d, m in zip(rf, kernel, stride, dilation, out_sizes)]


def _rf_global(rf):
    if rf is None:
        return None
    return [(r + (n - 1) * j, j * n, 1) for r, j, n in rf]


# ---------------------------------------------------------------------------
# the base class
# ---------------------------------------------------------------------------

class Layer:
    """Base class: forward/backward, parameters, modes, persistence.

    Subclasses set ``self._params`` / ``self._buffers`` in ``__init__`` and
    implement ``forward``, ``backward`` and ``output_shape``; the summary
    hooks ``flops`` and ``_receptive`` default to "no multiply-adds" and
    "pointwise".
    """

    dtype = None

    def __init__(self):
        self._params = {}
        self._grads = {}
        self._buffers = {}
        self.training = True
        self._cache = None

    # -- the two passes -------------------------------------------------------------

    def __call__(self, x, *args, **kwargs):
        return self.forward(x, *args, **kwargs)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def _bad_input(self, expected, shape):
        raise ValueError(f"{self._label()}: expected an input of shape {expected}, got {tuple(shape)}")

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(f"{self._label()}: backward() called before forward()")
        return self._cache

    @contextlib.contextmanager
    def _named(self):
        """Re-raise a ValueError of the functional API with this layer's name in front."""
        try:
            yield
        except ValueError as exc:
            name = self._label()
            if str(exc).startswith(name):
                raise
            raise ValueError(f"{name}: {exc}") from None

    # -- parameters ------------------------------------------------------------------

    @property
    def params(self):
        """Trainable arrays by name (containers: a merged, read-only view)."""
        return self._params

    @property
    def grads(self):
        """Gradients of the last backward pass, by parameter name."""
        return self._grads

    @property
    def buffers(self):
        """State that is saved but not trained (BatchNorm2D's running statistics)."""
        return self._buffers

    def children(self):
        """(name, layer) pairs of the direct sub-layers (none for a leaf)."""
        return ()

    def layers(self, prefix=""):
        """Every layer below and including this one, depth first, as (qualified name, layer)."""
        yield prefix, self
        for name, child in self.children():
            yield from child.layers(f"{prefix}.{name}" if prefix else name)

    def zero_grad(self):
        """Forget the stored gradients."""
        for _, layer in self.layers():
            layer._grads.clear()

    @property
    def num_params(self):
        """Number of trainable scalars (as PyTorch's ``sum(p.numel() for p in parameters())``)."""
        return sum(int(p.size) for p in self.params.values())

    def train(self, mode=True):
        """Training mode (the default): Dropout drops, BatchNorm2D uses batch statistics."""
        for _, layer in self.layers():
            layer.training = bool(mode)
        return self

    def eval(self):
        """Inference mode."""
        return self.train(False)

    # -- persistence -----------------------------------------------------------------

    def _local_state(self):
        """This layer's own parameters then buffers, in PyTorch's state_dict order."""
        state = dict(self._params)
        state.update(self._buffers)
        return state

    def state_dict(self):
        """Parameters and buffers by qualified name (the arrays themselves, not copies)."""
        out = {}
        for prefix, layer in self.layers():
            for key, value in layer._local_state().items():
                out[f"{prefix}.{key}" if prefix else key] = value
        return out

    def load_state_dict(self, state, strict=True):
        """Copy arrays into this model's parameters and buffers, in place.

        Parameters
        ----------
        state : mapping of name to array_like
            As :meth:`state_dict` returns (PyTorch tensors are accepted too).
        strict : bool
            Missing or unexpected names raise ``KeyError``.

        Shapes must match exactly (``ValueError`` otherwise); values are cast
        to each array's dtype.  Arrays are updated in place, so an
        optimiser's references stay valid.
        """
        ours = self.state_dict()
        state = {k: _to_numpy(v) for k, v in state.items()}
        if strict:
            missing = sorted(set(ours) - set(state))
            unexpected = sorted(set(state) - set(ours))
            if missing or unexpected:
                raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        for key, value in state.items():
            if key in ours:
                _copy_into(ours[key], value, key)
        return self

    def save(self, path):
        """Write the parameters and buffers to ``path`` (an ``.npz`` file; NumPy adds the suffix)."""
        np.savez(path, **{k: np.asarray(v) for k, v in self.state_dict().items()})

    def load(self, path):
        """Read what :meth:`save` wrote into this model (same architecture); returns self.

        ``path`` may omit the ``.npz`` suffix that :meth:`save` added.
        """
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict({k: data[k] for k in data.files})
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = None  # activations are not part of the model
        return state

    # -- shapes and summary hooks -----------------------------------------------------

    def output_shape(self, input_shape):
        """The output's shape for a batched ``input_shape`` (validated, nothing computed)."""
        return tuple(input_shape)

    def flops(self, input_shape):
        """Multiply-adds of one forward pass over a batched ``input_shape``."""
        return 0

    def _receptive(self, rf, input_shape, output_shape):
        """Receptive-field state after this layer (pointwise by default)."""
        return rf

    def _extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self._extra_repr()})"

    def _label(self):
        """How error messages name this layer (its repr; containers are summarised)."""
        return repr(self)


def _to_numpy(value):
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _copy_into(target, value, name):
    value = np.asarray(value)
    if value.shape != target.shape:
        raise ValueError(f"{name}: shape {value.shape} does not match the model's {target.shape}")
    np.copyto(target, value, casting="unsafe")


# ---------------------------------------------------------------------------
# convolutions
# ---------------------------------------------------------------------------

class _ParamLayer(Layer):
    """A layer with a weight and an optional bias, in one dtype."""

    def __init__(self, dtype):
        super().__init__()
        self.dtype = layer_dtype(dtype)

    def _init_weight(self, shape, init, rng, bias_shape):
        self._params["weight"] = initialise(init, shape, rng, self.dtype)
        if bias_shape is not None:
            self._params["bias"] = np.zeros(bias_shape, dtype=self.dtype)

    @property
    def weight(self):
        return self._params["weight"]

    @property
    def bias(self):
        return self._params.get("bias")

    def _needs(self):
        return ("input", "weight", "bias") if "bias" in self._params else ("input", "weight")

    def _store(self, gw, gb):
        self._grads["weight"] = gw
        if "bias" in self._params:
            self._grads["bias"] = gb

    def _geometry(self, n, in_channels, out_channels, kernel_size, stride, dilation):
        """Validate and set the channel counts and the n-D window of a convolution."""
        self.in_channels = _int(in_channels, "in_channels", 1)
        self.out_channels = _int(out_channels, "out_channels", 1)
        self.kernel_size = _ints(kernel_size, n, "kernel_size", 1)
        self.stride = _ints(stride, n, "stride", 1)
        self.dilation = _ints(dilation, n, "dilation", 1)

    def _check_groups(self):
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels={self.in_channels} and out_channels="
                             f"{self.out_channels} must be divisible by groups={self.groups}")

    def _kw(self):
        """Keyword arguments of the functional forward and backward (beyond x, weight, bias)."""
        return {}

    def _check(self, shape):
        """Reject a wrong input shape before any computation."""
        self.output_shape(shape)

    def _forward_via(self, fn, x):
        """``fn(x, weight, bias, **self._kw())`` on x in the layer's dtype; x is kept for backward."""
        x = _as_input(x, self.dtype)
        self._check(x.shape)
        with self._named():
            y = fn(x, self.weight, self.bias, **self._kw())
        self._cache = x
        return y

    def _backward_via(self, fn, grad_out, needs=None, **extra):
        """``fn(grad_out, x, weight, needs=..., **self._kw())``: stores the parameter gradients, returns the input's."""
        x = self._saved()
        with self._named():
            gi, gw, gb = fn(grad_out, x, self.weight, needs=self._needs() if needs is None else needs,
                            **extra, **self._kw())
        self._store(gw, gb)
        return gi


class _Conv(_ParamLayer):
    """Shared parts of Conv2D and Conv1D: input check, functional keywords, shapes."""

    _spatial_names = ("H", "W")

    def _check(self, shape):
        if len(shape) != 2 + len(self._spatial_names) or shape[_channel_axis(self.layout)] != self.in_channels:
            self._bad_input(_describe(self.layout, self.in_channels, self._spatial_names), shape)

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups,
                    layout=self.layout)

    def output_shape(self, input_shape):
        self._check(input_shape)
        with self._named():
            return conv_output_shape(tuple(input_shape), self.weight.shape, **self._kw())

    def flops(self, input_shape):
        out = self.output_shape(input_shape)
        return math.prod(out) * (self.in_channels // self.groups) * math.prod(self.kernel_size)

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_window(rf, self.kernel_size, self.stride, self.dilation, _spatial(output_shape, self.layout))


class Conv2D(_Conv):
    """2-D convolution layer (``torch.nn.Conv2d``) over :func:`fastconv.conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (pH, pW), ((top, bottom), (left, right)) or {"same", "valid", "full"}
        ``"same"`` is TensorFlow's rule: ``ceil(H / stride)`` outputs, the odd
        extra row/column at the bottom/right (PyTorch allows it for stride 1
        only, where both agree).
    groups : int
    bias : bool
    layout : {"NCHW", "NHWC"}
        Axis order of the input and output; the weight is
        ``(out_channels, in_channels / groups, kH, kW)`` in both.
    rng : numpy.random.Generator, int or None
        Source of the initial weights.
    dtype : float32 (default) or float64
    init : str or callable
        ``"he"`` (default), ``"glorot"``, ... (see ``fastconv._init.initialise``).
        The bias starts at zero.  (PyTorch's default initialisation is
        different: load its weights with :func:`from_torch` to match it.)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, layout="NCHW", *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self._geometry(2, in_channels, out_channels, kernel_size, stride, dilation)
        self.padding = _padding(padding, 2)
        self.groups = _int(groups, "groups", 1)
        self.layout = _layout(layout)
        self._check_groups()
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._init_weight(shape, init, as_rng(rng), (self.out_channels,) if bias else None)

    def _extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}" + _changed(
            ("stride", self.stride, (1, 1)), ("padding", self.padding, 0), ("dilation", self.dilation, (1, 1)),
            ("groups", self.groups, 1), ("bias", self.bias is not None, True), ("layout", self.layout, "NCHW"))

    def forward(self, x):
        return self._forward_via(conv2d, x)

    def backward(self, grad_out):
        x = self._saved()
        g = np.asarray(grad_out)
        if not self._gemm_input_grad(x.shape, g.shape):
            return self._backward_via(conv2d_backward, g)
        with self._named():
            gi = self._input_grad_gemm(g, x)
        self._backward_via(conv2d_backward, g, needs=self._needs()[1:])
        return gi

    # Workaround: conv2d_backward's stride-1 input gradient is a convolution of
    # the padded grad_out with the flipped weights, H*W / (OH*OW) times the
    # multiply-adds of a GEMM + col2im; LeNet's C5 (5x5 -> 1x1) pays 25x.
    # Where the output has at most half the input's pixels, use gemm + col2im.
    def _gemm_input_grad(self, x_shape, g_shape):
        if self.groups != 1 or self.stride != (1, 1) or len(g_shape) != 4:
            return False
        if g_shape != self.output_shape(x_shape):
            return False  # conv2d_backward reports the wrong shape
        return 2 * math.prod(_spatial(g_shape, self.layout)) <= math.prod(_spatial(x_shape, self.layout))

    def _input_grad_gemm(self, g, x):
        n = x.shape[0]
        k, c, kh, kw = self.weight.shape
        dtype = np.result_type(g, x, self.weight)
        if self.layout == "NCHW":
            oh, ow = g.shape[2:]
            gk = np.ascontiguousarray(g.transpose(1, 0, 2, 3), dtype=dtype).reshape(k, n * oh * ow)
            cols = gemm(self.weight.reshape(k, c * kh * kw), gk, trans_a=True)    # (C*kH*kW, N*L)
            cols = cols.reshape(c * kh * kw, n, oh * ow).transpose(1, 0, 2)
        else:
            oh, ow = g.shape[1:3]
            w = np.ascontiguousarray(self.weight.transpose(0, 2, 3, 1)).reshape(k, kh * kw * c)
            cols = gemm(g.reshape(n * oh * ow, k).astype(dtype, copy=False), w)   # (N*L, kH*kW*C)
            cols = cols.reshape(n, oh * ow, kh * kw * c)
        return col2im(cols, _spatial(x.shape, self.layout), self.kernel_size, stride=1, padding=self.padding,
                      dilation=self.dilation, layout=self.layout)


class Conv1D(_Conv):
    """1-D convolution layer (``torch.nn.Conv1d``) over :func:`fastconv.conv1d`.

    Parameters as :class:`Conv2D`, with one value per argument and
    ``layout`` ``"NCL"`` (input ``(N, C, L)``) or ``"NLC"``; the weight is
    ``(out_channels, in_channels / groups, k)``.
    """

    _spatial_names = ("L",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, layout="NCL", *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self._geometry(1, in_channels, out_channels, kernel_size, stride, dilation)
        self.padding = _padding(padding, 1)
        self.groups = _int(groups, "groups", 1)
        self.layout = _layout(layout, ("NCL", "NLC"))
        self._check_groups()
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self._init_weight(shape, init, as_rng(rng), (self.out_channels,) if bias else None)

    def _extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size[0]}" + _changed(
            ("stride", self.stride[0], 1), ("padding", self.padding, 0), ("dilation", self.dilation[0], 1),
            ("groups", self.groups, 1), ("bias", self.bias is not None, True), ("layout", self.layout, "NCL"))

    def forward(self, x):
        return self._forward_via(conv1d, x)

    def backward(self, grad_out):
        return self._backward_via(conv1d_backward, grad_out)


class ConvTranspose2D(_ParamLayer):
    """Transposed 2-D convolution (``torch.nn.ConvTranspose2d``) over :func:`fastconv.conv_transpose2d`.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int or (int, int)
        Removed from the output's borders.
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right (smaller than stride or dilation).
    groups : int
    bias : bool
    layout : {"NCHW", "NHWC"}
    rng, dtype, init
        As :class:`Conv2D`; the weight is ``(in_channels, out_channels / groups, kH, kW)``
        and its fans are computed from that shape as PyTorch does.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, layout="NCHW", *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self._geometry(2, in_channels, out_channels, kernel_size, stride, dilation)
        self.padding = _ints(padding, 2, "padding", 0)
        self.output_padding = _ints(output_padding, 2, "output_padding", 0)
        self.groups = _int(groups, "groups", 1)
        self.layout = _layout(layout)
        self._check_groups()
        for o, s, d in zip(self.output_padding, self.stride, self.dilation):
            if o >= s and o >= d:
                raise ValueError(f"ConvTranspose2D: output_padding={self.output_padding} must be smaller than "
                                 f"stride={self.stride} or dilation={self.dilation}")
        shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        self._init_weight(shape, init, as_rng(rng), (self.out_channels,) if bias else None)

    def _extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}" + _changed(
            ("stride", self.stride, (1, 1)), ("padding", self.padding, (0, 0)),
            ("output_padding", self.output_padding, (0, 0)), ("groups", self.groups, 1),
            ("dilation", self.dilation, (1, 1)), ("bias", self.bias is not None, True),
            ("layout", self.layout, "NCHW"))

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, output_padding=self.output_padding,
                    groups=self.groups, dilation=self.dilation, layout=self.layout)

    def _out_sizes(self, sp):
        return tuple((m - 1) * s - 2 * p + d * (k - 1) + o + 1
                     for m, s, p, d, k, o in zip(sp, self.stride, self.padding, self.dilation, self.kernel_size,
                                                 self.output_padding))

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 4 or shape[_channel_axis(self.layout)] != self.in_channels:
            self._bad_input(_describe(self.layout, self.in_channels), shape)
        out = self._out_sizes(_spatial(shape, self.layout))
        if min(out) < 1 or min(_spatial(shape, self.layout)) < 1:
            raise ValueError(f"{self._label()}: input {shape} gives an empty output {out}")
        return _join(shape[0], self.out_channels, out, self.layout)

    def forward(self, x):
        return self._forward_via(conv_transpose2d, x)

    def backward(self, grad_out):
        return self._backward_via(conv_transpose2d_backward, grad_out)

    def flops(self, input_shape):
        self.output_shape(input_shape)
        return math.prod(input_shape) * (self.out_channels // self.groups) * math.prod(self.kernel_size)

    def _receptive(self, rf, input_shape, output_shape):
        if rf is None:
            return None
        out = _spatial(output_shape, self.layout)
        # an output pixel gathers at most ceil(span / stride) input pixels per axis
        return [(r + (math.ceil((d * (k - 1) + 1) / s) - 1) * j, j / s, m)
                for (r, j, _), k, s, d, m in zip(rf, self.kernel_size, self.stride, self.dilation, out)]


class _UnsharedConv(_ParamLayer):
    """Shared parts of LocallyConnected2D and TiledConv2D."""

    def _input_hw(self):
        return ("H", "W")

    def _check(self, shape):
        shape = tuple(shape)
        ok = len(shape) == 4 and shape[_channel_axis(self.layout)] == self.in_channels
        hw = self._input_hw()
        if ok and isinstance(hw[0], int):
            ok = _spatial(shape, self.layout) == hw
        if not ok:
            self._bad_input(_describe(self.layout, self.in_channels, hw), shape)

    def _kw(self):
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, layout=self.layout)

    def output_shape(self, input_shape):
        self._check(input_shape)
        with self._named():
            out = tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                        zip(_spatial(input_shape, self.layout), self.kernel_size, self.stride,
                            self._paddings(), self.dilation))
        return _join(input_shape[0], self.out_channels, out, self.layout)

    def _paddings(self):
        p = self.padding
        if isinstance(p, str):
            return (p, p)
        if isinstance(p, tuple):
            return p
        return (p, p)

    def flops(self, input_shape):
        return math.prod(self.output_shape(input_shape)) * self.in_channels * math.prod(self.kernel_size)

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_window(rf, self.kernel_size, self.stride, self.dilation, _spatial(output_shape, self.layout))


class LocallyConnected2D(_UnsharedConv):
    """Locally connected layer (Keras 2's ``LocallyConnected2D``) over :func:`fastconv.local_conv2d`.

    Every output position has its own filter bank, so the layer is built
    for one input size.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    input_size : (int, int)
        The input's ``(H, W)``; with the kernel, stride, padding and dilation
        it fixes the output size ``(OH, OW)``.
    stride, dilation : int or (int, int)
    padding : int, pair, pairs or {"valid", "same", "full"}
    bias : bool or {"untied", "shared"}
        ``True`` / ``"untied"``: one bias per channel and position
        ``(out_channels, OH, OW)``, as Keras; ``"shared"``: one per channel.
    layout, rng, dtype, init
        As :class:`Conv2D`.  The weight is ``(OH, OW, out_channels, in_channels, kH, kW)``.

    PyTorch has no such layer.
    """

    def __init__(self, in_channels, out_channels, kernel_size, input_size, stride=1, padding=0, dilation=1,
                 bias=True, layout="NCHW", *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self._geometry(2, in_channels, out_channels, kernel_size, stride, dilation)
        self.input_size = _ints(input_size, 2, "input_size", 1)
        self.padding = _padding(padding, 2)
        self.layout = _layout(layout)
        if bias is True or bias == "untied":
            self.bias_mode = "untied"
        elif bias is False or bias is None:
            self.bias_mode = None
        elif bias == "shared":
            self.bias_mode = "shared"
        else:
            raise ValueError(f"LocallyConnected2D: bias must be True, False, 'untied' or 'shared', got {bias!r}")
        try:
            self.output_size = tuple(
                conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                zip(self.input_size, self.kernel_size, self.stride, self._paddings(), self.dilation))
        except ValueError as exc:
            raise ValueError(f"LocallyConnected2D: {exc}") from None
        oh, ow = self.output_size
        shape = (oh, ow, self.out_channels, self.in_channels) + self.kernel_size
        bshape = {None: None, "shared": (self.out_channels,), "untied": (self.out_channels, oh, ow)}[self.bias_mode]
        self._init_weight(shape, init, as_rng(rng), bshape)

    def _input_hw(self):
        return self.input_size

    def _extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"input_size={self.input_size}") + _changed(
            ("stride", self.stride, (1, 1)), ("padding", self.padding, 0), ("dilation", self.dilation, (1, 1)),
            ("bias", self.bias_mode or False, "untied"), ("layout", self.layout, "NCHW"))

    def forward(self, x):
        return self._forward_via(local_conv2d, x)

    def backward(self, grad_out):
        return self._backward_via(local_conv2d_backward, grad_out, shared_bias=self.bias_mode == "shared")


class TiledConv2D(_UnsharedConv):
    """Tiled convolution (Le et al., 2010) over :func:`fastconv.tiled_conv2d`.

    Output position ``(i, j)`` uses filter bank ``(i % tH, j % tW)``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    tiles : int or (int, int)
        ``(tH, tW)`` banks; ``(1, 1)`` is an ordinary convolution.
    stride, padding, dilation, bias, layout, rng, dtype, init
        As :class:`Conv2D` (no groups).  The weight is
        ``(tH, tW, out_channels, in_channels, kH, kW)``, the bias ``(out_channels,)``.

    PyTorch has no such layer.
    """

    def __init__(self, in_channels, out_channels, kernel_size, tiles, stride=1, padding=0, dilation=1,
                 bias=True, layout="NCHW", *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self._geometry(2, in_channels, out_channels, kernel_size, stride, dilation)
        self.tiles = _ints(tiles, 2, "tiles", 1)
        self.padding = _padding(padding, 2)
        self.layout = _layout(layout)
        shape = self.tiles + (self.out_channels, self.in_channels) + self.kernel_size
        self._init_weight(shape, init, as_rng(rng), (self.out_channels,) if bias else None)

    def _extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, tiles={self.tiles}"
        return s + _changed(
            ("stride", self.stride, (1, 1)), ("padding", self.padding, 0), ("dilation", self.dilation, (1, 1)),
            ("bias", self.bias is not None, True), ("layout", self.layout, "NCHW"))

    def forward(self, x):
        return self._forward_via(tiled_conv2d, x)

    def backward(self, grad_out):
        return self._backward_via(tiled_conv2d_backward, grad_out)


class Linear(_ParamLayer):
    """Fully connected layer ``y = x @ weight.T + bias`` (``torch.nn.Linear``) over :func:`fastconv.linear`.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    rng, dtype, init
        As :class:`Conv2D`; the weight is ``(out_features, in_features)``.

    The input is ``(N, ..., in_features)``.
    """

    def __init__(self, in_features, out_features, bias=True, *, rng=None, dtype=np.float32, init="he"):
        super().__init__(dtype)
        self.in_features = _int(in_features, "in_features", 1)
        self.out_features = _int(out_features, "out_features", 1)
        self._init_weight((self.out_features, self.in_features), init, as_rng(rng),
                          (self.out_features,) if bias else None)

    def _extra_repr(self):
        return f"{self.in_features}, {self.out_features}" + ("" if "bias" in self._params else ", bias=False")

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[-1] != self.in_features:
            raise ValueError(f"{self._label()}: expected an input of shape (N, {self.in_features}) "
                             f"(or (N, ..., {self.in_features})), got {shape}")
        return shape[:-1] + (self.out_features,)

    def forward(self, x):
        # batch_invariant: a row's output never depends on the batch size (predict in chunks)
        return self._forward_via(lambda *a, **kw: linear(*a, batch_invariant=True, **kw), x)

    def backward(self, grad_out):
        return self._backward_via(linear_backward, grad_out)

    def flops(self, input_shape):
        return math.prod(self.output_shape(input_shape)) * self.in_features

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_global(rf)


# ---------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------

class _Pool2D(Layer):
    """Shared checks of the 2-D pooling layers."""

    def _check(self, shape):
        if len(shape) != 4:
            self._bad_input(_describe(self.layout, "C"), shape)

    def _window(self, kernel_size, stride, padding=None):
        """Validate and set the window; ``stride`` defaults to the kernel size, ``padding=None`` sets none."""
        self.kernel_size = _ints(kernel_size, 2, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _ints(stride, 2, "stride", 1)
        if padding is not None:
            self.padding = _ints(padding, 2, "padding", 0)

    def _window_repr(self, *options):
        return f"kernel_size={self.kernel_size}, stride={self.stride}" + _changed(*options)

    def _window_output(self, input_shape, kernel, stride, padding, dilation, ceil_mode):
        self._check(input_shape)
        sp = _spatial(input_shape, self.layout)
        with self._named():
            if min(sp) < 1:
                raise ValueError(f"input {tuple(input_shape)} has an empty spatial dimension")
            out = tuple(conv_output_size(n, k, s, p, d, ceil_mode)
                        for n, k, s, p, d in zip(sp, kernel, stride, padding, dilation))
        c = input_shape[_channel_axis(self.layout)]
        return _join(input_shape[0], c, out, self.layout)


def _check_pool_padding(name, padding, kernel):
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")


class MaxPool2D(_Pool2D):
    """Max pooling (``torch.nn.MaxPool2d``) over :func:`fastconv.max_pool2d`.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding, dilation : int or (int, int)
    ceil_mode : bool
    return_indices : bool
        Keep the positions of the maxima of every forward pass in
        ``self.indices``, for a paired :class:`MaxUnpool2D`.  Unlike PyTorch,
        ``forward`` still returns the pooled array alone, so the layer chains
        in a :class:`Sequential`.
    layout : {"NCHW", "NHWC"}

    In training mode the indices are always computed (the backward pass
    routes through them); in eval mode without ``return_indices`` the
    values-only kernel runs and ``backward`` recomputes them.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False,
                 layout="NCHW"):
        super().__init__()
        self._window(kernel_size, stride, padding)
        self.dilation = _ints(dilation, 2, "dilation", 1)
        self.ceil_mode = bool(ceil_mode)
        self.return_indices = bool(return_indices)
        self.layout = _layout(layout)
        _check_pool_padding("MaxPool2D", self.padding, self.kernel_size)
        self.indices = None

    def _extra_repr(self):
        return self._window_repr(("padding", self.padding, (0, 0)), ("dilation", self.dilation, (1, 1)),
                                 ("ceil_mode", self.ceil_mode, False), ("return_indices", self.return_indices, False),
                                 ("layout", self.layout, "NCHW"))

    def _kw(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, ceil_mode=self.ceil_mode, layout=self.layout)

    def output_shape(self, input_shape):
        return self._window_output(input_shape, self.kernel_size, self.stride, self.padding, self.dilation,
                                   self.ceil_mode)

    def forward(self, x):
        x = _as_input(x)
        self.output_shape(x.shape)
        with self._named():
            if self.training or self.return_indices:
                y, idx = max_pool2d(x, return_indices=True, **self._kw())
            else:
                y, idx = max_pool2d(x, **self._kw()), None
        self.indices = idx
        self._cache = x
        return y

    def backward(self, grad_out):
        x = self._saved()
        idx = self.indices
        with self._named():
            if idx is None:
                _, idx = max_pool2d(x, return_indices=True, **self._kw())
            return max_pool2d_backward(grad_out, idx, x.shape, layout=self.layout)

    def __getstate__(self):
        state = super().__getstate__()
        state["indices"] = None
        return state

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_window(rf, self.kernel_size, self.stride, self.dilation, _spatial(output_shape, self.layout))


class AvgPool2D(_Pool2D):
    """Average pooling (``torch.nn.AvgPool2d``) over :func:`fastconv.avg_pool2d`.

    Parameters
    ----------
    kernel_size, stride, padding : int or (int, int)
        ``stride`` defaults to ``kernel_size``.
    ceil_mode, count_include_pad : bool
    divisor_override : int, optional
    layout : {"NCHW", "NHWC"}
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, layout="NCHW"):
        super().__init__()
        self._window(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = None if divisor_override is None else _int(divisor_override, "divisor_override")
        self.layout = _layout(layout)
        _check_pool_padding("AvgPool2D", self.padding, self.kernel_size)

    def _extra_repr(self):
        return self._window_repr(("padding", self.padding, (0, 0)), ("ceil_mode", self.ceil_mode, False),
                                 ("count_include_pad", self.count_include_pad, True),
                                 ("divisor_override", self.divisor_override, None), ("layout", self.layout, "NCHW"))

    def _kw(self):
        return dict(kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                    ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad,
                    divisor_override=self.divisor_override, layout=self.layout)

    def output_shape(self, input_shape):
        return self._window_output(input_shape, self.kernel_size, self.stride, self.padding, (1, 1),
                                   self.ceil_mode)

    def forward(self, x):
        x = _as_input(x)
        self.output_shape(x.shape)
        with self._named():
            y = avg_pool2d(x, **self._kw())
        self._cache = x.shape
        return y

    def backward(self, grad_out):
        shape = self._saved()
        with self._named():
            return avg_pool2d_backward(grad_out, shape, **self._kw())

    def flops(self, input_shape):
        return math.prod(self.output_shape(input_shape)) * math.prod(self.kernel_size)

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_window(rf, self.kernel_size, self.stride, (1, 1), _spatial(output_shape, self.layout))


class StochasticPool2D(_Pool2D):
    """Stochastic pooling (Zeiler & Fergus, 2013) over :func:`fastconv.stochastic_pool2d`.

    Training: each window outputs one of its (non-negative) values, drawn
    with probability proportional to it; the gradient flows to the drawn
    cell.  Eval: the probability-weighted average ``sum(a**2) / sum(a)``,
    whose gradient is ``(2 a_i - y) / sum(a)`` (0 for an all-zero window).

    Parameters
    ----------
    kernel_size, stride : int or (int, int)
        ``stride`` defaults to ``kernel_size``; no padding.
    rng : numpy.random.Generator, int or None
        Each training forward pass takes one 64-bit seed from it.
    layout : {"NCHW", "NHWC"}

    PyTorch has no such layer.
    """

    def __init__(self, kernel_size, stride=None, *, rng=None, layout="NCHW"):
        super().__init__()
        self._window(kernel_size, stride)
        self.rng = as_rng(rng)
        self.layout = _layout(layout)

    def _extra_repr(self):
        return self._window_repr(("layout", self.layout, "NCHW"))

    def output_shape(self, input_shape):
        return self._window_output(input_shape, self.kernel_size, self.stride, (0, 0), (1, 1), False)

    def forward(self, x):
        x = _as_input(x)
        self.output_shape(x.shape)
        with self._named():
            if self.training:
                y, idx = stochastic_pool2d(x, self.kernel_size, self.stride, training=True, rng=self.rng,
                                           return_indices=True, layout=self.layout)
                self._cache = ("train", x.shape, idx)
            else:
                y = stochastic_pool2d(x, self.kernel_size, self.stride, training=False, layout=self.layout)
                self._cache = ("eval", x, y)
        return y

    def backward(self, grad_out):
        mode, a, b = self._saved()
        with self._named():
            if mode == "train":
                return max_pool2d_backward(grad_out, b, a, layout=self.layout)
            x, y = a, b
            g = _check_grad(self, grad_out, y.shape)
            # y = sum(a^2) / S over each window, S = sum(a):  dy/da_i = (2 a_i - y) / S.
            # Both window sums back onto the cells are the adjoint of a window sum.
            kw = dict(kernel_size=self.kernel_size, stride=self.stride, divisor_override=1, layout=self.layout)
            s = avg_pool2d(x, **kw)
            safe = np.where(s > 0, s, 1)
            u = np.where(s > 0, g / safe, 0).astype(y.dtype, copy=False)
            back_u = avg_pool2d_backward(u, x.shape, **kw)
            back_uy = avg_pool2d_backward(u * y, x.shape, **kw)
            return 2 * x * back_u - back_uy

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_window(rf, self.kernel_size, self.stride, (1, 1), _spatial(output_shape, self.layout))


def _adaptive_window(n, m):
    """Largest window of adaptive pooling from n cells to m."""
    return max(-(-((i + 1) * n) // m) - (i * n) // m for i in range(m))


class AdaptiveAvgPool2D(_Pool2D):
    """Adaptive average pooling (``torch.nn.AdaptiveAvgPool2d``) over :func:`fastconv.adaptive_avg_pool2d`.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        None keeps that input size.
    layout : {"NCHW", "NHWC"}
    """

    def __init__(self, output_size, layout="NCHW"):
        super().__init__()
        if isinstance(output_size, (tuple, list)):
            if len(output_size) != 2:
                raise ValueError(f"AdaptiveAvgPool2D: output_size must be an int or a pair, got {output_size!r}")
            self.output_size = tuple(None if v is None else _int(v, "output_size", 1) for v in output_size)
        else:
            self.output_size = (_int(output_size, "output_size", 1),) * 2
        self.layout = _layout(layout)

    def _extra_repr(self):
        return f"output_size={self.output_size}" + (f", layout={self.layout!r}" if self.layout != "NCHW" else "")

    def output_shape(self, input_shape):
        self._check(input_shape)
        sp = _spatial(input_shape, self.layout)
        out = tuple(n if o is None else o for n, o in zip(sp, self.output_size))
        return _join(input_shape[0], input_shape[_channel_axis(self.layout)], out, self.layout)

    def forward(self, x):
        x = _as_input(x)
        self._check(x.shape)
        with self._named():
            y = adaptive_avg_pool2d(x, self.output_size, layout=self.layout)
        self._cache = x.shape
        return y

    def backward(self, grad_out):
        shape = self._saved()
        with self._named():
            return adaptive_avg_pool2d_backward(grad_out, shape, layout=self.layout)

    def flops(self, input_shape):
        out = self.output_shape(input_shape)
        sp, osp = _spatial(input_shape, self.layout), _spatial(out, self.layout)
        return math.prod(out) * math.prod(_adaptive_window(n, m) for n, m in zip(sp, osp))

    def _receptive(self, rf, input_shape, output_shape):
        if rf is None:
            return None
        out = _spatial(output_shape, self.layout)
        return [(r + (_adaptive_window(n, m) - 1) * j, j * n / m, m) for (r, j, n), m in zip(rf, out)]


class GlobalAvgPool2D(_Pool2D):
    """Mean over each whole plane, over :func:`fastconv.global_avg_pool2d`.

    Parameters
    ----------
    keepdims : bool
        False (default): output ``(N, C)``; True: ``(N, C, 1, 1)`` (or ``(N, 1, 1, C)``).
    layout : {"NCHW", "NHWC"}
    """

    def __init__(self, keepdims=False, layout="NCHW"):
        super().__init__()
        self.keepdims = bool(keepdims)
        self.layout = _layout(layout)

    def _extra_repr(self):
        s = "keepdims=True" if self.keepdims else ""
        if self.layout != "NCHW":
            s += (", " if s else "") + f"layout={self.layout!r}"
        return s

    def output_shape(self, input_shape):
        self._check(input_shape)
        n, c = input_shape[0], input_shape[_channel_axis(self.layout)]
        return _join(n, c, (1, 1), self.layout) if self.keepdims else (n, c)

    def forward(self, x):
        x = _as_input(x)
        self._check(x.shape)
        with self._named():
            y = adaptive_avg_pool2d(x, 1, layout=self.layout)
        self._cache = x.shape
        return y if self.keepdims else y.reshape(self.output_shape(x.shape))

    def backward(self, grad_out):
        shape = self._saved()
        g = _check_grad(self, grad_out, self.output_shape(shape))
        g4 = g.reshape(_join(shape[0], shape[_channel_axis(self.layout)], (1, 1), self.layout))
        with self._named():
            return adaptive_avg_pool2d_backward(g4, shape, layout=self.layout)

    def flops(self, input_shape):
        self._check(input_shape)
        return math.prod(input_shape)

    def _receptive(self, rf, input_shape, output_shape):
        return _rf_global(rf)


class MaxUnpool2D(_Pool2D):
    """Partial inverse of max pooling (``torch.nn.MaxUnpool2d``) over :func:`fastconv.max_unpool2d`.

    Parameters
    ----------
    kernel_size : int, (int, int) or MaxPool2D
        A :class:`MaxPool2D` built with ``return_indices=True`` pairs the
        layers: its kernel, stride and padding are used, its last indices are
        read at every forward pass, and the output takes the size of the
        pool's input.
    stride, padding : int or (int, int)
        For an unpaired layer (``stride`` defaults to ``kernel_size``).
    pool : MaxPool2D, optional
        The same as passing it as ``kernel_size``.
    layout : {"NCHW", "NHWC"}

    ``forward(x, indices=None, output_size=None)``: an unpaired layer needs
    ``indices``.  The gradient gathers ``grad_out`` at the indices (as
    PyTorch's).
    """

    def __init__(self, kernel_size=None, stride=None, padding=0, *, pool=None, layout=None):
        super().__init__()
        if isinstance(kernel_size, MaxPool2D):
            pool, kernel_size = kernel_size, None
        self.pool = pool
        if pool is not None:
            if not isinstance(pool, MaxPool2D):
                raise TypeError(f"MaxUnpool2D: pool must be a MaxPool2D, got {type(pool).__name__}")
            if not pool.return_indices:
                raise ValueError("MaxUnpool2D: pair it with a MaxPool2D(return_indices=True)")
            self.kernel_size, self.stride, self.padding = pool.kernel_size, pool.stride, pool.padding
            self.layout = _layout(layout or pool.layout)
        else:
            if kernel_size is None:
                raise ValueError("MaxUnpool2D needs a kernel_size or a paired MaxPool2D")
            self._window(kernel_size, stride, padding)
            self.layout = _layout(layout or "NCHW")

    def _extra_repr(self):
        if self.pool is not None:
            return f"pool={self.pool!r}"
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def output_shape(self, input_shape):
        self._check(input_shape)
        if self.pool is not None and self.pool._cache is not None:
            sp = _spatial(self.pool._cache.shape, self.layout)
        else:
            sp = tuple((n - 1) * s - 2 * p + k for n, k, s, p in
                       zip(_spatial(input_shape, self.layout), self.kernel_size, self.stride, self.padding))
        return _join(input_shape[0], input_shape[_channel_axis(self.layout)], sp, self.layout)

    def forward(self, x, indices=None, output_size=None):
        x = _as_input(x)
        self._check(x.shape)
        if indices is None:
            if self.pool is None or self.pool.indices is None:
                raise RuntimeError(f"{self._label()}: no indices (pass indices=, or run the paired MaxPool2D first)")
            indices = self.pool.indices
            if output_size is None and self.pool._cache is not None:
                output_size = _spatial(self.pool._cache.shape, self.layout)
        indices = np.asarray(indices)
        if indices.shape != x.shape:
            raise ValueError(f"{self._label()}: indices have shape {indices.shape}, expected the input's {x.shape}")
        with self._named():
            y = max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size=output_size,
                             layout=self.layout)
        self._cache = (indices, y.shape)
        return y

    def backward(self, grad_out):
        indices, shape = self._saved()
        g = _check_grad(self, grad_out, shape)
        n = shape[0]
        if self.layout == "NCHW":
            c = shape[1]
            return np.take_along_axis(g.reshape(n, c, -1), indices.reshape(n, c, -1), axis=2).reshape(indices.shape)
        c = shape[-1]
        return np.take_along_axis(g.reshape(n, -1, c), indices.reshape(n, -1, c), axis=1).reshape(indices.shape)


# ---------------------------------------------------------------------------
# activations, dropout, reshaping
# ---------------------------------------------------------------------------

class ReLU(Layer):
    """``max(x, 0)`` (``torch.nn.ReLU``); NaN propagates; the gradient at 0 is 0 and passes at
    NaN (PyTorch's rule: blocked where the output is <= 0)."""

    def forward(self, x):
        x = _as_input(x)
        y = np.maximum(x, 0)
        self._cache = y
        return y

    def backward(self, grad_out):
        y = self._saved()
        return _check_grad(self, grad_out, y.shape) * ~(y <= 0)


def _check_grad(layer, grad_out, shape):
    g = np.asarray(grad_out)
    if g.shape != tuple(shape):
        raise ValueError(f"{layer._label()}: grad_out has shape {g.shape}, expected {tuple(shape)}")
    return g


class Sigmoid(Layer):
    """Logistic function ``1 / (1 + exp(-x))`` (``torch.nn.Sigmoid``), without overflow."""

    def forward(self, x):
        x = _as_input(x)
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        self._cache = y
        return y

    def backward(self, grad_out):
        y = self._saved()
        return _check_grad(self, grad_out, y.shape) * (y * (1 - y))


class Tanh(Layer):
    """Hyperbolic tangent (``torch.nn.Tanh``)."""

    def forward(self, x):
        y = np.tanh(_as_input(x))
        self._cache = y
        return y

    def backward(self, grad_out):
        y = self._saved()
        return _check_grad(self, grad_out, y.shape) * (1 - y * y)


class Softmax(Layer):
    """Softmax along ``axis`` (``torch.nn.Softmax(dim=axis)``).

    ``axis=1`` by default: the class axis of ``(N, classes)`` logits and the
    channel axis of NCHW maps -- what PyTorch picks for 2-D and 4-D inputs
    when ``dim`` is not given.  For training, :class:`SoftmaxCrossEntropy`
    on the logits is more accurate than Softmax followed by a log.
    """

    def __init__(self, axis=1):
        super().__init__()
        self.axis = _int(axis, "axis")

    def _extra_repr(self):
        return f"axis={self.axis}"

    def forward(self, x):
        x = _as_input(x)
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"{self._label()}: input of shape {x.shape} has no axis {self.axis}")
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        y = e / np.sum(e, axis=self.axis, keepdims=True)
        self._cache = y
        return y

    def backward(self, grad_out):
        y = self._saved()
        g = _check_grad(self, grad_out, y.shape)
        return y * (g - np.sum(g * y, axis=self.axis, keepdims=True))


class Dropout(Layer):
    """Inverted dropout (``torch.nn.Dropout``).

    Training: each element is zeroed with probability ``p`` and the others
    are scaled by ``1 / (1 - p)``; eval: the identity.  The mask comes from
    ``rng`` (PyTorch's random stream differs, so masks do not match it).
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        p = real(p, "Dropout: p")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.rng = as_rng(rng)

    def _extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        x = _as_input(x)
        if not self.training or self.p == 0.0:
            self._cache = ("identity", x.shape)
            return x
        if self.p == 1.0:
            mask = np.zeros(x.shape, dtype=x.dtype)
        else:
            mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        self._cache = ("mask", mask)
        return x * mask

    def backward(self, grad_out):
        kind, saved = self._saved()
        if kind == "identity":
            return _check_grad(self, grad_out, saved)
        return _check_grad(self, grad_out, saved.shape) * saved


class Flatten(Layer):
    """Merge the axes from ``start_axis`` on (``torch.nn.Flatten``): ``(N, C, H, W)`` -> ``(N, C*H*W)``.

    With NHWC inputs the features come out in (H, W, C) order, so a following
    Linear layer's weight is ordered differently from an NCHW model's.
    """

    def __init__(self, start_axis=1):
        super().__init__()
        self.start_axis = _int(start_axis, "start_axis", 0)

    def _extra_repr(self):
        return "" if self.start_axis == 1 else f"start_axis={self.start_axis}"

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) <= self.start_axis:
            raise ValueError(f"{self._label()}: expected an input with more than {self.start_axis} axes, got {shape}")
        return shape[:self.start_axis] + (math.prod(shape[self.start_axis:]),)

    def forward(self, x):
        x = _as_input(x)
        out = self.output_shape(x.shape)
        self._cache = x.shape
        return x.reshape(out)

    def backward(self, grad_out):
        shape = self._saved()
        return _check_grad(self, grad_out, self.output_shape(shape)).reshape(shape)


class Identity(Layer):
    """Passes its input through (the shortcut of a residual block)."""

    def forward(self, x):
        x = _as_input(x)
        self._cache = x.shape
        return x

    def backward(self, grad_out):
        return _check_grad(self, grad_out, self._saved())


# ---------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------

class BatchNorm2D(Layer):
    """Batch normalisation over (N, H, W) per channel (``torch.nn.BatchNorm2d``).

    Training: normalise with the batch mean and biased variance and update
    the running statistics, ``running = (1 - momentum) * running + momentum *
    batch`` with the *unbiased* batch variance (``momentum=None``: a
    cumulative average over the batches seen).  Eval: normalise with the
    running statistics.  ``y = (x - mean) / sqrt(var + eps) * weight + bias``.

    Parameters
    ----------
    num_features : int
        The channel count C.
    eps : float
    momentum : float or None
    affine : bool
        Learn ``weight`` (ones) and ``bias`` (zeros).
    track_running_stats : bool
        False: batch statistics in both modes, no buffers.
    layout : {"NCHW", "NHWC"}
    dtype : float32 or float64

    Buffers ``running_mean``, ``running_var`` and ``num_batches_tracked``
    have PyTorch's names, so :func:`from_torch` loads them.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 layout="NCHW", *, dtype=np.float32):
        super().__init__()
        self.dtype = layer_dtype(dtype)
        self.num_features = _int(num_features, "num_features", 1)
        self.eps = real(eps, "BatchNorm2D: eps")
        self.momentum = None if momentum is None else real(momentum, "BatchNorm2D: momentum")
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.layout = _layout(layout)
        c = self.num_features
        if self.affine:
            self._params["weight"] = np.ones(c, dtype=self.dtype)
            self._params["bias"] = np.zeros(c, dtype=self.dtype)
        if self.track_running_stats:
            self._buffers["running_mean"] = np.zeros(c, dtype=self.dtype)
            self._buffers["running_var"] = np.ones(c, dtype=self.dtype)
            self._buffers["num_batches_tracked"] = np.zeros((), dtype=np.int64)

    def _extra_repr(self):
        s = f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
        if not self.affine:
            s += ", affine=False"
        if not self.track_running_stats:
            s += ", track_running_stats=False"
        if self.layout != "NCHW":
            s += f", layout={self.layout!r}"
        return s

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 4 or shape[_channel_axis(self.layout)] != self.num_features:
            self._bad_input(_describe(self.layout, self.num_features), shape)
        return shape

    def _axes(self):
        return (0, 2, 3) if self.layout == "NCHW" else (0, 1, 2)

    def _bcast(self, v):
        return v.reshape(1, -1, 1, 1) if self.layout == "NCHW" else v

    def forward(self, x):
        x = _as_input(x, self.dtype)
        self.output_shape(x.shape)
        axes = self._axes()
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x.size // self.num_features
            if m < 2 and self.training:
                raise ValueError(f"{self._label()}: training needs more than 1 value per channel, got input {x.shape}")
            mean = x.mean(axis=axes)
            xc = x - self._bcast(mean)
            var = np.mean(xc * xc, axis=axes)
            if self.training and self.track_running_stats:
                nbt = self._buffers["num_batches_tracked"]
                nbt += 1
                f = 1.0 / float(nbt) if self.momentum is None else self.momentum
                rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
                rm *= 1 - f
                rm += f * mean
                rv *= 1 - f
                rv += f * var * (m / max(m - 1, 1))
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
            xc = x - self._bcast(mean)
        inv = (1.0 / np.sqrt(var + self.eps)).astype(self.dtype, copy=False)
        xhat = xc * self._bcast(inv)
        y = xhat
        if self.affine:
            y = xhat * self._bcast(self._params["weight"]) + self._bcast(self._params["bias"])
        self._cache = (xhat, inv, use_batch)
        return y

    def backward(self, grad_out):
        xhat, inv, use_batch = self._saved()
        g = _check_grad(self, grad_out, xhat.shape)
        axes = self._axes()
        if self.affine:
            self._grads["weight"] = np.sum(g * xhat, axis=axes)
            self._grads["bias"] = np.sum(g, axis=axes)
            scale = inv * self._params["weight"]
        else:
            scale = inv
        if not use_batch:  # statistics are constants
            return g * self._bcast(scale)
        # the batch mean and variance depend on x: remove g's mean and its projection on xhat
        g_mean = np.mean(g, axis=axes)
        gx_mean = np.mean(g * xhat, axis=axes)
        return (g - self._bcast(g_mean) - xhat * self._bcast(gx_mean)) * self._bcast(scale)

    def flops(self, input_shape):
        return math.prod(self.output_shape(input_shape))


def _channel_window_sum(a, axis, before, after):
    """s[c] = sum(a[c - before .. c + after]) along axis, zeros outside (a loop over the window, not pixels)."""
    axis = axis % a.ndim
    pad = [(0, 0)] * a.ndim
    pad[axis] = (before, after)
    p = np.pad(a, pad)
    c = a.shape[axis]
    s = np.zeros_like(a)
    lead = (slice(None),) * axis
    for t in range(before + after + 1):
        s += p[lead + (slice(t, t + c),)]
    return s


class LocalResponseNorm(Layer):
    """Local response normalisation across channels (AlexNet; ``torch.nn.LocalResponseNorm``).

    ``y_c = x_c / (k + alpha / size * sum_{c'} x_{c'}^2) ** beta`` over the
    channels ``c' = c - size // 2 .. c + (size - 1) // 2`` (zeros outside),
    PyTorch's formula and defaults.  AlexNet used ``size=5, alpha=1e-4,
    beta=0.75, k=2``.

    Parameters
    ----------
    size : int
    alpha, beta, k : float
    layout : {"NCHW", "NHWC"}
        The channel axis is 1 (NCHW, also for 3-D ``(N, C, L)`` input) or -1 (NHWC).
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0, layout="NCHW"):
        super().__init__()
        self.size = _int(size, "size", 1)
        self.alpha = real(alpha, "LocalResponseNorm: alpha")
        self.beta = real(beta, "LocalResponseNorm: beta")
        self.k = real(k, "LocalResponseNorm: k")
        self.layout = _layout(layout)

    def _extra_repr(self):
        s = f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
        return s + (f", layout={self.layout!r}" if self.layout != "NCHW" else "")

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 3:
            self._bad_input(_describe(self.layout, "C"), shape)
        return shape

    def forward(self, x):
        x = _as_input(x)
        self.output_shape(x.shape)
        ax = _channel_axis(self.layout)
        s = _channel_window_sum(x * x, ax, self.size // 2, (self.size - 1) // 2)
        d = self.k + (self.alpha / self.size) * s
        dpow = d ** -self.beta
        self._cache = (x, d, dpow)
        return x * dpow

    def backward(self, grad_out):
        x, d, dpow = self._saved()
        g = _check_grad(self, grad_out, x.shape)
        ax = _channel_axis(self.layout)
        # dL/dx_i = g_i d_i^-beta - 2 alpha beta / size * x_i * sum_{c: i in window(c)} g_c x_c d_c^(-beta-1);
        # channel i lies in the windows of c = i - (size-1)//2 .. i + size//2
        u = g * x * dpow / d
        t = _channel_window_sum(u, ax, (self.size - 1) // 2, self.size // 2)
        return g * dpow - (2 * self.alpha * self.beta / self.size) * x * t

    def flops(self, input_shape):
        return math.prod(self.output_shape(input_shape)) * (self.size + 1)


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------

class _Container(Layer):
    """Shared parts of Sequential, Concat and Add: named children, merged dicts."""

    def __init__(self, layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], dict):
            items = list(layers[0].items())
        else:
            items = [(str(i), layer) for i, layer in enumerate(layers)]
        for name, layer in items:
            if not isinstance(layer, Layer):
                raise TypeError(f"{type(self).__name__}: {name!r} is a {type(layer).__name__}, not a Layer")
            if "." in str(name):
                raise ValueError(f"{type(self).__name__}: layer names must not contain '.', got {name!r}")
        self._layers = [(str(n), layer) for n, layer in items]

    def children(self):
        return tuple(self._layers)

    def __len__(self):
        return len(self._layers)

    def __iter__(self):
        return iter(layer for _, layer in self._layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for name, layer in self._layers:
                if name == key:
                    return layer
            raise KeyError(key)
        return self._layers[key][1]

    def _merged(self, attr):
        out = {}
        for name, layer in self._layers:
            for key, value in getattr(layer, attr).items():
                out[f"{name}.{key}"] = value
        return out

    @property
    def params(self):
        return self._merged("params")

    @property
    def grads(self):
        return self._merged("grads")

    @property
    def buffers(self):
        return self._merged("buffers")

    def _extra_repr(self):
        lines = [f"  ({name}): " + repr(layer).replace("\n", "\n  ") for name, layer in self._layers]
        return "\n" + "\n".join(lines) + "\n" if lines else ""

    def _label(self):
        return f"{type(self).__name__}(<{len(self._layers)} layers: {', '.join(n for n, _ in self._layers)}>)"


class Sequential(_Container):
    """Layers applied one after the other.

    ``Sequential(layer0, layer1, ...)`` names them ``"0"``, ``"1"``, ...;
    ``Sequential({"conv": ..., "relu": ...})`` uses the given names.
    Parameter names are ``"<child>.<name>"``, as in ``torch.nn.Sequential``.
    """

    def __init__(self, *layers):
        super().__init__(layers)

    def append(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.append: a {type(layer).__name__} is not a Layer")
        self._layers.append((str(len(self._layers)), layer))
        return self

    def forward(self, x):
        for _, layer in self._layers:
            x = layer.forward(x)
        self._cache = True
        return x

    def backward(self, grad_out):
        self._saved()
        for _, layer in reversed(self._layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for _, layer in self._layers:
            shape = layer.output_shape(shape)
        return shape

    def flops(self, input_shape):
        total, shape = 0, tuple(input_shape)
        for _, layer in self._layers:
            total += layer.flops(shape)
            shape = layer.output_shape(shape)
        return total


class _Parallel(_Container):
    """Branches applied to the same input."""

    def __init__(self, branches):
        if not branches:
            raise ValueError(f"{type(self).__name__} needs at least one branch")
        super().__init__(branches)

    def _branch_outputs(self, x):
        return [layer.forward(x) for _, layer in self._layers]

    def _input_grad(self, grads):
        total = None
        for (_, layer), g in zip(self._layers, grads):
            gi = layer.backward(g)
            total = gi if total is None else total + gi
        return total

    def flops(self, input_shape):
        return sum(layer.flops(tuple(input_shape)) for _, layer in self._layers)

    def _branch_shapes(self, input_shape):
        return [layer.output_shape(tuple(input_shape)) for _, layer in self._layers]


class Concat(_Parallel):
    """Parallel branches joined along the channel axis (an Inception block's join).

    ``Concat(branch0, branch1, ..., axis=1)``: every branch sees the same
    input; their outputs, equal in every other axis, are concatenated along
    ``axis`` (1 for NCHW, -1 for NHWC) in branch order (``torch.cat``).  The
    input gradient is the sum of the branches'.
    """

    def __init__(self, *branches, axis=1):
        super().__init__(branches)
        self.axis = _int(axis, "axis")

    def _join_shapes(self, shapes):
        ref = list(shapes[0])
        ax = self.axis % len(ref)
        for s in shapes[1:]:
            if len(s) != len(ref) or any(a != b for i, (a, b) in enumerate(zip(s, ref)) if i != ax):
                raise ValueError(f"Concat: branch outputs {[tuple(t) for t in shapes]} differ outside axis {self.axis}")
        ref[ax] = sum(s[ax] for s in shapes)
        return tuple(ref)

    def output_shape(self, input_shape):
        return self._join_shapes(self._branch_shapes(input_shape))

    def forward(self, x):
        outs = self._branch_outputs(x)
        shape = self._join_shapes([o.shape for o in outs])
        self._cache = (shape, [o.shape[self.axis] for o in outs])
        return np.concatenate(outs, axis=self.axis)

    def backward(self, grad_out):
        shape, sizes = self._saved()
        g = _check_grad(self, grad_out, shape)
        parts = np.split(g, np.cumsum(sizes)[:-1], axis=self.axis)
        return self._input_grad(parts)


class Add(_Parallel):
    """Parallel branches summed: ``Add(Identity(), body)`` is a residual block ``x + body(x)``.

    The outputs must have equal shapes; each branch receives the whole
    output gradient, and the input gradient is the sum of the branches'.
    """

    def __init__(self, *branches):
        super().__init__(branches)

    def output_shape(self, input_shape):
        shapes = self._branch_shapes(input_shape)
        if any(tuple(s) != tuple(shapes[0]) for s in shapes):
            raise ValueError(f"Add: branch outputs have different shapes {shapes}")
        return tuple(shapes[0])

    def forward(self, x):
        outs = self._branch_outputs(x)
        if any(o.shape != outs[0].shape for o in outs):
            raise ValueError(f"Add: branch outputs have different shapes {[o.shape for o in outs]}")
        y = outs[0]
        for o in outs[1:]:
            y = y + o
        self._cache = y.shape
        return y

    def backward(self, grad_out):
        shape = self._saved()
        g = _check_grad(self, grad_out, shape)
        return self._input_grad([g] * len(self._layers))


# ---------------------------------------------------------------------------
# PyTorch weights
# ---------------------------------------------------------------------------

def from_torch(model, state_dict):
    """Load a PyTorch ``state_dict`` (tensors or arrays) into the matching fastconv model.

    Parameters
    ----------
    model : Layer
        A fastconv model with the same layers as the PyTorch one.
    state_dict : mapping of name to tensor or array, or a ``torch.nn.Module``
        A module's ``state_dict()`` (or the module itself).

    Returns
    -------
    model
        Updated in place; its forward pass then equals the PyTorch model's.

    Notes
    -----
    When the names match the model's own (a model built with
    :class:`Sequential` like a ``torch.nn.Sequential``), entries are matched
    by name.  Otherwise they are matched by order: the i-th PyTorch module
    holding parameters or buffers (in ``state_dict`` order, which is the
    order the modules were registered in) goes to the i-th fastconv layer
    holding any, and their names (``weight``, ``bias``, ``running_mean``,
    ...) and shapes must agree -- a mismatch raises ``ValueError`` naming
    both.  Shapes are PyTorch's for every layer PyTorch has (Conv2d's weight
    is ``(out, in / groups, kH, kW)``, Linear's ``(out, in)``, ...); the
    values are cast to the model's dtype.  PyTorch's ``num_batches_tracked``
    is optional.  NHWC models flatten features in another order than
    PyTorch's NCHW models, so a Linear layer after Flatten needs its weight
    permuted; load NCHW models.
    """
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict):
        state_dict = state_dict.state_dict()
    theirs = {k: _to_numpy(v) for k, v in state_dict.items()}
    ours = model.state_dict()
    optional = "num_batches_tracked"

    def core(keys):
        return {k for k in keys if k.rsplit(".", 1)[-1] != optional}

    if core(ours) == core(theirs) and set(theirs) <= set(ours):
        for key, value in theirs.items():
            if value.shape != ours[key].shape:
                raise ValueError(f"from_torch: {key!r} has shape {tuple(value.shape)} in the state_dict but "
                                 f"{ours[key].shape} in the model")
        for key, value in theirs.items():
            _copy_into(ours[key], value, key)
        return model

    groups = {}
    for key, value in theirs.items():
        prefix, _, leaf = key.rpartition(".")
        groups.setdefault(prefix, {})[leaf] = value
    leaves = [(name, layer) for name, layer in model.layers() if layer._local_state()]
    if len(groups) != len(leaves):
        raise ValueError(
            f"from_torch: the state_dict has {len(groups)} modules with parameters or buffers "
            f"({list(groups)}), the model {len(leaves)} layers ({[n or type(l).__name__ for n, l in leaves]})")
    for (name, layer), (prefix, entries) in zip(leaves, groups.items()):
        local = layer._local_state()
        want = {k: v.shape for k, v in local.items()}
        got = {k: v.shape for k, v in entries.items()}
        if core(want) != core(got) or not set(got) <= set(want) or any(want[k] != got[k] for k in got):
            raise ValueError(
                f"from_torch: layer {name or '(root)'!r} {layer._label()} holds {want}, but the state_dict's module "
                f"{prefix!r} holds {got}")
        for key, value in entries.items():
            _copy_into(local[key], value, f"{prefix}.{key}")
    return model
