"""Layers: every backward pass against a float64 numerical gradient and PyTorch autograd.

Each case builds a float64 layer, gives every parameter (and BatchNorm's
running statistics) random values, and checks

* the input and parameter gradients of ``loss = sum(layer(x) * r)`` against
  central differences;
* the output and the same gradients against the PyTorch expression of the
  layer (``torch.nn.functional`` where PyTorch has the layer, the defining
  formula where it does not), through autograd.

Then the conventions: errors that name the layer and the shape it expects,
backward before forward, inputs never modified, train/eval modes, dtypes,
initialisation, pickling and save/load.
"""
import pickle

import numpy as np
import pytest

import fastconv
import fastconv.layers as L
from reference_local import numerical_gradient

F64 = np.float64
EPS = 1e-6


# ---- the cases -----------------------------------------------------------------------------
# name -> (build(rng) -> layer, input shape, torch expression maker or None, options)
# The torch maker is called as make(torch, F, layer) and returns fn(x, params) -> y, where
# params maps the layer's parameter names to torch tensors.


def nhwc_wrap(torch, fn):
    """Apply an NCHW torch function to NHWC tensors."""
    return lambda x, p: fn(x.permute(0, 3, 1, 2), p).permute(0, 2, 3, 1)


def t_unshared(torch, F, layer, x, p):
    """Locally connected / tiled convolution in torch, by unfold: position (i, j) uses bank (i % tH, j % tW)."""
    lay = layer
    pad = lay.padding if isinstance(lay.padding, int) else lay.padding[0]
    oh, ow = (fastconv.conv_output_size(n, k, s, pad, d)
              for n, k, s, d in zip(x.shape[2:], lay.kernel_size, lay.stride, lay.dilation))
    cols = F.unfold(x, lay.kernel_size, dilation=lay.dilation, padding=pad, stride=lay.stride)  # (N, C*kh*kw, L)
    w = p["weight"]
    th, tw = w.shape[:2]
    ii = torch.arange(oh).repeat_interleave(ow) % th
    jj = torch.arange(ow).repeat(oh) % tw
    banks = w[ii, jj].reshape(oh * ow, w.shape[2], -1)                       # (L, K, C*kh*kw)
    y = torch.einsum("nql,lkq->nkl", cols, banks).reshape(x.shape[0], w.shape[2], oh, ow)
    if "bias" in p:
        b = p["bias"]
        y = y + (b.reshape(1, -1, 1, 1) if b.ndim == 1 else b.unsqueeze(0))
    return y


def t_stochastic_eval(torch, F, layer):
    k, s = layer.kernel_size, layer.stride

    def fn(x, p):
        total = F.avg_pool2d(x, k, s, divisor_override=1)
        squares = F.avg_pool2d(x * x, k, s, divisor_override=1)
        return squares / total
    return fn


def t_stochastic_train(torch, F, layer):
    def fn(x, p):
        idx = torch.from_numpy(layer._cache[2])
        n, c = x.shape[:2]
        return x.reshape(n, c, -1).gather(2, idx.reshape(n, c, -1)).reshape(idx.shape)
    return fn


def t_batchnorm(torch, F, layer, training):
    def fn(x, p):
        rm = torch.from_numpy(layer._bn_start["running_mean"].copy())
        rv = torch.from_numpy(layer._bn_start["running_var"].copy())
        xx = x if layer.layout == "NCHW" else x.permute(0, 3, 1, 2)
        y = F.batch_norm(xx, rm, rv, p.get("weight"), p.get("bias"), training=training, momentum=layer.momentum,
                         eps=layer.eps)
        fn.running = (rm.numpy(), rv.numpy())
        return y if layer.layout == "NCHW" else y.permute(0, 2, 3, 1)
    return fn


def seq_torch(torch, F, layer):
    def fn(x, p):
        y = F.conv2d(x, p["0.weight"], p["0.bias"], padding=1)
        y = F.max_pool2d(torch.relu(y), 2)
        return F.linear(y.flatten(1), p["4.weight"], p["4.bias"])
    return fn


