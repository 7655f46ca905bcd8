"""Edge cases of every public compute function: zero-size dimensions, ``out=``
overlapping an input, and NaN / inf propagation, each checked against the
oracle that defines the operation (PyTorch, NumPy, SciPy; skipped cleanly
when absent) or, where the oracle refuses a defined operation, against the
NumPy reference.  The README's Robustness section states the rules.
"""
import warnings

import numpy as np
import pytest

import fastconv
import reference_conv as rconv
import reference_local as rlocal
import reference_pool as rpool
import reference_signal as rsig

try:  # PyTorch is an optional oracle
    import torch
    import torch.nn.functional as F
except Exception:  # noqa: BLE001 - a broken install counts as missing
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _tuple(r):
    return tuple(x for x in r if x is not None) if isinstance(r, tuple) else (r,)


def _outcome(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", _tuple(fn())
        except Exception as exc:  # noqa: BLE001 - compared below
            return "err", exc


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        b = _np(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-12, atol=1e-12)


def _grads(fn, inputs, go):
    """PyTorch autograd: the gradients of <fn(*inputs), go> for every input."""
    ts = [_T(a).clone().requires_grad_() for a in inputs]
    y = fn(*ts)
    y.backward(_T(go))
    return tuple(t.grad if t.grad is not None else torch.zeros_like(t) for t in ts)


def _needs_torch(fn):
    code = getattr(fn, "__code__", None)
    return code is not None and any(n in code.co_names for n in ("F", "torch", "_T", "_grads"))


def r(*shape):
    return np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape)


# ---- zero-size dimensions ---------------------------------------------------------------------
#
# (id, fastconv call, oracle call or None, rule)
#   rule "oracle":    the oracle defines the result; ours equals it
#   rule ("ref", f):  the operation is defined but the oracle refuses it (or,
#                     for conv with C_in = 0, returns PyTorch's (N, 0, ...)
#                     quirk): ours equals the NumPy reference f()
#   rule ("error", s): undefined: ours raises ValueError naming s, and the
#                     oracle (when given) raises too

