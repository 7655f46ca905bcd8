"""Model builders, summary() against hand-derived figures, and from_torch against PyTorch models."""
import numpy as np
import pytest

import fastconv
import fastconv.layers as L
from fastconv.models import alexnet, inception_block, lenet5


# ---- PyTorch twins of the models ----------------------------------------------------------------

def torch_lenet5_sequential(nn, variant="classic"):
    act = nn.Tanh if variant == "classic" else nn.ReLU
    pool = nn.AvgPool2d if variant == "classic" else nn.MaxPool2d
    return nn.Sequential(nn.Conv2d(1, 6, 5), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2),
                         nn.Conv2d(16, 120, 5), act(), nn.Flatten(), nn.Linear(120, 84), act(), nn.Linear(84, 10))


def torch_lenet5_module(torch):
    """LeNet-5 as a module with named attributes: from_torch must match it by order."""
    nn, F = torch.nn, torch.nn.functional

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 6, 5)
            self.c3 = nn.Conv2d(6, 16, 5)
            self.c5 = nn.Conv2d(16, 120, 5)
            self.f6 = nn.Linear(120, 84)
            self.out = nn.Linear(84, 10)

        def forward(self, x):
            x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
            x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)
            x = torch.tanh(self.c5(x)).flatten(1)
            return self.out(torch.tanh(self.f6(x)))

    return LeNet5()


def torch_alexnet(nn, num_classes=1000, groups=1, device=None):
    kw = {"device": device}
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=2, **kw), nn.ReLU(), nn.LocalResponseNorm(5, k=2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=groups, **kw), nn.ReLU(), nn.LocalResponseNorm(5, k=2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1, **kw), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=groups, **kw), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=groups, **kw), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(6), nn.Flatten(),
        nn.Dropout(), nn.Linear(9216, 4096, **kw), nn.ReLU(),
        nn.Dropout(), nn.Linear(4096, 4096, **kw), nn.ReLU(),
        nn.Linear(4096, num_classes, **kw),
    )


