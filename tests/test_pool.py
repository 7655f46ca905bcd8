"""Pooling and unpooling against the slow NumPy reference and PyTorch.

Max pooling, indices and index scatters are exact, so they are compared
bitwise.  Sums (average pooling and its gradient) are compared with the
float64 result under the rounding bound of a sum: (terms + 2) * eps * the same
operation applied to |x|.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv

import reference_pool as ref

DTYPES = [np.float32, np.float64]
LAYOUTS = ["NCHW", "NHWC"]


# ---- helpers ---------------------------------------------------------------------------

def to_layout(a, layout):
    """An NCHW array in `layout` (a dense copy)."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if layout == "NHWC" else a


def to_nchw(a, layout):
    return a.transpose(0, 3, 1, 2) if layout == "NHWC" else a


def assert_sum_close(got, exact, scale, terms, dtype):
    """|got - exact| <= (terms + 2) * eps * scale elementwise (NaN where exact is NaN)."""
    got = np.asarray(got, np.float64)
    exact = np.asarray(exact, np.float64)
    assert got.shape == exact.shape
    nan = np.isnan(exact)
    np.testing.assert_array_equal(np.isnan(got), nan)
    tol = (terms + 2) * np.finfo(dtype).eps * np.abs(scale) + np.finfo(dtype).tiny
    err = np.abs(got - exact)
    bad = ~nan & ~(err <= tol)
    assert not bad.any(), f"max error {err[bad].max()} over tolerance at {np.argwhere(bad)[:3].tolist()}"


def torch_nchw(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def random_input(rng, shape, dtype, kind="normal"):
    if kind == "ties":  # few distinct values: many ties, the index rule matters
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ---- max pooling -------------------------------------------------------------------------

# (kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 2), (2, 2), (0, 0), (1, 1), True),
    ((3, 3), (2, 2), (1, 1), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), (1, 1), True),
    ((3, 3), (1, 1), (1, 1), (1, 1), False),
    ((2, 3), (1, 2), (1, 1), (1, 1), True),
    ((3, 2), (2, 3), (0, 1), (2, 1), True),
    ((3, 3), (3, 1), (1, 0), (2, 3), False),
    ((1, 1), (2, 3), (0, 0), (1, 1), True),
    ((4, 5), (3, 2), (2, 2), (1, 2), True),
    ((2, 2), (1, 1), (1, 0), (3, 1), False),
]


@pytest.mark.parametrize("case", MAX_CASES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["normal", "ties"])
def test_max_pool2d(isa, rng, torch, case, layout, dtype, kind):
    k, s, p, d, ceil_mode = case
    x = random_input(rng, (2, 3, 11, 13), dtype, kind)
    x_before = x.copy()
    xl = to_layout(x, layout)
    y, idx = fastconv.max_pool2d(xl, k, s, p, d, ceil_mode, return_indices=True, layout=layout)
    y_only = fastconv.max_pool2d(xl, k, s, p, d, ceil_mode, layout=layout)
    np.testing.assert_array_equal(x, x_before)
    assert y.dtype == dtype and idx.dtype == np.int64
    y_ref, idx_ref = ref.max_pool2d(x, k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(to_nchw(y, layout), y_ref)
    np.testing.assert_array_equal(to_nchw(idx, layout), idx_ref)
    np.testing.assert_array_equal(y_only, y)
    yt, it = torch.nn.functional.max_pool2d(torch_nchw(torch, x), k, s, p, d, ceil_mode, True)
    np.testing.assert_array_equal(to_nchw(y, layout), yt.numpy())
    np.testing.assert_array_equal(to_nchw(idx, layout), it.numpy())


@pytest.mark.parametrize("h,k,s,p,d", [
    (5, 2, 2, 1, 1), (6, 3, 2, 1, 1), (7, 3, 3, 1, 1), (4, 2, 3, 0, 1), (10, 4, 3, 2, 1),
    (9, 3, 2, 1, 2), (1, 2, 2, 1, 1), (2, 3, 2, 1, 1), (8, 2, 5, 1, 1),
])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_ceil_mode_edges(isa, rng, torch, h, k, s, p, d, layout):
    """Sizes where ceil_mode adds a partial window, or drops one starting in the padding."""
    x = rng.standard_normal((1, 2, h, h + 1))
    xt = torch_nchw(torch, x)
    y, idx = fastconv.max_pool2d(to_layout(x, layout), k, s, p, d, True, True, layout=layout)
    yt, it = torch.nn.functional.max_pool2d(xt, k, s, p, d, True, True)
    np.testing.assert_array_equal(to_nchw(y, layout), yt.numpy())
    np.testing.assert_array_equal(to_nchw(idx, layout), it.numpy())
    if d == 1:
        for cip in (True, False):
            ya = fastconv.avg_pool2d(to_layout(x, layout), k, s, p, True, cip, layout=layout)
            ya_t = torch.nn.functional.avg_pool2d(xt, k, s, p, True, cip).numpy()
            ya_abs = torch.nn.functional.avg_pool2d(xt.abs(), k, s, p, True, cip).numpy()
            assert_sum_close(to_nchw(ya, layout), ya_t, ya_abs, k * k, np.float64)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_nan_inf(isa, rng, torch, layout, dtype):
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    mask = rng.random(x.shape)
    x[mask < 0.08] = np.nan
    x[(mask >= 0.08) & (mask < 0.16)] = np.inf
    x[(mask >= 0.16) & (mask < 0.3)] = -np.inf
    x[0, 0, :4, :4] = -np.inf  # whole windows of -inf
    xt = torch_nchw(torch, x)
    for k, s, p, ceil_mode in [(2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)]:
        y, idx = fastconv.max_pool2d(to_layout(x, layout), k, s, p, 1, ceil_mode, True, layout=layout)
        yt, it = torch.nn.functional.max_pool2d(xt, k, s, p, 1, ceil_mode, True)
        np.testing.assert_array_equal(to_nchw(y, layout), yt.numpy())
        np.testing.assert_array_equal(to_nchw(idx, layout), it.numpy())
        np.testing.assert_array_equal(fastconv.max_pool2d(to_layout(x, layout), k, s, p, 1, ceil_mode,
                                                          layout=layout), y)
        ya = fastconv.avg_pool2d(to_layout(x, layout), k, s, p, ceil_mode, layout=layout)
        yat = torch.nn.functional.avg_pool2d(xt, k, s, p, ceil_mode).numpy()
        np.testing.assert_array_equal(np.isnan(to_nchw(ya, layout)), np.isnan(yat))
        finite = np.isinf(yat)
        np.testing.assert_array_equal(to_nchw(ya, layout)[finite], yat[finite])


# ---- average pooling ---------------------------------------------------------------------

# (kernel, stride, padding, ceil_mode)
AVG_CASES = [
    ((2, 2), (2, 2), (0, 0), False),
    ((3, 3), (1, 1), (1, 1), False),
    ((3, 3), (2, 2), (1, 1), True),
    ((2, 3), (1, 2), (1, 1), True),
    ((4, 3), (3, 2), (2, 0), True),
    ((5, 5), (2, 3), (2, 1), False),
]


@pytest.mark.parametrize("case", AVG_CASES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 7), (False, -3)])
def test_avg_pool2d(isa, rng, torch, case, layout, dtype, count_include_pad, divisor_override):
    k, s, p, ceil_mode = case
    x = rng.standard_normal((2, 3, 11, 13)).astype(dtype)
    x_before = x.copy()
    y = fastconv.avg_pool2d(to_layout(x, layout), k, s, p, ceil_mode, count_include_pad,
                            divisor_override, layout=layout)
    np.testing.assert_array_equal(x, x_before)
    assert y.dtype == dtype
    x64 = x.astype(np.float64)
    exact = ref.avg_pool2d(x64, k, s, p, ceil_mode, count_include_pad, divisor_override)
    scale = ref.avg_pool2d(np.abs(x64), k, s, p, ceil_mode, count_include_pad, divisor_override)
    assert_sum_close(to_nchw(y, layout), exact, scale, k[0] * k[1], dtype)
    yt = torch.nn.functional.avg_pool2d(torch_nchw(torch, x64), k, s, p, ceil_mode, count_include_pad,
                                        divisor_override).numpy()
    assert_sum_close(to_nchw(y, layout), yt, scale, k[0] * k[1], dtype)


# ---- 1-D ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["NCL", "NLC"])
@pytest.mark.parametrize("k,s,p,d,ceil_mode", [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (4, 1, 2, 2, False),
                                               (3, 3, 1, 1, True)])
def test_pool1d(isa, rng, torch, layout, k, s, p, d, ceil_mode):
    x = rng.standard_normal((2, 3, 17))
    xl = np.ascontiguousarray(x.transpose(0, 2, 1)) if layout == "NLC" else x
    back = (lambda a: a.transpose(0, 2, 1)) if layout == "NLC" else (lambda a: a)
    xt = torch.from_numpy(x)
    y, idx = fastconv.max_pool1d(xl, k, s, p, d, ceil_mode, True, layout=layout)
    yt, it = torch.nn.functional.max_pool1d(xt, k, s, p, d, ceil_mode, True)
    np.testing.assert_array_equal(back(y), yt.numpy())
    np.testing.assert_array_equal(back(idx), it.numpy())
    for cip in (True, False):
        ya = fastconv.avg_pool1d(xl, k, s, p, ceil_mode, cip, layout=layout)
        yat = torch.nn.functional.avg_pool1d(xt, k, s, p, ceil_mode, cip).numpy()
        scale = torch.nn.functional.avg_pool1d(xt.abs(), k, s, p, ceil_mode, cip).numpy()
        assert_sum_close(back(ya), yat, scale, k, np.float64)
    # unbatched
    np.testing.assert_array_equal(fastconv.max_pool1d(xl[0], k, s, p, d, ceil_mode, layout=layout), y[0])


