"""Tests of the unshared convolutions (local_conv2d, tiled_conv2d) and the
fully connected layer (linear), forward and backward, against the slow NumPy
reference (tests/reference_local.py), PyTorch (unfold + einsum for the
unshared layers, F.linear for linear, autograd for the gradients) and the
identities that tie them to conv2d."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
import reference_local as ref
from helpers import (F, PAD_FORMS, assert_close, check_directional_gradients, hypothesis_settings, nchw,
                     needs_torch, nhwc, resolve, torch)

SETTINGS = hypothesis_settings(30)


# ---------------------------------------------------------------------------
# random cases
# ---------------------------------------------------------------------------

@st.composite
def unshared_cases(draw, kind, max_size=7):
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    k = draw(st.integers(1, 7))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    form = draw(st.sampled_from(PAD_FORMS))
    raw = [tuple(draw(st.integers(0, 2)) for _ in range(2)) for _ in range(2)]
    sizes = []
    for i in range(2):
        span = dilation[i] * (kernel[i] - 1) + 1
        pad_total = {"int": 2 * raw[0][0], "pair": 2 * raw[i][0], "asym": sum(raw[i])}.get(form, 0)
        lo = 1 if form in ("same", "full") else max(1, span - pad_total)
        sizes.append(draw(st.integers(lo, lo + max_size)))
    padding, pads = resolve(form, raw, sizes, kernel, stride, dilation)
    out = tuple(ref.out_size(sz, kk, s, d, *p) for sz, kk, s, d, p in zip(sizes, kernel, stride, dilation, pads))
    if kind == "local":
        banks, bias = out, draw(st.sampled_from([None, "channel", "position"]))
    else:
        banks = tuple(draw(st.integers(1, 4)) for _ in range(2))
        bias = draw(st.sampled_from([None, "channel"]))
    return dict(n=n, c=c, k=k, kernel=kernel, stride=stride, dilation=dilation, padding=padding, pads=pads,
                sizes=tuple(sizes), out=out, banks=banks, bias=bias, seed=draw(st.integers(0, 2**31 - 1)))


def make(case, dtype):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"]) + case["sizes"]).astype(dtype)
    w = rng.standard_normal(case["banks"] + (case["k"], case["c"]) + case["kernel"]).astype(dtype)
    b = None
    if case["bias"] == "channel":
        b = rng.standard_normal(case["k"]).astype(dtype)
    elif case["bias"] == "position":
        b = rng.standard_normal((case["k"],) + case["out"]).astype(dtype)
    return x, w, b


def kw(case):
    return dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])


def ref_forward(kind, case, x, w, b):
    fn = ref.local_conv2d if kind == "local" else ref.tiled_conv2d
    return fn(x, w, b, case["stride"], case["pads"], case["dilation"])


def ref_grads(kind, case, go, x, w):
    fn = ref.local_conv2d_grads if kind == "local" else ref.tiled_conv2d_grads
    return fn(go, x, w, case["stride"], case["pads"], case["dilation"])


FWD = {"local": fastconv.local_conv2d, "tiled": fastconv.tiled_conv2d}
BWD = {"local": fastconv.local_conv2d_backward, "tiled": fastconv.tiled_conv2d_backward}


def run_forward(kind, x, w, b, layout, **args):
    """fastconv's forward on NCHW data in `layout`, returned as NCHW."""
    if layout == "NHWC":
        return nchw(FWD[kind](nhwc(x), w, b, **args, layout="NHWC"))
    return FWD[kind](x, w, b, **args)


def run_backward(kind, go, x, w, layout, **args):
    if layout == "NHWC":
        gi, gw, gb = BWD[kind](nhwc(go), nhwc(x), w, **args, layout="NHWC")
        return nchw(gi), gw, gb
    return BWD[kind](go, x, w, **args)


# ---------------------------------------------------------------------------
# PyTorch oracles: unfold + einsum (what PyTorch users write today)
# ---------------------------------------------------------------------------

def torch_unshared(x, w, b, stride, pads, dilation, tiled):
    """y from torch tensors x (N, C, H, W), w (banks..., K, C, kh, kw), b; differentiable."""
    (t, bo), (l, r) = pads
    xp = F.pad(x, (l, r, t, bo))
    kernel = tuple(w.shape[4:])
    cols = F.unfold(xp, kernel, dilation=dilation, stride=stride)           # (N, C*kh*kw, L)
    oh = (xp.shape[2] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if tiled:
        th, tw = w.shape[:2]
        rows = (torch.arange(oh) % th)[:, None]
        colsi = (torch.arange(ow) % tw)[None, :]
        w = w[rows, colsi]                                                  # one bank per position
    wk = w.reshape(oh * ow, w.shape[2], -1)                                 # (L, K, C*kh*kw)
    y = torch.einsum("nql,lkq->nkl", cols, wk).reshape(x.shape[0], w.shape[2], oh, ow)
    if b is not None:
        y = y + (b[None] if b.dim() == 3 else b[None, :, None, None])
    return y


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------

def _linear_at_1_to_3_threads(x, w, b, **kw):
    """linear at 1, 2 and 3 threads, asserted bitwise equal; the result."""
    outs = []
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            outs.append(fastconv.linear(x, w, b, **kw))
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    return outs[0]


@pytest.mark.parametrize("kind", ["local", "tiled"])
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(["NCHW", "NHWC"]))
def test_forward_matches_reference(kind, data, dtype, layout):
    case = data.draw(unshared_cases(kind))
    x, w, b = make(case, dtype)
    y = run_forward(kind, x, w, b, layout, **kw(case))
    assert y.dtype == dtype
    assert_close(y, ref_forward(kind, case, x, w, b), dtype)


@needs_torch
@pytest.mark.parametrize("kind", ["local", "tiled"])
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_forward_matches_torch_unfold_einsum(kind, data, dtype):
    case = data.draw(unshared_cases(kind))
    x, w, b = make(case, dtype)
    expected = torch_unshared(torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b),
                              case["stride"], case["pads"], case["dilation"], kind == "tiled").numpy()
    for layout in ("NCHW", "NHWC"):
        assert_close(run_forward(kind, x, w, b, layout, **kw(case)), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("args", [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(1, 2), padding=((2, 0), (1, 3)), dilation=(2, 1)),
    dict(padding="same", dilation=2),
    dict(padding="full", stride=(2, 3)),
])
def test_tiled_with_one_tile_is_conv2d(dtype, layout, args):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 11, 9)).astype(dtype)
    w = rng.standard_normal((7, 5, 3, 2)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    if layout == "NHWC":
        x = nhwc(x)
    y = fastconv.tiled_conv2d(x, w[None, None], b, **args, layout=layout)
    assert_close(y, fastconv.conv2d(x, w, b, **args, layout=layout))
    go = np.cos(y)
    for got, exp in zip(fastconv.tiled_conv2d_backward(go, x, w[None, None], **args, layout=layout),
                        fastconv.conv2d_backward(go, x, w, **args, layout=layout)):
        assert_close(got.reshape(exp.shape), exp)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("args", [dict(), dict(stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2))])