def concat_torch(torch, F, layer):
    def fn(x, p):
        a = torch.relu(F.conv2d(x, p["0.0.weight"], p["0.0.bias"]))
        b = F.conv2d(x, p["1.0.weight"], p["1.0.bias"], padding=1)
        c = F.max_pool2d(x, 3, 1, padding=1)
        return torch.cat([a, b, c], dim=1)
    return fn


def add_torch(torch, F, layer):
    bn = layer[1][1]

    def fn(x, p):
        y = F.conv2d(x, p["1.0.weight"], p["1.0.bias"], padding=1)
        y = F.batch_norm(y, torch.from_numpy(bn._bn_start["running_mean"].copy()),
                         torch.from_numpy(bn._bn_start["running_var"].copy()), p["1.1.weight"], p["1.1.bias"],
                         training=True)
        return x + torch.tanh(y)
    return fn


def unpool_torch(torch, F, layer):
    def fn(x, p):
        y, i = F.max_pool2d(x, 2, return_indices=True)
        return F.max_unpool2d(y, i, 2, output_size=x.shape[-2:])
    return fn


CASES = {
    "conv2d": (lambda r: L.Conv2D(3, 4, 3, rng=r, dtype=F64), (2, 3, 6, 5),
               lambda T, F, l: lambda x, p: F.conv2d(x, p["weight"], p["bias"])),
    "conv2d_stride_pad": (lambda r: L.Conv2D(3, 4, 3, stride=2, padding=1, rng=r, dtype=F64), (2, 3, 7, 6),
                          lambda T, F, l: lambda x, p: F.conv2d(x, p["weight"], p["bias"], stride=2, padding=1)),
    "conv2d_dilation_groups": (
        lambda r: L.Conv2D(4, 6, 3, padding=2, dilation=2, groups=2, rng=r, dtype=F64), (2, 4, 7, 7),
        lambda T, F, l: lambda x, p: F.conv2d(x, p["weight"], p["bias"], padding=2, dilation=2, groups=2)),
    "conv2d_same": (lambda r: L.Conv2D(3, 2, (3, 1), padding="same", rng=r, dtype=F64), (2, 3, 5, 6),
                    lambda T, F, l: lambda x, p: F.conv2d(x, p["weight"], p["bias"], padding="same")),
    "conv2d_nhwc": (lambda r: L.Conv2D(3, 4, 3, stride=(2, 1), padding=1, layout="NHWC", rng=r, dtype=F64),
                    (2, 6, 5, 3),
                    lambda T, F, l: nhwc_wrap(T, lambda x, p: F.conv2d(x, p["weight"], p["bias"], stride=(2, 1),
                                                                        padding=1))),
    # output much smaller than the input: the layer's GEMM + col2im input gradient
    "conv2d_shrinking_nobias": (lambda r: L.Conv2D(3, 4, 5, bias=False, rng=r, dtype=F64), (2, 3, 6, 6),
                                lambda T, F, l: lambda x, p: F.conv2d(x, p["weight"])),
    "conv2d_shrinking_nhwc": (lambda r: L.Conv2D(2, 3, 4, dilation=(1, 2), layout="NHWC", rng=r, dtype=F64),
                              (2, 5, 8, 2),
                              lambda T, F, l: nhwc_wrap(T, lambda x, p: F.conv2d(x, p["weight"], p["bias"],
                                                                                  dilation=(1, 2)))),
    "conv1d": (lambda r: L.Conv1D(3, 4, 3, stride=2, padding=1, rng=r, dtype=F64), (2, 3, 9),
               lambda T, F, l: lambda x, p: F.conv1d(x, p["weight"], p["bias"], stride=2, padding=1)),
    "conv1d_nlc_same": (lambda r: L.Conv1D(3, 2, 3, padding="same", dilation=2, layout="NLC", rng=r, dtype=F64),
                        (2, 8, 3),
                        lambda T, F, l: lambda x, p: F.conv1d(x.permute(0, 2, 1), p["weight"], p["bias"],
                                                              padding="same", dilation=2).permute(0, 2, 1)),
    "conv_transpose2d": (
        lambda r: L.ConvTranspose2D(3, 4, 3, stride=2, padding=1, output_padding=1, rng=r, dtype=F64), (2, 3, 3, 4),
        lambda T, F, l: lambda x, p: F.conv_transpose2d(x, p["weight"], p["bias"], stride=2, padding=1,
                                                        output_padding=1)),
    "conv_transpose2d_groups": (
        lambda r: L.ConvTranspose2D(4, 2, 2, groups=2, dilation=2, rng=r, dtype=F64), (1, 4, 3, 3),
        lambda T, F, l: lambda x, p: F.conv_transpose2d(x, p["weight"], p["bias"], groups=2, dilation=2)),
    "locally_connected": (lambda r: L.LocallyConnected2D(3, 2, 3, (5, 6), stride=(1, 2), rng=r, dtype=F64),
                          (2, 3, 5, 6), lambda T, F, l: lambda x, p: t_unshared(T, F, l, x, p)),
    "locally_connected_shared_nhwc": (
        lambda r: L.LocallyConnected2D(2, 3, 2, (4, 4), padding=1, bias="shared", layout="NHWC", rng=r, dtype=F64),
        (2, 4, 4, 2), lambda T, F, l: nhwc_wrap(T, lambda x, p: t_unshared(T, F, l, x, p))),
    "tiled": (lambda r: L.TiledConv2D(3, 2, 3, tiles=(2, 2), padding=1, rng=r, dtype=F64), (2, 3, 5, 5),
              lambda T, F, l: lambda x, p: t_unshared(T, F, l, x, p)),
    "linear": (lambda r: L.Linear(5, 4, rng=r, dtype=F64), (3, 5),
               lambda T, F, l: lambda x, p: F.linear(x, p["weight"], p["bias"])),
    "linear_3d_nobias": (lambda r: L.Linear(5, 4, bias=False, rng=r, dtype=F64), (2, 3, 5),
                         lambda T, F, l: lambda x, p: F.linear(x, p["weight"])),
    "maxpool": (lambda r: L.MaxPool2D(2), (2, 3, 6, 6), lambda T, F, l: lambda x, p: F.max_pool2d(x, 2)),
    "maxpool_overlap_ceil": (lambda r: L.MaxPool2D(3, 2, padding=1, ceil_mode=True), (2, 2, 7, 6),
                             lambda T, F, l: lambda x, p: F.max_pool2d(x, 3, 2, padding=1, ceil_mode=True)),
    "maxpool_nhwc_eval": (lambda r: L.MaxPool2D(2, 1, dilation=2, layout="NHWC").eval(), (2, 5, 5, 3),
                          lambda T, F, l: nhwc_wrap(T, lambda x, p: F.max_pool2d(x, 2, 1, dilation=2))),
    "avgpool": (lambda r: L.AvgPool2D(3, 2, padding=1, count_include_pad=False), (2, 2, 7, 6),
                lambda T, F, l: lambda x, p: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)),
    "avgpool_ceil_nhwc": (lambda r: L.AvgPool2D(2, ceil_mode=True, layout="NHWC"), (2, 5, 5, 3),
                          lambda T, F, l: nhwc_wrap(T, lambda x, p: F.avg_pool2d(x, 2, ceil_mode=True))),
    "stochastic_pool_train": (lambda r: L.StochasticPool2D(2, rng=3), (2, 2, 6, 6), t_stochastic_train),
    "stochastic_pool_eval": (lambda r: L.StochasticPool2D(3, 1).eval(), (2, 2, 5, 5), t_stochastic_eval),
    "adaptive_avg": (lambda r: L.AdaptiveAvgPool2D((3, 2)), (2, 3, 5, 7),
                     lambda T, F, l: lambda x, p: F.adaptive_avg_pool2d(x, (3, 2))),
    "global_avg": (lambda r: L.GlobalAvgPool2D(), (2, 3, 4, 5), lambda T, F, l: lambda x, p: x.mean((2, 3))),
    "global_avg_keepdims_nhwc": (lambda r: L.GlobalAvgPool2D(keepdims=True, layout="NHWC"), (2, 4, 5, 3),
                                 lambda T, F, l: lambda x, p: x.mean((1, 2), keepdim=True)),
    "max_unpool_paired": (lambda r: _paired_unpool(), (2, 3, 6, 6), unpool_torch),
    "relu": (lambda r: L.ReLU(), (2, 3, 4, 4), lambda T, F, l: lambda x, p: T.relu(x)),
    "sigmoid": (lambda r: L.Sigmoid(), (3, 7), lambda T, F, l: lambda x, p: T.sigmoid(x)),
    "tanh": (lambda r: L.Tanh(), (2, 3, 4), lambda T, F, l: lambda x, p: T.tanh(x)),
    "softmax_channels": (lambda r: L.Softmax(), (2, 4, 3, 3), lambda T, F, l: lambda x, p: T.softmax(x, dim=1)),
    "softmax_last": (lambda r: L.Softmax(axis=-1), (3, 2, 5), lambda T, F, l: lambda x, p: T.softmax(x, dim=-1)),
    "dropout": (lambda r: L.Dropout(0.3, rng=5), (4, 3, 5),
                lambda T, F, l: lambda x, p: x * T.from_numpy(l._cache[1])),
    "dropout_eval": (lambda r: L.Dropout(0.3, rng=5).eval(), (4, 6), lambda T, F, l: lambda x, p: F.dropout(x, 0.3, False)),
    "flatten": (lambda r: L.Flatten(), (2, 3, 2, 2), lambda T, F, l: lambda x, p: x.flatten(1)),
    "identity": (lambda r: L.Identity(), (2, 3), lambda T, F, l: lambda x, p: x),
    "batchnorm_train": (lambda r: L.BatchNorm2D(3, dtype=F64), (4, 3, 3, 2),
                        lambda T, F, l: t_batchnorm(T, F, l, True)),
    "batchnorm_eval": (lambda r: L.BatchNorm2D(3, dtype=F64).eval(), (2, 3, 3, 2),
                       lambda T, F, l: t_batchnorm(T, F, l, False)),
    "batchnorm_nhwc_noaffine": (lambda r: L.BatchNorm2D(2, momentum=0.3, affine=False, layout="NHWC", dtype=F64),
                                (3, 2, 3, 2), lambda T, F, l: t_batchnorm(T, F, l, True)),
    "lrn": (lambda r: L.LocalResponseNorm(5, alpha=0.05, beta=0.75, k=2.0), (2, 7, 3, 3),
            lambda T, F, l: lambda x, p: F.local_response_norm(x, 5, alpha=0.05, beta=0.75, k=2.0)),
    "lrn_even_nhwc": (lambda r: L.LocalResponseNorm(4, alpha=0.1, beta=0.5, layout="NHWC"), (2, 3, 2, 6),
                      lambda T, F, l: nhwc_wrap(T, lambda x, p: F.local_response_norm(x, 4, alpha=0.1, beta=0.5))),
    "sequential": (lambda r: L.Sequential(L.Conv2D(2, 3, 3, padding=1, rng=r, dtype=F64), L.ReLU(), L.MaxPool2D(2),
                                          L.Flatten(), L.Linear(27, 4, rng=r, dtype=F64)),
                   (2, 2, 6, 6), seq_torch),
    "concat": (lambda r: L.Concat(L.Sequential(L.Conv2D(3, 2, 1, rng=r, dtype=F64), L.ReLU()),
                                  L.Sequential(L.Conv2D(3, 2, 3, padding=1, rng=r, dtype=F64)),
                                  L.MaxPool2D(3, 1, padding=1)),
               (2, 3, 5, 5), concat_torch),
    "add_residual": (lambda r: L.Add(L.Identity(), L.Sequential(L.Conv2D(3, 3, 3, padding=1, rng=r, dtype=F64),
                                                                L.BatchNorm2D(3, dtype=F64), L.Tanh())),
                     (2, 3, 4, 4), add_torch),
}