x0 = r(2, 3, 5, 5)
ZERO = [
    # gemm / linear
    ("gemm m=0", lambda: fastconv.gemm(r(0, 4), r(4, 3)), lambda: r(0, 4) @ r(4, 3), "oracle"),
    ("gemm k=0", lambda: fastconv.gemm(r(3, 0), r(0, 4), r(3, 4), beta=2.0),
     lambda: r(3, 0) @ r(0, 4) + 2.0 * r(3, 4), "oracle"),
    ("gemm n=0", lambda: fastconv.gemm(r(3, 4), r(4, 0)), lambda: r(3, 4) @ r(4, 0), "oracle"),
    ("linear N=0", lambda: fastconv.linear(r(0, 5), r(4, 5), r(4)),
     lambda: F.linear(_T(r(0, 5)), _T(r(4, 5)), _T(r(4))), "oracle"),
    ("linear in=0", lambda: fastconv.linear(r(3, 0), r(4, 0), r(4)),
     lambda: F.linear(_T(r(3, 0)), _T(r(4, 0)), _T(r(4))), "oracle"),
    ("linear out=0", lambda: fastconv.linear(r(3, 5), r(0, 5)), lambda: F.linear(_T(r(3, 5)), _T(r(0, 5))), "oracle"),
    ("linear_backward in=0", lambda: fastconv.linear_backward(r(3, 4), r(3, 0), r(4, 0)),
     lambda: _grads(lambda x, w, b: F.linear(x, w, b), [r(3, 0), r(4, 0), r(4)], r(3, 4)), "oracle"),
    ("linear_backward N=0", lambda: fastconv.linear_backward(r(0, 4), r(0, 5), r(4, 5)),
     lambda: _grads(lambda x, w, b: F.linear(x, w, b), [r(0, 5), r(4, 5), r(4)], r(0, 4)), "oracle"),
    # convolution
    ("conv2d N=0", lambda: fastconv.conv2d(r(0, 3, 5, 5), r(4, 3, 3, 3), r(4), padding=1),
     lambda: F.conv2d(_T(r(0, 3, 5, 5)), _T(r(4, 3, 3, 3)), _T(r(4)), padding=1), "oracle"),
    ("conv2d NHWC N=0", lambda: fastconv.conv2d(r(0, 5, 5, 3), r(4, 3, 3, 3), layout="NHWC"),
     lambda: F.conv2d(_T(r(0, 5, 5, 3)).permute(0, 3, 1, 2), _T(r(4, 3, 3, 3))).permute(0, 2, 3, 1), "oracle"),
    ("conv2d C_in=0", lambda: fastconv.conv2d(r(2, 0, 5, 5), r(4, 0, 3, 3), r(4)), None,
     ("ref", lambda: rconv.conv2d(r(2, 0, 5, 5), r(4, 0, 3, 3), r(4)))),
    ("conv2d C_out=0", lambda: fastconv.conv2d(x0, r(0, 3, 3, 3)), None,
     ("ref", lambda: rconv.conv2d(x0, r(0, 3, 3, 3)))),
    ("conv2d H=0", lambda: fastconv.conv2d(r(2, 3, 0, 5), r(4, 3, 1, 1)),
     lambda: F.conv2d(_T(r(2, 3, 0, 5)), _T(r(4, 3, 1, 1))), ("error", "x has an empty")),
    ("conv1d N=0", lambda: fastconv.conv1d(r(0, 3, 7), r(4, 3, 3), r(4)),
     lambda: F.conv1d(_T(r(0, 3, 7)), _T(r(4, 3, 3)), _T(r(4))), "oracle"),
    ("conv1d L=0", lambda: fastconv.conv1d(r(2, 3, 0), r(4, 3, 1)),
     lambda: F.conv1d(_T(r(2, 3, 0)), _T(r(4, 3, 1))), ("error", "x has an empty")),
    ("conv_transpose2d N=0", lambda: fastconv.conv_transpose2d(r(0, 3, 4, 4), r(3, 2, 3, 3), r(2), stride=2),
     lambda: F.conv_transpose2d(_T(r(0, 3, 4, 4)), _T(r(3, 2, 3, 3)), _T(r(2)), stride=2), "oracle"),
    ("conv_transpose2d C_in=0", lambda: fastconv.conv_transpose2d(r(2, 0, 4, 4), r(0, 2, 3, 3), r(2)), None,
     ("ref", lambda: rconv.conv_transpose2d(r(2, 0, 4, 4), r(0, 2, 3, 3), r(2)))),
    ("conv_transpose1d N=0", lambda: fastconv.conv_transpose1d(r(0, 3, 4), r(3, 2, 3)),
     lambda: F.conv_transpose1d(_T(r(0, 3, 4)), _T(r(3, 2, 3))), "oracle"),
    ("conv_transpose2d H=0", lambda: fastconv.conv_transpose2d(r(2, 3, 0, 4), r(3, 2, 3, 3)),
     lambda: F.conv_transpose2d(_T(r(2, 3, 0, 4)), _T(r(3, 2, 3, 3))), ("error", "x has an empty")),
    ("conv2d_backward N=0", lambda: fastconv.conv2d_backward(r(0, 4, 5, 5), r(0, 3, 5, 5), r(4, 3, 3, 3), padding=1),
     lambda: _grads(lambda x, w, b: F.conv2d(x, w, b, padding=1), [r(0, 3, 5, 5), r(4, 3, 3, 3), r(4)],
                    r(0, 4, 5, 5)), "oracle"),
    ("conv2d_backward C_in=0", lambda: fastconv.conv2d_backward(r(2, 4, 3, 3), r(2, 0, 5, 5), r(4, 0, 3, 3)), None,
     ("ref", lambda: rconv.conv2d_grads(r(2, 4, 3, 3), r(2, 0, 5, 5), r(4, 0, 3, 3)))),
    ("conv1d_backward N=0", lambda: fastconv.conv1d_backward(r(0, 4, 5), r(0, 3, 7), r(4, 3, 3)),
     lambda: _grads(lambda x, w, b: F.conv1d(x, w, b), [r(0, 3, 7), r(4, 3, 3), r(4)], r(0, 4, 5)), "oracle"),
    ("conv_transpose2d_backward N=0",
     lambda: fastconv.conv_transpose2d_backward(r(0, 2, 6, 6), r(0, 3, 4, 4), r(3, 2, 3, 3)),
     lambda: _grads(lambda x, w, b: F.conv_transpose2d(x, w, b), [r(0, 3, 4, 4), r(3, 2, 3, 3), r(2)],
                    r(0, 2, 6, 6)), "oracle"),
    ("conv_transpose1d_backward N=0",
     lambda: fastconv.conv_transpose1d_backward(r(0, 2, 6), r(0, 3, 4), r(3, 2, 3)),
     lambda: _grads(lambda x, w, b: F.conv_transpose1d(x, w, b), [r(0, 3, 4), r(3, 2, 3), r(2)], r(0, 2, 6)),
     "oracle"),
    ("im2col N=0", lambda: fastconv.im2col(r(0, 3, 5, 5), 3, padding=1),
     lambda: F.unfold(_T(r(0, 3, 5, 5)), 3, padding=1), "oracle"),
    ("im2col C=0", lambda: fastconv.im2col(r(2, 0, 5, 5), 3), lambda: F.unfold(_T(r(2, 0, 5, 5)), 3),
     ("ref", lambda: np.zeros((2, 0, 9)))),
    ("im2col H=0", lambda: fastconv.im2col(r(2, 3, 0, 5), 1), lambda: F.unfold(_T(r(2, 3, 0, 5)), 1),
     ("error", "x has an empty")),
    ("col2im N=0", lambda: fastconv.col2im(r(0, 27, 25), (5, 5), 3, padding=1),
     lambda: F.fold(_T(r(0, 27, 25)), (5, 5), 3, padding=1), "oracle"),
    # pooling
    ("max_pool2d N=0", lambda: fastconv.max_pool2d(r(0, 3, 5, 5), 2, return_indices=True),
     lambda: F.max_pool2d(_T(r(0, 3, 5, 5)), 2, return_indices=True), "oracle"),
    ("max_pool2d C=0", lambda: fastconv.max_pool2d(r(2, 0, 5, 5), 2), lambda: F.max_pool2d(_T(r(2, 0, 5, 5)), 2),
     ("ref", lambda: np.zeros((2, 0, 2, 2)))),
    ("max_pool2d H=0", lambda: fastconv.max_pool2d(r(2, 3, 0, 5), 1), lambda: F.max_pool2d(_T(r(2, 3, 0, 5)), 1),
     ("error", "x has an empty")),
    ("avg_pool2d N=0", lambda: fastconv.avg_pool2d(r(0, 3, 5, 5), 3, 2, 1),
     lambda: F.avg_pool2d(_T(r(0, 3, 5, 5)), 3, 2, 1), "oracle"),
    ("avg_pool2d H=0", lambda: fastconv.avg_pool2d(r(2, 3, 5, 0), 1), lambda: F.avg_pool2d(_T(r(2, 3, 5, 0)), 1),
     ("error", "x has an empty")),
    ("max_pool1d N=0", lambda: fastconv.max_pool1d(r(0, 3, 7), 2), lambda: F.max_pool1d(_T(r(0, 3, 7)), 2), "oracle"),
    ("avg_pool1d N=0", lambda: fastconv.avg_pool1d(r(0, 3, 7), 2), lambda: F.avg_pool1d(_T(r(0, 3, 7)), 2), "oracle"),
    ("max_pool1d L=0", lambda: fastconv.max_pool1d(r(2, 3, 0), 1), lambda: F.max_pool1d(_T(r(2, 3, 0)), 1),
     ("error", "x has an empty")),
    ("adaptive_avg_pool2d N=0", lambda: fastconv.adaptive_avg_pool2d(r(0, 3, 5, 5), 2),
     lambda: F.adaptive_avg_pool2d(_T(r(0, 3, 5, 5)), 2), "oracle"),
    ("adaptive_avg_pool2d C=0", lambda: fastconv.adaptive_avg_pool2d(r(2, 0, 5, 5), 2),
     lambda: F.adaptive_avg_pool2d(_T(r(2, 0, 5, 5)), 2), "oracle"),
    ("adaptive_avg_pool2d out=0", lambda: fastconv.adaptive_avg_pool2d(r(2, 3, 5, 5), (0, 2)),
     lambda: F.adaptive_avg_pool2d(_T(r(2, 3, 5, 5)), (0, 2)), "oracle"),
    ("adaptive_max_pool2d N=0", lambda: fastconv.adaptive_max_pool2d(r(0, 3, 5, 5), 2, return_indices=True),
     lambda: F.adaptive_max_pool2d(_T(r(0, 3, 5, 5)), 2, return_indices=True), "oracle"),
    ("adaptive_max_pool2d H=0", lambda: fastconv.adaptive_max_pool2d(r(2, 3, 0, 5), 2),
     lambda: F.adaptive_max_pool2d(_T(r(2, 3, 0, 5)), 2), ("error", "x has an empty")),
    ("global_avg_pool2d N=0", lambda: fastconv.global_avg_pool2d(r(0, 3, 5, 5)),
     lambda: F.adaptive_avg_pool2d(_T(r(0, 3, 5, 5)), 1)[:, :, 0, 0], "oracle"),
    ("global_max_pool2d N=0", lambda: fastconv.global_max_pool2d(r(0, 3, 5, 5)),
     lambda: F.adaptive_max_pool2d(_T(r(0, 3, 5, 5)), 1)[:, :, 0, 0], "oracle"),
    # global pooling of an empty plane: PyTorch's mean answers NaN, its max raises; both undefined here
    ("global_avg_pool2d H=0", lambda: fastconv.global_avg_pool2d(r(2, 3, 0, 5)),
     lambda: F.adaptive_avg_pool2d(_T(r(2, 3, 0, 5)), 1), ("error", "x has an empty")),
    ("global_max_pool2d H=0", lambda: fastconv.global_max_pool2d(r(2, 3, 0, 5)),
     lambda: _T(r(2, 3, 0, 5)).amax((2, 3)), ("error", "x has an empty")),
    ("stochastic_pool2d N=0", lambda: fastconv.stochastic_pool2d(np.abs(r(0, 3, 6, 6)), 2, rng=1), None,
     ("ref", lambda: np.zeros((0, 3, 3, 3)))),
    ("stochastic_pool2d H=0", lambda: fastconv.stochastic_pool2d(np.abs(r(2, 3, 0, 6)), 1, rng=1), None,
     ("error", "x has an empty")),
    ("max_pool2d_backward N=0", lambda: fastconv.max_pool2d_backward(r(0, 3, 2, 2), np.zeros((0, 3, 2, 2), np.int64),
                                                                    (0, 3, 5, 5)),
     lambda: _grads(lambda x: F.max_pool2d(x, 2), [r(0, 3, 5, 5)], r(0, 3, 2, 2)), "oracle"),
    ("avg_pool2d_backward N=0", lambda: fastconv.avg_pool2d_backward(r(0, 3, 2, 2), (0, 3, 5, 5), 2),
     lambda: _grads(lambda x: F.avg_pool2d(x, 2), [r(0, 3, 5, 5)], r(0, 3, 2, 2)), "oracle"),
    ("adaptive_avg_pool2d_backward N=0", lambda: fastconv.adaptive_avg_pool2d_backward(r(0, 3, 2, 2), (0, 3, 5, 5)),
     lambda: _grads(lambda x: F.adaptive_avg_pool2d(x, 2), [r(0, 3, 5, 5)], r(0, 3, 2, 2)), "oracle"),
    ("max_unpool2d N=0", lambda: fastconv.max_unpool2d(r(0, 3, 2, 2), np.zeros((0, 3, 2, 2), np.int64), 2),
     lambda: F.max_unpool2d(_T(r(0, 3, 2, 2)), torch.zeros((0, 3, 2, 2), dtype=torch.int64), 2), "oracle"),
    ("avg_unpool2d N=0", lambda: fastconv.avg_unpool2d(r(0, 3, 2, 2), 2), None, ("ref", lambda: np.zeros((0, 3, 4, 4)))),
    # an unpooled size of 0 (kernel 4 over 1 column padded by 2): an empty result
    ("max_unpool2d to width 0",
     lambda: fastconv.max_unpool2d(r(1, 3, 4, 1), np.zeros((1, 3, 4, 1), np.int64), (1, 4), (1, 4), (0, 2)),
     lambda: F.max_unpool2d(_T(r(1, 3, 4, 1)), torch.zeros((1, 3, 4, 1), dtype=torch.int64), (1, 4), (1, 4), (0, 2)),
     "oracle"),
    ("avg_unpool2d to width 0", lambda: fastconv.avg_unpool2d(r(1, 3, 4, 1), (1, 4), (1, 4), (0, 2)), None,
     ("ref", lambda: np.zeros((1, 3, 4, 0)))),
    # unshared convolutions (no PyTorch op: the reference defines them)
    ("local_conv2d N=0", lambda: fastconv.local_conv2d(r(0, 3, 5, 5), r(3, 3, 4, 3, 3, 3), r(4)), None,
     ("ref", lambda: rlocal.local_conv2d(r(0, 3, 5, 5), r(3, 3, 4, 3, 3, 3), r(4)))),
    ("local_conv2d C=0", lambda: fastconv.local_conv2d(r(2, 0, 5, 5), r(3, 3, 4, 0, 3, 3), r(4)), None,
     ("ref", lambda: rlocal.local_conv2d(r(2, 0, 5, 5), r(3, 3, 4, 0, 3, 3), r(4)))),
    ("local_conv2d K=0", lambda: fastconv.local_conv2d(r(2, 3, 5, 5), r(3, 3, 0, 3, 3, 3)), None,
     ("ref", lambda: rlocal.local_conv2d(r(2, 3, 5, 5), r(3, 3, 0, 3, 3, 3)))),
    ("local_conv2d H=0", lambda: fastconv.local_conv2d(r(2, 3, 0, 5), r(1, 5, 4, 3, 1, 1)), None,
     ("error", "x has an empty")),
    ("tiled_conv2d N=0", lambda: fastconv.tiled_conv2d(r(0, 3, 5, 5), r(2, 2, 4, 3, 3, 3), r(4)), None,
     ("ref", lambda: rlocal.tiled_conv2d(r(0, 3, 5, 5), r(2, 2, 4, 3, 3, 3), r(4)))),
    ("tiled_conv2d C=0", lambda: fastconv.tiled_conv2d(r(2, 0, 5, 5), r(2, 2, 4, 0, 3, 3), r(4)), None,
     ("ref", lambda: rlocal.tiled_conv2d(r(2, 0, 5, 5), r(2, 2, 4, 0, 3, 3), r(4)))),
    ("local_conv2d_backward N=0",
     lambda: fastconv.local_conv2d_backward(r(0, 4, 3, 3), r(0, 3, 5, 5), r(3, 3, 4, 3, 3, 3)), None,
     ("ref", lambda: rlocal.local_conv2d_grads(r(0, 4, 3, 3), r(0, 3, 5, 5), r(3, 3, 4, 3, 3, 3)))),
    ("tiled_conv2d_backward N=0",
     lambda: fastconv.tiled_conv2d_backward(r(0, 4, 3, 3), r(0, 3, 5, 5), r(2, 2, 4, 3, 3, 3)), None,
     ("ref", lambda: rlocal.tiled_conv2d_grads(r(0, 4, 3, 3), r(0, 3, 5, 5), r(2, 2, 4, 3, 3, 3)))),
    # signal (NumPy and SciPy define these)
    ("convolve a=[]", lambda: fastconv.convolve(r(0), r(3)), lambda: np.convolve(r(0), r(3)), ("error", "a cannot")),
    ("convolve v=[]", lambda: fastconv.convolve(r(3), r(0)), lambda: np.convolve(r(3), r(0)), ("error", "v cannot")),
    ("correlate a=[]", lambda: fastconv.correlate(r(0), r(3)), lambda: np.correlate(r(0), r(3)),
     ("error", "first array")),
    ("filter2d N=0", lambda: fastconv.filter2d(r(0, 5, 5), r(3, 3)), None, ("ref", lambda: np.zeros((0, 5, 5)))),
    ("filter2d images of 0 rows", lambda: fastconv.filter2d(r(2, 0, 5), r(3, 3), "full"), None,
     ("ref", lambda: np.zeros((2, 2, 7)))),
]
for shape_a, shape_b in [((0, 3), (2, 2)), ((3, 3), (0, 2)), ((3, 0), (2, 2)), ((0, 0), (1, 1))]:
    for mode in ("full", "same", "valid"):
        for name, ours, theirs in [("convolve2d", fastconv.convolve2d, "convolve2d"),
                                   ("correlate2d", fastconv.correlate2d, "correlate2d")]:
            ZERO.append((f"{name} {shape_a} {shape_b} {mode}",
                         lambda o=ours, a=shape_a, b=shape_b, m=mode: o(r(*a), r(*b), m),
                         lambda t=theirs, a=shape_a, b=shape_b, m=mode:
                         getattr(pytest.importorskip("scipy.signal"), t)(r(*a), r(*b), m), "scipy"))
