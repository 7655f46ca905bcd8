"""Hypothesis fuzzing of every public compute function against the slow NumPy
references (tests/reference_*.py).

Each input is drawn with a random memory layout (C order, Fortran order,
negative strides, a strided slice of a larger buffer, a zero-stride
``np.broadcast_to`` view, read-only), a random dtype (float32, float64 and
types that promote), and arguments pushed to their limits: batch 0, kernels
equal to the padded input, strides larger than the input, padding at its
maximum.  The reference sees the same values as dense float64.

Budget: ``FASTCONV_FUZZ_EXAMPLES`` examples per test (default 300, about a
minute here); ``FASTCONV_FUZZ_PROFILE=ci`` derandomises (CI),
``FASTCONV_FUZZ_PROFILE=dev`` explores (``scripts/fuzz.sh N``).
"""
import os

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastconv
import reference_conv as rconv
import reference_local as rlocal
import reference_pool as rpool
import reference_signal as rsig
from test_conv import assert_close
from test_pool import assert_sum_close

# Two profiles: "ci" (the default) replays the same derandomised examples on
# every run; "dev" draws new ones (scripts/fuzz.sh N).
_BUDGET = dict(max_examples=int(os.environ.get("FASTCONV_FUZZ_EXAMPLES", "300")), deadline=None,
               suppress_health_check=list(HealthCheck), print_blob=True)
settings.register_profile("fastconv-fuzz-ci", derandomize=True, database=None, **_BUDGET)
settings.register_profile("fastconv-fuzz-dev", derandomize=False, **_BUDGET)
FUZZ = settings.get_profile("fastconv-fuzz-" + os.environ.get("FASTCONV_FUZZ_PROFILE", "ci"))

FLOATS = [np.float32, np.float64]
PROMOTED = [np.float16, np.int16, np.uint8, np.bool_]


# ---- inputs in every memory layout ---------------------------------------------------

LAYOUTS = ["c", "f", "negative", "strided", "broadcast", "readonly"]


@st.composite
def arrays(draw, shape, dtype, low=-1.0, high=1.0):
    """An array of `shape` in a random memory layout (its values are what the
    reference sees: a broadcast view repeats one slice along an axis)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = np.dtype(dtype)
    if dt.kind == "b":
        a = rng.random(shape) < 0.5
    elif dt.kind in "iu":
        a = rng.integers(max(low, np.iinfo(dt).min), high + 1, size=shape, endpoint=True).astype(dt)
    else:
        a = rng.uniform(low, high, size=shape).astype(dt)
    kind = draw(st.sampled_from(LAYOUTS))
    axis = draw(st.integers(0, max(len(shape) - 1, 0)))
    if not shape:
        return a
    if kind == "f":
        a = np.asfortranarray(a)
    elif kind == "negative":
        flip = (slice(None, None, -1),) * a.ndim
        a = np.ascontiguousarray(a[flip])[flip]
    elif kind == "strided":
        big = np.zeros(shape[:axis] + (2 * shape[axis] + 1,) + shape[axis + 1:], dt)
        view = big[(slice(None),) * axis + (slice(1, None, 2),)]
        view[...] = a
        a = view
    elif kind == "broadcast" and shape[axis] > 0:
        a = np.broadcast_to(a.take([0], axis=axis), shape)
    elif kind == "readonly":
        a.flags.writeable = False
    return a


def dtypes(promote=True):
    return st.sampled_from(FLOATS * 3 + (PROMOTED if promote else []))


def result_dtype(*dts):
    dt = np.result_type(*[np.dtype(d) for d in dts])
    if dt.kind in "biu":
        return np.dtype(np.float64)
    return np.dtype(np.float32) if dt == np.float16 else dt


def f64(a):
    return np.array(a, dtype=np.float64)


def close(actual, expected, dtype):
    assert actual.dtype == dtype, (actual.dtype, dtype)
    assert_close(actual, expected, dtype)


# ---- convolution geometry at its limits ----------------------------------------------------

@st.composite
def geometry(draw, nd, pool=False):
    """Sizes, kernel, stride, dilation and padding along nd axes, often at the
    edge: a kernel equal to the padded input, a stride beyond the input, the
    largest padding (for pooling, half the kernel)."""
    axes = []
    for _ in range(nd):
        k = draw(st.integers(1, 4))
        d = 1 if pool and draw(st.booleans()) else draw(st.integers(1, 3))
        span = d * (k - 1) + 1
        pmax = k // 2 if pool else span
        p = draw(st.sampled_from([0, pmax, draw(st.integers(0, pmax))]))
        size = draw(st.sampled_from([max(1, span - 2 * p), max(1, span - 2 * p) + draw(st.integers(0, 6))]))
        s = draw(st.sampled_from([1, 2, size + 2 * p + 1, draw(st.integers(1, 5))]))
        axes.append((size, k, s, d, p))
    return [tuple(a[i] for a in axes) for i in range(5)]   # sizes, kernel, stride, dilation, pad


@st.composite
def conv_case(draw, nd):
    sizes, kernel, stride, dilation, pad = draw(geometry(nd))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    kg = draw(st.integers(1, 3))
    if draw(st.integers(0, 3)) == 0:          # depthwise
        cg = 1
    n = draw(st.sampled_from([0, 1, 2, 3]))
    asym = draw(st.booleans())
    pads = [(p, draw(st.integers(0, p)) if asym else p) for p in pad]
    return dict(n=n, groups=groups, c=groups * cg, k=groups * kg, sizes=sizes, kernel=kernel,
                stride=stride, dilation=dilation, pads=pads, layout=draw(st.sampled_from(["first", "last"])))


def _padded_ok(case):
    return all(s + a + b >= d * (k - 1) + 1 for s, (a, b), k, d in
               zip(case["sizes"], case["pads"], case["kernel"], case["dilation"]))


def _lift(case):
    """A 1-D case as the reference's 2-D (height 1)."""
    if len(case["sizes"]) == 2:
        return case["stride"], case["pads"], case["dilation"]
    return (1,) + case["stride"], [(0, 0)] + case["pads"], (1,) + case["dilation"]