POSITIVE = {"stochastic_pool_train", "stochastic_pool_eval"}
RESEED = {"dropout": 5, "stochastic_pool_train": 3}


def _paired_unpool():
    pool = L.MaxPool2D(2, return_indices=True)
    return L.Sequential(pool, L.MaxUnpool2D(pool))


def setup_case(name, seed=0):
    build, shape, make_torch = CASES[name]
    rng = np.random.default_rng(seed)
    layer = build(rng)
    for _, sub in layer.layers():
        for key, value in sub._params.items():
            value[...] = rng.standard_normal(value.shape)
        if isinstance(sub, L.BatchNorm2D) and sub.track_running_stats:
            sub._buffers["running_mean"][...] = rng.standard_normal(sub.num_features)
            sub._buffers["running_var"][...] = rng.uniform(0.5, 2.0, sub.num_features)
            sub._bn_start = {k: v.copy() for k, v in sub._buffers.items()}
    x = rng.standard_normal(shape)
    if name in POSITIVE:
        x = np.abs(x) + 0.1
    return layer, x, make_torch, rng


def reseed(name, layer):
    """Layers that draw random numbers draw the same ones at every forward pass of a check."""
    if name in RESEED:
        layer.rng = np.random.default_rng(RESEED[name])


def forward(name, layer, x):
    reseed(name, layer)
    return layer.forward(x)