# ---- adaptive and global -------------------------------------------------------------------------

@pytest.mark.parametrize("in_hw,out_size", [((11, 13), 7), ((7, 7), (3, 5)), ((5, 6), (7, 9)),
                                            ((12, 9), (None, 4)), ((9, 10), 1), ((8, 8), (8, 8))])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive(isa, rng, torch, in_hw, out_size, layout, dtype):
    x = random_input(rng, (2, 3) + in_hw, dtype, "ties" if dtype == np.float64 else "normal")
    xl = to_layout(x, layout)
    xt = torch_nchw(torch, x)
    y, idx = fastconv.adaptive_max_pool2d(xl, out_size, True, layout=layout)
    yt, it = torch.nn.functional.adaptive_max_pool2d(xt, out_size, True)
    np.testing.assert_array_equal(to_nchw(y, layout), yt.numpy())
    np.testing.assert_array_equal(to_nchw(idx, layout), it.numpy())
    y_ref, idx_ref = ref.adaptive_max_pool2d(x, yt.shape[2:])
    np.testing.assert_array_equal(to_nchw(idx, layout), idx_ref)
    np.testing.assert_array_equal(fastconv.adaptive_max_pool2d(xl, out_size, layout=layout), y)

    ya = fastconv.adaptive_avg_pool2d(xl, out_size, layout=layout)
    x64 = x.astype(np.float64)
    exact = ref.adaptive_avg_pool2d(x64, yt.shape[2:])
    scale = ref.adaptive_avg_pool2d(np.abs(x64), yt.shape[2:])
    terms = int(np.ceil(in_hw[0] / yt.shape[2]) + 1) * int(np.ceil(in_hw[1] / yt.shape[3]) + 1)
    assert_sum_close(to_nchw(ya, layout), exact, scale, terms, dtype)
    yat = torch.nn.functional.adaptive_avg_pool2d(torch_nchw(torch, x64), out_size).numpy()
    assert_sum_close(to_nchw(ya, layout), yat, scale, terms, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("keepdims", [False, True])
def test_global(isa, rng, layout, keepdims):
    x = rng.standard_normal((3, 4, 9, 7)).astype(np.float32)
    x[1, 2, 3, 3] = np.nan
    xl = to_layout(x, layout)
    ym = fastconv.global_max_pool2d(xl, keepdims, layout=layout)
    ya = fastconv.global_avg_pool2d(xl, keepdims, layout=layout)
    want_shape = (3, 4) if not keepdims else ((3, 4, 1, 1) if layout == "NCHW" else (3, 1, 1, 4))
    assert ym.shape == want_shape and ya.shape == want_shape
    ym, ya = ym.reshape(3, 4), ya.reshape(3, 4)
    np.testing.assert_array_equal(ym, x.max(axis=(2, 3)))  # NaN propagates like np.max
    x64 = x.astype(np.float64)
    assert_sum_close(ya, x64.mean(axis=(2, 3)), np.abs(x64).mean(axis=(2, 3)), 63, np.float32)
    # unbatched input
    assert fastconv.global_avg_pool2d(xl[0], layout=layout).shape == (4,)


# ---- stochastic pooling -----------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stochastic_values_and_indices(isa, rng, layout, dtype):
    x = np.maximum(rng.standard_normal((2, 3, 10, 9)), 0).astype(dtype)
    x[0, 0, :2, :3] = 0  # an all-zero window
    k, s = (2, 3), (2, 2)
    xl = to_layout(x, layout)
    y, idx = fastconv.stochastic_pool2d(xl, k, s, rng=123, return_indices=True, layout=layout)
    y, idx = to_nchw(y, layout), to_nchw(idx, layout)
    windows = ref.stochastic_windows(x, k, s)
    assert y.shape == windows.shape
    for pos, cells in np.ndenumerate(windows):
        values = dict((i, v) for v, i in cells)
        assert idx[pos] in values
        assert y[pos] == values[idx[pos]]
        if any(v > 0 for v in values.values()):
            assert y[pos] > 0  # a zero is never drawn from a window with mass
        else:
            assert y[pos] == 0 and idx[pos] == cells[0][1]
    # inference: the probability-weighted average
    yi = fastconv.stochastic_pool2d(xl, k, s, training=False, layout=layout)
    exact = ref.stochastic_pool2d_inference(x.astype(np.float64), k, s)
    np.testing.assert_allclose(to_nchw(yi, layout), exact, rtol=4 * k[0] * k[1] * np.finfo(dtype).eps)


def test_stochastic_determinism(rng):
    x = rng.random((2, 20, 30, 34)).astype(np.float32)
    runs = []
    for nt in (1, 2):
        with fastconv.threads(nt):
            runs.append(fastconv.stochastic_pool2d(x, 3, 2, rng=7, return_indices=True))
            runs.append(fastconv.stochastic_pool2d(x, 3, 2, rng=np.random.default_rng(7), return_indices=True))
    nhwc = fastconv.stochastic_pool2d(to_layout(x, "NHWC"), 3, 2, rng=7, return_indices=True, layout="NHWC")
    runs.append(tuple(to_nchw(a, "NHWC") for a in nhwc))
    for y, idx in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])
        np.testing.assert_array_equal(idx, runs[0][1])
    other = fastconv.stochastic_pool2d(x, 3, 2, rng=8)
    assert not np.array_equal(other, runs[0][0])


def test_stochastic_distribution():
    """Chi-square test of the drawn cells against a_i / sum(a), over many windows."""
    stats = pytest.importorskip("scipy.stats")
    window = np.array([[0.0, 1.0, 2.0], [3.0, 0.5, 3.5]])
    reps = 40000
    x = np.tile(window, (1, reps))[None, None]  # (1, 1, 2, 3 * reps): reps copies of the window
    for rng in (2024, np.random.default_rng(99)):
        y, idx = fastconv.stochastic_pool2d(x, (2, 3), return_indices=True, rng=rng)
        cell = (idx // x.shape[3]) * 3 + idx % x.shape[3] % 3  # position within the window
        counts = np.bincount(cell.ravel(), minlength=6)
        p = window.ravel() / window.sum()
        assert counts[p == 0].sum() == 0  # zeros are never drawn
        res = stats.chisquare(counts[p > 0], reps * p[p > 0])
        assert res.pvalue > 1e-4, (counts, reps * p)
        np.testing.assert_array_equal(y.ravel(), window.ravel()[cell.ravel()])


# ---- gradients ------------------------------------------------------------------------------------

def torch_grad(torch, fn, x, gy):
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    out = fn(xt)
    out.backward(torch.from_numpy(np.ascontiguousarray(gy)))
    return xt.grad.numpy()


@pytest.mark.parametrize("case", MAX_CASES[:8])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_backward(isa, rng, torch, case, layout, dtype):
    k, s, p, d, ceil_mode = case
    x = random_input(rng, (2, 3, 11, 13), dtype, "ties")  # ties: overlapping windows share maxima
    xl = to_layout(x, layout)
    y, idx = fastconv.max_pool2d(xl, k, s, p, d, ceil_mode, True, layout=layout)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = fastconv.max_pool2d_backward(gy, idx, xl.shape, layout=layout)
    assert gx.dtype == dtype and gx.shape == xl.shape
    gy_nchw, idx_nchw = to_nchw(gy, layout), to_nchw(idx, layout)
    exact = ref.max_pool2d_backward(gy_nchw.astype(np.float64), idx_nchw, x.shape)
    scale = ref.max_pool2d_backward(np.abs(gy_nchw.astype(np.float64)), idx_nchw, x.shape)
    assert_sum_close(to_nchw(gx, layout), exact, scale, k[0] * k[1], dtype)
    gt = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, k, s, p, d, ceil_mode),
                    x.astype(np.float64), gy_nchw.astype(np.float64))
    assert_sum_close(to_nchw(gx, layout), gt, scale, k[0] * k[1], dtype)


@pytest.mark.parametrize("case", AVG_CASES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 5)])
def test_avg_pool2d_backward(isa, rng, torch, case, layout, count_include_pad, divisor_override):
    k, s, p, ceil_mode = case
    for dtype in DTYPES:
        x = rng.standard_normal((2, 3, 11, 13)).astype(dtype)
        xl = to_layout(x, layout)
        y = fastconv.avg_pool2d(xl, k, s, p, ceil_mode, count_include_pad, divisor_override, layout=layout)
        gy = rng.standard_normal(y.shape).astype(dtype)
        gx = fastconv.avg_pool2d_backward(gy, xl.shape, k, s, p, ceil_mode, count_include_pad,
                                          divisor_override, layout=layout)
        assert gx.dtype == dtype and gx.shape == xl.shape
        g64 = to_nchw(gy, layout).astype(np.float64)
        args = (k, s, p, ceil_mode, count_include_pad, divisor_override)
        exact = ref.avg_pool2d_backward(g64, x.shape, *args)
        scale = ref.avg_pool2d_backward(np.abs(g64), x.shape, *args)
        terms = k[0] * k[1]
        assert_sum_close(to_nchw(gx, layout), exact, scale, terms, dtype)
        gt = torch_grad(torch, lambda t: torch.nn.functional.avg_pool2d(t, *args), x.astype(np.float64), g64)
        assert_sum_close(to_nchw(gx, layout), gt, scale, terms, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", [((3, 3), (2, 2), (1, 1), True, False, None),
                                  ((2, 3), (1, 2), (1, 0), False, True, None),
                                  ((3, 2), (2, 1), (0, 1), True, True, 4)])