def _to2d(a, nd):
    return a if nd == 2 else a[:, :, None]


def _from2d(a, nd):
    return a if nd == 2 else a[:, :, 0]


def _last(a):
    return np.moveaxis(a, 1, -1)


def _first(a):
    return np.moveaxis(a, -1, 1)


def _draw_inputs(data, case, dtype, w_channels, bias):
    """x, weight (w_channels + kernel) and an optional bias (out channels) for a case."""
    x = data.draw(arrays((case["n"], case["c"]) + case["sizes"], dtype))
    w = data.draw(arrays(w_channels + case["kernel"], dtype))
    b = data.draw(arrays((case["k"],), dtype)) if bias else None
    return x, w, b


def _layout(case, nd):
    last = case["layout"] == "last"
    return last, ("NHWC" if nd == 2 else "NLC") if last else ("NCHW" if nd == 2 else "NCL")


@FUZZ
@given(data=st.data(), nd=st.sampled_from([1, 2]), dtype=dtypes(), bias=st.booleans())
def test_conv_forward(data, nd, dtype, bias):
    case = data.draw(conv_case(nd))
    assume(_padded_ok(case))
    x, w, b = _draw_inputs(data, case, dtype, (case["k"], case["c"] // case["groups"]), bias)
    last, layout = _layout(case, nd)
    fn = fastconv.conv2d if nd == 2 else fastconv.conv1d
    algorithms = ["auto", "gemm"] + ["direct"] * (case["c"] == case["groups"])
    if nd == 2 and case["kernel"] == (3, 3) and case["stride"] == (1, 1) and case["dilation"] == (1, 1) \
            and case["groups"] == 1:
        algorithms.append("winograd")
    algorithm = data.draw(st.sampled_from(algorithms))
    got = fn(_last(x) if last else x, w, b, case["stride"], case["pads"], case["dilation"], case["groups"],
             layout=layout, algorithm=algorithm)
    stride, pads, dilation = _lift(case)
    want = _from2d(rconv.conv2d(_to2d(f64(x), nd), _to2d(f64(w), nd), None if b is None else f64(b),
                                stride, pads, dilation, case["groups"]), nd)
    close(_first(got) if last else got, want, result_dtype(dtype))


@FUZZ
@given(data=st.data(), nd=st.sampled_from([1, 2]), dtype=dtypes(), bias=st.booleans())
def test_conv_transpose_forward(data, nd, dtype, bias):
    case = data.draw(conv_case(nd))
    pads = [(p, p) for p, _ in case["pads"]]
    opad = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(case["stride"], case["dilation"]))
    # the full output must cover the padding on both sides
    full = [(n - 1) * s + d * (k - 1) + 1 + o for n, s, d, k, o in
            zip(case["sizes"], case["stride"], case["dilation"], case["kernel"], opad)]
    assume(all(f - 2 * p >= 1 for f, (p, _) in zip(full, pads)))
    x, w, b = _draw_inputs(data, case, dtype, (case["c"], case["k"] // case["groups"]), bias)
    last, layout = _layout(case, nd)
    fn = fastconv.conv_transpose2d if nd == 2 else fastconv.conv_transpose1d
    padding = tuple(p for p, _ in pads)
    got = fn(_last(x) if last else x, w, b, case["stride"], padding, opad, case["groups"], case["dilation"],
             layout=layout)
    c2 = dict(case, pads=pads)
    stride, pads2, dilation = _lift(c2)
    opad2 = opad if nd == 2 else (0,) + opad
    want = _from2d(rconv.conv_transpose2d(_to2d(f64(x), nd), _to2d(f64(w), nd), None if b is None else f64(b),
                                          stride, pads2, opad2, dilation, case["groups"]), nd)
    close(_first(got) if last else got, want, result_dtype(dtype))


@FUZZ
@given(data=st.data(), nd=st.sampled_from([1, 2]), dtype=dtypes(promote=False),
       transposed=st.booleans())
def test_conv_backward(data, nd, dtype, transposed):
    case = data.draw(conv_case(nd))
    pads = [(p, p) for p, _ in case["pads"]]
    case = dict(case, pads=pads)
    assume(_padded_ok(case))
    stride, pads2, dilation = _lift(case)
    g = case["groups"]
    # conv2d: x (N, C, ...) -> y (N, K, ...), weight (K, C/g, ...).  The
    # transposed convolution is its adjoint: x (N, K, ...) -> y (N, C, ...)
    # with the same weight, read as (in=K, out/g=C/g, ...).
    big = tuple(rconv.out_size(n, k, st_, d, a, b) for n, k, st_, d, (a, b) in
                zip(case["sizes"], case["kernel"], case["stride"], case["dilation"], pads))
    small_shape = (case["n"], case["c"]) + case["sizes"]
    big_shape = (case["n"], case["k"]) + big
    w = data.draw(arrays((case["k"], case["c"] // g) + case["kernel"], dtype))
    padding = tuple(p for p, _ in pads)
    last, layout = _layout(case, nd)
    if not transposed:
        go = data.draw(arrays(big_shape, dtype))
        x = data.draw(arrays(small_shape, dtype))
        fn = fastconv.conv2d_backward if nd == 2 else fastconv.conv1d_backward
        got = fn(_last(go) if last else go, _last(x) if last else x, w, case["stride"], padding,
                 case["dilation"], g, layout=layout)
        gi, gw, gb = rconv.conv2d_grads(_to2d(f64(go), nd), _to2d(f64(x), nd), _to2d(f64(w), nd),
                                        stride, pads2, dilation, g)
        want = (_from2d(gi, nd), gw.reshape(w.shape), gb)
    else:
        # conv_transpose(x: big -> small); output_padding makes the sizes round-trip exactly
        go = data.draw(arrays(small_shape, dtype))
        x = data.draw(arrays(big_shape, dtype))
        opad = tuple((n + a + b - d * (k - 1) - 1) % s for n, (a, b), k, s, d in
                     zip(case["sizes"], pads, case["kernel"], case["stride"], case["dilation"]))
        assume(all(o < max(s, d) for o, s, d in zip(opad, case["stride"], case["dilation"])))
        fn = fastconv.conv_transpose2d_backward if nd == 2 else fastconv.conv_transpose1d_backward
        got = fn(_last(go) if last else go, _last(x) if last else x, w, case["stride"], padding, opad, g,
                 case["dilation"], layout=layout)
        # the adjoint identities: grad_input = conv2d(grad_out, w); grad_weight is
        # conv2d's weight gradient with the roles of input and output swapped
        gi = rconv.conv2d(_to2d(f64(go), nd), _to2d(f64(w), nd), None, stride, pads2, dilation, g)
        _, gw, _ = rconv.conv2d_grads(_to2d(f64(x), nd), _to2d(f64(go), nd), _to2d(f64(w), nd),
                                      stride, pads2, dilation, g)
        want = (_from2d(gi, nd), gw.reshape(w.shape), f64(go).sum(axis=tuple(i for i in range(go.ndim) if i != 1)))
    gi_got, gw_got, gb_got = got
    close(_first(gi_got) if last else gi_got, want[0], np.dtype(dtype))
    close(gw_got, want[1], np.dtype(dtype))
    close(gb_got, want[2], np.dtype(dtype))


@FUZZ
@given(data=st.data(), dtype=dtypes())
def test_im2col_col2im(data, dtype):
    (h, w), kernel, stride, dilation, pad = data.draw(geometry(2))
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))   # batch 0: test_edge_cases.py
    pads = [(p, p) for p in pad]
    assume(all(s + 2 * p >= d * (k - 1) + 1 for s, p, k, d in zip((h, w), pad, kernel, dilation)))
    x = data.draw(arrays((n, c, h, w), dtype))
    close(fastconv.im2col(x, kernel, stride, pad, dilation),
          rconv.im2col(f64(x), kernel, stride, pads, dilation), result_dtype(dtype))
    oh = rconv.out_size(h, kernel[0], stride[0], dilation[0], *pads[0])
    ow = rconv.out_size(w, kernel[1], stride[1], dilation[1], *pads[1])
    cols = data.draw(arrays((n, c * kernel[0] * kernel[1], oh * ow), dtype))
    close(fastconv.col2im(cols, (h, w), kernel, stride, pad, dilation),
          rconv.col2im(f64(cols), (h, w), kernel, stride, pads, dilation), result_dtype(dtype))


# ---- pooling ---------------------------------------------------------------------------------

@st.composite
def pool_case(draw, dilation=True):
    sizes, kernel, stride, dil, pad = draw(geometry(2, pool=True))
    if not dilation:
        dil = (1, 1)
        assume(all(s + 2 * p >= k for s, p, k in zip(sizes, pad, kernel)))
    assume(all(s + 2 * p >= d * (k - 1) + 1 for s, p, k, d in zip(sizes, pad, kernel, dil)))
    return dict(n=draw(st.integers(0, 2)), c=draw(st.integers(1, 3)), sizes=sizes, kernel=kernel,
                stride=stride, dilation=dil, padding=pad, ceil_mode=draw(st.booleans()))


@FUZZ
@given(data=st.data(), dtype=dtypes(promote=False), one_d=st.booleans())
def test_max_pool(data, dtype, one_d):
    case = data.draw(pool_case())
    if one_d:
        case = dict(case, sizes=(1, case["sizes"][1]), kernel=(1, case["kernel"][1]), stride=(1, case["stride"][1]),
                    dilation=(1, case["dilation"][1]), padding=(0, case["padding"][1]))
    x = data.draw(arrays((case["n"], case["c"]) + case["sizes"], dtype))
    want, want_i = rpool.max_pool2d(np.array(x), case["kernel"], case["stride"], case["padding"],
                                    case["dilation"], case["ceil_mode"])
    if one_d:
        got, got_i = fastconv.max_pool1d(x[:, :, 0], case["kernel"][1], case["stride"][1], case["padding"][1],
                                         case["dilation"][1], case["ceil_mode"], return_indices=True)
        want, want_i = want[:, :, 0], want_i[:, :, 0]
    else:
        got, got_i = fastconv.max_pool2d(x, case["kernel"], case["stride"], case["padding"], case["dilation"],
                                         case["ceil_mode"], return_indices=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_i, want_i)
    # the gradient goes where the indices say (a window whose taps all fall in
    # the padding has the index PyTorch gives it, outside the plane, which
    # max_pool2d_backward refuses: left out here)
    if not one_d and int(want_i.max(initial=0)) < x.shape[2] * x.shape[3]:
        go = data.draw(arrays(got.shape, dtype))
        gx = fastconv.max_pool2d_backward(go, got_i, x.shape)
        assert_sum_close(gx, rpool.max_pool2d_backward(f64(go), want_i, x.shape),
                         rpool.max_pool2d_backward(np.abs(f64(go)), want_i, x.shape), got.size, dtype)


@FUZZ
@given(data=st.data(), dtype=dtypes(promote=False), one_d=st.booleans(), include=st.booleans(),
       divisor=st.sampled_from([None, None, 1, 3]))
def test_avg_pool(data, dtype, one_d, include, divisor):
    case = data.draw(pool_case(dilation=False))
    if one_d:
        divisor = None
        case = dict(case, sizes=(1, case["sizes"][1]), kernel=(1, case["kernel"][1]), stride=(1, case["stride"][1]),
                    padding=(0, case["padding"][1]))
    k, s, p = case["kernel"], case["stride"], case["padding"]
    x = data.draw(arrays((case["n"], case["c"]) + case["sizes"], dtype))
    want = rpool.avg_pool2d(f64(x), k, s, p, case["ceil_mode"], include, divisor)
    scale = rpool.avg_pool2d(np.abs(f64(x)), k, s, p, case["ceil_mode"], include, divisor)
    if one_d:
        got = fastconv.avg_pool1d(x[:, :, 0], k[1], s[1], p[1], case["ceil_mode"], include)[:, :, None]
    else:
        got = fastconv.avg_pool2d(x, k, s, p, case["ceil_mode"], include, divisor)
    assert got.dtype == dtype
    assert_sum_close(got, want, scale, k[0] * k[1], dtype)
    if not one_d:
        go = data.draw(arrays(got.shape, dtype))
        gx = fastconv.avg_pool2d_backward(go, x.shape, k, s, p, case["ceil_mode"], include, divisor)
        args = (x.shape, k, s, p, case["ceil_mode"], include, divisor)
        assert_sum_close(gx, rpool.avg_pool2d_backward(f64(go), *args),
                         rpool.avg_pool2d_backward(np.abs(f64(go)), *args), got.size, dtype)


@FUZZ
@given(data=st.data(), dtype=dtypes(promote=False), h=st.integers(1, 9), w=st.integers(1, 9),
       oh=st.integers(0, 10), ow=st.integers(0, 10), layout=st.sampled_from(["NCHW", "NHWC"]))
def test_adaptive_and_global_pool(data, dtype, h, w, oh, ow, layout):
    n, c = data.draw(st.integers(0, 2)), data.draw(st.integers(1, 3))
    x = data.draw(arrays((n, c, h, w), dtype))
    xl = _last(x) if layout == "NHWC" else x
    back = _first if layout == "NHWC" else (lambda a: a)
    want, want_i = rpool.adaptive_max_pool2d(np.array(x), (oh, ow))
    got, got_i = fastconv.adaptive_max_pool2d(xl, (oh, ow), return_indices=True, layout=layout)
    np.testing.assert_array_equal(back(got), want)
    np.testing.assert_array_equal(back(got_i), want_i)
    terms = -(-h // max(oh, 1) + 1) * -(-w // max(ow, 1) + 1)
    assert_sum_close(back(fastconv.adaptive_avg_pool2d(xl, (oh, ow), layout=layout)),
                     rpool.adaptive_avg_pool2d(f64(x), (oh, ow)), rpool.adaptive_avg_pool2d(np.abs(f64(x)), (oh, ow)),
                     terms, dtype)
    go = data.draw(arrays((n, c, oh, ow), dtype))
    gx = fastconv.adaptive_avg_pool2d_backward(_last(go) if layout == "NHWC" else go, x.shape if layout == "NCHW"
                                               else xl.shape, layout=layout)
    assert_sum_close(back(gx), rpool.adaptive_avg_pool2d_backward(f64(go), x.shape),
                     rpool.adaptive_avg_pool2d_backward(np.abs(f64(go)), x.shape), 4, dtype)
    np.testing.assert_array_equal(fastconv.global_max_pool2d(xl, layout=layout),
                                  rpool.adaptive_max_pool2d(np.array(x), (1, 1))[0][:, :, 0, 0])
    assert_sum_close(fastconv.global_avg_pool2d(xl, layout=layout),
                     f64(x).mean(axis=(2, 3)), np.abs(f64(x)).mean(axis=(2, 3)), h * w, dtype)


@FUZZ
@given(data=st.data(), dtype=dtypes(promote=False))
def test_stochastic_pool(data, dtype):
    (h, w), kernel, stride, _, _ = data.draw(geometry(2, pool=True))
    assume(h >= kernel[0] and w >= kernel[1])
    x = data.draw(arrays((data.draw(st.integers(0, 2)), 2, h, w), dtype, low=0.0))
    got = fastconv.stochastic_pool2d(x, kernel, stride, training=False)
    want = rpool.stochastic_pool2d_inference(f64(x), kernel, stride)
    assert_sum_close(got, want, want, 2 * kernel[0] * kernel[1], dtype)
    y, idx = fastconv.stochastic_pool2d(x, kernel, stride, rng=data.draw(st.integers(0, 2**32)),
                                        return_indices=True)
    # each draw is a cell of its window holding a positive value (or the window's first cell when all are 0)
    for pos, cells in np.ndenumerate(rpool.stochastic_windows(np.array(x), kernel, stride)):
        values = {int(i): v for v, i in cells}
        assert int(idx[pos]) in values
        assert y[pos] == values[int(idx[pos])]
        assert y[pos] > 0 or all(v == 0 for v in values.values())


@FUZZ
@given(data=st.data(), dtype=dtypes(promote=False))
def test_unpooling(data, dtype):
    case = data.draw(pool_case(dilation=False))
    k, s, p = case["kernel"], case["stride"], case["padding"]
    x = data.draw(arrays((case["n"], case["c"]) + case["sizes"], dtype))
    _, idx = fastconv.max_pool2d(x, k, s, p, return_indices=True)
    vals = data.draw(arrays(idx.shape, dtype))
    out_hw = tuple(rpool.unpooled_size(a, kk, ss, pp) for a, kk, ss, pp in zip(idx.shape[2:], k, s, p))
    assume(min(out_hw) >= 1 and out_hw[0] * out_hw[1] > int(idx.max(initial=0)))
    got = fastconv.max_unpool2d(vals, idx, k, s, p, output_size=out_hw)
    # overlapping windows may name one cell twice: both values are then allowed
    want = rpool.max_unpool2d(np.array(vals), idx, out_hw)
    want_last_first = rpool.max_unpool2d(np.array(vals)[..., ::-1, ::-1], idx[..., ::-1, ::-1], out_hw)
    assert np.all((got == want) | (got == want_last_first))
    a = data.draw(arrays(idx.shape, dtype))
    assume(min(idx.shape[2:]) >= 1)
    got = fastconv.avg_unpool2d(a, k, s, p, output_size=out_hw)
    want = rpool.avg_unpool2d(f64(a), k, s, p, out_hw)
    assert_sum_close(got, want, rpool.avg_unpool2d(np.abs(f64(a)), k, s, p, out_hw), k[0] * k[1], dtype)


# ---- signal ----------------------------------------------------------------------------------

SIGNAL_DTYPES = [np.float32, np.float64, np.int32, np.int8, np.uint16, np.complex64, np.complex128,
                 np.bool_]  # SciPy 2-D refuses bool: the 2-D test leaves it out


def assert_signal(got, want, dtype):
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
    else:
        eps = np.finfo(want.dtype).eps
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        np.testing.assert_allclose(got, want, rtol=64 * eps, atol=64 * eps * scale)


@FUZZ
@given(data=st.data(), da=st.sampled_from(SIGNAL_DTYPES), dv=st.sampled_from(SIGNAL_DTYPES),
       mode=st.sampled_from(["full", "same", "valid"]), method=st.sampled_from(["auto", "direct", "fft"]),
       correlate=st.booleans())
def test_convolve_correlate_1d(data, da, dv, mode, method, correlate):
    a = data.draw(arrays((data.draw(st.integers(1, 40)),), da, low=-3, high=3))
    v = data.draw(arrays((data.draw(st.integers(1, 12)),), dv, low=-3, high=3))
    if method == "fft":
        assume(np.result_type(a, v).kind not in "biu")
    fn, ref = (fastconv.correlate, rsig.np_correlate) if correlate else (fastconv.convolve, rsig.np_convolve)
    assert_signal(fn(a, v, mode, method=method), ref(np.array(a), np.array(v), mode), np.result_type(a, v))


@FUZZ
@given(data=st.data(), da=st.sampled_from(SIGNAL_DTYPES[:-1]), dk=st.sampled_from(SIGNAL_DTYPES[:-1]),
       mode=st.sampled_from(["full", "same", "valid"]), boundary=st.sampled_from(["fill", "wrap", "symm"]),
       method=st.sampled_from(["auto", "direct", "fft"]), convolve=st.booleans())
def test_convolve_correlate_2d(data, da, dk, mode, boundary, method, convolve):
    shape = (data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8)))
    kshape = (data.draw(st.integers(1, shape[0] + 1)), data.draw(st.integers(1, shape[1] + 1)))
    if mode == "valid":
        assume(all(a >= k for a, k in zip(shape, kshape)) or all(a <= k for a, k in zip(shape, kshape)))
    if method == "fft":
        assume(boundary == "fill" and np.result_type(np.dtype(da), np.dtype(dk)).kind not in "biu")
    a = data.draw(arrays(shape, da, low=-3, high=3))
    k = data.draw(arrays(kshape, dk, low=-3, high=3))
    fill = data.draw(st.sampled_from([0, 1.5]))
    fn = fastconv.convolve2d if convolve else fastconv.correlate2d
    got = fn(a, k, mode, boundary, fill, method=method)
    want = rsig.scipy_2d(np.array(a), np.array(k), mode, boundary, fill, convolve=convolve)
    assert_signal(got, want, got.dtype)


@FUZZ
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64, np.int16]),
       mode=st.sampled_from(["full", "same", "valid"]), boundary=st.sampled_from(["fill", "wrap", "symm"]),
       convolve=st.booleans())