for mode in ("full", "same", "valid"):
    ZERO.append((f"filter2d one 0-row image {mode}", lambda m=mode: fastconv.filter2d(r(0, 5), r(2, 2), m),
                 lambda m=mode: pytest.importorskip("scipy.signal").correlate2d(r(0, 5), r(2, 2), m), "scipy"))


@pytest.mark.parametrize("case", ZERO, ids=[c[0] for c in ZERO])
def test_zero_size_dimensions(case):
    _, ours_fn, oracle_fn, rule = case
    ours = _outcome(ours_fn)
    if rule == "oracle":
        if torch is None and _needs_torch(oracle_fn):
            pytest.skip("PyTorch is not installed")
        theirs = _outcome(oracle_fn)
        assert theirs[0] == "ok", f"the oracle raised {theirs[1]!r}"
        assert ours[0] == "ok", f"fastconv raised {ours[1]!r} where the oracle answers"
        _same(ours[1], theirs[1])
    elif rule == "scipy":
        # SciPy's answer, or its refusal (ValueError both)
        theirs = _outcome(oracle_fn)
        if theirs[0] == "ok":
            assert ours[0] == "ok", f"fastconv raised {ours[1]!r} where SciPy answers"
            _same(ours[1], theirs[1])
        else:
            assert ours[0] == "err" and type(ours[1]) is type(theirs[1]), (ours, theirs)
    elif rule[0] == "ref":
        assert ours[0] == "ok", f"fastconv raised {ours[1]!r}"
        _same(ours[1], _tuple(rule[1]()))
    else:
        assert ours[0] == "err" and isinstance(ours[1], ValueError), ours
        assert rule[1] in str(ours[1]), str(ours[1])
        if oracle_fn is not None and (torch is not None or not _needs_torch(oracle_fn)):
            theirs = _outcome(oracle_fn)
            assert theirs[0] == "err" or not all(np.isfinite(_np(t)).all() for t in theirs[1]), \
                "the oracle defines this case"