def test_avg_pool2d_numerical_gradient(isa, rng, layout, case):
    """Central differences of sum(gy * avg_pool2d(x)) in float64 (linear: exact up to rounding)."""
    k, s, p, ceil_mode, cip, div = case
    x = to_layout(rng.standard_normal((1, 2, 6, 7)), layout)
    y = fastconv.avg_pool2d(x, k, s, p, ceil_mode, cip, div, layout=layout)
    gy = rng.standard_normal(y.shape)
    gx = fastconv.avg_pool2d_backward(gy, x.shape, k, s, p, ceil_mode, cip, div, layout=layout)
    h = 1e-3
    num = np.empty_like(x)
    for pos in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[pos] += h
        xm[pos] -= h
        fp = np.sum(gy * fastconv.avg_pool2d(xp, k, s, p, ceil_mode, cip, div, layout=layout))
        fm = np.sum(gy * fastconv.avg_pool2d(xm, k, s, p, ceil_mode, cip, div, layout=layout))
        num[pos] = (fp - fm) / (2 * h)
    np.testing.assert_allclose(gx, num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", ["avg", "max"])
def test_adaptive_few_outputs_many_inputs_threads(rng, layout, op):
    """A batch-1 112 -> 7 adaptive pooling writes little but reads a lot: it runs on both threads
    (split into column segments), with the bits of one thread, and equals the block reduction."""
    x = rng.standard_normal((1, 64, 112, 112)).astype(np.float32)
    x[0, 3, 5, 7] = np.nan
    xl = to_layout(x, layout)
    f = fastconv.adaptive_avg_pool2d if op == "avg" else fastconv.adaptive_max_pool2d
    with fastconv.threads(1):
        y1 = f(xl, 7, layout=layout)
    with fastconv.threads(2):
        y2 = f(xl, 7, layout=layout)
    assert y1.tobytes() == y2.tobytes()
    blocks = x.astype(np.float64).reshape(1, 64, 7, 16, 7, 16)
    want = blocks.mean(axis=(3, 5)) if op == "avg" else blocks.max(axis=(3, 5))
    np.testing.assert_allclose(to_nchw(y1, layout), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("in_hw,out_size", [((11, 13), (4, 5)), ((5, 6), (7, 9)), ((9, 8), 1)])
def test_adaptive_backward(isa, rng, torch, layout, in_hw, out_size):
    x = random_input(rng, (2, 3) + in_hw, np.float64, "ties")
    xl = to_layout(x, layout)
    y, idx = fastconv.adaptive_max_pool2d(xl, out_size, True, layout=layout)
    gy = rng.standard_normal(y.shape)
    g_nchw = to_nchw(gy, layout)
    gx = fastconv.max_pool2d_backward(gy, idx, xl.shape, layout=layout)
    gt = torch_grad(torch, lambda t: torch.nn.functional.adaptive_max_pool2d(t, out_size), x, g_nchw)
    scale = ref.max_pool2d_backward(np.abs(g_nchw), to_nchw(idx, layout), x.shape)
    assert_sum_close(to_nchw(gx, layout), gt, scale, 16, np.float64)

    gxa = fastconv.adaptive_avg_pool2d_backward(gy, xl.shape, layout=layout)
    exact = ref.adaptive_avg_pool2d_backward(g_nchw, x.shape)
    scale = ref.adaptive_avg_pool2d_backward(np.abs(g_nchw), x.shape)
    assert_sum_close(to_nchw(gxa, layout), exact, scale, 16, np.float64)
    gt = torch_grad(torch, lambda t: torch.nn.functional.adaptive_avg_pool2d(t, out_size), x, g_nchw)
    assert_sum_close(to_nchw(gxa, layout), gt, scale, 16, np.float64)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stochastic_backward_uses_indices(isa, rng, layout):
    x = to_layout(rng.random((2, 3, 8, 9)), layout)
    y, idx = fastconv.stochastic_pool2d(x, 3, 2, rng=5, return_indices=True, layout=layout)
    gy = rng.standard_normal(y.shape)
    gx = fastconv.max_pool2d_backward(gy, idx, x.shape, layout=layout)
    exact = ref.max_pool2d_backward(to_nchw(gy, layout), to_nchw(idx, layout), to_nchw(x, layout).shape)
    scale = ref.max_pool2d_backward(np.abs(to_nchw(gy, layout)), to_nchw(idx, layout), to_nchw(x, layout).shape)
    assert_sum_close(to_nchw(gx, layout), exact, scale, 9, np.float64)


# ---- unpooling ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 3, 1), (2, 1, 0)])
def test_max_unpool2d_round_trip(isa, rng, torch, layout, dtype, k, s, p):
    x = rng.standard_normal((2, 3, 10, 11)).astype(dtype)
    y, idx = fastconv.max_pool2d(to_layout(x, layout), k, s, p, return_indices=True, layout=layout)
    u = fastconv.max_unpool2d(y, idx, k, s, p, output_size=(10, 11), layout=layout)
    y_n, idx_n = to_nchw(y, layout), to_nchw(idx, layout)
    ut = torch.nn.functional.max_unpool2d(torch_nchw(torch, y_n), torch_nchw(torch, idx_n), k, s, p, (10, 11))
    np.testing.assert_array_equal(to_nchw(u, layout), ut.numpy())
    np.testing.assert_array_equal(to_nchw(u, layout), ref.max_unpool2d(y_n, idx_n, (10, 11)))
    # the maxima are back in place, everything else is zero
    kept = np.zeros(x.shape, bool)
    np.put_along_axis(kept.reshape(2, 3, -1), idx_n.reshape(2, 3, -1), True, axis=2)
    np.testing.assert_array_equal(to_nchw(u, layout), np.where(kept, x, 0))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("k,s,p,extra", [(2, 2, 0, (0, 0)), (3, 2, 1, (1, -1)), (3, 3, 1, (-2, 2))])
def test_max_unpool2d_any_indices(isa, rng, torch, layout, k, s, p, extra):
    """Arbitrary indices, duplicates included (the last in row-major order wins), and output_size."""
    x = rng.standard_normal((2, 3, 4, 5))
    out_hw = (ref.unpooled_size(4, k, s, p) + extra[0], ref.unpooled_size(5, k, s, p) + extra[1])
    idx = rng.integers(0, out_hw[0] * out_hw[1], size=x.shape)
    idx[0, 0, 0, :3] = idx[0, 0, 1, 1]  # duplicates
    out_size = out_hw if extra != (0, 0) else None
    u = fastconv.max_unpool2d(to_layout(x, layout), to_layout(idx, layout), k, s, p, out_size, layout=layout)
    ut = torch.nn.functional.max_unpool2d(torch.from_numpy(x), torch.from_numpy(idx), k, s, p, out_size)
    np.testing.assert_array_equal(to_nchw(u, layout), ut.numpy())
    np.testing.assert_array_equal(to_nchw(u, layout), ref.max_unpool2d(x, idx, out_hw))
    # the full shape is accepted as output_size too
    full = (2, 3) + out_hw if layout == "NCHW" else (2,) + out_hw + (3,)
    np.testing.assert_array_equal(
        fastconv.max_unpool2d(to_layout(x, layout), to_layout(idx, layout), k, s, p, full, layout=layout), u)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p,extra", [((2, 2), (2, 2), (0, 0), (0, 0)), ((3, 3), (2, 2), (1, 1), (1, 0)),
                                         ((3, 2), (1, 3), (1, 0), (0, 2)), ((2, 2), (3, 3), (0, 0), (-1, 2))])
def test_avg_unpool2d(isa, rng, layout, dtype, k, s, p, extra):
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    out_hw = (ref.unpooled_size(5, k[0], s[0], p[0]) + extra[0], ref.unpooled_size(6, k[1], s[1], p[1]) + extra[1])
    out_size = out_hw if extra != (0, 0) else None
    u = fastconv.avg_unpool2d(to_layout(x, layout), k, s, p, out_size, layout=layout)
    x64 = x.astype(np.float64)
    exact = ref.avg_unpool2d(x64, k, s, p, out_hw)
    scale = ref.avg_unpool2d(np.abs(x64), k, s, p, out_hw)
    assert_sum_close(to_nchw(u, layout), exact, scale, 9, dtype)
    if k == s and p == (0, 0):  # non-overlapping windows: each value copied over its window
        rep = np.repeat(np.repeat(x, k[0], axis=2), k[1], axis=3)
        np.testing.assert_array_equal(to_nchw(u, layout)[:, :, :rep.shape[2], :rep.shape[3]],
                                      rep[:, :, :out_hw[0], :out_hw[1]])


