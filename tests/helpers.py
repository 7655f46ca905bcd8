"""Helpers shared by the convolution test files (test_conv.py, test_local.py):
the optional PyTorch oracle, tolerances, layout conversions and the padding
forms the hypothesis strategies draw, each computed here independently of
fastconv."""
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from reference_conv import same_padding

try:  # PyTorch is an optional oracle
    import torch
    import torch.nn.functional as F
except Exception:  # noqa: BLE001 - a broken install counts as missing
    torch = F = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def hypothesis_settings(max_examples):
    """Settings of the property tests: no deadline (the first call builds caches), slow data allowed."""
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_close(actual, expected, dtype=None):
    """Equal within the dtype's rounding, relative to the result's magnitude."""
    dtype = np.dtype(dtype or actual.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol = RTOL[dtype]
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0   # an inf must not make atol infinite
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def nhwc(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def nchw(a):
    return np.moveaxis(a, -1, 1)


PAD_FORMS = ("int", "pair", "asym", "valid", "same", "full")


def check_directional_gradients(loss, args, grads, rng, h=1e-4):
    """Each analytic gradient (of ``loss`` with respect to ``args[i]``) against a
    central difference of ``loss`` along a random direction; float64 inputs."""
    for which, grad in enumerate(grads):
        v = rng.standard_normal(grad.shape)
        plus, minus = list(args), list(args)
        plus[which] = plus[which] + h * v
        minus[which] = minus[which] - h * v
        numeric = (loss(*plus) - loss(*minus)) / (2 * h)
        analytic = float(np.sum(grad * v))
        assert abs(numeric - analytic) <= 1e-7 * max(1.0, abs(analytic))


def resolve(form, value, sizes, kernel, stride, dilation):
    """The padding argument for `form` and the ((t, b), (l, r)) it must mean.

    ``value`` holds one drawn (before, after) pair per spatial axis.
    """
    nd = len(kernel)
    if form == "int":
        return value[0][0], [(value[0][0],) * 2] * nd
    if form == "pair":
        return tuple(v[0] for v in value), [(v[0], v[0]) for v in value]
    if form == "asym":
        return tuple(tuple(v) for v in value), [tuple(v) for v in value]
    if form == "valid":
        return "valid", [(0, 0)] * nd
    if form == "full":
        return "full", [(d * (k - 1),) * 2 for k, d in zip(kernel, dilation)]
    return "same", [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]