def test_filter2d(data, dtype, mode, boundary, convolve):
    lead = data.draw(st.sampled_from([(), (3,), (2, 1)]))
    klead = data.draw(st.sampled_from([(), (1,)[:len(lead)], lead[-1:]]))
    shape = (data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7)))
    kshape = (data.draw(st.integers(1, shape[0])), data.draw(st.integers(1, shape[1])))
    images = data.draw(arrays(lead + shape, dtype, low=-3, high=3))
    kernel = data.draw(arrays(klead + kshape, dtype, low=-3, high=3))
    got = fastconv.filter2d(images, kernel, mode, boundary, convolve=convolve)
    want = rsig.filter2d(np.array(images), np.array(kernel), mode, boundary, convolve=convolve)
    assert_signal(got, np.asarray(want, dtype=got.dtype), got.dtype)


# ---- unshared convolutions and linear ------------------------------------------------------

@FUZZ
@given(data=st.data(), dtype=dtypes(), tiled=st.booleans(), bias=st.booleans(),
       layout=st.sampled_from(["NCHW", "NHWC"]))
def test_local_and_tiled(data, dtype, tiled, bias, layout):
    (h, w), kernel, stride, dilation, pad = data.draw(geometry(2))
    pads = [(p, p) for p in pad]
    assume(all(s + 2 * p >= d * (k - 1) + 1 for s, p, k, d in zip((h, w), pad, kernel, dilation)))
    n, c, k = data.draw(st.integers(0, 2)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    oh, ow = rlocal.output_shape((n, c, h, w), kernel, stride, pads, dilation)
    bank = (data.draw(st.integers(1, oh + 1)), data.draw(st.integers(1, ow + 1))) if tiled else (oh, ow)
    x = data.draw(arrays((n, c, h, w), dtype))
    wt = data.draw(arrays(bank + (k, c) + kernel, dtype))
    b = data.draw(arrays((k,) if tiled else (k, oh, ow), dtype)) if bias else None
    fwd = fastconv.tiled_conv2d if tiled else fastconv.local_conv2d
    ref = rlocal.tiled_conv2d if tiled else rlocal.local_conv2d
    xl = _last(x) if layout == "NHWC" else x
    got = fwd(xl, wt, b, stride, pad, dilation, layout=layout)
    back = _first if layout == "NHWC" else (lambda a: a)
    close(back(got), ref(f64(x), f64(wt), None if b is None else f64(b), stride, pads, dilation),
          result_dtype(dtype))
    if np.dtype(dtype) in map(np.dtype, FLOATS):
        go = data.draw(arrays((n, k, oh, ow), dtype))
        bwd = fastconv.tiled_conv2d_backward if tiled else fastconv.local_conv2d_backward
        grads = (rlocal.tiled_conv2d_grads if tiled else rlocal.local_conv2d_grads)(
            f64(go), f64(x), f64(wt), stride, pads, dilation)
        gi, gw, gb = bwd(_last(go) if layout == "NHWC" else go, xl, wt, stride, pad, dilation, layout=layout)
        close(back(gi), grads[0], np.dtype(dtype))
        close(gw, grads[1], np.dtype(dtype))
        close(gb, grads[2], np.dtype(dtype))


@FUZZ
@given(data=st.data(), dtype=dtypes(), bias=st.booleans(),
       lead=st.sampled_from([(), (0,), (1,), (4,), (7,), (2, 3)]),
       fan_in=st.integers(0, 20), fan_out=st.integers(0, 20))
def test_linear(data, dtype, bias, lead, fan_in, fan_out):
    x = data.draw(arrays(lead + (fan_in,), dtype))
    w = data.draw(arrays((fan_out, fan_in), dtype))
    b = data.draw(arrays((fan_out,), dtype)) if bias else None
    close(fastconv.linear(x, w, b), rlocal.linear(f64(x), f64(w), None if b is None else f64(b)),
          result_dtype(dtype))
    if np.dtype(dtype) in map(np.dtype, FLOATS) and fan_in and fan_out:   # empty: test_edge_cases.py
        go = data.draw(arrays(lead + (fan_out,), dtype))
        for got, want in zip(fastconv.linear_backward(go, x, w), rlocal.linear_grads(f64(go), f64(x), f64(w))):
            close(got, want, np.dtype(dtype))


@FUZZ
@given(data=st.data(), dtype=dtypes(), m=st.integers(0, 20), k=st.integers(0, 20), n=st.integers(0, 20),
       trans_a=st.booleans(), trans_b=st.booleans(), alpha=st.sampled_from([1.0, -0.5, 0.0]),
       beta=st.sampled_from([0.0, 1.0, 2.5]))
def test_gemm(data, dtype, m, k, n, trans_a, trans_b, alpha, beta):
    a = data.draw(arrays((k, m) if trans_a else (m, k), dtype))
    b = data.draw(arrays((n, k) if trans_b else (k, n), dtype))
    c = data.draw(arrays((m, n), dtype)) if beta else None
    got = fastconv.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)
    opa = f64(a).T if trans_a else f64(a)
    opb = f64(b).T if trans_b else f64(b)
    want = alpha * (opa @ opb) + (beta * f64(c) if c is not None else 0.0)
    close(got, want, result_dtype(dtype))


def test_every_public_compute_function_is_fuzzed():
    from test_robustness import OPS  # the registry of every public compute function
    covered = {
        "gemm", "conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "conv2d_backward",
        "conv1d_backward", "conv_transpose2d_backward", "conv_transpose1d_backward", "im2col", "col2im",
        "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
        "global_avg_pool2d", "global_max_pool2d", "stochastic_pool2d", "avg_pool2d_backward",
        "max_pool2d_backward", "adaptive_avg_pool2d_backward", "max_unpool2d", "avg_unpool2d", "convolve",
        "correlate", "convolve2d", "correlate2d", "filter2d", "linear", "linear_backward", "local_conv2d",
        "local_conv2d_backward", "tiled_conv2d", "tiled_conv2d_backward",
    }
    public = {name for name in OPS if hasattr(fastconv, name)}
    assert public <= covered, sorted(public - covered)