def test_tiled_with_output_sized_tiles_is_local(dtype, layout, args):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 8, 10)).astype(dtype)
    oh, ow = fastconv.conv_output_shape(x.shape, (5, 3, 3, 3), **args)[2:]
    w = rng.standard_normal((oh, ow, 5, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    if layout == "NHWC":
        x = nhwc(x)
    # the same engine with the same banks: bitwise equal
    np.testing.assert_array_equal(fastconv.tiled_conv2d(x, w, b, **args, layout=layout),
                                  fastconv.local_conv2d(x, w, b, **args, layout=layout))
    y = fastconv.local_conv2d(x, w, b, **args, layout=layout)
    go = np.sin(y)
    gt = fastconv.tiled_conv2d_backward(go, x, w, **args, layout=layout)
    gl = fastconv.local_conv2d_backward(go, x, w, **args, layout=layout, shared_bias=True)
    for a, c in zip(gt, gl):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_local_bias_forms(layout):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 2, 3, 3, 3))
    b_pos = rng.standard_normal((2, 4, 3))
    b_ch = rng.standard_normal(2)
    no_bias = run_forward("local", x, w, None, layout)
    assert_close(run_forward("local", x, w, b_pos, layout), no_bias + b_pos[None])
    assert_close(run_forward("local", x, w, b_ch, layout), no_bias + b_ch[None, :, None, None])
    assert_close(no_bias, ref.local_conv2d(x, w))


def test_unbatched_and_promotion():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 6)).astype(np.float32)
    w = rng.standard_normal((5, 4, 2, 3, 3, 3)).astype(np.float32)
    y = fastconv.local_conv2d(x, w)
    assert y.shape == (2, 5, 4) and y.dtype == np.float32
    assert_close(y, fastconv.local_conv2d(x[None], w)[0])
    yt = fastconv.tiled_conv2d(nhwc(x[None])[0], w[:2, :3], layout="NHWC")
    assert yt.shape == (5, 4, 2)
    # float16 computes in float32, integers in float64
    assert fastconv.local_conv2d(x.astype(np.float16), w.astype(np.float16)).dtype == np.float32
    xi = (x * 4).astype(np.int32)
    yi = fastconv.local_conv2d(xi, w.astype(np.float64))
    assert yi.dtype == np.float64
    assert_close(yi, ref.local_conv2d(xi[None], w)[0])
    assert fastconv.linear(np.ones(3, np.float16), np.ones((2, 3), np.float16)).dtype == np.float32
    assert fastconv.linear(np.ones(3, np.int64), np.ones((2, 3), np.int8)).dtype == np.float64


def test_inputs_unchanged_and_views():
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 9, 12, 3))
    x = nchw(base)[:, :, ::2]                     # a strided, non-contiguous NCHW view
    w = rng.standard_normal((4, 4, 2, 3, 2, 2))[:, :, :, :, ::-1]
    keep_x, keep_w = x.copy(), w.copy()
    y = fastconv.local_conv2d(x, w, stride=(1, 3))
    assert_close(y, ref.local_conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), stride=(1, 3)))
    fastconv.local_conv2d_backward(y, x, w, stride=(1, 3))
    fastconv.tiled_conv2d_backward(y, x, w[:2, :2], stride=(1, 3))
    np.testing.assert_array_equal(x, keep_x)
    np.testing.assert_array_equal(w, keep_w)
    a = rng.standard_normal((4, 6))
    wl = rng.standard_normal((6, 5)).T            # a transposed view
    keep_a, keep_wl = a.copy(), wl.copy()
    assert_close(fastconv.linear(a, wl), ref.linear(a, wl))
    fastconv.linear_backward(np.ones((4, 5)), a, wl)
    np.testing.assert_array_equal(a, keep_a)
    np.testing.assert_array_equal(wl, keep_wl)


def test_empty_shapes():
    x = np.ones((0, 2, 5, 5))
    w = np.ones((4, 4, 3, 2, 2, 2))
    assert fastconv.local_conv2d(x, w).shape == (0, 3, 4, 4)
    gi, gw, gb = fastconv.local_conv2d_backward(np.ones((0, 3, 4, 4)), x, w)
    assert gi.shape == x.shape and not gw.any() and gb.shape == (3, 4, 4) and not gb.any()
    # no output channels; no input channels: the output is the bias
    assert fastconv.tiled_conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 2, 0, 2, 2, 2))).shape == (1, 0, 4, 4)
    b = np.arange(3.0)
    y = fastconv.tiled_conv2d(np.ones((2, 0, 5, 5)), np.ones((1, 1, 3, 0, 2, 2)), b)
    assert_close(y, np.broadcast_to(b[None, :, None, None], (2, 3, 4, 4)))
    assert fastconv.linear(np.ones((0, 3)), np.ones((2, 3))).shape == (0, 2)
    assert_close(fastconv.linear(np.ones((2, 0)), np.ones((3, 0)), b), np.broadcast_to(b, (2, 3)))
    gi, gw, gb = fastconv.linear_backward(np.ones((0, 2)), np.ones((0, 3)), np.ones((2, 3)))
    assert gi.shape == (0, 3) and not gw.any() and not gb.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_larger_shapes_exercise_blocking(dtype):
    """Several kc blocks of taps (C*kh*kw > 256), more channels than one
    item holds, more columns than one item holds, several blocks of images
    for the transposed copy and for the input gradient: each
    against conv2d through the 1x1-tile identity, and one local layer
    against the reference."""
    rng = np.random.default_rng(6)
    cases = [
        ((3, 40, 9, 8), (130, 40, 3, 3), dict(padding=1)),           # Kt = 360, K = 130
        ((5, 3, 30, 31), (9, 3, 3, 3), dict(stride=(1, 2))),          # 1 class, many columns
        ((170, 4, 38, 38), (3, 4, 3, 3), dict(padding=1)),           # xt in blocks of images
        ((45, 64, 12, 12), (4, 64, 5, 5), dict(padding=1)),          # input gradient in blocks of images
    ]
    for xs, ws, args in cases:
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        y = fastconv.tiled_conv2d(x, w[None, None], **args)
        assert_close(y, fastconv.conv2d(x, w, **args))
        go = rng.standard_normal(y.shape).astype(dtype)
        for got, exp in zip(fastconv.tiled_conv2d_backward(go, x, w[None, None], **args),
                            fastconv.conv2d_backward(go, x, w, **args)):
            assert_close(got.reshape(exp.shape), exp)
    # locally connected: runs of positions, several blocks of images, of channels
    for xs, ws in (((37, 30, 6, 7), (4, 5, 9, 30, 3, 3)), ((150, 2, 5, 19), (4, 18, 5, 2, 2, 2)),
                   ((2, 3, 4, 4), (3, 3, 130, 3, 2, 2))):
        x = rng.standard_normal(xs).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        b = rng.standard_normal((ws[2],) + ws[:2]).astype(dtype)
        for layout in ("NCHW", "NHWC"):
            assert_close(run_forward("local", x, w, b, layout), ref.local_conv2d(x, w, b), dtype)
        go = rng.standard_normal((xs[0], ws[2]) + ws[:2])
        for got, exp in zip(fastconv.local_conv2d_backward(go.astype(dtype), x, w), ref.local_conv2d_grads(go, x, w)):
            assert_close(got, exp, dtype)