def torch_inception(torch, cin, c1, c3r, c3, c5r, c5, pp, batch_norm=False):
    nn = torch.nn

    def unit(i, o, k):
        layers = [nn.Conv2d(i, o, k, padding=k // 2, bias=not batch_norm)]
        return layers + ([nn.BatchNorm2d(o)] if batch_norm else []) + [nn.ReLU()]

    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch1 = nn.Sequential(*unit(cin, c1, 1))
            self.branch2 = nn.Sequential(*unit(cin, c3r, 1), *unit(c3r, c3, 3))
            self.branch3 = nn.Sequential(*unit(cin, c5r, 1), *unit(c5r, c5, 5))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), *unit(cin, pp, 1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    return Inception()


def randomise_torch(torch, module, seed=0):
    """Non-trivial parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen, dtype=b.dtype) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen, dtype=b.dtype) + 0.5)
    return module


# ---- builders -------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["classic", "modern"])
def test_lenet5_layout_and_parameter_count(variant, torch):
    model = lenet5(10, variant=variant, rng=0)
    x = np.zeros((3, 1, 32, 32), np.float32)
    assert model(x).shape == (3, 10)
    tmodel = torch_lenet5_sequential(torch.nn, variant)
    assert model.num_params == sum(p.numel() for p in tmodel.parameters()) == 61706
    kinds = [type(layer).__name__ for layer in model]
    assert kinds.count("Conv2D") == 3 and kinds.count("Linear") == 2
    assert ("AvgPool2D" in kinds) == (variant == "classic") and ("Tanh" in kinds) == (variant == "classic")
    with pytest.raises(ValueError, match="variant"):
        lenet5(variant="1989")


def test_inception_block_shapes():
    block = inception_block(8, 4, 3, 5, 2, 3, 6, rng=0)
    assert block(np.ones((2, 8, 7, 9), np.float32)).shape == (2, 4 + 5 + 3 + 6, 7, 9)
    bn = inception_block(8, 4, 3, 5, 2, 3, 6, batch_norm=True, rng=0)
    assert sum(isinstance(layer, L.BatchNorm2D) for _, layer in bn.layers()) == 6      # one per convolution
    assert "bias" not in bn[0][0].params
    default = inception_block(192, rng=0)                       # GoogLeNet 3a: 64 + 128 + 32 + 32
    assert default.output_shape((1, 192, 28, 28)) == (1, 256, 28, 28)


@pytest.fixture(scope="module")
def alexnet_model():
    return alexnet(1000, rng=0)


def test_alexnet_parameter_count_equals_torch(alexnet_model, torch):
    nn = torch.nn
    tnet = torch_alexnet(nn, device="meta")                     # shapes only, nothing allocated
    expected = sum(p.numel() for p in tnet.parameters())
    assert alexnet_model.num_params == expected == 62_378_344
    s = fastconv.summary(alexnet_model, (3, 224, 224), print_fn=None)
    assert s.total_params == expected
    assert s.output_shape == (1000,)
    assert [r["output_shape"] for r in s if r["type"] == "Conv2D"] == \
        [(96, 55, 55), (256, 27, 27), (384, 13, 13), (384, 13, 13), (256, 13, 13)]
    kinds = [type(layer).__name__ for layer in alexnet_model]
    assert kinds.count("Conv2D") == 5 and kinds.count("Linear") == 3
    assert kinds.count("LocalResponseNorm") == 2 and kinds.count("Dropout") == 2
    two_towers = sum(p.numel() for p in torch_alexnet(nn, 10, groups=2, device="meta").parameters())
    assert alexnet(10, groups=2, rng=0).num_params == two_towers


def test_alexnet_forward_small_input(alexnet_model):
    model = alexnet_model.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 67, 67)).astype(np.float32)
    assert model(x).shape == (1, 1000)
    assert model.output_shape(x.shape) == (1, 1000)
    model.train()


# ---- summary -------------------------------------------------------------------------------------

def test_summary_conv_3x3x3x10_has_280_parameters():
    s = fastconv.summary(L.Conv2D(3, 10, 3), (3, 32, 32), print_fn=None)
    assert s.total_params == 280 == 3 * 3 * 3 * 10 + 10
    assert len(s) == 1
    row = s[0]
    assert row["params"] == 280
    assert row["output_shape"] == (10, 30, 30)
    assert row["flops"] == 10 * 30 * 30 * 27
    assert row["receptive_field"] == (3, 3)


def test_summary_three_stacked_1d_convs_see_7():
    model = L.Sequential(L.Conv1D(1, 4, 3), L.Conv1D(4, 4, 3), L.Conv1D(4, 1, 3))
    s = fastconv.summary(model, (1, 32), layout="NCL", print_fn=None)
    assert [r["receptive_field"] for r in s] == [(3,), (5,), (7,)]
    assert s.receptive_field == (7,)
    assert s.total_params == (4 * 3 + 4) + (16 * 3 + 4) + (4 * 3 + 1)


def test_summary_receptive_field_with_strides_and_dilation():
    model = L.Sequential(L.Conv2D(1, 2, 3, stride=2), L.MaxPool2D(2), L.Conv2D(2, 2, 3, dilation=2),
                         L.GlobalAvgPool2D())
    s = fastconv.summary(model, (1, 64, 64), print_fn=None)
    # 3; + (2-1)*2 = 4; jump 4: + 2*(3-1)*4 = 20; global over the 11 positions left: + 10 * 4
    assert [r["receptive_field"] for r in s] == [(3, 3), (5, 5), (21, 21), (61, 61)]


def test_summary_lenet5_rows_are_hand_derived():
    lines = []
    s = fastconv.summary(lenet5(rng=0), (1, 32, 32), print_fn=lines.append)
    expected = [  # output shape, params, multiply-adds
        ((6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25),
        ((6, 28, 28), 0, 0),
        ((6, 14, 14), 0, 6 * 14 * 14 * 4),
        ((16, 10, 10), 16 * 6 * 25 + 16, 16 * 10 * 10 * 150),
        ((16, 10, 10), 0, 0),
        ((16, 5, 5), 0, 16 * 5 * 5 * 4),
        ((120, 1, 1), 120 * 400 + 120, 120 * 400),
        ((120, 1, 1), 0, 0),
        ((120,), 0, 0),
        ((84,), 120 * 84 + 84, 120 * 84),
        ((84,), 0, 0),
        ((10,), 84 * 10 + 10, 840),
    ]
    assert [(r["output_shape"], r["params"], r["flops"]) for r in s] == expected
    assert s.total_params == 61706
    assert s.total_flops == sum(f for _, _, f in expected)
    assert [r["receptive_field"] for r in s][:7] == [(5, 5), (5, 5), (6, 6), (14, 14), (14, 14), (16, 16), (32, 32)]
    table = lines[0]
    assert "Total params: 61,706" in table
    assert "0 (Conv2D)" in table and "(None, 6, 28, 28)" in table
    assert str(s) == table


def test_summary_shapes_match_forward_passes():
    rng = np.random.default_rng(0)
    for model, shape in [(lenet5(rng=0), (1, 32, 32)), (inception_block(6, 2, 2, 3, 1, 2, 2, rng=0), (6, 9, 7)),
                         (L.Sequential(L.Conv2D(3, 4, 3, padding="same", stride=2, layout="NHWC"),
                                       L.BatchNorm2D(4, layout="NHWC"), L.GlobalAvgPool2D(layout="NHWC")),
                          (11, 10, 3))]:
        s = fastconv.summary(model, shape, print_fn=None)
        x = rng.standard_normal((2,) + shape).astype(np.float32)
        assert model(x).shape[1:] == s.output_shape


def test_summary_parallel_blocks_and_buffers():
    block = inception_block(8, 4, 3, 5, 2, 3, 6, batch_norm=True, rng=0)
    s = fastconv.summary(block, (8, 10, 10), print_fn=None)
    assert s.total_params == block.num_params
    assert s.non_trainable == 2 * (4 + 3 + 5 + 2 + 3 + 6)        # running mean and variance
    join = s[-1]
    assert join["type"] == "Concat" and join["output_shape"] == (18, 10, 10)
    assert join["receptive_field"] == (5, 5)                     # the 5x5 branch
    assert {r["name"] for r in s} >= {"0.0", "1.3", "3.0"}


def test_summary_rejects_a_wrong_input_shape():
    with pytest.raises(ValueError, match=r"Conv2D\(1, 6.*\(N, 1, H, W\)"):
        fastconv.summary(lenet5(), (3, 32, 32), print_fn=None)
    with pytest.raises(ValueError, match=r"^Linear\(120, 84\)"):
        fastconv.summary(L.Sequential(L.Flatten(), L.Linear(120, 84)), (100,), print_fn=None)


# ---- from_torch -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_from_torch_lenet5_sequential(torch, dtype, tol):
    tnet = randomise_torch(torch, torch_lenet5_sequential(torch.nn).double(), seed=1)
    model = L.from_torch(lenet5(rng=0, dtype=dtype), tnet.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32))
    expected = tnet(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model(x.astype(dtype)), expected, rtol=tol, atol=tol)


def test_from_torch_lenet5_module_by_order(torch):
    tnet = randomise_torch(torch, torch_lenet5_module(torch).double(), seed=2)
    state = tnet.state_dict()
    assert list(state)[0] == "c1.weight"                        # names differ from the model's
    model = L.from_torch(lenet5(rng=0, dtype=np.float64), {k: v.numpy() for k, v in state.items()})
    x = np.random.default_rng(1).standard_normal((3, 1, 32, 32))
    np.testing.assert_allclose(model(x), tnet(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    # the module itself is accepted too, and the gradients then match as well
    model = L.from_torch(lenet5(rng=0, dtype=np.float64), tnet)
    xt = torch.from_numpy(x).requires_grad_()
    yt = tnet(xt)
    g = np.random.default_rng(2).standard_normal(yt.shape)
    yt.backward(torch.from_numpy(g))
    model(x)
    np.testing.assert_allclose(model.backward(g), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.grads["6.weight"], tnet.c5.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_from_torch_inception_block(torch, batch_norm):
    args = (6, 3, 2, 4, 2, 3, 2)
    tblock = randomise_torch(torch, torch_inception(torch, *args, batch_norm=batch_norm).double(), seed=3)
    block = L.from_torch(inception_block(*args, batch_norm=batch_norm, rng=0, dtype=np.float64),
                         tblock.state_dict())
    x = np.random.default_rng(3).standard_normal((2, 6, 7, 8))
    for mode in ("eval", "train"):
        getattr(block, mode)()
        getattr(tblock, mode)()
        expected = tblock(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(block(x), expected, rtol=1e-12, atol=1e-12)
    if batch_norm:
        np.testing.assert_allclose(block[2][1].buffers["running_var"], tblock.branch3[1].running_var.numpy(),
                                   rtol=1e-12)


def test_from_torch_residual_block(torch):
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(x + y)

    c = 4
    tblock = randomise_torch(torch, Residual(c).double(), seed=4)
    body = L.Sequential(L.Conv2D(c, c, 3, padding=1, bias=False, dtype=np.float64), L.BatchNorm2D(c, dtype=np.float64),
                        L.ReLU(), L.Conv2D(c, c, 3, padding=1, bias=False, dtype=np.float64),
                        L.BatchNorm2D(c, dtype=np.float64))
    block = L.from_torch(L.Sequential(L.Add(L.Identity(), body), L.ReLU()), tblock.state_dict())
    x = np.random.default_rng(4).standard_normal((3, c, 5, 5))
    for mode in ("eval", "train"):
        getattr(block, mode)()
        getattr(tblock, mode)()
        xt = torch.from_numpy(x).requires_grad_()
        yt = tblock(xt)
        g = np.random.default_rng(5).standard_normal(yt.shape)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(block(x), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(block.backward(g), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(block.grads["0.1.0.weight"], tblock.conv1.weight.grad.numpy(),
                                   rtol=1e-10, atol=1e-12)
        tblock.zero_grad()


def test_from_torch_mismatch_is_a_clear_error(torch):
    nn = torch.nn
    wrong = nn.Sequential(nn.Conv2d(1, 6, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                          nn.AvgPool2d(2), nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(), nn.Linear(120, 84),
                          nn.Tanh(), nn.Linear(84, 10))
    with pytest.raises(ValueError, match=r"from_torch: '0.weight' has shape \(6, 1, 3, 3\)"):
        L.from_torch(lenet5(), wrong.state_dict())
    with pytest.raises(ValueError, match="modules with parameters"):
        L.from_torch(lenet5(), nn.Sequential(nn.Linear(3, 4)).state_dict())


def test_models_pickle_without_activations():
    import pickle

    model = lenet5(variant="modern", rng=0)
    x = np.random.default_rng(0).standard_normal((64, 1, 32, 32)).astype(np.float32)
    y = model(x)
    model.backward(np.ones_like(y))
    blob = pickle.dumps(model)
    # parameters and their gradients (2 x 4 bytes each), not the ~1.5 MB of cached activations
    assert len(blob) < 2 * model.num_params * 4 + 100_000
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone(x), model(x))
    clone.backward(np.ones_like(y))
    for k, v in model.grads.items():
        np.testing.assert_array_equal(clone.grads[k], v)