# ---- layouts, views, dtypes, threads ---------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_contiguous_inputs(rng, layout):
    base = rng.standard_normal((3, 8, 15, 16)).astype(np.float32)
    views = {
        "strided": base[:, ::2, 1::2, 1:],
        "negative": base[::-1, :, ::-1, :],
        "reversed_inner": base[:, :, :, ::-1],
        "transposed": np.asfortranarray(base),
        "broadcast": np.broadcast_to(base[0, 0], (2, 3, 15, 16)),
    }
    for name, v in views.items():
        xl = v.transpose(0, 2, 3, 1) if layout == "NHWC" else v  # views in either layout
        dense = np.ascontiguousarray(xl)
        for fn in (lambda a: fastconv.max_pool2d(a, 3, 2, 1, return_indices=True, layout=layout),
                   lambda a: fastconv.avg_pool2d(a, 3, 2, 1, True, False, layout=layout),
                   lambda a: fastconv.adaptive_avg_pool2d(a, (4, 5), layout=layout),
                   lambda a: fastconv.adaptive_max_pool2d(a, (4, 5), True, layout=layout),
                   lambda a: fastconv.stochastic_pool2d(np.abs(a), 2, rng=1, return_indices=True, layout=layout)):
            got, want = fn(xl), fn(dense)
            for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(g, w, err_msg=name)