def test_tiles_larger_than_output():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 2, 5, 4))
    w = rng.standard_normal((5, 3, 3, 2, 2, 2))              # output 4 x 3: row bank 4 unused
    y = fastconv.tiled_conv2d(x, w)
    assert_close(y, ref.tiled_conv2d(x, w))
    gi, gw, gb = fastconv.tiled_conv2d_backward(np.ones_like(y), x, w)
    assert not gw[4].any() and gw[:4].any()
    for got, exp in zip((gi, gw, gb), ref.tiled_conv2d_grads(np.ones_like(y), x, w)):
        assert_close(got, exp)


def test_every_isa(isa):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 6, 9, 8)).astype(np.float32)
    w = rng.standard_normal((7, 6, 13, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal((13, 7, 6)).astype(np.float32)
    for layout in ("NCHW", "NHWC"):
        assert_close(run_forward("local", x, w, b, layout), ref.local_conv2d(x, w, b), np.float32)
        assert_close(run_forward("tiled", x, w[:2, :3], b[:, 0, 0], layout),
                     ref.tiled_conv2d(x, w[:2, :3], b[:, 0, 0]), np.float32)
        go = rng.standard_normal((9, 13, 7, 6))
        for got, exp in zip(run_backward("local", go.astype(np.float32), x, w, layout),
                            ref.local_conv2d_grads(go, x, w)):
            assert_close(got, exp, np.float32)
    for m in (1, 3, 17):
        a = rng.standard_normal((m, 70))
        wl = rng.standard_normal((45, 70))
        bl = rng.standard_normal(45)
        assert_close(fastconv.linear(a, wl, bl), ref.linear(a, wl, bl))
        assert_close(fastconv.linear(a, np.asfortranarray(wl), bl), ref.linear(a, wl, bl))
        go = rng.standard_normal((m, 45))
        for got, exp in zip(fastconv.linear_backward(go, a, wl), ref.linear_grads(go, a, wl)):
            assert_close(got, exp)


# ---------------------------------------------------------------------------
# Keras weight layout
# ---------------------------------------------------------------------------

def test_keras_weight_conversion():
    rng = np.random.default_rng(9)
    n, h, wd, c, k, (kh, kw_), strides = 2, 9, 8, 3, 4, (3, 2), (2, 1)
    oh, ow = (h - kh) // strides[0] + 1, (wd - kw_) // strides[1] + 1
    kernel = rng.standard_normal((oh * ow, kh * kw_ * c, k)).astype(np.float32)
    kbias = rng.standard_normal((oh, ow, k)).astype(np.float32)
    x = rng.standard_normal((n, h, wd, c)).astype(np.float32)
    expected = ref.keras_local_conv2d(x, kernel, kbias, (kh, kw_), strides, (oh, ow))
    w, b = fastconv.local_weights_from_keras(kernel, kbias, kernel_size=(kh, kw_), output_size=(oh, ow))
    assert w.shape == (oh, ow, k, c, kh, kw_) and b.shape == (k, oh, ow)
    assert_close(fastconv.local_conv2d(x, w, b, stride=strides, layout="NHWC"), expected, np.float32)
    # channels_first: the window flattened (channel, row, column), bias (K, OH, OW)
    kernel_cf = kernel.reshape(oh * ow, kh, kw_, c, k).transpose(0, 3, 1, 2, 4).reshape(oh * ow, -1, k)
    w2, b2 = fastconv.local_weights_from_keras(kernel_cf, kbias.transpose(2, 0, 1), kernel_size=(kh, kw_),
                                               output_size=(oh, ow), data_format="channels_first")
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(b2, b)
    with pytest.raises(ValueError, match="kernel must have shape"):
        fastconv.local_weights_from_keras(kernel, kernel_size=4, output_size=(oh, ow))
    with pytest.raises(ValueError, match="bias must have shape"):
        fastconv.local_weights_from_keras(kernel, kbias[0], kernel_size=(kh, kw_), output_size=(oh, ow))
    with pytest.raises(ValueError, match="data_format"):
        fastconv.local_weights_from_keras(kernel, kernel_size=(kh, kw_), output_size=(oh, ow), data_format="NHWC")


# ---------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lead", [(), (1,), (2,), (3,), (4,), (5,), (64,), (2, 3), (3, 1, 4)])
def test_linear_matches_reference(dtype, lead):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(lead + (37,)).astype(dtype)
    w = rng.standard_normal((53, 37)).astype(dtype)
    b = rng.standard_normal(53).astype(dtype)
    xs = rng.standard_normal(lead + (74,)).astype(dtype)[..., ::2]
    for xx, ww in ((x, w), (x, np.asfortranarray(w)), (x, w[::-1, ::-1]), (xs, w),    # any strides
                   (np.broadcast_to(x[..., :1, :] if lead else x, x.shape), w.T.copy().T)):
        x = xx
        y = fastconv.linear(x, ww, b)
        assert y.shape == lead + (53,) and y.dtype == dtype
        assert_close(y, ref.linear(x, ww, b), dtype)
        assert_close(fastconv.linear(x, ww), ref.linear(x, ww), dtype)
        go = rng.standard_normal(lead + (53,))
        for got, exp in zip(fastconv.linear_backward(go.astype(dtype), x, ww), ref.linear_grads(go, x, ww)):
            assert_close(got, exp, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_rows_do_not_depend_on_the_batch_beyond_four(dtype):
    """With batch_invariant=True, from five rows on (the GEMM path, either
    orientation) a row's result is the same in any batch."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((300, 600)).astype(dtype)
    w = rng.standard_normal((20, 600)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    full = fastconv.linear(x, w, b, batch_invariant=True)
    for m in (5, 7, 19, 20, 64, 299):
        np.testing.assert_array_equal(fastconv.linear(x[:m], w, b, batch_invariant=True), full[:m])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("in_features, out_features", [(37, 13), (1100, 35), (2053, 17)])
def test_linear_row_equals_the_row_alone(isa, dtype, in_features, out_features):
    """With batch_invariant=True, row i of linear(x) is bitwise
    linear(x[i:i+1]) whatever the batch: the few-row streaming paths
    (batches of 1 to 4) sum in the GEMM's order.
    Input sizes span several GEMM depth blocks with ragged tails; output sizes
    leave short column tiles; both weight layouts (the dot and axpy forms),
    and the input gradient, which runs the same paths."""
    rng = np.random.default_rng(18)
    w = rng.standard_normal((out_features, in_features)).astype(dtype)
    b = rng.standard_normal(out_features).astype(dtype)
    for m in (1, 2, 3, 4, 5, 6, 11, 40):
        x = rng.standard_normal((m, in_features)).astype(dtype)
        go = rng.standard_normal((m, out_features)).astype(dtype)
        for ww in (w, np.asfortranarray(w)):
            y = fastconv.linear(x, ww, b, batch_invariant=True)
            gx = fastconv.linear_backward(go, x, ww)[0]
            for i in range(m):
                np.testing.assert_array_equal(fastconv.linear(x[i:i + 1], ww, b, batch_invariant=True), y[i:i + 1])
                np.testing.assert_array_equal(fastconv.linear(x[i], ww, b, batch_invariant=True), y[i])      # unbatched
                np.testing.assert_array_equal(fastconv.linear_backward(go[i:i + 1], x[i:i + 1], ww)[0],
                                              gx[i:i + 1])
            for lo, hi in ((0, 2), (1, 4), (0, 4)):     # sub-batches of the streaming sizes
                if hi <= m:
                    np.testing.assert_array_equal(fastconv.linear(x[lo:hi], ww, b, batch_invariant=True), y[lo:hi])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_streaming_paths_at_every_isa(isa, dtype):
    """The batch-invariant few-row paths of each ISA level (at AVX-512 the 16-column float32
    tile kernel, its masked block tails; the whole-row input gradient) against
    the NumPy reference, bitwise the same for 1, 2 and 3 threads, a row equal
    to the row alone, and weights whose rows are not contiguous with each
    other (a column slice: row stride above in_features)."""
    rng = np.random.default_rng(21)
    for in_f, out_f in ((1000, 600), (389, 1041), (16, 33)):
        wide = rng.standard_normal((out_f, in_f + 7)).astype(dtype)
        b = rng.standard_normal(out_f).astype(dtype)
        for w in (wide[:, :in_f], np.ascontiguousarray(wide[:, :in_f]), np.asfortranarray(wide[:, 3:in_f + 3])):
            for m in (1, 2, 3, 4):
                x = rng.standard_normal((m, in_f)).astype(dtype)
                go = rng.standard_normal((m, out_f)).astype(dtype)
                results = []
                for nt in (1, 2, 3):
                    with fastconv.threads(nt):
                        results.append([fastconv.linear(x, w, b, batch_invariant=True), *fastconv.linear_backward(go, x, w)])
                for other in results[1:]:
                    for a, c in zip(results[0], other):
                        np.testing.assert_array_equal(a, c)
                y, gi, gw, gb = results[0]
                assert_close(y, ref.linear(x, w, b), dtype)
                for got, exp in zip((gi, gw, gb), ref.linear_grads(go, x, w)):
                    assert_close(got, exp, dtype)
                np.testing.assert_array_equal(fastconv.linear(x[m - 1], w, b, batch_invariant=True), y[m - 1])
                np.testing.assert_array_equal(fastconv.linear_backward(go[m - 1:], x[m - 1:], w)[0], gi[m - 1:])


def _guarded(shape, dtype, *, fortran=False):
    """An array whose last byte ends a page followed by an inaccessible page
    (Linux): a read past its end faults.  None where that cannot be set up."""
    import ctypes
    import mmap
    import sys
    if not sys.platform.startswith("linux"):
        return None
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    page = mmap.PAGESIZE
    span = (nbytes + page - 1) // page * page
    buf = mmap.mmap(-1, span + page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.mprotect(ctypes.c_void_p(base + span), page, 0) != 0:
        return None
    flat = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=span - nbytes).view(dtype)
    return flat.reshape(shape, order="F" if fortran else "C")    # the view keeps the mapping alive


@pytest.mark.parametrize("batch_invariant", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_streaming_never_reads_past_the_weight(isa, dtype, batch_invariant):
    """The masked tails of the few-row kernels (both modes) stay inside the
    weight: a weight ending just before an inaccessible page (the last row's
    last element the last in bounds; in_features not a multiple of a
    vector)."""
    rng = np.random.default_rng(22)
    for in_f, out_f, fortran in ((389, 37, False), (21, 5, False), (389, 37, True)):
        try:
            w = _guarded((out_f, in_f), dtype, fortran=fortran)
        except (OSError, AttributeError, TypeError, ValueError):
            w = None
        if w is None:
            pytest.skip("no guard page on this platform")
        w[...] = rng.standard_normal((out_f, in_f))
        for m in (1, 3, 4):
            x = rng.standard_normal((m, in_f)).astype(dtype)
            go = rng.standard_normal((m, out_f)).astype(dtype)
            assert_close(fastconv.linear(x, w, batch_invariant=batch_invariant), ref.linear(x, w), dtype)
            for got, exp in zip(fastconv.linear_backward(go, x, w), ref.linear_grads(go, x, w)):
                assert_close(got, exp, dtype)


def _offset_rows(rng, out_f, in_f, dtype, shift, pad):
    """A weight (out_f, in_f) that is a column slice of a wider array: its
    rows start `shift` elements into rows of in_f + pad elements."""
    wide = rng.standard_normal((out_f, in_f + pad)).astype(dtype)
    return wide[:, shift:shift + in_f]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_batch1_many_blocks(isa, dtype):
    """batch_invariant=True: a single row with at least four GEMM depth
    blocks (at AVX-512 float32
    the 8-output x 4-block kernel, lines aligned when every row shares its
    offset in a 64-byte line, masked first and last lines of each block):
    bitwise the row of a larger batch (the GEMM), the same for 1-3 threads,
    close to the NumPy reference; rows at every offset in a line, rows that
    do not share one, short last tiles, a block count not a multiple of 4."""
    rng = np.random.default_rng(23)
    for in_f, out_f in ((768, 8), (773, 13), (1000, 21), (3001, 9), (4096 + 5, 17)):
        b = rng.standard_normal(out_f).astype(dtype)
        for shift, pad in ((0, 0), (1, 15), (4, 16), (9, 16), (15, 32), (2, 7)):
            w = _offset_rows(rng, out_f, in_f, dtype, shift, pad)
            x = rng.standard_normal((6, in_f)).astype(dtype)
            full = fastconv.linear(x, w, b, batch_invariant=True)
            for i in (0, 5):
                np.testing.assert_array_equal(_linear_at_1_to_3_threads(x[i], w, b, batch_invariant=True), full[i])
            assert_close(full, ref.linear(x, w, b), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_batch1_many_blocks_never_reads_past_the_weight(isa, dtype):
    """The batch-1 many-block kernel's masked lines stay inside the weight
    (which ends just before an inaccessible page)."""
    rng = np.random.default_rng(24)
    for in_f, out_f in ((1001, 13), (800, 8), (4096 + 3, 3)):
        try:
            w = _guarded((out_f, in_f), dtype)
        except (OSError, AttributeError, TypeError, ValueError):
            w = None
        if w is None:
            pytest.skip("no guard page on this platform")
        w[...] = rng.standard_normal((out_f, in_f))
        x = rng.standard_normal(in_f).astype(dtype)
        for inv in (True, False):
            assert_close(fastconv.linear(x, w, batch_invariant=inv), ref.linear(x[None], w)[0], dtype)


@needs_torch
@pytest.mark.parametrize("batch_invariant", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_batch1_many_blocks_matches_torch(dtype, batch_invariant):
    rng = np.random.default_rng(25)
    for in_f, out_f in ((4096, 1000), (2053, 37)):
        x = rng.standard_normal((1, in_f)).astype(dtype)
        w = (rng.standard_normal((out_f, in_f)) / np.sqrt(in_f)).astype(dtype)
        b = rng.standard_normal(out_f).astype(dtype)
        expected = F.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)).numpy()
        assert_close(fastconv.linear(x, w, b, batch_invariant=batch_invariant), expected)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [((300,), 7), ((1, 300), 129), ((4, 65), 1000), ((70, 130), 33), ((2, 5, 9), 4)])
def test_linear_matches_torch(dtype, shape):
    lead_in, out_f = shape
    rng = np.random.default_rng(11)
    x = rng.standard_normal(lead_in).astype(dtype)
    w = rng.standard_normal((out_f, lead_in[-1])).astype(dtype)
    b = rng.standard_normal(out_f).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = F.linear(xt, wt, bt)
    assert_close(fastconv.linear(x, w, b), yt.detach().numpy())
    go = rng.standard_normal(yt.shape).astype(dtype)
    (yt * torch.from_numpy(go)).sum().backward()
    gi, gw, gb = fastconv.linear_backward(go, x, w)
    assert_close(gi, xt.grad.numpy())
    assert_close(gw, wt.grad.numpy())
    assert_close(gb, bt.grad.numpy())


# the default few-row path (batch_invariant=False): plain dot products

_GEMV_SIZES = [(1, 1), (15, 1), (16, 3), (17, 8), (37, 9), (389, 33), (1000, 600), (4096 + 5, 17), (300, 1041)]


def _line_offset_rows(rng, out_f, in_f, dtype, sh):
    """A weight (out_f, in_f) whose rows all start `sh` elements past a
    64-byte line (row stride a whole number of lines): the AVX-512 kernel's
    aligned-line loads."""
    per_line = 64 // np.dtype(dtype).itemsize
    ld = (in_f + per_line) // per_line * per_line
    buf = np.empty(out_f * ld + 2 * per_line, dtype)
    start = (sh - buf.ctypes.data // buf.itemsize) % per_line
    w = buf[start:start + out_f * ld].reshape(out_f, ld)[:, :in_f]
    w[...] = rng.standard_normal((out_f, in_f))
    return w


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_default_few_rows(isa, dtype):
    """batch_invariant=False (the default) for 1-16 rows at each ISA level:
    close to the NumPy reference, bitwise the same for 1, 2 and 3 threads,
    rows of any batch of 1-16 equal to the row alone (the dot products sum
    in one order whatever the batch), for in_features off a multiple of 16, a
    single output and many, weights with rows apart (a column slice) or
    transposed, and non-contiguous x."""
    rng = np.random.default_rng(31)
    for in_f, out_f in _GEMV_SIZES:
        wide = rng.standard_normal((out_f, in_f + 5)).astype(dtype)
        b = rng.standard_normal(out_f).astype(dtype)
        for w in (np.ascontiguousarray(wide[:, :in_f]), wide[:, 2:in_f + 2], np.asfortranarray(wide[:, :in_f]),
                  _line_offset_rows(rng, out_f, in_f, dtype, 0), _line_offset_rows(rng, out_f, in_f, dtype, 3)):
            for m in (1, 2, 3, 4, 7, 16):
                xw = rng.standard_normal((m, 2 * in_f)).astype(dtype)
                for x in (np.ascontiguousarray(xw[:, :in_f]), xw[:, ::2]):
                    y = _linear_at_1_to_3_threads(x, w, b)
                    assert y.dtype == dtype and y.shape == (m, out_f)
                    assert_close(y, ref.linear(x, w, b), dtype)
                    assert_close(fastconv.linear(x, w), ref.linear(x, w), dtype)
                    for i in range(m):
                        np.testing.assert_array_equal(fastconv.linear(x[i], w, b), y[i])
                    np.testing.assert_array_equal(fastconv.linear(x, w, b, batch_invariant=False), y)


def test_linear_default_same_bits_at_avx2_and_avx512():
    """float32 few rows: the AVX2 and AVX-512 dot-product kernels do the same
    operations (16 partial sums, one reduction tree), so the same bits."""
    levels = [lv for lv in ("avx2", "avx512") if lv in fastconv.available_isas()]
    if len(levels) < 2:
        pytest.skip("needs both AVX2 and AVX-512")
    rng = np.random.default_rng(32)
    previous = fastconv.get_isa()
    try:
        for in_f, out_f in _GEMV_SIZES:
            b = rng.standard_normal(out_f).astype(np.float32)
            for w in (rng.standard_normal((out_f, in_f)).astype(np.float32),
                      _line_offset_rows(rng, out_f, in_f, np.float32, 4),
                      _line_offset_rows(rng, out_f, in_f, np.float32, 15)):
                for m in (1, 2, 3, 4, 6):
                    x = rng.standard_normal((m, in_f)).astype(np.float32)
                    got = []
                    for lv in levels:
                        fastconv.set_isa(lv)
                        got.append(fastconv.linear(x, w, b))
                    np.testing.assert_array_equal(got[0], got[1])
                    fastconv.set_isa(levels[-1])
                    assert_close(got[-1], ref.linear(x, w, b), np.float32)
    finally:
        fastconv.set_isa(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_batch_invariant_true_is_the_batched_row(isa, dtype):
    """batch_invariant=True keeps the guarantee: rows of 1-16 equal the same
    rows of a batch on the GEMM, bitwise; the default stays close to them
    (and from 17 rows is the GEMM)."""
    rng = np.random.default_rng(33)
    for in_f, out_f in ((4096 + 5, 17), (389, 33), (37, 1)):
        w = rng.standard_normal((out_f, in_f)).astype(dtype)
        b = rng.standard_normal(out_f).astype(dtype)
        x = rng.standard_normal((20, in_f)).astype(dtype)
        full = fastconv.linear(x, w, b, batch_invariant=True)
        np.testing.assert_array_equal(fastconv.linear(x, w, b), full)        # 20 rows: the GEMM either way
        np.testing.assert_array_equal(fastconv.linear(x[:17], w, b), full[:17])
        for lo, hi in ((0, 1), (3, 5), (2, 5), (5, 9), (4, 20), (1, 17)):
            np.testing.assert_array_equal(fastconv.linear(x[lo:hi], w, b, batch_invariant=True), full[lo:hi])
            assert_close(fastconv.linear(x[lo:hi], w, b), full[lo:hi], dtype)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, in_f, out_f", [(1, 4096, 1000), (1, 2304, 1024), (2, 1000, 1), (3, 17, 600),
                                            (4, 4096 + 5, 33), (5, 4096, 100), (16, 300, 129)])
def test_linear_default_matches_torch(dtype, m, in_f, out_f):
    rng = np.random.default_rng(34)
    x = rng.standard_normal((m, in_f)).astype(dtype)
    w = (rng.standard_normal((out_f, in_f)) / np.sqrt(in_f)).astype(dtype)
    b = rng.standard_normal(out_f).astype(dtype)
    expected = F.linear(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)).numpy()
    assert_close(fastconv.linear(x, w, b), expected)
    assert_close(fastconv.linear(x[0], w, b), expected[0])


def test_linear_default_weight_beyond_l3():
    """A weight over 24 MiB (streamed from memory: fewer rows at a time)
    gives the bits of the same rows of a small weight, the same for 1-3
    threads and at AVX2 / AVX-512, close to the NumPy reference."""
    rng = np.random.default_rng(35)
    in_f, out_f = 6401, 1000                  # 25.6 MB of float32
    w = rng.standard_normal((out_f, in_f), dtype=np.float32)
    b = rng.standard_normal(out_f, dtype=np.float32)
    previous = fastconv.get_isa()
    try:
        for lv in [lv for lv in ("avx2", "avx512") if lv in fastconv.available_isas()]:
            fastconv.set_isa(lv)
            for m in (1, 2, 5):
                x = rng.standard_normal((m, in_f), dtype=np.float32)
                y = _linear_at_1_to_3_threads(x, w, b)
                np.testing.assert_array_equal(fastconv.linear(x, w[37:101], b[37:101]), y[:, 37:101])
                assert_close(y, ref.linear(x, w, b), np.float32)
    finally:
        fastconv.set_isa(previous)


def test_linear_batch_invariant_must_be_a_bool():
    x, w = np.ones((1, 3), np.float32), np.ones((2, 3), np.float32)
    for bad in (1, "yes", None, np.ones(2)):
        with pytest.raises(TypeError, match="batch_invariant"):
            fastconv.linear(x, w, batch_invariant=bad)
    with pytest.raises(TypeError):
        fastconv.linear(x, w, None, True)       # keyword-only


# ---------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["local", "tiled"])
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(["NCHW", "NHWC"]))
def test_backward_matches_reference(kind, data, dtype, layout):
    case = data.draw(unshared_cases(kind))
    x, w, _ = make(case, dtype)
    go = np.random.default_rng(case["seed"] + 1).standard_normal((case["n"], case["k"]) + case["out"])
    got = run_backward(kind, go.astype(dtype), x, w, layout, **kw(case))
    exp = ref_grads(kind, case, go, x, w)
    for a, e in zip(got, exp):
        assert_close(a, e, dtype)


@needs_torch
@pytest.mark.parametrize("kind", ["local", "tiled"])
@SETTINGS
@given(data=st.data(), layout=st.sampled_from(["NCHW", "NHWC"]))
def test_backward_matches_autograd(kind, data, layout):
    case = data.draw(unshared_cases(kind))
    x, w, b = make(case, np.float64)
    if b is None:
        b = np.random.default_rng(case["seed"]).standard_normal(case["k"])
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = torch_unshared(xt, wt, bt, case["stride"], case["pads"], case["dilation"], kind == "tiled")
    go = np.random.default_rng(case["seed"] + 2).standard_normal(yt.shape)
    (yt * torch.from_numpy(go)).sum().backward()
    args = dict(**kw(case), layout=layout)
    if kind == "local":
        args["shared_bias"] = b.ndim == 1
    gi, gw, gb = run_backward(kind, go, x, w, layout, **{k: v for k, v in args.items() if k != "layout"})
    assert_close(gi, xt.grad.numpy())
    assert_close(gw, wt.grad.numpy())
    assert_close(gb, bt.grad.numpy())


@needs_torch
def test_backward_matches_autograd_float32():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 6, 9, 10)).astype(np.float32)
    w = rng.standard_normal((4, 5, 11, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal((11, 4, 5)).astype(np.float32)
    args = dict(stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2))
    pads = [(1, 0), (2, 1)]
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    yt = torch_unshared(xt, wt, bt, (2, 2), pads, (1, 2), False)
    assert_close(fastconv.local_conv2d(x, w, b, **args), yt.detach().numpy())
    go = rng.standard_normal(yt.shape).astype(np.float32)
    (yt * torch.from_numpy(go)).sum().backward()
    for got, exp in zip(fastconv.local_conv2d_backward(go, x, w, **args), (xt.grad, wt.grad, bt.grad)):
        assert_close(got, exp.numpy())


@pytest.mark.parametrize("fn,layout", [("local", "NCHW"), ("local", "NHWC"), ("tiled", "NCHW"), ("tiled", "NHWC"),
                                       ("linear", None)])
def test_numerical_gradient_float64(fn, layout):
    """Directional derivatives of L = sum(go * f(x, w, b)) by central differences."""
    rng = np.random.default_rng(13)
    if fn == "linear":
        x = rng.standard_normal((3, 2, 7))
        w = rng.standard_normal((5, 7))
        b = rng.standard_normal(5)
        fwd = fastconv.linear

        def bwd(go):
            return fastconv.linear_backward(go, x, w)
    else:
        x = rng.standard_normal((2, 3, 7, 6))
        args = dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2), layout=layout)
        if layout == "NHWC":
            x = nhwc(x)
        if fn == "local":
            w = rng.standard_normal((3, 7, 4, 3, 3, 2))
            b = rng.standard_normal((4, 3, 7))
            fwd_, bwd_ = fastconv.local_conv2d, fastconv.local_conv2d_backward
        else:
            w = rng.standard_normal((3, 2, 4, 3, 3, 2))
            b = rng.standard_normal(4)
            fwd_, bwd_ = fastconv.tiled_conv2d, fastconv.tiled_conv2d_backward

        def fwd(xx, ww, bb):
            return fwd_(xx, ww, bb, **args)

        def bwd(go):
            return bwd_(go, x, w, **args)
    y = fwd(x, w, b)
    go = rng.standard_normal(y.shape)
    grads = bwd(go)

    def loss(xx, ww, bb):
        return float(np.sum(go * fwd(xx, ww, bb)))

    check_directional_gradients(loss, (x, w, b), grads, rng)


def test_numerical_gradient_elementwise():
    """Every element of the local gradients against central differences (small case)."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 2, 4, 3))
    w = rng.standard_normal((3, 2, 2, 2, 2, 2))
    b = rng.standard_normal((2, 3, 2))
    go = rng.standard_normal((2, 2, 3, 2))

    def loss():
        return float(np.sum(go * fastconv.local_conv2d(x, w, b)))

    gi, gw, gb = fastconv.local_conv2d_backward(go, x, w)
    with fastconv.threads(1):        # hundreds of tiny calls: no thread team to wake
        np.testing.assert_allclose(gi, ref.numerical_gradient(loss, x), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gw, ref.numerical_gradient(loss, w), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, ref.numerical_gradient(loss, b), rtol=1e-6, atol=1e-8)


def test_backward_needs_and_unbatched():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((2, 2, 4, 3, 2, 2))
    go = rng.standard_normal((2, 4, 4, 4))
    gi, gw, gb = fastconv.tiled_conv2d_backward(go, x, w, needs=("weight",))
    assert gi is None and gb is None and gw.shape == w.shape
    gi, gw, gb = fastconv.tiled_conv2d_backward(go, x, w, needs=("input", "bias"))
    assert gw is None and gi.shape == x.shape and gb.shape == (4,)
    gi1, gw1, gb1 = fastconv.tiled_conv2d_backward(go[:1], x[:1], w)
    gi0, gw0, gb0 = fastconv.tiled_conv2d_backward(go[0], x[0], w)
    assert gi0.shape == x.shape[1:]
    for a, c in ((gi0, gi1[0]), (gw0, gw1), (gb0, gb1)):
        np.testing.assert_array_equal(a, c)
    wl = rng.standard_normal((4, 4, 4, 3, 2, 2))
    assert fastconv.local_conv2d_backward(go, x, wl)[2].shape == (4, 4, 4)
    assert fastconv.local_conv2d_backward(go, x, wl, shared_bias=True)[2].shape == (4,)
    _, _, gbl = fastconv.linear_backward(np.ones((3, 2)), np.ones((3, 5)), np.ones((2, 5)), needs=["bias"])
    assert_close(gbl, np.full(2, 3.0))


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_thread_count_bitwise_identical(dtype, layout):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((9, 12, 13, 11)).astype(dtype)
    wl = rng.standard_normal((11, 9, 20, 12, 3, 3)).astype(dtype)
    bl = rng.standard_normal((20, 11, 9)).astype(dtype)
    wt = rng.standard_normal((3, 2, 20, 12, 3, 3)).astype(dtype)
    bt = rng.standard_normal(20).astype(dtype)
    xl = rng.standard_normal((6, 700)).astype(dtype)       # big enough for a thread team at batch 1
    ww = rng.standard_normal((1025, 700)).astype(dtype)
    bw = rng.standard_normal(1025).astype(dtype)
    if layout == "NHWC":
        x = nhwc(x)
    results = []
    for nt in (1, 2, 3):
        with fastconv.threads(nt):
            y = fastconv.local_conv2d(x, wl, bl, layout=layout)
            res = [y, *fastconv.local_conv2d_backward(np.cos(y), x, wl, layout=layout)]
            y = fastconv.tiled_conv2d(x, wt, bt, padding=1, stride=(1, 2), layout=layout)
            res += [y, *fastconv.tiled_conv2d_backward(np.cos(y), x, wt, padding=1, stride=(1, 2), layout=layout)]
            for m in (1, 6):
                y = fastconv.linear(xl[:m], ww, bw)
                res += [y, *fastconv.linear_backward(np.cos(y), xl[:m], ww)]
        results.append(res)
    for other in results[1:]:
        for a, c in zip(results[0], other):
            np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------------------
# parameter counts
# ---------------------------------------------------------------------------

def test_param_counts():
    # ten 3x3x3 filters with biases
    assert fastconv.param_count("conv2d", in_channels=3, out_channels=10, kernel_size=3) == 280
    assert fastconv.param_count("conv2d", in_channels=3, out_channels=10, kernel_size=(3, 3), bias=False) == 270
    # a locally connected layer has OH*OW times the weights of the matching convolution
    for (c, k, ks, out) in [(3, 10, 3, (30, 30)), (16, 32, (3, 5), (26, 24)), (1, 1, 1, (1, 1))]:
        conv = fastconv.param_count("conv2d", in_channels=c, out_channels=k, kernel_size=ks, bias=False)
        local = fastconv.param_count("local_conv2d", in_channels=c, out_channels=k, kernel_size=ks,
                                     output_size=out, bias=False)
        assert local == out[0] * out[1] * conv
        assert fastconv.param_count("local_conv2d", in_channels=c, out_channels=k, kernel_size=ks,
                                    output_size=out) == local + k * out[0] * out[1]
        assert fastconv.param_count("local_conv2d", in_channels=c, out_channels=k, kernel_size=ks,
                                    output_size=out, bias="shared") == local + k
        assert fastconv.param_count("tiled_conv2d", in_channels=c, out_channels=k, kernel_size=ks,
                                    tiles=(2, 3)) == 6 * conv + k
        # the counts match the arrays the layers take
        kk = ks if isinstance(ks, tuple) else (ks, ks)
        assert np.empty(out + (k, c) + kk).size == local
    # a fully connected map from a W*H image to an X*Y map has W*H*X*Y weights
    for (wd, h, xx, yy) in [(28, 28, 10, 10), (32, 24, 8, 6)]:
        assert fastconv.param_count("linear", in_features=wd * h, out_features=xx * yy, bias=False) == wd * h * xx * yy
        assert fastconv.param_count("linear", in_features=wd * h, out_features=xx * yy) == wd * h * xx * yy + xx * yy
    assert fastconv.param_count("conv2d", in_channels=4, out_channels=6, kernel_size=3, groups=2) == 6 * 2 * 9 + 6


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(layer="dense", in_features=2, out_features=3), ValueError, "layer must be one of"),
    (dict(layer="conv2d", in_channels=3, out_channels=10), ValueError, r"missing \['kernel_size'\]"),
    (dict(layer="linear", in_features=2, out_features=3, kernel_size=3), TypeError, "unexpected"),
    (dict(layer="linear", in_features=-2, out_features=3), ValueError, "in_features must be >= 0"),
    (dict(layer="conv2d", in_channels=3, out_channels=10, kernel_size=0), ValueError, "kernel_size must be >= 1"),
    (dict(layer="conv2d", in_channels=3, out_channels=10, kernel_size=3, groups=2), ValueError, "divisible"),
    (dict(layer="linear", in_features=2, out_features=3, groups=2), TypeError, "groups"),
    (dict(layer="conv2d", in_channels=3, out_channels=1, kernel_size=3, bias="shared"), ValueError, "bias must be"),
    (dict(layer="linear", in_features=2, out_features=3, bias=1.5), TypeError, "bias must be a bool"),
    (dict(layer="local_conv2d", in_channels=3, out_channels=1, kernel_size=3, output_size=(2,)), ValueError,
     "output_size"),
])
def test_param_count_errors(kwargs, exc, match):
    layer = kwargs.pop("layer")
    with pytest.raises(exc, match=match):
        fastconv.param_count(layer, **kwargs)