def numerical(name, layer, x, r):
    """Central differences of sum(layer(x) * r) for x and every parameter."""
    def loss():
        return float(np.sum(forward(name, layer, x) * r))

    def diff(arr):
        return numerical_gradient(loss, arr, EPS)

    # hundreds of tiny forward passes: one thread (results are the same for any count)
    with fastconv.threads(1):
        return diff(x), {k: diff(v) for k, v in layer.params.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_matches_numerical_gradient(name):
    layer, x, _, rng = setup_case(name)
    y = forward(name, layer, x)
    r = rng.standard_normal(y.shape)
    gx = layer.backward(r)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    nx, nparams = numerical(name, layer, x, r)
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-7, err_msg=f"{name}: input gradient")
    assert set(grads) == set(layer.params)
    for key in nparams:
        np.testing.assert_allclose(grads[key], nparams[key], rtol=1e-6, atol=1e-7, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch(name, torch):
    import torch.nn.functional as F

    layer, x, make_torch, rng = setup_case(name)
    y = forward(name, layer, x)
    r = rng.standard_normal(y.shape)
    gx = layer.backward(r)
    fn = make_torch(torch, F, layer)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    pt = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in layer.params.items()}
    yt = fn(xt, pt)
    yt.backward(torch.from_numpy(r))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name}: output")
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name}: input gradient")
    for key, value in pt.items():
        np.testing.assert_allclose(layer.grads[key], value.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name}: {key}")
    if name.startswith("batchnorm") and layer.training:
        rm, rv = fn.running
        np.testing.assert_allclose(layer.buffers["running_mean"], rm, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.buffers["running_var"], rv, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
def test_inputs_unchanged_and_output_shape(name):
    layer, x, _, rng = setup_case(name)
    x0 = x.copy()
    y = forward(name, layer, x)
    assert layer.output_shape(x.shape) == y.shape
    r = rng.standard_normal(y.shape)
    r0 = r.copy()
    gx = layer.backward(r)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(r, r0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_pickle_round_trip(name):
    layer, x, _, _ = setup_case(name)
    forward(name, layer, x)
    clone = pickle.loads(pickle.dumps(layer))
    assert all(sub._cache is None for _, sub in clone.layers())  # activations are not pickled
    np.testing.assert_array_equal(forward(name, clone, x), forward(name, layer, x))


# ---- layers PyTorch does not have as such, and special paths ------------------------------------

def test_batchnorm_running_stats_over_steps(torch):
    """momentum 0.1, unbiased running variance, several steps; momentum=None is a cumulative average."""
    rng = np.random.default_rng(1)
    for momentum in (0.1, None):
        bn = L.BatchNorm2D(3, momentum=momentum, dtype=F64)
        tbn = torch.nn.BatchNorm2d(3, momentum=momentum, dtype=torch.float64)
        for _ in range(4):
            x = rng.standard_normal((5, 3, 2, 3)) * 3 + 1
            y = bn(x)
            yt = tbn(torch.from_numpy(x))
            np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(bn.buffers[key], getattr(tbn, key).numpy(), rtol=1e-12, atol=1e-14)
        assert int(bn.buffers["num_batches_tracked"]) == int(tbn.num_batches_tracked) == 4
        bn.eval()
        tbn.eval()
        x = rng.standard_normal((2, 3, 2, 2))
        np.testing.assert_allclose(bn(x), tbn(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_max_unpool_with_explicit_indices(torch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 7))
    y, idx = fastconv.max_pool2d(x, 2, return_indices=True)
    unpool = L.MaxUnpool2D(2)
    out = unpool(y, indices=idx, output_size=(5, 7))
    g = rng.standard_normal(out.shape)
    gy = unpool.backward(g)
    yt = torch.from_numpy(y.copy()).requires_grad_()
    ot = torch.nn.functional.max_unpool2d(yt, torch.from_numpy(idx), 2, output_size=(5, 7))
    ot.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(out, ot.detach().numpy())
    np.testing.assert_array_equal(gy, yt.grad.numpy())
    with pytest.raises(RuntimeError, match="indices"):
        L.MaxUnpool2D(2)(y)
    with pytest.raises(ValueError, match="return_indices=True"):
        L.MaxUnpool2D(L.MaxPool2D(2))


def test_dropout_inverted_scaling_and_modes():
    x = np.ones((200, 100))
    d = L.Dropout(0.25, rng=0)
    y = d(x)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01                       # ~20,000 draws: 5 sigma is 0.0153 / 1.5
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(d.backward(x), y)            # gradient uses the same mask
    assert not np.array_equal(d(x), y)                          # a new mask each pass
    d.eval()
    assert d(x) is not None and np.array_equal(d(x), x)
    np.testing.assert_array_equal(L.Dropout(1.0, rng=0)(x), 0)


def test_stochastic_pool_draws_follow_the_seed():
    x = np.abs(np.random.default_rng(3).standard_normal((2, 3, 6, 6)))
    a = L.StochasticPool2D(2, rng=11)(x)
    b = L.StochasticPool2D(2, rng=11)(x)
    np.testing.assert_array_equal(a, b)


def test_softmax_stable_for_large_logits():
    y = L.Softmax(axis=-1)(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])


def test_sigmoid_no_overflow():
    with np.errstate(over="raise"):
        y = L.Sigmoid()(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])


# ---- conventions -------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, bad, expected", [
    (L.Conv2D(3, 10, 3), np.zeros((2, 4, 8, 8)), r"\(N, 3, H, W\)"),
    (L.Conv2D(3, 10, 3, layout="NHWC"), np.zeros((2, 8, 8, 4)), r"\(N, H, W, 3\)"),
    (L.Conv2D(3, 10, 3), np.zeros((3, 8, 8)), r"\(N, 3, H, W\)"),
    (L.Conv1D(2, 4, 3), np.zeros((1, 3, 9)), r"\(N, 2, L\)"),
    (L.ConvTranspose2D(2, 4, 3), np.zeros((1, 3, 5, 5)), r"\(N, 2, H, W\)"),
    (L.LocallyConnected2D(2, 4, 3, (6, 6)), np.zeros((1, 2, 7, 6)), r"\(N, 2, 6, 6\)"),
    (L.TiledConv2D(2, 4, 3, 2), np.zeros((1, 3, 7, 6)), r"\(N, 2, H, W\)"),
    (L.Linear(120, 84), np.zeros((4, 100)), r"\(N, 120\)"),
    (L.BatchNorm2D(6), np.zeros((2, 5, 3, 3)), r"\(N, 6, H, W\)"),
    (L.MaxPool2D(2), np.zeros((2, 3, 4)), r"\(N, C, H, W\)"),
    (L.AvgPool2D(2), np.zeros((2, 3, 4)), r"\(N, C, H, W\)"),
    (L.LocalResponseNorm(5), np.zeros((4, 6)), r"\(N, C, H, W\)"),
])
def test_wrong_input_names_the_layer_and_shape(layer, bad, expected):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"^{name}\(.*expected an input of shape {expected}"):
        layer(bad)