# ---- out= overlapping an input -------------------------------------------------------------------
#
# name -> (call(inputs, out), inputs): every public function with an out= keyword.
# Shapes are chosen so that out can be an input itself as well as a view
# straddling part of one.

def _pool_idx():
    return fastconv.max_pool2d(r(2, 3, 6, 6), 2, return_indices=True)[1]


OUT = {
    "gemm": (lambda i, out: fastconv.gemm(i[0], i[1], out=out), [r(6, 6), r(6, 6)]),
    "gemm_c": (lambda i, out: fastconv.gemm(i[0], i[1], i[2], beta=1.5, out=out), [r(6, 5), r(5, 7), r(6, 7)]),
    "conv2d": (lambda i, out: fastconv.conv2d(i[0], i[1], i[2], padding=1, out=out),
               [r(2, 3, 6, 6), r(3, 3, 3, 3), r(3)]),
    "conv1d": (lambda i, out: fastconv.conv1d(i[0], i[1], padding=1, out=out), [r(2, 3, 8), r(3, 3, 3)]),
    "conv_transpose2d": (lambda i, out: fastconv.conv_transpose2d(i[0], i[1], padding=1, out=out),
                         [r(2, 3, 5, 5), r(3, 3, 3, 3)]),
    "conv_transpose1d": (lambda i, out: fastconv.conv_transpose1d(i[0], i[1], padding=1, out=out),
                         [r(2, 3, 9), r(3, 3, 3)]),
    "max_pool2d": (lambda i, out: fastconv.max_pool2d(i[0], 3, 1, 1, out=out), [r(2, 3, 6, 6)]),
    "avg_pool2d": (lambda i, out: fastconv.avg_pool2d(i[0], 3, 1, 1, out=out), [r(2, 3, 6, 6)]),
    "adaptive_avg_pool2d": (lambda i, out: fastconv.adaptive_avg_pool2d(i[0], 6, out=out), [r(2, 3, 6, 6)]),
    "adaptive_max_pool2d": (lambda i, out: fastconv.adaptive_max_pool2d(i[0], 6, out=out), [r(2, 3, 6, 6)]),
    "max_pool2d_backward": (lambda i, out: fastconv.max_pool2d_backward(i[0], _pool_idx(), (2, 3, 6, 6), out=out),
                            [r(2, 3, 3, 3)]),
    "avg_pool2d_backward": (lambda i, out: fastconv.avg_pool2d_backward(i[0], (2, 3, 6, 6), 3, 1, 1, out=out),
                            [r(2, 3, 6, 6)]),
    "adaptive_avg_pool2d_backward": (
        lambda i, out: fastconv.adaptive_avg_pool2d_backward(i[0], (2, 3, 6, 6), out=out), [r(2, 3, 6, 6)]),
}


