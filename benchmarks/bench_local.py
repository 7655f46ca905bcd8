"""Unshared convolutions and the fully connected layer against what PyTorch users write today.

Locally connected and tiled convolutions: ``F.unfold`` + ``torch.einsum`` (the
tiled weights expanded to one bank per position by indexing), forward and
forward + backward (autograd); the fully connected layer against
``F.linear``.  Layers of the issue: (32, 16, 28, 28) -> 32 channels 3x3 and
(8, 16, 55, 55) -> 16 channels 9x9 (no padding), locally connected and with
2x2 and 4x4 tiles; linear 9216 -> 4096 and 4096 -> 1000 at batch 1 and 64.
float32, every competitor in the same process, alternating, at each thread
count.

    python benchmarks/bench_local.py [--quick] [--threads 1,2] [--only conv|linear] [--batch-invariant]
                                     [--json PATH]

--batch-invariant times ``fastconv.linear(..., batch_invariant=True)`` (the
path of ``fastconv.layers.Linear``: rows bitwise those of a large batch).
"""
from __future__ import annotations

import math

import numpy as np

import harness
import fastconv

torch = harness.torch
if torch is not None:
    import torch.nn.functional as F

CONVS = [
    ("32x16x28x28 -> 32 3x3", (32, 16, 28, 28), 32, 3),
    ("8x16x55x55 -> 16 9x9", (8, 16, 55, 55), 16, 9),
]
TILES = [None, (2, 2), (4, 4)]          # None: locally connected
LINEARS = [(1, 9216, 4096), (64, 9216, 4096), (1, 4096, 1000), (64, 4096, 1000)]


def _torch_unshared(x, w, b, tiles, oh, ow):
    """unfold + einsum; tiled banks expanded to one per position by indexing."""
    cols = F.unfold(x, w.shape[-2:])                                       # (N, C*k*k, L)
    if tiles is not None:
        w = w[(torch.arange(oh) % tiles[0])[:, None], (torch.arange(ow) % tiles[1])[None, :]]
    y = torch.einsum("nql,lkq->nkl", cols, w.reshape(oh * ow, w.shape[2], -1))
    y = y.reshape(x.shape[0], w.shape[2], oh, ow)
    return y + (b[None] if b.dim() == 3 else b[None, :, None, None])


def conv_cases(quick):
    """Every layer and tiling; --quick: the small layer, local and 2x2 tiles (PyTorch's
    unfold + einsum of the 9x9 layer alone costs seconds per call)."""
    for label, xs, k, ks in CONVS[:1] if quick else CONVS:
        for tiles in TILES[:2] if quick else TILES:
            yield label, xs, k, ks, tiles