def test_too_small_input_names_the_layer():
    with pytest.raises(ValueError, match=r"^Conv2D\(1, 6, kernel_size=\(5, 5\)\).*kernel"):
        L.Conv2D(1, 6, 5)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^Sequential|^Conv2D\(6, 16"):
        fastconv.models.lenet5().forward(np.zeros((1, 1, 12, 12)))
    with pytest.raises(ValueError, match=r"^MaxPool2D"):
        L.MaxPool2D(3)(np.zeros((1, 1, 2, 2)))


def test_wrong_grad_shape_names_the_layer():
    layer = L.Conv2D(2, 3, 3)
    y = layer(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"^Conv2D\(2, 3"):
        layer.backward(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"^ReLU"):
        relu = L.ReLU()
        relu(y)
        relu.backward(np.zeros((2, 2)))


def test_relu_gradient_at_nan_and_zero_like_torch(torch):
    """ReLU's gradient passes where the output is NaN and is 0 at 0 (autograd blocks it only where
    the output is <= 0)."""
    x = np.array([[np.nan, 1.0, -1.0, 0.0, -0.0, np.inf, -np.inf]])
    g = np.arange(1.0, 8.0)[None]
    relu = L.ReLU()
    relu.forward(x)
    t = torch.tensor(x, requires_grad=True)
    torch.relu(t).backward(torch.tensor(g))
    np.testing.assert_array_equal(relu.backward(g), t.grad.numpy())


@pytest.mark.parametrize("layer", [
    L.Conv2D(1, 2, 3), L.Conv1D(1, 2, 3), L.ConvTranspose2D(1, 2, 3), L.LocallyConnected2D(1, 2, 3, (4, 4)),
    L.TiledConv2D(1, 2, 3, 2), L.Linear(3, 2), L.MaxPool2D(2), L.AvgPool2D(2), L.StochasticPool2D(2),
    L.AdaptiveAvgPool2D(2), L.GlobalAvgPool2D(), L.MaxUnpool2D(2), L.ReLU(), L.Sigmoid(), L.Tanh(),
    L.Softmax(), L.Dropout(), L.Flatten(), L.Identity(), L.BatchNorm2D(2), L.LocalResponseNorm(3),
    L.Sequential(L.ReLU()), L.Concat(L.ReLU()), L.Add(L.ReLU()), L.SoftmaxCrossEntropy(),
])
def test_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match="backward.*before forward"):
        layer.backward(np.zeros((1, 2, 3, 3)))


