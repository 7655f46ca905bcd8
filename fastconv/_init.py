"""Weight initialisers and the argument helpers the layers share.

Every initialiser draws from an explicit ``numpy.random.Generator``
directly in the layer's dtype and scales in place (AlexNet's 62 million
weights without float64 temporaries), so a seed gives reproducible weights
for each dtype.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["as_rng", "fans", "initialise", "layer_dtype", "INITIALISERS"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_rng(rng):
    """A ``numpy.random.Generator`` from a Generator, an int seed or None (fresh entropy)."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"rng seed must be non-negative, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def layer_dtype(dtype):
    """float32 or float64 as a numpy dtype; anything else raises ValueError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _FLOATS:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def fans(shape):
    """(fan_in, fan_out) of a weight, computed as ``torch.nn.init`` does.

    ``shape[1] * receptive`` and ``shape[0] * receptive``, where receptive is
    the product of the trailing (kernel) axes.  Unshared weights
    ``(A, B, C_out, C_in, kH, kW)`` count one bank: ``C_in * kH * kW`` and
    ``C_out * kH * kW``.
    """
    shape = tuple(shape)
    if len(shape) == 6:
        shape = shape[2:]
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions to have fans, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _normal(shape, rng, dtype, std):
    w = rng.standard_normal(shape, dtype=dtype)
    w *= std
    return w


def _uniform(shape, rng, dtype, bound):
    w = rng.random(shape, dtype=dtype)
    w *= 2 * bound
    w -= bound
    return w


def _he_normal(shape, rng, dtype):
    fan_in, _ = fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(2.0 / max(fan_in, 1)))


def _he_uniform(shape, rng, dtype):
    fan_in, _ = fans(shape)
    return _uniform(shape, rng, dtype, math.sqrt(6.0 / max(fan_in, 1)))


def _glorot_uniform(shape, rng, dtype):
    fan_in, fan_out = fans(shape)
    return _uniform(shape, rng, dtype, math.sqrt(6.0 / max(fan_in + fan_out, 1)))


def _glorot_normal(shape, rng, dtype):
    fan_in, fan_out = fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(2.0 / max(fan_in + fan_out, 1)))


INITIALISERS = {
    "he": _he_normal,
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "glorot": _glorot_uniform,
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
}


def initialise(init, shape, rng, dtype):
    """A new weight array of ``shape`` and ``dtype``.

    Parameters
    ----------
    init : str or callable
        ``"he"`` (= ``"he_normal"``, N(0, 2 / fan_in), for ReLU networks),
        ``"he_uniform"``, ``"glorot"`` (= ``"glorot_uniform"``,
        U(+-sqrt(6 / (fan_in + fan_out))), for tanh/sigmoid networks),
        ``"glorot_normal"``, or a callable ``init(shape, rng)`` returning an
        array of that shape.
    shape : tuple of int
    rng : numpy.random.Generator
    dtype : float32 or float64
    """
    if callable(init):
        w = np.asarray(init(tuple(shape), rng))
        if w.shape != tuple(shape):
            raise ValueError(f"init returned shape {w.shape}, expected {tuple(shape)}")
    else:
        try:
            fn = INITIALISERS[init]
        except (KeyError, TypeError):
            raise ValueError(f"init must be a callable or one of {sorted(INITIALISERS)}, got {init!r}") from None
        w = fn(tuple(shape), rng, np.dtype(dtype).type)
    return np.ascontiguousarray(w, dtype=dtype)
