"""Loss, optimisers against torch.optim, training determinism, and a shortened real training run."""
import importlib.util
import os
import pickle

import numpy as np
import pytest

import fastconv
import fastconv.layers as L
from fastconv.optim import SGD, Adam

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "train_lenet_digits.py")


def load_example():
    spec = importlib.util.spec_from_file_location("train_lenet_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- loss -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_matches_torch(torch, reduction):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)) * 3
    t = rng.integers(0, 5, 6)
    loss = L.SoftmaxCrossEntropy(reduction)
    value = loss(z, t)
    zt = torch.from_numpy(z).requires_grad_()
    vt = torch.nn.functional.cross_entropy(zt, torch.from_numpy(t), reduction=reduction)
    np.testing.assert_allclose(value, vt.detach().numpy(), rtol=1e-13, atol=1e-15)
    upstream = rng.standard_normal(6) if reduction == "none" else 1.0
    vt.backward(torch.tensor(upstream) if reduction == "none" else None)
    np.testing.assert_allclose(loss.backward(upstream), zt.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_softmax_cross_entropy_stable_and_checked():
    loss = L.SoftmaxCrossEntropy()
    assert loss(np.array([[1e4, 0.0, -1e4]]), np.array([0])) == 0.0
    assert np.isfinite(loss(np.array([[-1e4, 0.0, 1e4]]), np.array([0])))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        loss(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="integer class labels"):
        loss(np.zeros((1, 3)), np.array([0.0]))
    with pytest.raises(ValueError, match="reduction"):
        L.SoftmaxCrossEntropy("avg")


# ---- optimisers against torch.optim -------------------------------------------------------------

class Params:
    """The minimal object an optimiser steps: params and grads dicts."""

    def __init__(self, params):
        self.params = params
        self.grads = {}


def run_both(torch, make_ours, make_theirs, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"a.weight": (4, 3), "a.bias": (4,), "b.weight": (2, 3, 3)}
    init = {k: rng.standard_normal(s) for k, s in shapes.items()}
    ours = Params({k: v.copy() for k, v in init.items()})
    theirs = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in init.items()}
    opt = make_ours()
    topt = make_theirs(list(theirs.values()))
    identity = {k: id(v) for k, v in ours.params.items()}
    for _ in range(steps):
        grads = {k: rng.standard_normal(s) for k, s in shapes.items()}
        ours.grads = grads
        opt.step(ours)
        for k, p in theirs.items():
            p.grad = torch.from_numpy(grads[k].copy())
        topt.step()
    assert {k: id(v) for k, v in ours.params.items()} == identity      # updated in place
    for k in shapes:
        np.testing.assert_allclose(ours.params[k], theirs[k].detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
    return opt


@pytest.mark.parametrize("kw", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, weight_decay=1e-2),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
def test_sgd_matches_torch(torch, kw):
    run_both(torch, lambda: SGD(**kw), lambda params: torch.optim.SGD(params, **kw))


@pytest.mark.parametrize("kw", [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.003, weight_decay=0.1),
])
def test_adam_matches_torch(torch, kw):
    opt = run_both(torch, lambda: Adam(**kw), lambda params: torch.optim.Adam(params, **kw))
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.state.keys() == opt.state.keys() and clone.steps == opt.steps == 6


@pytest.mark.parametrize("make,error,words", [
    (lambda: SGD("a"), TypeError, "SGD: lr"),
    (lambda: SGD(0.1, momentum=-1), ValueError, "SGD: momentum"),
    (lambda: SGD(0.1, weight_decay=-0.5), ValueError, "SGD: weight_decay"),
    (lambda: SGD(0.1, momentum=None), TypeError, "SGD: momentum"),
    (lambda: Adam(eps=-1.0), ValueError, "Adam: eps"),
    (lambda: Adam(weight_decay=-1.0), ValueError, "Adam: weight_decay"),
    (lambda: Adam(betas=(0.9,)), TypeError, "Adam: betas"),
    (lambda: Adam(betas=0.9), TypeError, "Adam: betas"),
    (lambda: Adam(betas=(0.9, 1.0)), ValueError, "Adam: betas"),
    (lambda: L.Dropout(None), TypeError, "Dropout: p"),
    (lambda: L.BatchNorm2D(3, momentum="a"), TypeError, "BatchNorm2D: momentum"),
    (lambda: L.LocalResponseNorm(3, alpha="x"), TypeError, "LocalResponseNorm: alpha"),
    (lambda: fastconv.models.fit(L.Sequential(L.Flatten()), np.zeros((2, 3)), np.zeros(2, int), optimizer=None),
     TypeError, "fit: optimizer"),
    (lambda: fastconv.models.predict(L.Sequential(L.Flatten()), np.zeros((2, 3)), batch_size=0),
     ValueError, "predict: batch_size"),
])
def test_hyper_parameters_are_checked_by_name(make, error, words):
    """Invalid hyper-parameters raise ValueError / TypeError naming the argument (PyTorch refuses a
    negative eps or weight_decay too)."""
    with pytest.raises(error, match=words):
        make()


def test_optimiser_skips_parameters_without_gradients_and_checks_shapes():
    p = Params({"w": np.ones(3, np.float32), "frozen": np.ones(2, np.float32)})
    p.grads = {"w": np.ones(3, np.float32)}
    SGD(0.5).step(p)
    np.testing.assert_array_equal(p.params["w"], 0.5)
    np.testing.assert_array_equal(p.params["frozen"], 1.0)
    assert p.params["w"].dtype == np.float32
    p.grads = {"w": np.ones(4)}
    with pytest.raises(ValueError, match="shape"):
        Adam().step(p)
    with pytest.raises(ValueError, match="lr"):
        SGD(-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(0.1, nesterov=True)


def test_one_training_step_equals_torch(torch):
    """A whole step -- forward, loss, backward, Adam -- on LeNet-5 equals PyTorch's in float64."""
    ex = load_example()
    rng = np.random.default_rng(0)
    model = fastconv.models.lenet5(rng=0, dtype=np.float64)
    net = ex.torch_lenet5("classic").double()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    x = rng.standard_normal((8, 1, 32, 32))
    y = rng.integers(0, 10, 8)
    opt, topt = Adam(lr=1e-2), torch.optim.Adam(net.parameters(), lr=1e-2)
    loss = L.SoftmaxCrossEntropy()
    for _ in range(3):
        value = loss(model(x), y)
        model.backward(loss.backward())
        opt.step(model)
        topt.zero_grad()
        tv = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        tv.backward()
        topt.step()
        assert value == pytest.approx(tv.item(), rel=1e-12)
    for k, v in net.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)


# ---- determinism and the real training run -------------------------------------------------------

def test_training_is_deterministic_for_a_seed_and_any_thread_count():
    ex = load_example()
    x_tr, y_tr, x_te, y_te = ex.load_digits_32(seed=0)
    x_tr, y_tr = x_tr[:48], y_tr[:48]
    runs = []
    for nthreads in (2, 2, 1):
        with fastconv.threads(nthreads):
            model, opt = ex.build(seed=3)
            history = fastconv.models.fit(model, x_tr, y_tr, optimizer=opt, epochs=2, batch_size=16,
                                          rng=np.random.default_rng(4))
        runs.append((model.state_dict(), history["loss"]))
    for state, losses in runs[1:]:
        assert losses == runs[0][1]
        for k, v in state.items():
            np.testing.assert_array_equal(v, runs[0][0][k], err_msg=k)
    model, opt = ex.build(seed=5)                              # another seed, other weights
    assert not np.array_equal(model.state_dict()["0.weight"], ex.build(seed=3)[0].state_dict()["0.weight"])


def test_shortened_digits_training_beats_chance_by_far():
    """LeNet-5 (1998 layout) on 640 of the digits for 3 epochs: >= 90% on the 450 held-out images (chance: 10%)."""
    ex = load_example()
    data = ex.load_digits_32(seed=0)
    assert data[0].shape == (1347, 1, 32, 32) and data[2].shape == (450, 1, 32, 32)
    assert data[0].dtype == np.float32 and data[1].dtype == np.int64
    # one thread: the result is the same for any count (test above), and a loaded
    # machine cannot stall it at the OpenMP barriers of hundreds of tiny kernels
    with fastconv.threads(1):
        model, history, accuracy = ex.train(epochs=3, seed=0, variant="classic", n_train=640, progress=False,
                                            data=data)
        assert accuracy >= 0.90, f"held-out accuracy {accuracy:.3f}"
        assert history["loss"][-1] < history["loss"][0]
        # the same seed gives the same model
        _, again, _ = ex.train(epochs=1, seed=0, n_train=64, progress=False, data=data)
        _, again2, _ = ex.train(epochs=1, seed=0, n_train=64, progress=False, data=data)
    assert again["loss"] == again2["loss"]


def test_fit_progress_bar_and_validation():
    import io

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = L.Sequential(L.Linear(6, 8, rng=0), L.ReLU(), L.Linear(8, 2, rng=0))
    out = io.StringIO()
    history = fastconv.models.fit(model, x, y, optimizer=SGD(0.1, momentum=0.9), epochs=3, batch_size=16,
                                  rng=1, validation=(x, y), progress=out)
    text = out.getvalue()
    assert "epoch 3/3 [" in text and "val_acc" in text and text.count("\n") == 3
    assert len(history["val_accuracy"]) == 3 and history["loss"][-1] < history["loss"][0]
    assert fastconv.models.evaluate(model, x, y) == history["val_accuracy"][-1]
    assert fastconv.models.predict(model, x).shape == (40, 2)
    assert all(layer.training for _, layer in model.layers())     # evaluate restores the mode