def test_every_function_with_out_is_covered():
    import inspect
    with_out = {n for n in fastconv.__all__ if callable(getattr(fastconv, n))
                and inspect.isfunction(getattr(fastconv, n))
                and "out" in inspect.signature(getattr(fastconv, n)).parameters}
    assert with_out <= set(OUT), sorted(with_out - set(OUT))


def _overlapping(inputs, which, out_shape, offset):
    """Copies of the inputs, input `which` living in a buffer that `out`
    (of out_shape) shares from element `offset` on."""
    src = inputs[which]
    size = max(src.size, offset + int(np.prod(out_shape)))
    buf = np.zeros(size)
    held = buf[:src.size].reshape(src.shape)
    held[...] = src
    out = buf[offset:offset + int(np.prod(out_shape))].reshape(out_shape)
    return [held if k == which else a.copy() for k, a in enumerate(inputs)], out, buf


@pytest.mark.parametrize("name", sorted(OUT))
def test_out_overlapping_an_input_is_handled_or_refused(name):
    call, inputs = OUT[name]
    expected = call([a.copy() for a in inputs], None)
    for which in range(len(inputs)):
        for offset in sorted({0, 1, inputs[which].size // 2}):
            args, out, buf = _overlapping(inputs, which, expected.shape, offset)
            assert np.shares_memory(out, args[which])
            before = buf.copy()
            try:
                res = call(args, out)
            except ValueError as exc:
                assert "overlap" in str(exc), str(exc)
                np.testing.assert_array_equal(buf, before)     # refused before writing anything
                continue
            assert res is out
            np.testing.assert_array_equal(out, expected, err_msg=f"{name}: input {which}, offset {offset}")
        # out= the input itself, when it has the result's shape
        if inputs[which].shape == expected.shape:
            args = [a.copy() for a in inputs]
            try:
                res = call(args, args[which])
            except ValueError as exc:
                assert "overlap" in str(exc), str(exc)
                np.testing.assert_array_equal(args[which], inputs[which])
                continue
            np.testing.assert_array_equal(res, expected, err_msg=f"{name}: out is input {which}")


# ---- NaN and +-inf ----------------------------------------------------------------------------
#
# name -> (fastconv call, oracle call (PyTorch autograd for gradients) or a
# NumPy reference, input shapes, indices of the inputs that receive NaN/inf).
# float64 throughout: PyTorch's float64 CPU convolution is its explicit
# zero-padded path (0 * inf = NaN in the padding), the rule fastconv follows;
# its float32 oneDNN path skips padded taps instead.

def _sprinkle(a, seed):
    rng = np.random.default_rng(seed)
    a = a.copy()
    u = rng.random(a.shape)
    a[u < 0.04] = np.nan
    a[(u >= 0.04) & (u < 0.08)] = np.inf
    a[(u >= 0.08) & (u < 0.12)] = -np.inf
    return a


def _torch_grads(fn, channel_axis=1):
    """(grad_x, grad_w, grad_bias) by autograd of fn(x, w); the bias gradient
    is grad_out summed over every axis but the channels."""
    def grads(go, x, w):
        g = _T(go)
        return _grads(fn, [x, w], go) + (g.sum(tuple(a for a in range(g.ndim) if a != channel_axis % g.ndim)),)
    return grads


NONFINITE = {
    "gemm": (lambda a, b: fastconv.gemm(a, b), lambda a, b: _T(a) @ _T(b), [(9, 7), (7, 8)], [0, 1]),
    "gemm alpha=0 (BLAS: op(a) @ op(b) not read)":
        (lambda a, b, c: fastconv.gemm(a, b, c, alpha=0.0, beta=1.0),
         lambda a, b, c: torch.addmm(_T(c), _T(a), _T(b), alpha=0.0), [(9, 7), (7, 8), (9, 8)], [0, 1, 2]),
    "gemm beta=0 (BLAS: c not read)":
        (lambda a, b, c: fastconv.gemm(a, b, c, beta=0.0),
         lambda a, b, c: torch.addmm(_T(c), _T(a), _T(b), beta=0.0), [(9, 7), (7, 8), (9, 8)], [2]),
    "linear": (fastconv.linear, lambda x, w, b: F.linear(_T(x), _T(w), _T(b)), [(6, 9), (5, 9), (5,)], [0, 1, 2]),
    "linear batch 3": (fastconv.linear, lambda x, w, b: F.linear(_T(x), _T(w), _T(b)), [(3, 9), (5, 9), (5,)],
                       [0, 1]),
    "linear_backward": (fastconv.linear_backward, _torch_grads(lambda x, w: F.linear(x, w), -1),
                        [(6, 5), (6, 9), (5, 9)], [0, 1, 2]),
    "conv2d": (lambda x, w, b: fastconv.conv2d(x, w, b, padding=1),
               lambda x, w, b: F.conv2d(_T(x), _T(w), _T(b), padding=1), [(2, 4, 8, 8), (5, 4, 3, 3), (5,)], [0, 1, 2]),
    "conv2d NHWC strided": (
        lambda x, w: fastconv.conv2d(np.moveaxis(x, 1, -1), w, stride=2, padding=2, layout="NHWC"),
        lambda x, w: F.conv2d(_T(x), _T(w), stride=2, padding=2).permute(0, 2, 3, 1),
        [(2, 4, 9, 9), (5, 4, 3, 3)], [0, 1]),
    "conv2d depthwise": (lambda x, w: fastconv.conv2d(x, w, padding=1, groups=4),
                         lambda x, w: F.conv2d(_T(x), _T(w), padding=1, groups=4), [(2, 4, 9, 9), (4, 1, 3, 3)], [0, 1]),
    "conv2d depthwise NHWC": (
        lambda x, w: fastconv.conv2d(np.moveaxis(x, 1, -1), w, padding=1, groups=4, layout="NHWC"),
        lambda x, w: F.conv2d(_T(x), _T(w), padding=1, groups=4).permute(0, 2, 3, 1),
        [(2, 4, 9, 9), (4, 1, 3, 3)], [0, 1]),
    "conv2d 3x3 (Winograd-eligible)": (
        lambda x, w: fastconv.conv2d(x, w, padding=1), lambda x, w: F.conv2d(_T(x), _T(w), padding=1),
        [(1, 16, 20, 20), (16, 16, 3, 3)], [0, 1]),
    "conv1d": (lambda x, w: fastconv.conv1d(x, w, padding=2), lambda x, w: F.conv1d(_T(x), _T(w), padding=2),
               [(2, 3, 11), (4, 3, 5)], [0, 1]),
    "conv_transpose2d": (lambda x, w: fastconv.conv_transpose2d(x, w, stride=2, padding=1),
                         lambda x, w: F.conv_transpose2d(_T(x), _T(w), stride=2, padding=1),
                         [(2, 4, 6, 6), (4, 3, 3, 3)], [0, 1]),
    "conv_transpose2d stride 1, non-finite w": (
        lambda x, w: fastconv.conv_transpose2d(x, w, padding=1),
        lambda x, w: F.conv_transpose2d(_T(x), _T(w), padding=1), [(2, 4, 6, 6), (4, 3, 3, 3)], [1]),
    "conv_transpose1d": (lambda x, w: fastconv.conv_transpose1d(x, w, stride=3),
                         lambda x, w: F.conv_transpose1d(_T(x), _T(w), stride=3), [(2, 4, 7), (4, 3, 4)], [0, 1]),
    "conv2d_backward": (lambda g, x, w: fastconv.conv2d_backward(g, x, w, padding=1),
                        _torch_grads(lambda x, w: F.conv2d(x, w, padding=1)),
                        [(2, 5, 7, 7), (2, 4, 7, 7), (5, 4, 3, 3)], [0, 1]),
    "conv2d_backward stride 2": (lambda g, x, w: fastconv.conv2d_backward(g, x, w, stride=2, padding=1),
                                 _torch_grads(lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
                                 [(2, 5, 4, 4), (2, 4, 7, 7), (5, 4, 3, 3)], [0, 1, 2]),
    "conv2d_backward stride 1, non-finite w": (
        lambda g, x, w: fastconv.conv2d_backward(g, x, w, padding=1), _torch_grads(lambda x, w: F.conv2d(x, w, padding=1)),
        [(2, 5, 7, 7), (2, 4, 7, 7), (5, 4, 3, 3)], [2]),
    "conv2d_backward depthwise": (lambda g, x, w: fastconv.conv2d_backward(g, x, w, padding=1, groups=4),
                                  _torch_grads(lambda x, w: F.conv2d(x, w, padding=1, groups=4)),
                                  [(2, 4, 7, 7), (2, 4, 7, 7), (4, 1, 3, 3)], [0, 1, 2]),
    "conv1d_backward": (lambda g, x, w: fastconv.conv1d_backward(g, x, w, padding=1),
                        _torch_grads(lambda x, w: F.conv1d(x, w, padding=1)),
                        [(2, 5, 9), (2, 4, 9), (5, 4, 3)], [0, 1]),
    "conv_transpose2d_backward": (lambda g, x, w: fastconv.conv_transpose2d_backward(g, x, w, stride=2),
                                  _torch_grads(lambda x, w: F.conv_transpose2d(x, w, stride=2)),
                                  [(2, 3, 11, 11), (2, 4, 5, 5), (4, 3, 3, 3)], [0, 1, 2]),
    "conv_transpose1d_backward": (lambda g, x, w: fastconv.conv_transpose1d_backward(g, x, w, stride=2),
                                  _torch_grads(lambda x, w: F.conv_transpose1d(x, w, stride=2)),
                                  [(2, 3, 11), (2, 4, 5), (4, 3, 3)], [0, 1, 2]),
    "im2col": (lambda x: fastconv.im2col(x, 3, padding=1, stride=2), lambda x: F.unfold(_T(x), 3, padding=1, stride=2),
               [(2, 3, 7, 7)], [0]),
    "col2im": (lambda c: fastconv.col2im(c, (7, 7), 3, padding=1), lambda c: F.fold(_T(c), (7, 7), 3, padding=1),
               [(2, 27, 49)], [0]),
    "max_pool2d (NaN wins, first NaN's index)": (
        lambda x: fastconv.max_pool2d(x, 3, 2, 1, return_indices=True),
        lambda x: F.max_pool2d(_T(x), 3, 2, 1, return_indices=True), [(2, 3, 9, 9)], [0]),
    "max_pool2d NHWC": (lambda x: fastconv.max_pool2d(np.moveaxis(x, 1, -1), 2, layout="NHWC"),
                        lambda x: F.max_pool2d(_T(x), 2).permute(0, 2, 3, 1), [(2, 16, 8, 8)], [0]),
    "max_pool1d": (lambda x: fastconv.max_pool1d(x, 3, 2, 1, return_indices=True),
                   lambda x: F.max_pool1d(_T(x), 3, 2, 1, return_indices=True), [(2, 3, 15)], [0]),
    "avg_pool2d": (lambda x: fastconv.avg_pool2d(x, 3, 2, 1), lambda x: F.avg_pool2d(_T(x), 3, 2, 1), [(2, 3, 9, 9)], [0]),
    "avg_pool1d": (lambda x: fastconv.avg_pool1d(x, 3, 2, 1), lambda x: F.avg_pool1d(_T(x), 3, 2, 1), [(2, 3, 15)], [0]),
    "adaptive_avg_pool2d": (lambda x: fastconv.adaptive_avg_pool2d(x, 4), lambda x: F.adaptive_avg_pool2d(_T(x), 4),
                            [(2, 3, 9, 9)], [0]),
    "adaptive_max_pool2d": (lambda x: fastconv.adaptive_max_pool2d(x, 4, return_indices=True),
                            lambda x: F.adaptive_max_pool2d(_T(x), 4, return_indices=True), [(2, 3, 9, 9)], [0]),
    "global_avg_pool2d": (fastconv.global_avg_pool2d, lambda x: _T(x).mean((2, 3)), [(2, 6, 5, 5)], [0]),
    "global_max_pool2d": (fastconv.global_max_pool2d, lambda x: F.adaptive_max_pool2d(_T(x), 1)[:, :, 0, 0],
                          [(2, 6, 5, 5)], [0]),
    "avg_pool2d_backward": (lambda g: fastconv.avg_pool2d_backward(g, (2, 3, 9, 9), 3, 2, 1),
                            lambda g: _grads(lambda x: F.avg_pool2d(x, 3, 2, 1), [r(2, 3, 9, 9)], g),
                            [(2, 3, 5, 5)], [0]),
    "max_pool2d_backward": (lambda g, x: fastconv.max_pool2d_backward(g, fastconv.max_pool2d(x, 2, return_indices=True)[1],
                                                                      x.shape),
                            lambda g, x: _grads(lambda x: F.max_pool2d(x, 2), [x], g)[:1], [(2, 3, 4, 4), (2, 3, 8, 8)],
                            [0]),
    "adaptive_avg_pool2d_backward": (
        lambda g: fastconv.adaptive_avg_pool2d_backward(g, (2, 3, 9, 9)),
        lambda g: _grads(lambda x: F.adaptive_avg_pool2d(x, 4), [r(2, 3, 9, 9)], g), [(2, 3, 4, 4)], [0]),
    "max_unpool2d": (lambda v: fastconv.max_unpool2d(v, _pool_idx(), 2),
                     lambda v: F.max_unpool2d(_T(v), torch.from_numpy(_pool_idx()), 2), [(2, 3, 3, 3)], [0]),
    "avg_unpool2d": (lambda v: fastconv.avg_unpool2d(v, 3, 2, 1),
                     lambda v: rpool.avg_unpool2d(v, (3, 3), (2, 2), (1, 1), (9, 9)), [(2, 3, 5, 5)], [0]),
    "stochastic_pool2d (refuses NaN and inf)": None,
    "local_conv2d": (lambda x, w: fastconv.local_conv2d(x, w, padding=1),
                     lambda x, w: rlocal.local_conv2d(x, w, pads=((1, 1), (1, 1))), [(2, 3, 6, 6), (6, 6, 4, 3, 3, 3)],
                     [0, 1]),
    "tiled_conv2d": (lambda x, w: fastconv.tiled_conv2d(x, w, padding=1),
                     lambda x, w: rlocal.tiled_conv2d(x, w, pads=((1, 1), (1, 1))), [(2, 3, 6, 6), (2, 2, 4, 3, 3, 3)],
                     [0, 1]),
    "local_conv2d_backward": (lambda g, x, w: fastconv.local_conv2d_backward(g, x, w),
                              lambda g, x, w: rlocal.local_conv2d_grads(g, x, w),
                              [(2, 4, 4, 4), (2, 3, 6, 6), (4, 4, 4, 3, 3, 3)], [0, 1, 2]),
    "tiled_conv2d_backward": (lambda g, x, w: fastconv.tiled_conv2d_backward(g, x, w),
                              lambda g, x, w: rlocal.tiled_conv2d_grads(g, x, w),
                              [(2, 4, 4, 4), (2, 3, 6, 6), (2, 2, 4, 3, 3, 3)], [0, 1, 2]),
    "convolve": (lambda a, v: fastconv.convolve(a, v), np.convolve, [(60,), (9,)], [0]),
    "correlate same": (lambda a, v: fastconv.correlate(a, v, "same"), lambda a, v: np.correlate(a, v, "same"),
                       [(60,), (9,)], [0]),
    "convolve long kernel (auto keeps direct)": (lambda a, v: fastconv.convolve(a, v), np.convolve,
                                                 [(3000,), (400,)], [0]),
    "convolve valid, non-finite v": (lambda a, v: fastconv.convolve(a, v, "valid"),
                                     lambda a, v: np.convolve(a, v, "valid"), [(60,), (9,)], [1]),
    "convolve full, non-finite v": (lambda a, v: fastconv.convolve(a, v), np.convolve, [(60,), (9,)], [1]),
    "correlate same, non-finite v": (lambda a, v: fastconv.correlate(a, v, "same"),
                                     lambda a, v: np.correlate(a, v, "same"), [(60,), (9,)], [1]),
    "convolve2d": (lambda a, k: fastconv.convolve2d(a, k, "same", "symm"),
                   lambda a, k: pytest.importorskip("scipy.signal").convolve2d(a, k, "same", "symm"),
                   [(20, 17), (5, 4)], [0, 1]),
    "correlate2d large (auto keeps direct)": (
        lambda a, k: fastconv.correlate2d(a, k), lambda a, k: pytest.importorskip("scipy.signal").correlate2d(a, k),
        [(80, 90), (21, 23)], [0, 1]),
    "filter2d": (lambda a, k: fastconv.filter2d(a, k), lambda a, k: rsig.filter2d(a, k), [(2, 12, 11), (3, 3)], [0, 1]),
}


def _compare_nonfinite(ours, theirs, what):
    assert len(ours) == len(theirs), what
    for a, b in zip(ours, theirs):
        a = np.asarray(a, np.float64)
        b = np.asarray(_np(b), np.float64)
        assert a.shape == b.shape, what
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: NaN positions")
        inf = np.isinf(b)
        np.testing.assert_array_equal(a[inf], b[inf], err_msg=f"{what}: inf values")
        fin = np.isfinite(b)
        np.testing.assert_allclose(a[fin], b[fin], rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(b[fin]).max(initial=0))),
                                   err_msg=what)


@pytest.mark.parametrize("name", sorted(NONFINITE))
def test_nan_and_inf_propagate_like_the_oracle(name):
    if NONFINITE[name] is None:
        with pytest.raises(ValueError, match="non-negative|finite"):
            fastconv.stochastic_pool2d(_sprinkle(np.abs(r(2, 3, 6, 6)), 0), 2, rng=0)
        return
    ours_fn, oracle_fn, shapes, which = NONFINITE[name]
    if torch is None and _needs_torch(oracle_fn):
        pytest.skip("PyTorch is not installed")
    for k in which:
        for seed in range(3):
            inputs = [r(*s) for s in shapes]
            inputs[k] = _sprinkle(inputs[k], seed)
            with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
                warnings.simplefilter("ignore")
                theirs = _tuple(oracle_fn(*inputs))
            ours = _tuple(ours_fn(*inputs))
            _compare_nonfinite(ours, theirs, f"{name}: non-finite input {k}, seed {seed}")


@needs_torch
def test_explicit_kernels_that_mix_non_finite_values_are_documented():
    """algorithm='auto' follows the rule above; the depthwise and Winograd
    kernels asked for by name may differ for inf/NaN (see README)."""
    x = r(1, 4, 8, 8)
    w = _sprinkle(r(4, 1, 3, 3), 1)
    auto = fastconv.conv2d(x, w, padding=1, groups=4)
    _compare_nonfinite((auto,), (F.conv2d(_T(x), _T(w), padding=1, groups=4),), "depthwise auto")
    x = _sprinkle(r(1, 4, 8, 8), 2)
    w = r(4, 4, 3, 3)
    _compare_nonfinite((fastconv.conv2d(x, w, padding=1),), (F.conv2d(_T(x), _T(w), padding=1),), "3x3 auto")
    assert np.isnan(fastconv.conv2d(x, w, padding=1, algorithm="winograd")).sum() >= np.isnan(
        F.conv2d(_T(x), _T(w), padding=1).numpy()).sum()


def test_every_public_compute_function_has_edge_cases():
    from test_robustness import OPS  # the registry of every public compute function
    public = {name for name in OPS if hasattr(fastconv, name)}
    zero = {case[0].split(" ")[0] for case in ZERO}
    nonfinite = {name.split(" ")[0] for name in NONFINITE}
    assert public <= zero, sorted(public - zero)
    assert public <= nonfinite, sorted(public - nonfinite)


def _torch_conv_grads(x, w, dy, stride, padding, groups, nd):
    conv = F.conv2d if nd == 2 else F.conv1d
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    wt = torch.from_numpy(w.astype(np.float64)).requires_grad_()
    conv(xt, wt, None, stride, padding, 1, groups).backward(torch.from_numpy(dy.astype(np.float64)))
    return xt.grad.numpy(), wt.grad.numpy()


def _same_nonfinite(a, b, what):
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: NaN positions")
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b), err_msg=f"{what}: inf positions")