def test_dtypes_float32_default_and_float64_on_request():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    for layer in (L.Conv2D(3, 4, 3), L.Linear(6, 2), L.BatchNorm2D(3), L.ConvTranspose2D(3, 2, 2)):
        assert all(p.dtype == np.float32 for p in layer.params.values())
    c32 = L.Conv2D(3, 4, 3, rng=0)
    assert c32(x).dtype == np.float32                                    # input converted to the layer's dtype
    assert c32.backward(np.ones((2, 4, 4, 4), np.float32)).dtype == np.float32
    assert c32.grads["weight"].dtype == np.float32
    c64 = L.Conv2D(3, 4, 3, rng=0, dtype=np.float64)
    assert c64(x.astype(np.float32)).dtype == np.float64
    assert L.ReLU()(np.arange(3)).dtype == np.float64                    # integers compute in float64
    assert L.Sequential(L.Conv2D(3, 4, 3), L.ReLU())(x).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        L.Conv2D(3, 4, 3, dtype=np.float16)
    with pytest.raises(TypeError, match="complex"):
        L.ReLU()(np.ones(3, complex))


def test_initialisation_follows_rng_and_fans():
    a = L.Conv2D(64, 128, 3, rng=1)
    b = L.Conv2D(64, 128, 3, rng=1)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, L.Conv2D(64, 128, 3, rng=2).weight)
    np.testing.assert_array_equal(a.bias, 0)
    fan_in, fan_out = 64 * 9, 128 * 9
    assert abs(a.weight.std() / np.sqrt(2 / fan_in) - 1) < 0.02               # He normal, 73,728 draws
    g = L.Conv2D(64, 128, 3, rng=1, init="glorot").weight
    bound = np.sqrt(6 / (fan_in + fan_out))
    assert g.min() >= -bound and g.max() <= bound and abs(g.std() / (bound / np.sqrt(3)) - 1) < 0.02
    lin = L.Linear(500, 400, rng=np.random.default_rng(3), init="he_uniform")
    assert abs(lin.weight.max() - np.sqrt(6 / 500)) < 1e-3
    custom = L.Linear(2, 3, init=lambda shape, rng: np.full(shape, 0.5))
    np.testing.assert_array_equal(custom.weight, 0.5)
    with pytest.raises(ValueError, match="init must be"):
        L.Linear(2, 3, init="xavier-ish")


