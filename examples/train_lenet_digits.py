"""Train LeNet-5, built from fastconv layers, on scikit-learn's handwritten digits.

The 1,797 8x8 digit images bundled with scikit-learn (nothing is downloaded)
are upsampled to LeNet's 32x32 input (each pixel repeated 4x4), standardised,
and split 75/25 into a training set and a held-out test set, stratified by
class.  The model (by default the modern ReLU/max-pooling LeNet-5; the 1998
tanh/average-pooling layout with ``--variant classic``) trains with Adam and
the softmax cross-entropy, the learning rate dropping tenfold after epoch
10, with a progress bar per epoch, and reports the held-out accuracy.  Everything
(initial weights, split, batch order) follows one seed, and fastconv's
kernels give the same numbers for every thread count, so a run is
reproducible.

    python examples/train_lenet_digits.py [--epochs 15] [--seed 0] [--threads 2]
                                          [--variant modern|classic] [--torch]

``--torch`` also trains the same model in PyTorch on the same data, batch
order and thread count and prints both wall times (benchmarks/bench_train.py
does this measurement properly, alternating and repeated).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def load_digits_32(seed=0, test_size=0.25, dtype=np.float32):
    """(x_train, y_train, x_test, y_test): digits as (N, 1, 32, 32) standardised images."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float64) / 16.0                       # (1797, 8, 8) in [0, 1]
    images = np.repeat(np.repeat(images, 4, axis=1), 4, axis=2)[:, None]   # nearest-neighbour 8x8 -> 32x32
    x_tr, x_te, y_tr, y_te = train_test_split(images, digits.target, test_size=test_size,
                                              stratify=digits.target, random_state=seed)
    mean, std = x_tr.mean(), x_tr.std()                                    # training statistics only
    prep = lambda a: np.ascontiguousarray((a - mean) / std, dtype=dtype)   # noqa: E731
    return prep(x_tr), y_tr.astype(np.int64), prep(x_te), y_te.astype(np.int64)


LR, DECAY_EPOCH = 1e-3, 10


def lr_schedule(epoch):
    """Adam's learning rate for an epoch (counted from 0): 1e-3, then 1e-4 from epoch 10 on."""
    return LR if epoch < DECAY_EPOCH else LR / 10


def build(seed=0, variant="modern", dtype=np.float32):
    """LeNet-5 and its optimiser, both from the seed."""
    import fastconv

    model = fastconv.models.lenet5(10, variant=variant, rng=np.random.default_rng(seed), dtype=dtype)
    return model, fastconv.optim.Adam(lr=LR)


def train(epochs=15, seed=0, variant="modern", batch_size=32, n_train=None, progress=True, data=None):
    """Train and return (model, history, held-out accuracy)."""
    import fastconv

    x_tr, y_tr, x_te, y_te = data if data is not None else load_digits_32(seed)
    if n_train is not None:
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
    model, opt = build(seed, variant)
    history = fastconv.models.fit(model, x_tr, y_tr, optimizer=opt, epochs=epochs, batch_size=batch_size,
                                  rng=np.random.default_rng(seed + 1), lr_schedule=lr_schedule,
                                  progress=progress)
    return model, history, fastconv.models.evaluate(model, x_te, y_te)


def torch_lenet5(variant="modern"):
    """The same LeNet-5 in PyTorch (weights are copied from the fastconv model)."""
    import torch.nn as nn

    act = nn.Tanh if variant == "classic" else nn.ReLU
    pool = (lambda: nn.AvgPool2d(2)) if variant == "classic" else (lambda: nn.MaxPool2d(2))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), act(), pool(),
        nn.Conv2d(6, 16, 5), act(), pool(),
        nn.Conv2d(16, 120, 5), act(),
        nn.Flatten(),
        nn.Linear(120, 84), act(),
        nn.Linear(84, 10),
    )


def train_torch(epochs, seed, variant, batch_size, data, threads):
    """The PyTorch twin: same initial weights, data, batch order and optimiser; returns (seconds, accuracy)."""
    import torch

    torch.set_num_threads(threads)
    x_tr, y_tr, x_te, y_te = data
    model, _ = build(seed, variant)
    net = torch_lenet5(variant)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = lr_schedule(epoch)
        net.train()
        order = torch.from_numpy(rng.permutation(len(x_tr)))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            opt.zero_grad()
            loss = lossf(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        acc = float((net(torch.from_numpy(x_te)).argmax(1).numpy() == y_te).mean())
    return seconds, acc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--variant", choices=("modern", "classic"), default="modern")
    p.add_argument("--threads", type=int, default=None, help="fastconv (and PyTorch) threads")
    p.add_argument("--torch", action="store_true", help="also train the same model with PyTorch")
    p.add_argument("--save", default=None, help="write the trained weights to this .npz file")
    args = p.parse_args(argv)

    import fastconv

    if args.threads:
        fastconv.set_num_threads(args.threads)
    threads = fastconv.get_num_threads()
    data = load_digits_32(args.seed)
    print(f"digits: {len(data[0])} training and {len(data[2])} held-out images, 32x32; "
          f"LeNet-5 ({args.variant}), Adam lr 1e-3 (1e-4 from epoch {DECAY_EPOCH + 1}), batch {args.batch_size}, "
          f"seed {args.seed}, "
          f"{threads} thread(s)")
    fastconv.summary(fastconv.models.lenet5(10, variant=args.variant, rng=0), (1, 32, 32))
    t0 = time.perf_counter()
    model, history, acc = train(args.epochs, args.seed, args.variant, args.batch_size, data=data,
                                progress=sys.stderr)
    wall = time.perf_counter() - t0
    print(f"fastconv: held-out accuracy {acc * 100:.2f}% after {args.epochs} epochs, "
          f"training {sum(history['seconds']):.2f} s ({wall:.2f} s with evaluation), {threads} thread(s)")
    if args.save:
        model.save(args.save)
    if args.torch:
        seconds, tacc = train_torch(args.epochs, args.seed, args.variant, args.batch_size, data, threads)
        print(f"PyTorch : held-out accuracy {tacc * 100:.2f}% after {args.epochs} epochs, training "
              f"{seconds:.2f} s, {threads} thread(s); fastconv/PyTorch time ratio "
              f"{sum(history['seconds']) / seconds:.2f}")
    return acc


if __name__ == "__main__":
    main()
