"""Classic architectures, a Keras-style summary, and a small training loop.

* :func:`lenet5` -- LeCun et al. (1998), or its ReLU/max-pool variant;
* :func:`alexnet` -- Krizhevsky et al. (2012): five convolutions, three fully
  connected layers, ReLU, local response normalisation and dropout;
* :func:`inception_block` -- the GoogLeNet module (Szegedy et al., 2015);
* :func:`summary` -- per layer the output shape, parameters, multiply-adds
  and receptive field, then totals;
* :func:`fit`, :func:`evaluate`, :func:`predict` -- mini-batch training and
  inference for classifiers built from :mod:`fastconv.layers`.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from ._init import as_rng, layer_dtype
from .layers import (
    AdaptiveAvgPool2D,
    AvgPool2D,
    BatchNorm2D,
    Concat,
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    Linear,
    LocalResponseNorm,
    MaxPool2D,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    Tanh,
    _Container,
    _Parallel,
    _spatial,
)

__all__ = ["lenet5", "alexnet", "inception_block", "summary", "Summary", "fit", "evaluate", "predict"]


# ---------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------

def lenet5(num_classes=10, variant="classic", *, in_channels=1, rng=None, dtype=np.float32):
    """LeNet-5 for ``(N, in_channels, 32, 32)`` inputs.

    Parameters
    ----------
    num_classes : int
    variant : {"classic", "modern"}
        ``"classic"``, the 1998 layout: C1 conv 6@5x5 -> tanh -> S2 2x2
        average pooling -> C3 conv 16@5x5 -> tanh -> S4 average pooling ->
        C5 conv 120@5x5 (1x1 output) -> tanh -> F6 fully connected 84 -> tanh
        -> output, Glorot initialisation.  ``"modern"``: the same with ReLU,
        max pooling and He initialisation.
    in_channels : int
    rng : numpy.random.Generator, int or None
    dtype : float32 or float64

    Returns
    -------
    Sequential
        Logits; train with :class:`~fastconv.layers.SoftmaxCrossEntropy`.
        61,706 parameters for 10 classes.

    Notes
    -----
    Simplifications of the paper, as in most re-implementations: S2/S4 are
    plain average pooling (the paper's had a trainable coefficient and
    bias), C3 connects to all six C1 maps (not the paper's partial table),
    the activation is plain tanh (not ``1.7159 tanh(2x/3)``) and the output
    layer is fully connected (not Euclidean RBF units).
    """
    if variant not in ("classic", "modern"):
        raise ValueError(f"lenet5: variant must be 'classic' or 'modern', got {variant!r}")
    rng = as_rng(rng)
    classic = variant == "classic"
    act = Tanh if classic else ReLU
    kw = dict(rng=rng, dtype=dtype, init="glorot" if classic else "he")

    def pool():
        return AvgPool2D(2) if classic else MaxPool2D(2)

    return Sequential(
        Conv2D(in_channels, 6, 5, **kw), act(), pool(),
        Conv2D(6, 16, 5, **kw), act(), pool(),
        Conv2D(16, 120, 5, **kw), act(),
        Flatten(),
        Linear(120, 84, **kw), act(),
        Linear(84, num_classes, rng=rng, dtype=dtype, init="glorot"),
    )


def alexnet(num_classes=1000, *, in_channels=3, lrn=True, dropout=0.5, groups=1, rng=None, dtype=np.float32):
    """AlexNet (Krizhevsky, Sutskever & Hinton, 2012) for ``(N, 3, 224, 224)`` inputs.

    ``conv 96@11x11/4 (pad 2) -> ReLU -> LRN -> max 3x3/2 -> conv 256@5x5 (pad 2)
    -> ReLU -> LRN -> max 3x3/2 -> conv 384@3x3 -> ReLU -> conv 384@3x3 -> ReLU
    -> conv 256@3x3 -> ReLU -> max 3x3/2 -> adaptive avg 6x6 -> flatten ->
    dropout -> fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU -> fc num_classes``.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    lrn : bool
        Local response normalisation after the first two convolutions
        (``size=5, alpha=1e-4, beta=0.75, k=2``, the paper's).
    dropout : float
        Dropout probability before the first two fully connected layers.
    groups : int
        2 reproduces the paper's two-GPU split of the 2nd, 4th and 5th
        convolutions (fewer parameters); 1 (default) is the one-tower layout.
    rng, dtype
        As :func:`lenet5`.

    Returns
    -------
    Sequential
        62,378,344 parameters for 1000 classes with ``groups=1``.

    Notes
    -----
    The adaptive 6x6 average pooling (as torchvision's) is the identity for
    224x224 inputs and lets other sizes through.  The paper's 224 input with
    padding 2 gives the 55x55 first maps it describes.
    """
    rng = as_rng(rng)
    kw = dict(rng=rng, dtype=dtype)

    def norm():
        return [LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if lrn else []

    return Sequential(
        Conv2D(in_channels, 96, 11, stride=4, padding=2, **kw), ReLU(), *norm(), MaxPool2D(3, 2),
        Conv2D(96, 256, 5, padding=2, groups=groups, **kw), ReLU(), *norm(), MaxPool2D(3, 2),
        Conv2D(256, 384, 3, padding=1, **kw), ReLU(),
        Conv2D(384, 384, 3, padding=1, groups=groups, **kw), ReLU(),
        Conv2D(384, 256, 3, padding=1, groups=groups, **kw), ReLU(),
        MaxPool2D(3, 2),
        AdaptiveAvgPool2D(6),
        Flatten(),
        Dropout(dropout, rng=rng), Linear(256 * 6 * 6, 4096, **kw), ReLU(),
        Dropout(dropout, rng=rng), Linear(4096, 4096, **kw), ReLU(),
        Linear(4096, num_classes, init="glorot", **kw),
    )


def inception_block(in_channels, ch1x1=64, ch3x3red=96, ch3x3=128, ch5x5red=16, ch5x5=32, pool_proj=32, *,
                    batch_norm=False, rng=None, dtype=np.float32):
    """The GoogLeNet Inception module: four branches joined on channels.

    ``1x1 conv`` | ``1x1 reduction -> 3x3 conv`` | ``1x1 reduction -> 5x5
    conv`` | ``3x3 max pool (stride 1) -> 1x1 projection``, each convolution
    followed by ReLU (and BatchNorm2D before it with ``batch_norm=True``),
    padded so every branch keeps the input's height and width.  The defaults
    are GoogLeNet's block 3a.

    Parameters
    ----------
    in_channels : int
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : int
        Channel counts of the branches.
    batch_norm : bool
    rng, dtype
        As :func:`lenet5`.

    Returns
    -------
    Concat
        Input ``(N, in_channels, H, W)``, output ``(N, ch1x1 + ch3x3 + ch5x5
        + pool_proj, H, W)``.
    """
    rng = as_rng(rng)
    dtype = layer_dtype(dtype)

    def unit(cin, cout, k):
        layers = [Conv2D(cin, cout, k, padding=k // 2, bias=not batch_norm, rng=rng, dtype=dtype)]
        if batch_norm:
            layers.append(BatchNorm2D(cout, dtype=dtype))
        return layers + [ReLU()]

    return Concat(
        Sequential(*unit(in_channels, ch1x1, 1)),
        Sequential(*unit(in_channels, ch3x3red, 1), *unit(ch3x3red, ch3x3, 3)),
        Sequential(*unit(in_channels, ch5x5red, 1), *unit(ch5x5red, ch5x5, 5)),
        Sequential(MaxPool2D(3, 1, padding=1), *unit(in_channels, pool_proj, 1)),
    )


# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------

class Summary:
    """What :func:`summary` returns: the rows (a list of dicts) and the totals.

    Each row has ``name`` (the dotted path, PyTorch style), ``type``,
    ``output_shape`` (without the batch axis), ``params``, ``flops``
    (multiply-adds for one sample) and ``receptive_field`` (a tuple with one
    size per spatial axis, or None when the input has no spatial axes).
    Iterating, ``len`` and indexing go over the rows; ``str`` is the table.
    """

    def __init__(self, rows, input_shape, total_params, buffers, total_flops, output_shape):
        self.rows = rows
        self.input_shape = tuple(input_shape)
        self.total_params = total_params
        self.trainable_params = total_params
        self.non_trainable = buffers
        self.total_flops = total_flops
        self.output_shape = tuple(output_shape)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    @property
    def receptive_field(self):
        """The receptive field of the last layer."""
        return self.rows[-1]["receptive_field"] if self.rows else None

    def __str__(self):
        header = ["Layer (type)", "Output shape", "Param #", "Mult-adds", "Receptive field"]
        body = []
        for r in self.rows:
            rf = r["receptive_field"]
            body.append([
                f"{r['name']} ({r['type']})",
                "(None, " + ", ".join(str(d) for d in r["output_shape"]) + ")",
                f"{r['params']:,}",
                f"{r['flops']:,}",
                "-" if rf is None else "x".join(str(v) for v in rf),
            ])
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
        align = ["<", "<", ">", ">", ">"]

        def line(cells):
            return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

        rule = "=" * len(line(header))
        out = [rule, line(header), rule]
        out += [line(b) for b in body]
        out += [
            rule,
            f"Input shape: (None, {', '.join(str(d) for d in self.input_shape)})",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable buffers (running statistics): {self.non_trainable:,}",
            f"Mult-adds per sample: {self.total_flops:,} ({self.total_flops / 1e6:.2f} M)",
            rule,
        ]
        return "\n".join(out)

    def __repr__(self):
        return (f"Summary({len(self.rows)} rows, total_params={self.total_params}, "
                f"total_flops={self.total_flops})")


def _rf_cell(value):
    return int(math.ceil(value - 1e-9))


def _walk(layer, name, shape, rf, rows):
    """Rows for `layer` on a batched `shape`; returns (output shape, receptive-field state)."""
    if isinstance(layer, Sequential):
        for child_name, child in layer.children():
            shape, rf = _walk(child, f"{name}.{child_name}" if name else child_name, shape, rf, rows)
        return shape, rf
    if isinstance(layer, _Parallel):
        outs, rfs = [], []
        for child_name, child in layer.children():
            o, r = _walk(child, f"{name}.{child_name}" if name else child_name, shape, rf, rows)
            outs.append(o)
            rfs.append(r)
        out = layer.output_shape(shape)
        if rf is None or any(r is None for r in rfs):
            new = None
        else:  # the union of the branches' fields: the widest, with the coarsest jump
            new = [(max(r[i][0] for r in rfs), max(r[i][1] for r in rfs), rfs[0][i][2]) for i in range(len(rf))]
        rows.append(_row(name or "(join)", layer, out, 0, 0, new))
        return out, new
    if isinstance(layer, _Container):  # a user-defined container: treat as one block
        out = layer.output_shape(shape)
        rows.append(_row(name, layer, out, layer.num_params, layer.flops(shape), rf))
        return out, rf
    out = layer.output_shape(shape)
    new = layer._receptive(rf, shape, out)
    rows.append(_row(name or type(layer).__name__.lower(), layer, out, layer.num_params, layer.flops(shape), new))
    return out, new


def _row(name, layer, out, params, flops, rf):
    return {
        "name": name,
        "type": type(layer).__name__,
        "output_shape": tuple(out[1:]),
        "params": int(params),
        "flops": int(flops),
        "receptive_field": None if rf is None else tuple(_rf_cell(r) for r, _, _ in rf),
        "layer": layer,
    }


def summary(model, input_shape, *, layout="NCHW", print_fn=print):
    """Print a Keras-style table of ``model`` for inputs of ``input_shape``; return it as data.

    Nothing is computed on data: shapes, parameter counts, multiply-adds and
    receptive fields are derived from the layers' arguments.

    Parameters
    ----------
    model : Layer
    input_shape : tuple of int
        One sample's shape, without the batch axis: ``(C, H, W)`` (or
        ``(H, W, C)``), ``(C, L)``, ``(features,)``.
    layout : {"NCHW", "NHWC", "NCL", "NLC"}
        Which axes of the input are spatial, for the receptive field.
    print_fn : callable or None
        Called with the table (a string); None prints nothing.

    Returns
    -------
    Summary
        ``rows`` (one dict per layer: ``name``, ``type``, ``output_shape``,
        ``params``, ``flops``, ``receptive_field``, ``layer``) and the totals
        ``total_params`` (trainable scalars, equal to PyTorch's
        ``sum(p.numel() for p in model.parameters())`` for the same layout),
        ``non_trainable`` (buffer scalars: running statistics),
        ``total_flops`` and ``output_shape``.

    Notes
    -----
    *Mult-adds* count one per multiply-accumulate of a convolution or fully
    connected layer (biases not counted), one per element for BatchNorm2D
    and GlobalAvgPool2D, one per window cell for average pooling and
    ``size + 1`` per element for LocalResponseNorm; max pooling, activations,
    dropout and reshapes count 0.

    The *receptive field* of a layer is the extent, in input pixels, of the
    input region one of its outputs depends on (per spatial axis, padding
    ignored): a window of kernel ``k``, dilation ``d`` on a map whose pixels
    are ``j`` input pixels apart widens it by ``d (k - 1) j``; strides
    multiply ``j``; fully connected layers and global pooling see the whole
    input.  A parallel block reports its widest branch.

    Raises
    ------
    ValueError
        When ``input_shape`` does not fit the model (the message names the layer).

    Examples
    --------
    >>> from fastconv.layers import Conv2D
    >>> s = summary(Conv2D(3, 10, 3), (3, 32, 32), print_fn=None)
    >>> s.total_params, s.rows[0]["output_shape"], s.rows[0]["receptive_field"]
    (280, (10, 30, 30), (3, 3))
    """
    if not isinstance(model, Layer):
        raise TypeError(f"summary: model must be a fastconv Layer, got {type(model).__name__}")
    sample = tuple(int(d) for d in input_shape)
    shape = (1,) + sample
    if layout not in ("NCHW", "NHWC", "NCL", "NLC"):
        raise ValueError(f"summary: layout must be 'NCHW', 'NHWC', 'NCL' or 'NLC', got {layout!r}")
    spatial = _spatial(shape, layout) if len(shape) >= 3 else ()
    rf = [(1, 1, n) for n in spatial] if spatial else None
    rows = []
    out, _ = _walk(model, "", shape, rf, rows)
    total = model.num_params
    buffers = sum(int(b.size) for k, b in model.buffers.items() if not k.endswith("num_batches_tracked"))
    flops = sum(r["flops"] for r in rows)
    result = Summary(rows, sample, total, buffers, flops, out[1:])
    if print_fn is not None:
        print_fn(str(result))
    return result


# ---------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------

class _Bar:
    """One progress line per epoch: epoch, bar, batches, running loss and accuracy."""

    def __init__(self, file, epoch, epochs, total):
        self.file, self.epoch, self.epochs, self.total = file, epoch, epochs, max(total, 1)

    def update(self, done, loss, acc, final=False, extra=""):
        width = 30
        filled = int(width * done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        self.file.write(f"\repoch {self.epoch}/{self.epochs} [{bar}] {done}/{self.total} "
                        f"loss {loss:.4f} acc {acc:.3f}{extra}")
        if final:
            self.file.write("\n")
        self.file.flush()


def fit(model, x, y, *, optimizer, epochs=1, batch_size=32, loss=None, rng=None, shuffle=True,
        validation=None, lr_schedule=None, progress=False):
    """Mini-batch training of a classifier; returns the history.

    Parameters
    ----------
    model : Layer
        Maps a batch of ``x`` to logits ``(N, classes)``.
    x : ndarray, shape (N, ...)
    y : ndarray of int, shape (N,)
    optimizer : fastconv.optim.Optimizer
    epochs, batch_size : int
    loss : SoftmaxCrossEntropy, optional
        Default: the mean softmax cross-entropy.
    rng : numpy.random.Generator, int or None
        Shuffles the samples each epoch (the same seed gives the same
        order, so training is deterministic for a seed).
    shuffle : bool
    validation : (x_val, y_val), optional
        Evaluated at the end of each epoch.
    lr_schedule : callable, optional
        ``lr_schedule(epoch)`` (epoch counted from 0) is the learning rate
        set on the optimiser at the start of each epoch.
    progress : bool or file
        A progress bar per epoch on stderr (True) or on the given file.

    Returns
    -------
    dict
        ``loss`` and ``accuracy`` (training, per epoch), ``val_accuracy``
        (when validating) and ``seconds`` (wall time per epoch).
    """
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"fit: optimizer must have a step(model) method (fastconv.optim.SGD / Adam), "
                        f"got {optimizer!r}")
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} samples, y {len(y)}")
    loss = SoftmaxCrossEntropy() if loss is None else loss
    rng = as_rng(rng)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"fit: batch_size must be >= 1, got {batch_size}")
    out = progress if hasattr(progress, "write") else (sys.stderr if progress else None)
    history = {"loss": [], "accuracy": [], "seconds": []}
    if validation is not None:
        history["val_accuracy"] = []
    n = len(x)
    nb = -(-n // batch_size)
    for epoch in range(1, int(epochs) + 1):
        model.train()
        if lr_schedule is not None:
            optimizer.lr = float(lr_schedule(epoch - 1))
        t0 = time.perf_counter()
        order = rng.permutation(n) if shuffle else np.arange(n)
        bar = _Bar(out, epoch, epochs, nb) if out else None
        total_loss, correct, seen = 0.0, 0, 0
        for b in range(nb):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            logits = model.forward(xb)
            value = loss.forward(logits, yb)
            model.backward(loss.backward())
            optimizer.step(model)
            total_loss += value * len(idx)
            correct += int(np.sum(np.argmax(logits, axis=1) == yb))
            seen += len(idx)
            if bar and (b + 1 < nb):
                bar.update(b + 1, total_loss / seen, correct / seen)
        history["seconds"].append(time.perf_counter() - t0)
        history["loss"].append(total_loss / max(seen, 1))
        history["accuracy"].append(correct / max(seen, 1))
        extra = ""
        if validation is not None:
            acc = evaluate(model, *validation)
            history["val_accuracy"].append(acc)
            extra = f" val_acc {acc:.4f}"
        if bar:
            bar.update(nb, history["loss"][-1], history["accuracy"][-1], final=True,
                       extra=f"{extra} ({history['seconds'][-1]:.2f} s)")
    return history


def predict(model, x, batch_size=256):
    """Logits of ``model`` on ``x`` in eval mode, batch by batch (the mode is restored)."""
    x = np.asarray(x)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"predict: batch_size must be an integer >= 1, got {batch_size!r}")
    was_training = [(layer, layer.training) for _, layer in model.layers()]
    model.eval()
    try:
        outs = [model.forward(x[i:i + batch_size]) for i in range(0, len(x), int(batch_size))]
    finally:
        for layer, mode in was_training:
            layer.training = mode
    return np.concatenate(outs, axis=0) if outs else np.empty((0,))


def evaluate(model, x, y, batch_size=256):
    """Classification accuracy of ``model`` on ``(x, y)`` (eval mode, restored afterwards)."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    return float(np.mean(np.argmax(predict(model, x, batch_size), axis=1) == y))