def test_dtypes_and_unbatched(rng, torch):
    x = rng.standard_normal((3, 9, 8))
    assert fastconv.max_pool2d(x.astype(np.float16), 2).dtype == np.float32
    assert fastconv.avg_pool2d(np.arange(64).reshape(1, 1, 8, 8), 2).dtype == np.float64
    y, idx = fastconv.max_pool2d(x, 3, 2, 1, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2, 1, return_indices=True)
    assert y.shape == tuple(yt.shape) == (3, 5, 4)
    np.testing.assert_array_equal(idx, it.numpy())
    gx = fastconv.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    assert gx.shape == x.shape
    u = fastconv.max_unpool2d(y, idx, 3, 2, 1, output_size=x.shape[1:])
    assert u.shape == x.shape
    xh = np.ascontiguousarray(x.transpose(1, 2, 0))
    np.testing.assert_array_equal(fastconv.max_pool2d(xh, 3, 2, 1, layout="NHWC").transpose(2, 0, 1), y)
    # empty batch
    assert fastconv.max_pool2d(np.zeros((0, 3, 8, 8)), 2).shape == (0, 3, 4, 4)
    assert fastconv.adaptive_avg_pool2d(np.ones((1, 2, 5, 5)), 0).shape == (1, 2, 0, 0)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_equal(rng, layout, dtype):
    x = to_layout(rng.standard_normal((2, 40, 37, 42)).astype(dtype), layout)
    x1 = x[:1]  # batch 1: NHWC scatters split the channels
    xpos = np.abs(x)

    def run_all():
        out = []
        for a in (x, x1):
            y, idx = fastconv.max_pool2d(a, 3, 2, 1, return_indices=True, layout=layout)
            out += [y, idx, fastconv.max_pool2d(a, 2, layout=layout),
                    fastconv.avg_pool2d(a, 3, 1, 1, count_include_pad=False, layout=layout),
                    fastconv.avg_pool2d(a, 2, ceil_mode=True, layout=layout),
                    fastconv.adaptive_avg_pool2d(a, 7, layout=layout),
                    fastconv.adaptive_max_pool2d(a, (5, 6), layout=layout),
                    fastconv.max_pool2d_backward(y * 3, idx, a.shape, layout=layout),
                    fastconv.avg_pool2d_backward(y, a.shape, 3, 2, 1, layout=layout),
                    fastconv.adaptive_avg_pool2d_backward(y, a.shape, layout=layout),
                    fastconv.max_unpool2d(y, idx, 3, 2, 1, output_size=a.shape, layout=layout),
                    fastconv.avg_unpool2d(y, 3, 2, 1, layout=layout)]
        out += list(fastconv.stochastic_pool2d(xpos, 2, rng=3, return_indices=True, layout=layout))
        out.append(fastconv.stochastic_pool2d(xpos, 3, 2, training=False, layout=layout))
        return out

    with fastconv.threads(1):
        one = run_all()
    with fastconv.threads(2):
        two = run_all()
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_large_outputs_streamed(isa, rng, layout, dtype):
    """Outputs of 16 MiB and more take the streaming-store path: equal to per-image calls (which do not)."""
    x = to_layout(rng.standard_normal((3, 32, 128, 128)).astype(dtype), layout)
    y, idx = fastconv.max_pool2d(x, 3, 1, 1, return_indices=True, layout=layout)
    parts = [fastconv.max_pool2d(x[i:i + 1], 3, 1, 1, return_indices=True, layout=layout) for i in range(3)]
    assert y.nbytes + idx.nbytes >= 16 << 20 > parts[0][0].nbytes + parts[0][1].nbytes
    np.testing.assert_array_equal(y, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(idx, np.concatenate([p[1] for p in parts]))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", ["avg 3x3/1", "max 3x3/1", "max 2x2/2", "avg 3x3/2", "max 3x3/2"])
def test_large_inputs_prefetched(isa, rng, layout, op):
    """Inputs of 16 MiB and more take the software-prefetching passes (NCHW rows, NHWC stride-1
    separable rows in pieces, NHWC max 3x3/2 per pixel a row ahead): bitwise equal to per-image
    calls (which do not prefetch)."""
    x = to_layout(rng.standard_normal((5, 64, 128, 128)).astype(np.float32), layout)
    kind, rest = op.split()
    k, s = (int(v) for v in rest.replace("x", " ").replace("/", " ").split()[1:])
    f = fastconv.avg_pool2d if kind == "avg" else fastconv.max_pool2d
    y = f(x, k, s, 1 if k == 3 else 0, layout=layout)
    assert x.nbytes >= 16 << 20 > x[:1].nbytes
    parts = [f(x[i:i + 1], k, s, 1 if k == 3 else 0, layout=layout) for i in range(len(x))]
    assert y.tobytes() == np.concatenate(parts).tobytes()


@pytest.mark.parametrize("h", [1, 2, 3, 5])
@pytest.mark.parametrize("count_include_pad,divisor_override,ceil_mode",
                         [(True, None, False), (False, None, True), (True, 7, False)])
def test_avg_3wide_stride1_rows(isa, rng, h, count_include_pad, divisor_override, ceil_mode):
    """NCHW float32 average of 3-wide stride-1 windows with one padded column per side (3x3/1 pad 1,
    1x3 and 2x3 windows) over every row width up to 40 and a few long rows: the fused row kernel of
    the AVX2/AVX-512 copies (vertical sums in registers, row tails masked) gives the bits of the
    baseline copy's row-buffer path, and the sums pass the reference bound."""
    widths = list(range(1, 41)) + [112, 113, 127]
    for w in widths:
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        x[x > 1.5] = -0.0
        x[0, 0, 0, -1] = np.inf
        for kh, ph in [(3, 1), (1, 0), (2, 1)]:
            args = ((kh, 3), (1, 1), (ph, 1), ceil_mode, count_include_pad, divisor_override)
            y = fastconv.avg_pool2d(x, *args)
            previous = fastconv.get_isa()
            fastconv.set_isa("generic")
            try:
                y0 = fastconv.avg_pool2d(x, *args)
            finally:
                fastconv.set_isa(previous)
            assert y.tobytes() == y0.tobytes(), (w, kh)
            x64 = x.astype(np.float64)
            exact = ref.avg_pool2d(x64, *args)
            scale = ref.avg_pool2d(np.abs(x64), *args)
            fin = np.isfinite(exact)  # the inf's windows: checked bitwise above
            assert_sum_close(y[fin], exact[fin], scale[fin], 3 * kh, np.float32)
            np.testing.assert_array_equal(y[~fin], exact[~fin])


def offset_copy(a, offset):
    """a copied into a fresh buffer starting offset elements past a 64-byte boundary."""
    buf = np.empty(a.size + 32, a.dtype)
    start = (-buf.ctypes.data // a.itemsize) % (64 // a.itemsize) + offset
    out = buf[start:start + a.size].reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("count_include_pad,divisor_override", [(True, None), (False, None), (True, 5)])
def test_avg_3x3_stride1_planes(isa, rng, layout, count_include_pad, divisor_override):
    """Float32 3x3/1 pad 1 averages against the baseline copy. NCHW: the AVX-512 whole-plane kernel
    (blocks on the output's 64-byte alignment, spanning rows; the input's lines realigned when its
    offset differs): planes of 2 to 21 rows, widths 16 to 130. NHWC: the per-pixel kernel taking two
    output rows per pass (16 to 64 channels) and its one-row and generic neighbours. Input and output
    at every offset within a cache line, -0, NaN and inf, 1 and 2 threads. Values bitwise equal, NaN
    at the same places, and within the float64 reference's bound."""
    args = ((3, 3), (1, 1), (1, 1), False, count_include_pad, divisor_override)
    for trial in range(60):
        h, w = int(rng.integers(2, 22)), int(rng.choice([16, 17, 31, 32, 48, 56, 63, 64, 112, 130]))
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        if layout == "NHWC":
            w, c = int(rng.integers(1, 24)), int(rng.choice([8, 16, 32, 48, 64, 80]))
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        x[x > 1.6] = -0.0
        if trial % 3 == 0:
            x[rng.random(x.shape) < 0.01] = np.nan
            x[rng.random(x.shape) < 0.01] = -np.inf
        xl = offset_copy(to_layout(x, layout), int(rng.integers(0, 16)))
        out = offset_copy(np.zeros_like(xl), int(rng.integers(0, 16)))
        previous = fastconv.get_isa()
        fastconv.set_isa("generic")
        try:
            want = to_nchw(fastconv.avg_pool2d(xl, *args, layout=layout), layout)
        finally:
            fastconv.set_isa(previous)
        for threads in (1, 2):
            with fastconv.threads(threads):
                assert fastconv.avg_pool2d(xl, *args, layout=layout, out=out) is out
            got = to_nchw(out, layout)
            nan = np.isnan(want)
            np.testing.assert_array_equal(np.isnan(got), nan)
            assert got[~nan].tobytes() == want[~nan].tobytes(), (n, c, h, w, threads)
        x64 = x.astype(np.float64)
        exact = ref.avg_pool2d(x64, *args)
        fin = np.isfinite(exact)
        assert_sum_close(got[fin], exact[fin], ref.avg_pool2d(np.abs(x64), *args)[fin], 9, np.float32)


def test_nhwc_max_3wide_stride2_segments(isa, rng):
    """NHWC float32 max of 3-wide stride-2 windows (3x3/2 and 2x3, padding 0 or 1, ceil_mode): the
    AVX-512 segment kernel (16-64 channels, the carried column in registers) and the per-pixel path
    for other channel counts, against the baseline copy bitwise (NaN payloads, -0, -inf included),
    1 and 2 threads, input and output at any offset; and equal to the NumPy reference."""
    for trial in range(80):
        n, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 16)), int(rng.integers(1, 24))
        c = int(rng.choice([8, 16, 32, 48, 64, 80]))
        x = rng.standard_normal((n, c, h, w)).astype(np.float32)
        m = rng.random(x.shape) < 0.02
        x[m] = (0x7FC00000 | rng.integers(0, 1 << 22, int(m.sum()))).astype(np.uint32).view(np.float32)
        x[rng.random(x.shape) < 0.01] = -np.inf
        x[rng.random(x.shape) < 0.05] = -0.0
        k, st = (int(rng.choice([2, 3])), 3), (int(rng.integers(1, 3)), 2)
        pad, ceil = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, 2))), bool(rng.integers(0, 2))
        args = (k, st, pad, 1, ceil)
        xl = offset_copy(to_layout(x, "NHWC"), int(rng.integers(0, 16)))
        previous = fastconv.get_isa()
        fastconv.set_isa("generic")
        try:
            base = fastconv.max_pool2d(xl, *args, layout="NHWC")
        except ValueError:  # no output (a window past the input)
            continue
        finally:
            fastconv.set_isa(previous)
        want = ref.max_pool2d(x, k, st, pad, (1, 1), ceil)[0]
        out = offset_copy(np.zeros_like(base), int(rng.integers(0, 16)))
        for threads in (1, 2):
            with fastconv.threads(threads):
                assert fastconv.max_pool2d(xl, *args, layout="NHWC", out=out) is out
            assert out.tobytes() == base.tobytes(), (x.shape, args, threads)
        got = to_nchw(out, "NHWC")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@pytest.mark.parametrize("op,k,s,p,d", [("max", 2, 2, 0, 1), ("avg", 2, 2, 0, 1), ("max", 3, 2, 1, 1),
                                        ("max", 3, 2, 0, 1), ("max", (2, 3), 2, (1, 0), (2, 1)),
                                        ("max", (1, 3), (1, 2), (0, 1), 1)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_nchw_row_kernels_same_bits(isa, rng, op, k, s, p, d, ceil_mode):
    """NCHW float32 rows of the common windows (2x2/2 max and average, 3-wide stride-2 max with
    left padding 0 or 1, rows spaced by a dilation; max with indices) run through the AVX-512 row
    kernels when that level is active (vertical reduction in registers, 16 outputs a step, masked
    borders): every row width to 40 and long rows, 1 to 5 rows, -0, NaN and inf, a strided view,
    1 and 2 threads, values and indices bitwise equal to the baseline copy, and equal to the NumPy
    reference."""
    f = fastconv.max_pool2d if op == "max" else fastconv.avg_pool2d
    args = (k, s, p) + ((d,) if op == "max" else ()) + (ceil_mode,)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    for h in range(1, 6):
        for w in list(range(1, 41)) + [112, 113, 127]:
            base = rng.standard_normal((2, 3, h, w + 3)).astype(np.float32)
            base[base > 1.5] = -0.0
            base[base < -2.2] = np.nan
            base[0, 0, 0, w - 1] = np.inf
            x = base[..., 1:w + 1]  # rows not contiguous with each other
            previous = fastconv.get_isa()
            fastconv.set_isa("generic")
            try:
                y0 = f(x, *args)
            except ValueError:  # a kernel larger than the padded input
                continue
            finally:
                fastconv.set_isa(previous)
            for threads in (1, 2):
                with fastconv.threads(threads):
                    y = f(x, *args)
                assert y.tobytes() == y0.tobytes(), (h, w, threads)
            if op == "max":  # with indices (2x2/2: its own row kernel)
                fastconv.set_isa("generic")
                try:
                    v0, i0 = f(x, *args, return_indices=True)
                finally:
                    fastconv.set_isa(previous)
                for threads in (1, 2):
                    with fastconv.threads(threads):
                        v, i = f(x, *args, return_indices=True)
                    assert v.tobytes() == v0.tobytes() and i.tobytes() == i0.tobytes(), (h, w, threads)
            if w in (1, 2, 3, 16, 17, 33, 113):
                x64 = x.astype(np.float64)
                if op == "max":
                    want = ref.max_pool2d(x64, pair(k), pair(s), pair(p), pair(d), ceil_mode)[0]
                else:
                    want = ref.avg_pool2d(x64, pair(k), pair(s), pair(p), ceil_mode)
                np.testing.assert_allclose(y, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("args", [(3, 2, 1), ((1, 3), (1, 2), (0, 1)), ((3, 3), 2, 1, 1, True),
                                  ((2, 3), 2, (1, 1), (2, 1)), (2, 2, 0), (2, 2, 0, 1, True)])
def test_max_rows_nan_free_and_nan_rows(isa, rng, torch, args):
    """The AVX-512 row kernels of 3-wide stride-2 max with one padded column and of 2x2/2 max with
    indices take plain max / greater-than on rows without NaN and redo a row with the NaN rule when
    it read one (then the next row starts with the NaN rule): planes whose rows are NaN-free, hold
    one NaN (any payload, sign), runs of NaN rows then clean ones, with -0/+0 ties and infinities,
    every width to 40 and long rows, a strided view, 1 and 2 threads: values and indices bitwise
    equal to the baseline copy and to PyTorch's (payloads included)."""
    for w in list(range(1, 41)) + [111, 112, 113, 127, 256]:
        base = rng.standard_normal((2, 3, 12, w + 2)).astype(np.float32)
        base[rng.random(base.shape) < 0.1] = -0.0
        base[rng.random(base.shape) < 0.1] = 0.0
        base[rng.random(base.shape) < 0.02] = np.inf
        base[rng.random(base.shape) < 0.02] = -np.inf
        bits = base.view(np.uint32)
        r, c = int(rng.integers(0, 12)), int(rng.integers(0, w + 2))
        bits[0, 1, r, c] = 0x7FC00000 | int(rng.integers(1, 1 << 22))  # one NaN in a plane
        bits[1, 0, 3:6, rng.integers(0, w + 2, 3)] = 0xFFC00001  # NaN rows, then clean ones
        bits[1, 2, 7, :] = 0x7FA00000 + np.arange(w + 2, dtype=np.uint32)  # a whole row of NaNs
        x = base[..., 1:w + 1]
        previous = fastconv.get_isa()
        fastconv.set_isa("generic")
        try:
            y0, i0 = fastconv.max_pool2d(x, *args, return_indices=True)
            v0 = fastconv.max_pool2d(x, *args)
        except ValueError:  # a kernel wider than the input
            continue
        finally:
            fastconv.set_isa(previous)
        for threads in (1, 2):
            with fastconv.threads(threads):
                y, i = fastconv.max_pool2d(x, *args, return_indices=True)
                v = fastconv.max_pool2d(x, *args)
            assert y.tobytes() == y0.tobytes() and i.tobytes() == i0.tobytes(), (w, threads)
            assert v.tobytes() == v0.tobytes(), (w, threads)
        yt, it = torch.nn.functional.max_pool2d(torch.from_numpy(np.ascontiguousarray(x)), *args,
                                                return_indices=True)
        assert y.tobytes() == yt.numpy().tobytes() and np.array_equal(i, it.numpy()), w


@pytest.mark.parametrize("c", [3, 16, 17, 32, 48, 64])
@pytest.mark.parametrize("op,k,s,p,ceil_mode", [("max", (3, 3), (2, 2), (1, 1), False),
                                                ("max", (3, 3), (2, 2), (0, 1), True),
                                                ("avg", (3, 3), (1, 1), (1, 1), False),
                                                ("avg", (2, 3), (1, 1), (1, 0), True)])
def test_nhwc_3wide_per_pixel(isa, rng, c, op, k, s, p, ceil_mode):
    """NHWC max of 3-wide stride-2 windows and average of 3-wide stride-1 ones run per pixel
    (column maxima / sums carried, no row buffer): bitwise equal to the NCHW result (row buffers,
    same operation order) at every width, with -0, NaN and inf, at 1 and 2 threads."""
    f = fastconv.max_pool2d if op == "max" else fastconv.avg_pool2d
    for h, w in [(3, 1), (4, 2), (5, 3), (3, 8), (6, 13), (7, 20)]:
        if w + 2 * p[1] < k[1]:
            continue
        x = rng.standard_normal((2, c, h, w)).astype(np.float32)
        x[x > 1.8] = -0.0
        x[x < -2.5] = np.nan
        x[0, 0, 0, 0] = np.inf
        want = f(x, k, s, p, ceil_mode=ceil_mode)
        for threads in (1, 2):
            with fastconv.threads(threads):
                got = f(to_layout(x, "NHWC"), k, s, p, ceil_mode=ceil_mode, layout="NHWC")
            assert np.ascontiguousarray(to_nchw(got, "NHWC")).tobytes() == want.tobytes(), (h, w, threads)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("unbatched", [False, True])
def test_out_argument(rng, layout, unbatched):
    """out= receives exactly the result a fresh call returns, and is returned itself."""
    x = to_layout(rng.standard_normal((2, 3, 9, 10)).astype(np.float32), layout)
    if unbatched:
        x = x[0]
    calls = [
        lambda **kw: fastconv.max_pool2d(x, 3, 2, 1, layout=layout, **kw),
        lambda **kw: fastconv.max_pool2d(x, 2, return_indices=True, layout=layout, **kw),
        lambda **kw: fastconv.avg_pool2d(x, 3, 1, 1, layout=layout, **kw),
        lambda **kw: fastconv.adaptive_avg_pool2d(x, (4, 3), layout=layout, **kw),
        lambda **kw: fastconv.adaptive_max_pool2d(x, 4, True, layout=layout, **kw),
    ]
    for call in calls:
        fresh = call()
        out = tuple(np.full_like(a, 7) for a in fresh) if isinstance(fresh, tuple) else np.full_like(fresh, 7)
        got = call(out=out)
        if isinstance(fresh, tuple):
            assert got[0] is out[0] and got[1] is out[1]
            for g, f in zip(got, fresh):
                np.testing.assert_array_equal(g, f)
        else:
            assert got is out
            np.testing.assert_array_equal(got, fresh)
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True, layout=layout)
    for call in (lambda **kw: fastconv.max_pool2d_backward(y, idx, x.shape, layout=layout, **kw),
                 lambda **kw: fastconv.avg_pool2d_backward(y, x.shape, 2, layout=layout, **kw),
                 lambda **kw: fastconv.adaptive_avg_pool2d_backward(y, x.shape, layout=layout, **kw)):
        fresh = call()
        out = np.full_like(fresh, 7)
        assert call(out=out) is out
        np.testing.assert_array_equal(out, fresh)


def test_out_argument_invalid(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    y = fastconv.max_pool2d(x, 2)
    for out, exc in [(np.empty((2, 3, 4, 5), np.float32), ValueError),          # shape
                     (np.empty((2, 3, 4, 4), np.float64), ValueError),          # dtype
                     (np.empty((2, 3, 4, 8), np.float32)[..., ::2], ValueError),  # not contiguous
                     (np.empty((2, 3, 4, 4), np.float32)[::-1], ValueError),
                     ([[0.0]], TypeError)]:
        with pytest.raises(exc, match="out"):
            fastconv.max_pool2d(x, 2, out=out)
    ro = np.empty_like(y)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        fastconv.avg_pool2d(x, 2, out=ro)
    with pytest.raises(ValueError, match="overlap"):
        fastconv.avg_pool2d(x, 1, out=x)
    with pytest.raises(TypeError, match="pair"):
        fastconv.max_pool2d(x, 2, return_indices=True, out=np.empty_like(y))
    with pytest.raises(ValueError, match=r"out\[1\]"):
        fastconv.max_pool2d(x, 2, return_indices=True, out=(np.empty_like(y), np.empty(y.shape, np.int32)))
    _, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    g = np.zeros_like(x)
    with pytest.raises(ValueError, match="overlap"):  # grad_out read in place from out's memory
        fastconv.max_pool2d_backward(g.reshape(-1)[:idx.size].reshape(idx.shape), idx, x.shape, out=g)
    # a non-contiguous view is copied first: no overlap with what the C core reads, a correct result
    want = fastconv.max_pool2d_backward(np.ascontiguousarray(g[:, :, :4, :4]), idx, x.shape)
    np.testing.assert_array_equal(fastconv.max_pool2d_backward(g[:, :, :4, :4], idx, x.shape, out=g), want)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scatter_any_indices_any_threads(rng, layout):
    """Indices anywhere in the plane (not only in their window), batch 1, enough work to
    run in parallel: every thread count gives the same bits (NHWC splits the image into
    row bands) and the reference."""
    g = rng.standard_normal((1, 24, 20, 18))  # unpooled by 2x2 windows to 40 x 36 (+1 column)
    idx = rng.integers(0, 40 * 37, size=g.shape)
    gl, il = to_layout(g, layout), to_layout(idx, layout)
    shape = (1, 24, 40, 37) if layout == "NCHW" else (1, 40, 37, 24)
    runs = []
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            runs.append(fastconv.max_pool2d_backward(gl, il, shape, layout=layout))
            runs.append(fastconv.max_unpool2d(gl, il, 2, output_size=shape, layout=layout))
    for a, b in zip(runs[2:], runs[:-2]):
        assert a.tobytes() == b.tobytes()
    exact = ref.max_pool2d_backward(g, idx, (1, 24, 40, 37))
    assert_sum_close(to_nchw(runs[0], layout), exact, ref.max_pool2d_backward(np.abs(g), idx, (1, 24, 40, 37)),
                     g.size, np.float64)
    np.testing.assert_array_equal(to_nchw(runs[1], layout), ref.max_unpool2d(g, idx, (40, 37)))


# ---- index scatters: the direct path over non-overlapping windows (tiles) ---------------------------

def sequential_scatter(g, idx, shape, accumulate):
    """NCHW: zeros, then each value added (or assigned) at its index in row-major order, in g's dtype."""
    n, c, h, w = shape
    out = np.zeros((n * c, h * w), g.dtype)
    for p, (gp, ip) in enumerate(zip(g.reshape(n * c, -1), idx.reshape(n * c, -1))):
        if accumulate:
            np.add.at(out[p], ip, gp)
        else:
            for k, v in zip(ip, gp):
                out[p, k] = v
    return out.reshape(shape)


def tiled_indices(rng, shape, in_hw, kh, kw):
    """Indices that each name a cell of their own kh x kw tile (stride = kernel)."""
    oh, ow = shape[2:]
    r, q = rng.integers(0, kh, shape), rng.integers(0, kw, shape)
    return (np.arange(oh)[:, None] * kh + r) * in_hw[1] + np.arange(ow)[None, :] * kw + q


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("hw,k", [((8, 10), (2, 2)), ((11, 13), (2, 2)), ((12, 15), (4, 5)), ((9, 7), (3, 2))])
def test_max_pool2d_backward_tiles(isa, rng, torch, layout, dtype, batch, hw, k):
    """stride = kernel (the direct path, with leftover rows and columns): equal to autograd and
    the reference, -0 gradients become +0 as in the scatter, every thread count gives the same bits."""
    x = random_input(rng, (batch, 6) + hw, dtype, "ties")
    xl = to_layout(x, layout)
    y, idx = fastconv.max_pool2d(xl, k, return_indices=True, layout=layout)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gy[rng.random(gy.shape) < 0.2] = -0.0
    runs = []
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            runs.append(fastconv.max_pool2d_backward(gy, idx, xl.shape, layout=layout))
    for a in runs[1:]:
        assert a.tobytes() == runs[0].tobytes()
    gy_n, idx_n = to_nchw(gy, layout), to_nchw(idx, layout)
    want = sequential_scatter(np.ascontiguousarray(gy_n), idx_n, x.shape, True)
    assert np.ascontiguousarray(to_nchw(runs[0], layout)).tobytes() == want.tobytes()
    gt = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, k), x, gy_n)
    np.testing.assert_array_equal(to_nchw(runs[0], layout), gt)
    # adaptive max pooling whose windows tile the input takes the same path
    ya, ia = fastconv.adaptive_max_pool2d(xl, (hw[0] // k[0], hw[1] // k[1]), return_indices=True, layout=layout)
    ga = fastconv.max_pool2d_backward(ya, ia, xl.shape, layout=layout)
    want = sequential_scatter(np.ascontiguousarray(to_nchw(ya, layout)), to_nchw(ia, layout), x.shape, True)
    np.testing.assert_array_equal(to_nchw(ga, layout), want)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,in_hw,k", [((1, 24, 20, 18), (40, 37), (2, 2)), ((2, 8, 6, 5), (25, 16), (4, 3)),
                                           ((1, 40, 12, 9), (36, 19), (3, 2))])
@pytest.mark.parametrize("miss", [0.02, 0.5])
def test_scatter_tiles_mixed_with_misses(isa, rng, layout, dtype, shape, in_hw, k, miss):
    """Tiled indices with some moved anywhere in the plane (into earlier, later and other bands'
    rows): tiled rows are written directly, the rest scattered, and every cell still gets its
    contributions in output order: bitwise the sequential scatter, at 1, 2 and 3 threads, for
    the gradient (sums) and unpooling (assigns)."""
    idx = tiled_indices(rng, shape, in_hw, *k)
    moved = rng.random(shape) < miss
    idx = np.where(moved, rng.integers(0, in_hw[0] * in_hw[1], shape), idx)
    g = rng.standard_normal(shape).astype(dtype)
    g[rng.random(shape) < 0.1] = -0.0
    full = shape[:2] + in_hw
    gl, il = to_layout(g, layout), to_layout(idx, layout)
    target = full if layout == "NCHW" else (full[0],) + in_hw + (full[1],)
    want_add = sequential_scatter(g, idx, full, True).tobytes()
    want_set = sequential_scatter(g, idx, full, False).tobytes()
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            gx = fastconv.max_pool2d_backward(gl, il, target, layout=layout)
            u = fastconv.max_unpool2d(gl, il, k, output_size=target, layout=layout)
        assert np.ascontiguousarray(to_nchw(gx, layout)).tobytes() == want_add
        assert np.ascontiguousarray(to_nchw(u, layout)).tobytes() == want_set


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("row", [0, 5, 9])
def test_scatter_tiles_bad_index_raises(rng, layout, row):
    """An index outside the plane after (or among) directly written rows still raises."""
    shape, in_hw = (1, 30, 10, 12), (20, 24)
    idx = tiled_indices(rng, shape, in_hw, 2, 2)
    idx[0, 7, row, 3] = in_hw[0] * in_hw[1] if row != 5 else -1
    g = rng.standard_normal(shape)
    target = shape[:2] + in_hw if layout == "NCHW" else (1,) + in_hw + (shape[1],)
    for nt in (1, 2):
        with fastconv.threads(nt):
            with pytest.raises(ValueError, match="indices"):
                fastconv.max_pool2d_backward(to_layout(g, layout), to_layout(idx, layout), target, layout=layout)
            with pytest.raises(ValueError, match="indices"):
                fastconv.max_unpool2d(to_layout(g, layout), to_layout(idx, layout), 2, output_size=target,
                                      layout=layout)


# ---- index scatters from overlapping windows in NHWC: the gather ---------------------------------------
# The window is learnt from a sample of the indices and every index is checked while gathering; a
# guess that does not hold (larger kernels, dilation, indices moved elsewhere) falls back to the
# scatter.  Every path gives the sequential scatter's bits.

GATHER_CASES = [  # (kernel, stride, padding, dilation, ceil_mode)
    (3, 2, 1, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 1, False), (3, 2, 0, 1, True), (2, 1, 0, 1, False),
    (4, 2, 1, 1, False), (5, 2, 2, 1, False), (3, 2, 1, 2, False), ((3, 2), (2, 1), (1, 0), 1, False),
]


@pytest.mark.parametrize("case", GATHER_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nchw", [(1, 64, 23, 19), (3, 70, 9, 12), (1, 5, 14, 14), (2, 1, 7, 9)])
def test_max_pool2d_backward_nhwc_overlapping(isa, rng, torch, case, dtype, nchw):
    """NHWC max pooling backward and max unpooling over overlapping windows (channel counts
    with and without SIMD tails): bitwise the sequential scatter and autograd, -0 gradients
    become +0, equal bits at 1, 2 and 3 threads."""
    k, s, p, d, ceil_mode = case
    x = random_input(rng, nchw, dtype, "ties")
    xl = to_layout(x, "NHWC")
    y, idx = fastconv.max_pool2d(xl, k, s, p, d, ceil_mode, True, layout="NHWC")
    gy = rng.standard_normal(y.shape).astype(dtype)
    gy[rng.random(gy.shape) < 0.2] = -0.0
    runs, unpooled = [], []
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            runs.append(fastconv.max_pool2d_backward(gy, idx, xl.shape, layout="NHWC"))
            if d == 1:  # unpooling has no dilation
                unpooled.append(fastconv.max_unpool2d(gy, idx, k, s, p, output_size=xl.shape, layout="NHWC"))
    for a, b in zip(runs[1:] + unpooled[1:], runs[:1] * 2 + unpooled[:1] * 2):
        assert a.tobytes() == b.tobytes()
    gy_n, idx_n = np.ascontiguousarray(to_nchw(gy, "NHWC")), to_nchw(idx, "NHWC")
    want = sequential_scatter(gy_n, idx_n, x.shape, True)
    assert np.ascontiguousarray(to_nchw(runs[0], "NHWC")).tobytes() == want.tobytes()
    if unpooled:
        want_set = sequential_scatter(gy_n, idx_n, x.shape, False)
        assert np.ascontiguousarray(to_nchw(unpooled[0], "NHWC")).tobytes() == want_set.tobytes()
    gt = torch_grad(torch, lambda t: torch.nn.functional.max_pool2d(t, k, s, p, d, ceil_mode), x, gy_n)
    np.testing.assert_array_equal(to_nchw(runs[0], "NHWC"), gt)
    exact = ref.max_pool2d_backward(gy_n.astype(np.float64), idx_n, x.shape)
    kk = np.prod(np.broadcast_to(k, 2))
    assert_sum_close(to_nchw(runs[0], "NHWC"), exact, ref.max_pool2d_backward(np.abs(gy_n), idx_n, x.shape),
                     kk, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("where", ["probe", "elsewhere", "bad"])
def test_nhwc_gather_guess_misses(isa, rng, dtype, where):
    """3x3/2 pad 1 indices with a few moved: into the sampled middle row (the learnt window is
    too wide: no gather), elsewhere (the gather's count misses: the scatter takes over), or out
    of the plane (raises).  Bitwise the sequential scatter at 1, 2 and 3 threads."""
    x = random_input(rng, (1, 40, 21, 26), dtype)
    xl = to_layout(x, "NHWC")
    y, idx = fastconv.max_pool2d(xl, 3, 2, 1, return_indices=True, layout="NHWC")
    oh = y.shape[1] // 2
    if where == "probe":
        idx[0, oh, 2, 7] = 0
    elif where == "elsewhere":
        idx[0, 1, 3, 5] = 20 * 26 + 25
        idx[0, y.shape[1] - 1, 0, 39] = 0
    else:
        idx[0, y.shape[1] - 2, 4, 11] = 21 * 26
    gy = rng.standard_normal(y.shape).astype(dtype)
    if where == "bad":
        for nt in (1, 2):
            with fastconv.threads(nt), pytest.raises(ValueError, match="indices"):
                fastconv.max_pool2d_backward(gy, idx, xl.shape, layout="NHWC")
        return
    want = sequential_scatter(np.ascontiguousarray(to_nchw(gy, "NHWC")), to_nchw(idx, "NHWC"), x.shape, True)
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            gx = fastconv.max_pool2d_backward(gy, idx, xl.shape, layout="NHWC")
        assert np.ascontiguousarray(to_nchw(gx, "NHWC")).tobytes() == want.tobytes()


# ---- NHWC forward with few output rows: rows split into column segments across threads ----------------

@pytest.mark.parametrize("hwc", [(6, 200, 64), (4, 150, 96), (10, 23, 17), (7, 112, 8)])
def test_nhwc_few_rows_column_segments(isa, rng, torch, hwc):
    h, w, c = hwc
    F = torch.nn.functional
    x = rng.standard_normal((1, c, h, w)).astype(np.float32)
    xl, xt = to_layout(x, "NHWC"), torch.from_numpy(x)
    cases = [
        (lambda a: fastconv.avg_pool2d(a, 3, 2, 1, layout="NHWC"), lambda t: F.avg_pool2d(t, 3, 2, 1)),
        (lambda a: fastconv.avg_pool2d(a, 3, 1, 1, count_include_pad=False, layout="NHWC"),
         lambda t: F.avg_pool2d(t, 3, 1, 1, count_include_pad=False)),
        (lambda a: fastconv.max_pool2d(a, 3, 2, 1, layout="NHWC"), lambda t: F.max_pool2d(t, 3, 2, 1)),
        (lambda a: fastconv.max_pool2d(a, (3, 2), (1, 2), (1, 1), (1, 2), True, layout="NHWC"),
         lambda t: F.max_pool2d(t, (3, 2), (1, 2), (1, 1), (1, 2), True)),
        (lambda a: fastconv.adaptive_avg_pool2d(a, (3, 7), layout="NHWC"), lambda t: F.adaptive_avg_pool2d(t, (3, 7))),
        (lambda a: fastconv.adaptive_max_pool2d(a, (2, 5), layout="NHWC"), lambda t: F.adaptive_max_pool2d(t, (2, 5))),
        (lambda a: fastconv.max_pool2d(a, 2, return_indices=True, layout="NHWC")[1],
         lambda t: F.max_pool2d(t, 2, return_indices=True)[1]),
    ]
    for f, tf in cases:
        runs = []
        for nt in (1, 2, 3):
            with fastconv.threads(nt):
                runs.append(f(xl))
        assert runs[1].tobytes() == runs[0].tobytes() and runs[2].tobytes() == runs[0].tobytes()
        want = tf(xt).numpy()
        if want.dtype == np.int64:
            np.testing.assert_array_equal(to_nchw(runs[0], "NHWC"), want)
        else:
            np.testing.assert_allclose(to_nchw(runs[0], "NHWC"), want, rtol=1e-5, atol=1e-6)


# ---- property test --------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 12), w=st.integers(1, 12), kh=st.integers(1, 4), kw=st.integers(1, 4),
    sh=st.integers(1, 4), sw=st.integers(1, 4), dh=st.integers(1, 3), dw=st.integers(1, 3),
    ph=st.integers(0, 2), pw=st.integers(0, 2), ceil_mode=st.booleans(), cip=st.booleans(),
    nhwc=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_property_against_torch(h, w, kh, kw, sh, sw, dh, dw, ph, pw, ceil_mode, cip, nhwc, seed):
    torch = pytest.importorskip("torch")
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    sizes = [ref.pooled_size(h, kh, sh, ph, dh, ceil_mode), ref.pooled_size(w, kw, sw, pw, dw, ceil_mode)]
    x = np.random.default_rng(seed).standard_normal((2, 3, h, w))
    layout = "NHWC" if nhwc else "NCHW"
    xt = torch.from_numpy(x)
    if min(sizes) < 1:
        with pytest.raises(ValueError):
            fastconv.max_pool2d(to_layout(x, layout), (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode,
                                layout=layout)
        return
    y, idx = fastconv.max_pool2d(to_layout(x, layout), (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode,
                                 True, layout=layout)
    yt, it = torch.nn.functional.max_pool2d(xt, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil_mode, True)
    np.testing.assert_array_equal(to_nchw(y, layout), yt.numpy())
    np.testing.assert_array_equal(to_nchw(idx, layout), it.numpy())
    if min(ref.pooled_size(h, kh, sh, ph, 1, ceil_mode), ref.pooled_size(w, kw, sw, pw, 1, ceil_mode)) >= 1:
        ya = fastconv.avg_pool2d(to_layout(x, layout), (kh, kw), (sh, sw), (ph, pw), ceil_mode, cip, layout=layout)
        yat = torch.nn.functional.avg_pool2d(xt, (kh, kw), (sh, sw), (ph, pw), ceil_mode, cip).numpy()
        scale = torch.nn.functional.avg_pool2d(xt.abs(), (kh, kw), (sh, sw), (ph, pw), ceil_mode, cip).numpy()
        assert_sum_close(to_nchw(ya, layout), yat, scale, kh * kw, np.float64)


# ---- invalid arguments ---------------------------------------------------------------------------------

X = np.zeros((1, 2, 6, 6), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: fastconv.max_pool2d(X, 0), ValueError, "kernel_size"),
    (lambda: fastconv.max_pool2d(X, (2, 2, 2)), ValueError, "kernel_size"),
    (lambda: fastconv.max_pool2d(X, 2.5), TypeError, "kernel_size"),
    (lambda: fastconv.max_pool2d(X, 2, stride=0), ValueError, "stride"),
    (lambda: fastconv.max_pool2d(X, 2, padding=-1), ValueError, "padding"),
    (lambda: fastconv.max_pool2d(X, 3, padding=2), ValueError, "padding"),
    (lambda: fastconv.max_pool2d(X, 2, dilation=0), ValueError, "dilation"),
    (lambda: fastconv.max_pool2d(X, 7), ValueError, "empty"),
    (lambda: fastconv.max_pool2d(X, 2, layout="NCWH"), ValueError, "layout"),
    (lambda: fastconv.max_pool2d(X, 2, layout=1), TypeError, "layout"),
    (lambda: fastconv.max_pool2d(X[0, 0], 2), ValueError, "4-D"),
    (lambda: fastconv.max_pool2d(np.zeros((1, 2, 0, 4)), 2), ValueError, "empty"),
    (lambda: fastconv.max_pool2d(X.astype(np.complex64), 2), TypeError, "complex"),
    (lambda: fastconv.avg_pool2d(X, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: fastconv.avg_pool2d(X, 4, padding=3), ValueError, "padding"),
    (lambda: fastconv.max_pool1d(X[0], 0), ValueError, "kernel_size"),
    (lambda: fastconv.max_pool1d(X, 2), ValueError, "3-D"),
    (lambda: fastconv.avg_pool1d(X[0], 2, padding=2), ValueError, "padding"),
    (lambda: fastconv.adaptive_avg_pool2d(X, -1), ValueError, "output_size"),
    (lambda: fastconv.adaptive_max_pool2d(X, (1, 2, 3)), ValueError, "output_size"),
    (lambda: fastconv.stochastic_pool2d(X - 1, 2), ValueError, "non-negative"),
    (lambda: fastconv.stochastic_pool2d(np.full((1, 1, 2, 2), np.nan), 2), ValueError, "NaN"),
    (lambda: fastconv.stochastic_pool2d(np.full((1, 1, 2, 2), np.inf), 2), ValueError, "finite"),
    (lambda: fastconv.stochastic_pool2d(X, 2, training=False, return_indices=True), ValueError, "return_indices"),
    (lambda: fastconv.stochastic_pool2d(X, 2, rng="seed"), TypeError, "rng"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), np.int64), (1, 2, 6)),
     ValueError, "input_shape"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), np.int64), (1, 3, 6, 6)),
     ValueError, "input_shape"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 2), np.int64), (1, 2, 6, 6)),
     ValueError, "indices"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.full((1, 2, 3, 3), 36), (1, 2, 6, 6)),
     ValueError, "indices"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.full((1, 2, 3, 3), -1), (1, 2, 6, 6)),
     ValueError, "indices"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3)), (1, 2, 6, 6)),
     TypeError, "indices"),
    (lambda: fastconv.max_pool2d_backward(np.ones((1, 3, 3, 2)), np.full((1, 3, 3, 2), 40), (1, 6, 6, 2),
                                          layout="NHWC"), ValueError, "indices"),
    (lambda: fastconv.avg_pool2d_backward(np.ones((1, 2, 3, 4)), (1, 2, 6, 6), 2), ValueError, "grad_out"),
    (lambda: fastconv.adaptive_avg_pool2d_backward(np.ones((1, 2, 3, 3)), (2, 2, 6, 6)), ValueError, "input_shape"),
    (lambda: fastconv.max_unpool2d(np.ones((1, 2, 3, 3)), np.full((1, 2, 3, 3), 36), 2), ValueError, "indices"),
    (lambda: fastconv.max_unpool2d(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), np.int64), 2, output_size=(8, 6)),
     ValueError, "output_size"),
    (lambda: fastconv.max_unpool2d(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), np.int64), 2, output_size=(4, 6)),
     ValueError, "output_size"),
    (lambda: fastconv.max_unpool2d(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 3, 3), np.int64), 2, output_size=(1, 2, 3)),
     ValueError, "output_size"),
    (lambda: fastconv.max_unpool2d(np.ones((1, 2, 3, 3)), np.zeros((1, 2, 2, 3), np.int64), 2), ValueError, "indices"),
    (lambda: fastconv.avg_unpool2d(np.ones((1, 2, 3, 3)), 2, output_size=(7, 8)), ValueError, "output_size"),
    (lambda: fastconv.avg_unpool2d(np.ones((1, 2, 3, 3)), 0), ValueError, "kernel_size"),
])
def test_invalid_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("layer", [("adaptive", (7, 7)), ("adaptive", (1, 1)), ("adaptive", (3, 5)),
                                   ("avg", ((5, 5), 1, 2)), ("avg", ((8, 2), (2, 1), (1, 0), False, False)),
                                   ("avg", ((4, 3), (3, 1), 0, True))])
