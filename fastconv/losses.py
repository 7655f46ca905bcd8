"""Losses for the layer API (re-exported by :mod:`fastconv.layers`)."""
from __future__ import annotations

import numpy as np

__all__ = ["SoftmaxCrossEntropy"]


class SoftmaxCrossEntropy:
    """Softmax followed by the cross-entropy with integer class labels.

    ``torch.nn.CrossEntropyLoss`` on logits: ``loss = -log softmax(logits)[target]``,
    averaged over the batch (``reduction="mean"``), summed (``"sum"``) or
    returned per sample (``"none"``).  Computed from the log-sum-exp of the
    shifted logits, so large logits do not overflow.

    ``forward(logits, targets)`` (also ``__call__``) takes logits
    ``(N, classes)`` and integer targets ``(N,)`` in ``[0, classes)``;
    ``backward(grad=1.0)`` returns the gradient with respect to the logits,
    ``(softmax - onehot) * grad`` (divided by N for the mean).
    """

    def __init__(self, reduction="mean"):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"SoftmaxCrossEntropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __repr__(self):
        return f"SoftmaxCrossEntropy(reduction={self.reduction!r})"

    def __call__(self, logits, targets):
        return self.forward(logits, targets)

    def forward(self, logits, targets):
        z = np.asarray(logits)
        if z.dtype.kind != "f":
            z = z.astype(np.float64)
        t = np.asarray(targets)
        if z.ndim != 2:
            raise ValueError(f"{self!r}: expected logits of shape (N, classes), got {z.shape}")
        n, k = z.shape
        if t.shape != (n,):
            raise ValueError(f"{self!r}: expected targets of shape ({n},) for logits {z.shape}, got {t.shape}")
        if t.dtype.kind not in "iu":
            raise ValueError(f"{self!r}: targets must be integer class labels, got dtype {t.dtype}")
        if n and (t.min() < 0 or t.max() >= k):
            raise ValueError(f"{self!r}: targets must lie in [0, {k}), got values in [{t.min()}, {t.max()}]")
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        per_sample = np.log(s[:, 0]) - shifted[rows, t]
        self._cache = (e / s, t)
        if self.reduction == "none":
            return per_sample
        total = per_sample.sum()
        return float(total / n) if self.reduction == "mean" else float(total)

    def backward(self, grad=1.0):
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        p, t = self._cache
        n = p.shape[0]
        g = p.copy()
        g[np.arange(n), t] -= 1
        grad = np.asarray(grad, dtype=p.dtype)
        if self.reduction == "none":
            if grad.shape not in ((), (n,)):
                raise ValueError(f"{self!r}: grad must be a scalar or of shape ({n},), got {grad.shape}")
            return g * grad.reshape(-1, 1) if grad.ndim else g * grad
        if grad.shape != ():
            raise ValueError(f"{self!r}: grad must be a scalar for reduction={self.reduction!r}")
        scale = grad / n if self.reduction == "mean" and n else grad
        return g * scale

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = None
        return state
