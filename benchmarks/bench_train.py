"""Training wall time per epoch: LeNet-5 built from fastconv layers against the same model in PyTorch.

The data are scikit-learn's bundled digits, prepared exactly as
examples/train_lenet_digits.py does (8x8 upsampled to 32x32, 1,347 training
images).  Both frameworks start from the same weights, use Adam (lr 1e-3) and
the softmax cross-entropy, the same mini-batch size and the same thread
count; one timed call is one epoch (forward, loss, backward and optimiser
step for every batch).  The competitors alternate epoch by epoch after a
warm-up epoch, and the median of the rounds is reported with its spread.

    python benchmarks/bench_train.py [--quick] [--threads 1,2] [--json PATH]
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

import harness
import fastconv

EXAMPLE = os.path.join(harness.HERE, os.pardir, "examples", "train_lenet_digits.py")
CASES = [("modern", 32), ("classic", 32), ("modern", 128)]
QUICK_CASES = [("modern", 32)]


def _example():
    spec = importlib.util.spec_from_file_location("train_lenet_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fastconv_epoch(ex, variant, batch_size, x, y):
    model, opt = ex.build(seed=0, variant=variant)
    loss = fastconv.layers.SoftmaxCrossEntropy()
    rng = np.random.default_rng(1)

    def epoch():
        order = rng.permutation(len(x))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            loss.forward(model.forward(x[idx]), y[idx])
            model.backward(loss.backward())
            opt.step(model)
    return model, epoch


def _torch_epoch(ex, variant, batch_size, x, y, model):
    torch = harness.torch
    net = ex.torch_lenet5(variant)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(1)

    def epoch():
        order = torch.from_numpy(rng.permutation(len(x)))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            opt.zero_grad()
            lossf(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return epoch


def run(threads=(1, 2), quick=False, progress=True):
    ex = _example()
    x, y, _, _ = ex.load_digits_32(seed=0)
    cases = QUICK_CASES if quick else CASES
    todo = [(nt, c) for nt in threads for c in cases]
    bar = harness.Progress(len(todo), "train") if progress else None
    results = {"area": "train", "samples_per_epoch": int(len(x)), "rows": []}
    for nt, (variant, batch_size) in todo:
        with harness.limit_threads(nt):
            model, fc_epoch = _fastconv_epoch(ex, variant, batch_size, x, y)
            competitors = {"fastconv": fc_epoch}
            if harness.torch is not None:
                competitors["torch"] = _torch_epoch(ex, variant, batch_size, x, y, model)
            # a call is a whole epoch (~a second), far longer than a pool's spin-down, so no
            # cool-down pause and wake-up call (they would double the run time)
            # (in quick mode the first, untimed call of the harness's autorange is the warm-up)
            t = harness.time_alternating(competitors, repeats=3 if quick else 5, warmup=0 if quick else 1,
                                         target=0.0, cooldown=0.0)
        row = {
            "case": f"LeNet-5 {variant} b{batch_size}",
            "variant": variant, "batch_size": batch_size, "threads": nt,
            "fastconv_s": t["fastconv"].median,
            "fastconv_spread": (t["fastconv"].low, t["fastconv"].high),
            "fastconv_samples_per_s": len(x) / t["fastconv"].median,
        }
        if "torch" in t:
            row.update({
                "torch_s": t["torch"].median,
                "torch_spread": (t["torch"].low, t["torch"].high),
                "torch_samples_per_s": len(x) / t["torch"].median,
                "ratio_vs_torch": t["torch"].median / t["fastconv"].median,
            })
        else:
            row["ratio_vs_torch"] = float("nan")
        results["rows"].append(row)
        if bar:
            bar.step(f"{row['case']} t{nt}")
    return results


def report(results) -> str:
    headers = ["case", "thr", "fastconv s/epoch (spread)", "torch s/epoch (spread)", "fastconv img/s",
               "speed-up vs torch"]
    rows = []
    for r in results["rows"]:
        torch_cell = "skipped (not installed)"
        if "torch_s" in r:
            torch_cell = f"{r['torch_s']:.3f} ({r['torch_spread'][0]:.3f}..{r['torch_spread'][1]:.3f})"
        rows.append([
            r["case"], r["threads"],
            f"{r['fastconv_s']:.3f} ({r['fastconv_spread'][0]:.3f}..{r['fastconv_spread'][1]:.3f})",
            torch_cell, f"{r['fastconv_samples_per_s']:.0f}", f"{r['ratio_vs_torch']:.2f}x",
        ])
    lines = [f"One epoch = {results['samples_per_epoch']} digits images (32x32), forward + backward + Adam step.",
             "", harness.markdown_table(headers, rows)]
    for nt in sorted({r["threads"] for r in results["rows"]}):
        sel = [r["ratio_vs_torch"] for r in results["rows"] if r["threads"] == nt]
        lines.append(f"\ngeometric-mean speed-up vs torch, {nt} thread(s): {harness.geomean(sel):.2f}x "
                     "(above 1: fastconv faster)")
    return "\n".join(lines)


def main(argv=None):
    harness.bench_main(__doc__, "Training: LeNet-5 on the digits, fastconv layers vs PyTorch", run, report, argv)


if __name__ == "__main__":
    main()