@needs_torch
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_with_non_finite_values_like_autograd(isa, layout, dtype):
    """Where autograd multiplies the zero padding by an inf/NaN grad_out (the
    weight gradient: NaN), where a NaN of x lies beyond every window (no
    effect), and where Winograd would spread an inf grad_out over a tile
    (the stride-1 input gradient): NaN and inf positions as PyTorch's."""
    rng = np.random.default_rng(11)
    mv = (lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1))) if layout == "NHWC" else (lambda a: a)
    back = (lambda a: np.moveaxis(a, -1, 1)) if layout == "NHWC" else (lambda a: a)
    lay1 = "NLC" if layout == "NHWC" else "NCL"
    cases = [  # (x shape, w shape, stride, padding, groups, where the non-finite value goes)
        ((2, 3, 9, 9), (3, 1, 3, 3), 1, 1, 3, "dy"), ((2, 1, 8, 8), (4, 1, 5, 5), 1, 2, 1, "dy"),
        ((2, 6, 20), (6, 6, 3), 1, 1, 1, "dy"), ((2, 4, 20), (4, 1, 3), 2, 1, 4, "dy"),
        ((1, 2, 7, 7), (2, 1, 2, 5), 1, 3, 2, "x_last"), ((1, 1, 7, 7), (1, 1, 2, 5), 1, 3, 1, "x_last"),
        ((1, 32, 10, 10), (40, 32, 3, 3), 1, 1, 1, "dy"),
    ]
    for xs, ws, stride, pad, groups, where in cases:
        nd = len(xs) - 2
        for bad in (np.inf, -np.inf, np.nan):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            osz = tuple((v + 2 * pad - k) // stride + 1 for v, k in zip(xs[2:], ws[2:]))
            dy = rng.standard_normal(xs[:1] + ws[:1] + osz).astype(dtype)
            if where == "dy":
                dy[(0, 0) + (0,) * nd] = bad        # an output whose window reads padding
                dy[(-1, -1) + tuple(o // 2 for o in osz)] = bad
            else:
                x[(0, 0) + tuple(v - 1 for v in xs[2:])] = bad
            egi, egw = _torch_conv_grads(x, w, dy, stride, pad, groups, nd)
            fn = fastconv.conv2d_backward if nd == 2 else fastconv.conv1d_backward
            gi, gw, _ = fn(mv(dy), mv(x), w, stride, pad, groups=groups, layout=layout if nd == 2 else lay1)
            _same_nonfinite(back(gi), egi, f"grad_input {xs} {ws} {bad}")
            _same_nonfinite(gw, egw, f"grad_weight {xs} {ws} {bad}")


@needs_torch
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_gradients_with_non_finite_weights_like_autograd(isa, layout, dtype):
    """The input gradient of a transposed convolution is a convolution of grad_out with w: an inf/NaN
    weight must neither be spread over a Winograd tile (3x3 stride 1) nor miss autograd's
    0 * inf = NaN at padded taps (depthwise and 1-D kernels that skip them). NaN and inf positions
    of both gradients as PyTorch's."""
    rng = np.random.default_rng(12)
    mv = (lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1))) if layout == "NHWC" else (lambda a: a)
    back = (lambda a: np.moveaxis(a, -1, 1)) if layout == "NHWC" else (lambda a: a)
    cases = [  # (x shape, w shape, stride, padding, groups)
        ((4, 32, 14, 14), (32, 24, 3, 3), 1, 1, 1), ((2, 4, 6, 6), (4, 1, 3, 3), 1, 1, 4),
        ((2, 16, 6, 3), (16, 1, 6, 1), 1, 1, 4), ((2, 3, 5), (3, 8, 9), 2, 2, 3), ((2, 6, 9), (6, 1, 3), 1, 1, 6),
    ]
    for xs, ws, stride, pad, groups in cases:
        nd = len(xs) - 2
        tconv = F.conv_transpose2d if nd == 2 else F.conv_transpose1d
        fn = fastconv.conv_transpose2d_backward if nd == 2 else fastconv.conv_transpose1d_backward
        lay = layout if nd == 2 else {"NCHW": "NCL", "NHWC": "NLC"}[layout]
        for bad in (np.inf, -np.inf, np.nan):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            w[(0, 0) + (0,) * nd] = bad
            w[(-1, -1) + tuple(k // 2 for k in ws[2:])] = bad
            xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
            wt = torch.from_numpy(w.astype(np.float64)).requires_grad_()
            y = tconv(xt, wt, None, stride, pad, 0, groups)
            dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
            y.backward(torch.from_numpy(dy.astype(np.float64)))
            gi, gw, _ = fn(mv(dy), mv(x), w, stride, pad, groups=groups, layout=lay)
            _same_nonfinite(back(gi), xt.grad.numpy(), f"grad_input {xs} {ws} {bad}")
            _same_nonfinite(gw, wt.grad.numpy(), f"grad_weight {xs} {ws} {bad}")
