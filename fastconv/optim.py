"""Optimisers for the layer API: SGD (with momentum) and Adam.

An optimiser is built from its hyper-parameters alone and updates a model in
place::

    opt = fastconv.optim.SGD(lr=0.01, momentum=0.9)
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    opt.step(model)

``step(model)`` reads ``model.params`` and ``model.grads`` (any object with
those two dicts of arrays) and updates every parameter that has a gradient,
in place, so references to the arrays stay valid.  The per-parameter state
(momentum buffers, Adam's moments) is keyed by parameter name: use one
optimiser per model.  The arithmetic follows ``torch.optim.SGD`` and
``torch.optim.Adam`` step for step (defaults included), so both give the
same parameters from the same gradients.  Optimisers pickle.
"""
from __future__ import annotations

import math

import numpy as np

from ._validate import real

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: hyper-parameters, per-parameter state, the loop over parameters."""

    def __init__(self, lr):
        lr = real(lr, f"{type(self).__name__}: lr")
        if not lr >= 0.0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = lr
        self.state = {}
        self.steps = 0

    def step(self, model):
        """Update ``model``'s parameters from its gradients, in place."""
        params, grads = model.params, model.grads
        for name, p in params.items():
            g = grads.get(name)
            if g is None:
                continue
            if g.shape != p.shape:
                raise ValueError(f"{type(self).__name__}: gradient of {name!r} has shape {g.shape}, "
                                 f"the parameter {p.shape}")
            self._update(name, p, np.asarray(g, dtype=p.dtype))
        self.steps += 1

    def zero_state(self):
        """Forget the momentum buffers / moments."""
        self.state.clear()
        self.steps = 0

    def _update(self, name, p, g):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay (``torch.optim.SGD``).

    Parameters
    ----------
    lr : float
        Learning rate.
    momentum : float
        0 for plain SGD.  The buffer starts as the first gradient:
        ``b = g`` then ``b = momentum * b + (1 - dampening) * g``.
    weight_decay : float
        Adds ``weight_decay * p`` to the gradient.
    dampening : float
    nesterov : bool
        Step along ``g + momentum * b`` instead of ``b``.
    """

    def __init__(self, lr, momentum=0.0, weight_decay=0.0, *, dampening=0.0, nesterov=False):
        super().__init__(lr)
        self.momentum = real(momentum, "SGD: momentum")
        self.weight_decay = real(weight_decay, "SGD: weight_decay")
        self.dampening = real(dampening, "SGD: dampening")
        self.nesterov = bool(nesterov)
        if not self.momentum >= 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {self.momentum}")
        if not self.weight_decay >= 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {self.weight_decay}")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")

    def __repr__(self):
        return (f"SGD(lr={self.lr}, momentum={self.momentum}, weight_decay={self.weight_decay}"
                + (f", dampening={self.dampening}" if self.dampening else "")
                + (", nesterov=True" if self.nesterov else "") + ")")

    def _update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.state.get(name)
            if buf is None:
                buf = self.state[name] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) as ``torch.optim.Adam`` computes it.

    Parameters
    ----------
    lr : float
        Default 1e-3.
    betas : (float, float)
        Decay rates of the first and second moments, default (0.9, 0.999).
    eps : float
        Added to the bias-corrected root of the second moment, default 1e-8.
    weight_decay : float
        L2 penalty added to the gradient (not AdamW's decoupled decay).

    Each step: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair of real numbers, got {betas!r}")
        b1, b2 = (real(b, "Adam: betas") for b in betas)
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas!r}")
        self.betas = (b1, b2)
        self.eps = real(eps, "Adam: eps")
        self.weight_decay = real(weight_decay, "Adam: weight_decay")
        if not self.eps >= 0:
            raise ValueError(f"Adam: eps must be >= 0, got {self.eps}")
        if not self.weight_decay >= 0:
            raise ValueError(f"Adam: weight_decay must be >= 0, got {self.weight_decay}")

    def __repr__(self):
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, weight_decay={self.weight_decay})"

    def _update(self, name, p, g):
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * p
        st = self.state.get(name)
        if st is None:
            st = self.state[name] = {"t": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)}
        st["t"] += 1
        t, m, v = st["t"], st["m"], st["v"]
        m += (1 - b1) * (g - m)  # torch's lerp: m + (1 - b1) * (g - m)
        v *= b2
        v += (1 - b2) * g * g
        step_size = self.lr / (1 - b1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
        p -= step_size * (m / denom)