# ---------------------------------------------------------------------------
# invalid arguments
# ---------------------------------------------------------------------------

X = np.ones((2, 3, 6, 6))
WL = np.ones((4, 4, 5, 3, 3, 3))        # output 4 x 4 for the 6 x 6 input, 3 x 3 kernel
WT = np.ones((2, 2, 5, 3, 3, 3))


@pytest.mark.parametrize("call,match", [
    (lambda: fastconv.local_conv2d(X, np.ones((4, 4, 5, 3, 3))), r"weight must be 6-D \(OH, OW, C_out, C_in, kH, kW\)"),
    (lambda: fastconv.tiled_conv2d(X, np.ones((5, 3, 3, 3))), r"weight must be 6-D \(tH, tW"),
    (lambda: fastconv.local_conv2d(X, np.ones((3, 4, 5, 3, 3, 3))),
     r"\(OH, OW\) = \(3, 4\) does not match the output size \(4, 4\)"),
    (lambda: fastconv.local_conv2d(X, WL, stride=2), r"\(OH, OW\) = \(4, 4\) does not match the output size \(2, 2\)"),
    (lambda: fastconv.local_conv2d(X, WL, padding=1), r"does not match the output size \(6, 6\)"),
    (lambda: fastconv.local_conv2d(X, np.ones((4, 4, 5, 2, 3, 3))), r"weight.shape\[3\] = 2 input channels.*3 channels"),
    (lambda: fastconv.tiled_conv2d(np.ones((2, 6, 6, 4)), WT, layout="NHWC"),
     r"x has shape \(2, 6, 6, 4\) with 4 channels \(x.shape\[-1\] for layout NHWC\)"),
    (lambda: fastconv.tiled_conv2d(np.ones((2, 4, 6, 6)), WT), r"weight.shape\[3\] = 3 input channels.*4 channels"),
    (lambda: fastconv.tiled_conv2d(X, np.ones((0, 2, 5, 3, 3, 3))), "weight has no tiles"),
    (lambda: fastconv.local_conv2d(X, np.ones((4, 4, 5, 3, 3, 0))), "empty kernel"),
    (lambda: fastconv.local_conv2d(X, WL, np.ones((5, 4))), r"bias must have shape \(5, 4, 4\) \(C_out, OH, OW\) or \(5,\)"),
    (lambda: fastconv.local_conv2d(X, WL, np.ones(4)), r"bias must have shape"),
    (lambda: fastconv.tiled_conv2d(X, WT, np.ones((5, 4, 4))), r"bias must have shape \(5,\), got \(5, 4, 4\)"),
    (lambda: fastconv.tiled_conv2d(X, np.ones((1, 1, 5, 3, 7, 3))), "larger than the padded input"),
    (lambda: fastconv.tiled_conv2d(np.ones((3, 6)), WT), "x must be 3-D"),
    (lambda: fastconv.tiled_conv2d(X, WT, stride=0), "stride must be >= 1"),
    (lambda: fastconv.tiled_conv2d(X, WT, dilation=(1, 0)), "dilation must be >= 1"),
    (lambda: fastconv.tiled_conv2d(X, WT, padding=-1), "padding must be non-negative"),
    (lambda: fastconv.tiled_conv2d(X, WT, padding="half"), "padding must be one of"),
    (lambda: fastconv.tiled_conv2d(X, WT, layout="CHWN"), "layout must be"),
    (lambda: fastconv.local_conv2d_backward(np.ones((2, 5, 4, 3)), X, WL), r"grad_out has shape \(2, 5, 4, 3\), expected \(2, 5, 4, 4\)"),
    (lambda: fastconv.tiled_conv2d_backward(np.ones((2, 5, 5, 5)), X, WT), "grad_out has shape"),
    (lambda: fastconv.tiled_conv2d_backward(np.ones((2, 5, 4, 4)), X, WT, needs=("grad",)), "needs entries"),
    (lambda: fastconv.local_conv2d_backward(np.ones((2, 5, 4, 4)), X, np.ones((4, 3, 5, 3, 3, 3))),
     r"\(OH, OW\) = \(4, 3\) does not match the output size \(4, 4\)"),
    (lambda: fastconv.linear(np.ones((2, 3)), np.ones(3)), r"weight must be 2-D \(out_features, in_features\)"),
    (lambda: fastconv.linear(np.ones((2, 3)), np.ones((4, 5))),
     r"x has shape \(2, 3\): its last dimension 3 does not match in_features = 5"),
    (lambda: fastconv.linear(np.float64(1.0), np.ones((4, 1))), "at least one dimension"),
    (lambda: fastconv.linear(np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), r"bias must have shape \(4,\)"),
    (lambda: fastconv.linear_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((4, 3))),
     r"grad_out has shape \(2, 5\), expected \(2, 4\)"),
])
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_invalid_types():
    with pytest.raises(TypeError, match="complex"):
        fastconv.local_conv2d(X.astype(complex), WL)
    with pytest.raises(TypeError, match="complex"):
        fastconv.linear(np.ones((2, 3)), np.ones((4, 3), complex))
    with pytest.raises(TypeError):
        fastconv.tiled_conv2d(np.array([["a"]]), WT)
    with pytest.raises(TypeError, match="stride must be an integer"):
        fastconv.tiled_conv2d(X, WT, stride=1.5)