def test_avg_vertical_sums_kernel(isa, rng, torch, layer):
    """The AVX-512 vertical sums of average windows (adaptive ones, and windows of more than three
    rows: every row's sum in a register, in the generic path's order; rows whose width is a multiple
    of 8) and the generic path's own for other widths: bitwise equal to the baseline copy at 1 and 2
    threads (with -0, +inf and NaN in the rows), close to PyTorch's on finite inputs."""
    kind, args = layer
    for w in (7, 8, 16, 24, 40, 113, 120, 1032):
        for h in (5, 16, 23):
            x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
            x[rng.random(x.shape) < 0.05] = -0.0
            if kind == "adaptive":
                f = lambda a: fastconv.adaptive_avg_pool2d(a, args)
                ft = lambda a: torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(a), args)
            else:
                f = lambda a: fastconv.avg_pool2d(a, *args)
                ft = lambda a: torch.nn.functional.avg_pool2d(torch.from_numpy(a), *args)
            try:
                np.testing.assert_allclose(f(x), ft(x).numpy(), rtol=1e-5, atol=1e-5)
            except ValueError:  # a window larger than the input
                continue
            x[rng.random(x.shape) < 0.01] = np.inf
            x.view(np.uint32)[rng.random(x.shape) < 0.01] = 0x7FC01234
            previous = fastconv.get_isa()
            fastconv.set_isa("generic")
            try:
                y0 = f(x)
            finally:
                fastconv.set_isa(previous)
            for threads in (1, 2):
                with fastconv.threads(threads):
                    y = f(x)
                assert y.tobytes() == y0.tobytes(), (w, h, threads)