def test_train_eval_modes_propagate():
    model = L.Sequential(L.Conv2D(1, 2, 3), L.BatchNorm2D(2), L.Concat(L.Dropout(), L.ReLU()))
    assert model.eval() is model
    assert all(not layer.training for _, layer in model.layers())
    model.train()
    assert all(layer.training for _, layer in model.layers())


def test_params_grads_names_and_zero_grad():
    model = L.Sequential(L.Conv2D(1, 2, 3, rng=0), L.ReLU(), L.Flatten(),
                         L.Concat(L.Linear(8, 3, rng=0), L.Linear(8, 2, bias=False, rng=0)))
    assert list(model.params) == ["0.weight", "0.bias", "3.0.weight", "3.0.bias", "3.1.weight"]
    assert model.num_params == 2 * 9 + 2 + 8 * 3 + 3 + 8 * 2
    y = model(np.ones((2, 1, 4, 4)))
    assert y.shape == (2, 5)
    model.backward(np.ones_like(y))
    assert list(model.grads) == list(model.params)
    assert all(model.grads[k].shape == v.shape for k, v in model.params.items())
    model.zero_grad()
    assert model.grads == {}
    assert model["3"][1] is model[3][1]


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    model = L.Sequential(L.Conv2D(3, 4, 3, rng=rng), L.BatchNorm2D(4), L.ReLU(), L.Flatten(),
                         L.Linear(4 * 4 * 4, 5, rng=rng))
    x = rng.standard_normal((6, 3, 6, 6)).astype(np.float32)
    model(x)                                          # moves the running statistics
    model.eval()
    expected = model(x)
    path = tmp_path / "model.npz"
    model.save(path)
    other = L.Sequential(L.Conv2D(3, 4, 3, rng=9), L.BatchNorm2D(4), L.ReLU(), L.Flatten(),
                         L.Linear(4 * 4 * 4, 5, rng=9)).eval()
    weight = other[0].weight
    assert not np.array_equal(other(x), expected)
    assert other.load(path) is other
    assert other[0].weight is weight                  # loaded in place
    np.testing.assert_array_equal(other(x), expected)
    assert int(other[1].buffers["num_batches_tracked"]) == 1
    with np.load(path) as data:
        assert sorted(data.files) == sorted(model.state_dict())
    model.save(tmp_path / "bare")                     # NumPy adds .npz; load finds it
    np.testing.assert_array_equal(other.load(tmp_path / "bare")(x), expected)
    wrong = L.Sequential(L.Conv2D(3, 4, 3), L.BatchNorm2D(4), L.ReLU(), L.Flatten(), L.Linear(64, 6))
    with pytest.raises(ValueError, match="shape"):
        wrong.load(path)
    with pytest.raises(KeyError, match="missing"):
        L.Sequential(L.Conv2D(3, 4, 3)).load(path)


def test_state_dict_arrays_are_the_parameters():
    layer = L.Linear(3, 2)
    assert layer.state_dict()["weight"] is layer.weight
    layer.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    np.testing.assert_array_equal(layer.weight, 1)
    assert layer.weight.dtype == np.float32


def test_repr_reads_like_the_constructor():
    assert repr(L.Conv2D(3, 10, 3, stride=2, padding="same")) == \
        "Conv2D(3, 10, kernel_size=(3, 3), stride=(2, 2), padding='same')"
    assert repr(L.Linear(4, 2, bias=False)) == "Linear(4, 2, bias=False)"
    assert "(1): ReLU()" in repr(L.Sequential(L.Identity(), L.ReLU()))