def run(threads=(1, 2), quick=False, progress=True, only=None, batch_invariant=False):
    """``only``: "conv" (the unshared convolutions) or "linear" (the fully connected layer) alone;
    ``batch_invariant``: passed to ``fastconv.linear``."""
    rng = np.random.default_rng(0)
    results = {"area": "local", "rows": []}
    conv = list(conv_cases(quick)) if only != "linear" else []
    todo = [("conv", c, nt, op) for nt in threads for c in conv for op in ("fwd", "fwd+bwd")
            if op == "fwd" or not quick or c[4] is None]
    # --quick: no batch-64 9216 -> 4096 layer (a compute-bound GEMM, timed by bench_gemm)
    todo += [("linear", c, nt, op) for nt in threads for c in (LINEARS if only != "conv" else [])
             for op in ("fwd", "fwd+bwd")
             if not quick or (c[1] == 4096 or c[0] == 1) and (op == "fwd" or c[1] == 4096)]
    bar = harness.Progress(len(todo), "local") if progress else None
    repeats = 3 if quick else 5
    warmup = 0 if quick else 1           # (the call-count calibration warms up too)
    for kind, case, nt, op in todo:
        row = {"threads": nt, "dtype": "float32", "op": op}
        if kind == "conv":
            label, xs, k, ks, tiles = case
            n, c, h, w_ = xs
            oh, ow = h - ks + 1, w_ - ks + 1
            banks = (oh, ow) if tiles is None else tiles
            x = rng.standard_normal(xs, dtype=np.float32)
            w = rng.standard_normal(banks + (k, c, ks, ks), dtype=np.float32) / (c * ks)
            b = rng.standard_normal((k, oh, ow) if tiles is None else (k,), dtype=np.float32)
            go = rng.standard_normal((n, k, oh, ow), dtype=np.float32)
            name = "local" if tiles is None else f"tiled {tiles[0]}x{tiles[1]}"
            row["case"] = f"{name} {label} {op}"
            flops = 2.0 * n * oh * ow * k * c * ks * ks * (1 if op == "fwd" else 3)
            fwd = fastconv.local_conv2d if tiles is None else fastconv.tiled_conv2d
            if tiles is None:
                def bwd():
                    return fastconv.local_conv2d_backward(go, x, w)
            else:
                def bwd():
                    return fastconv.tiled_conv2d_backward(go, x, w)
            competitor = "torch_unfold_einsum"
            comps = {"fastconv": (lambda: fwd(x, w, b)) if op == "fwd" else (lambda: (fwd(x, w, b), bwd()))}
            if torch is not None:
                xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, w, b, go))
                if op == "fwd":
                    def tfn():
                        with torch.no_grad():
                            return _torch_unshared(xt, wt, bt, tiles, oh, ow)
                else:
                    xg, wg, bg = (a.clone().requires_grad_() for a in (xt, wt, bt))

                    def tfn():
                        xg.grad = wg.grad = bg.grad = None
                        _torch_unshared(xg, wg, bg, tiles, oh, ow).backward(gt)
                comps[competitor] = tfn
        else:
            m, i, o = case
            x = rng.standard_normal((m, i), dtype=np.float32)
            w = rng.standard_normal((o, i), dtype=np.float32) / math.sqrt(i)
            b = rng.standard_normal(o, dtype=np.float32)
            go = rng.standard_normal((m, o), dtype=np.float32)
            row["case"] = f"linear {i} -> {o} batch {m} {op}" + (" batch_invariant" if batch_invariant else "")
            flops = 2.0 * m * i * o * (1 if op == "fwd" else 3)
            competitor = "torch_linear"
            bi = batch_invariant
            if op == "fwd":
                comps = {"fastconv": lambda: fastconv.linear(x, w, b, batch_invariant=bi)}
            else:
                comps = {"fastconv": lambda: (fastconv.linear(x, w, b, batch_invariant=bi),
                                              fastconv.linear_backward(go, x, w))}
            if torch is not None:
                xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, w, b, go))
                if op == "fwd":
                    def tfn():
                        with torch.no_grad():
                            return F.linear(xt, wt, bt)
                else:
                    xg, wg, bg = (a.clone().requires_grad_() for a in (xt, wt, bt))

                    def tfn():
                        xg.grad = wg.grad = bg.grad = None
                        F.linear(xg, wg, bg).backward(gt)
                comps[competitor] = tfn
        with harness.limit_threads(nt):
            t = harness.time_alternating(comps, repeats=repeats, warmup=warmup, target=0.01 if quick else 0.05)
        row["fastconv_s"] = t["fastconv"].median
        row["fastconv_spread"] = (t["fastconv"].low, t["fastconv"].high)
        row["fastconv_gflops"] = flops / t["fastconv"].median / 1e9
        if competitor in t:
            row[f"{competitor}_s"] = t[competitor].median
            row[f"{competitor}_spread"] = (t[competitor].low, t[competitor].high)
            row[f"ratio_vs_{competitor}"] = t[competitor].median / t["fastconv"].median
        else:
            row["skipped"] = f"{competitor}: PyTorch is not installed"
        results["rows"].append(row)
        if bar:
            bar.step(f"{row['case']} t{nt}")
    return results


def report(results) -> str:
    headers = ["case", "thr", "fastconv ms", "PyTorch ms", "speed-up", "fastconv GFLOP/s"]
    rows = []
    for r in results["rows"]:
        comp = next((k[len("ratio_vs_"):] for k in r if k.startswith("ratio_vs_")), None)
        rows.append([
            r["case"], r["threads"], f"{r['fastconv_s'] * 1e3:.2f}",
            f"{r[comp + '_s'] * 1e3:.2f} ({comp})" if comp else "skipped",
            f"{r['ratio_vs_' + comp]:.2f}x" if comp else "-",
            f"{r['fastconv_gflops']:.1f}",
        ])
    lines = [harness.markdown_table(headers, rows)]
    for group, test in (("unshared convolutions vs unfold + einsum", lambda r: not r["case"].startswith("linear")),
                        ("linear vs F.linear", lambda r: r["case"].startswith("linear"))):
        for nt in sorted({r["threads"] for r in results["rows"]}):
            for op in ("fwd", "fwd+bwd"):
                sel = [v for r in results["rows"] if r["threads"] == nt and r["op"] == op and test(r)
                       for k, v in r.items() if k.startswith("ratio_vs_")]
                if sel:
                    lines.append(f"\ngeometric-mean speed-up, {group}, {op}, {nt} thread(s): "
                                 f"{harness.geomean(sel):.2f}x (min {min(sel):.2f}x) over {len(sel)} cases")
    return "\n".join(lines)


def _add_arguments(p):
    p.add_argument("--only", choices=("conv", "linear"), default=None,
                   help="time only the unshared convolutions or only the fully connected layer")
    p.add_argument("--batch-invariant", action="store_true",
                   help="fastconv.linear with batch_invariant=True (rows bitwise those of any batch, "
                        "as fastconv.layers.Linear)")


def main(argv=None):
    harness.bench_main(__doc__, "Unshared convolutions and linear: fastconv vs PyTorch (unfold + einsum, F.linear)",
                       run, report, argv,
                       add_arguments=_add_arguments,
                       run_kwargs=lambda a: {"only": a.only, "batch_invariant": a.batch_invariant},
                       quick_help="fewer rounds; the small layer (local, 2x2 tiles) and all but the largest "
                                  "linear layer")


if __name__ == "__main__":
    main()
