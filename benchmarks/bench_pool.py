"""fastconv pooling against PyTorch and against memory bandwidth.

A (32, 64, 112, 112) float32 tensor and a batch-1 (1, 64, 112, 112) one, in
NCHW and NHWC, at each requested thread count: max 2x2/2, max 3x3/2 pad 1,
avg 2x2/2, avg 3x3/1 pad 1, max 2x2/2 with indices and adaptive avg to 7x7,
then the backward pass of each.  PyTorch runs the same operation on the same
memory (channels_last tensors for NHWC; its backward kernels are called
directly through torch.ops.aten).  fastconv is timed twice: returning a new
array per call, like PyTorch (the speed-up compares these), and writing into
reused arrays with out=, as numpy.copyto does.  Bandwidth is bytes read plus
bytes written over time, quoted against what numpy.copyto reaches on the same
array, timed alternately with each case (this VM's speed drifts within a run).

    python benchmarks/bench_pool.py [--quick] [--threads 1,2] [--json PATH]
        [--shape batch32|batch1] [--layout NCHW|NHWC] [--pass forward|backward] [--op TEXT]
"""
from __future__ import annotations

import numpy as np

import harness
import fastconv

torch = harness.torch

SHAPES = {"batch32": (32, 64, 112, 112), "batch1": (1, 64, 112, 112)}
LAYOUTS = ("NCHW", "NHWC")


def _forward_cases():
    """(name, fastconv call (x, layout, out=None), torch call (xt))."""
    F = torch.nn.functional if torch is not None else None
    return [
        ("max 2x2/2", lambda x, lay, out=None: fastconv.max_pool2d(x, 2, layout=lay, out=out),
         lambda xt: F.max_pool2d(xt, 2)),
        ("max 3x3/2 pad 1", lambda x, lay, out=None: fastconv.max_pool2d(x, 3, 2, 1, layout=lay, out=out),
         lambda xt: F.max_pool2d(xt, 3, 2, 1)),
        ("avg 2x2/2", lambda x, lay, out=None: fastconv.avg_pool2d(x, 2, layout=lay, out=out),
         lambda xt: F.avg_pool2d(xt, 2)),
        ("avg 3x3/1 pad 1", lambda x, lay, out=None: fastconv.avg_pool2d(x, 3, 1, 1, layout=lay, out=out),
         lambda xt: F.avg_pool2d(xt, 3, 1, 1)),
        ("max 2x2/2 indices",
         lambda x, lay, out=None: fastconv.max_pool2d(x, 2, return_indices=True, layout=lay, out=out),
         lambda xt: F.max_pool2d(xt, 2, return_indices=True)),
        ("adaptive avg 7x7", lambda x, lay, out=None: fastconv.adaptive_avg_pool2d(x, 7, layout=lay, out=out),
         lambda xt: F.adaptive_avg_pool2d(xt, 7)),
    ]


def _like(res):
    """Result arrays to pass as out=, shaped like a call's result."""
    return tuple(np.empty_like(a) for a in res) if isinstance(res, tuple) else np.empty_like(res)


def _as_torch(a, layout):
    """A torch view of a fastconv array: NCHW logical shape, channels_last strides for NHWC."""
    t = torch.from_numpy(a)
    return t.permute(0, 3, 1, 2) if layout == "NHWC" else t


def _backward_cases(x, layout, xt):
    """(name, fastconv call (out=None), torch call, bytes moved) for the backward of each forward case."""
    aten = torch.ops.aten if torch is not None else None
    shape = x.shape
    cases = []
    for name, k, s, p in [("max 2x2/2 (indices)", 2, 2, 0), ("max 3x3/2 pad 1", 3, 2, 1)]:
        y, idx = fastconv.max_pool2d(x, k, s, p, return_indices=True, layout=layout)
        gy = np.ones_like(y)
        fc = lambda out=None, gy=gy, idx=idx: fastconv.max_pool2d_backward(gy, idx, shape, layout=layout, out=out)
        tc = None
        if torch is not None:
            gt, it = _as_torch(gy, layout), _as_torch(idx, layout)
            tc = lambda gt=gt, it=it, k=k, s=s, p=p: aten.max_pool2d_with_indices_backward(
                gt, xt, [k, k], [s, s], [p, p], [1, 1], False, it)
        cases.append((name, fc, tc, gy.nbytes + idx.nbytes + x.nbytes))
    for name, k, s, p in [("avg 2x2/2", 2, 2, 0), ("avg 3x3/1 pad 1", 3, 1, 1)]:
        gy = np.ones_like(fastconv.avg_pool2d(x, k, s, p, layout=layout))
        fc = lambda out=None, gy=gy, k=k, s=s, p=p: fastconv.avg_pool2d_backward(gy, shape, k, s, p, layout=layout,
                                                                                  out=out)
        tc = None
        if torch is not None:
            gt = _as_torch(gy, layout)
            tc = lambda gt=gt, k=k, s=s, p=p: aten.avg_pool2d_backward(
                gt, xt, [k, k], [s, s], [p, p], False, True, None)
        cases.append((name, fc, tc, gy.nbytes + x.nbytes))
    gy = np.ones_like(fastconv.adaptive_avg_pool2d(x, 7, layout=layout))
    fc = lambda out=None: fastconv.adaptive_avg_pool2d_backward(gy, shape, layout=layout, out=out)
    tc = None
    if torch is not None:
        gt = _as_torch(gy, layout)
        tc = lambda: aten._adaptive_avg_pool2d_backward(gt, xt)
    cases.append(("adaptive avg 7x7", fc, tc, gy.nbytes + x.nbytes))
    return cases


def _out_bytes(res):
    return sum(a.nbytes for a in (res if isinstance(res, tuple) else (res,)))


# --quick: these cases only (one of each kind), for both shapes, layouts and thread counts
QUICK_FORWARD = ("max 2x2/2", "avg 3x3/1 pad 1", "adaptive avg 7x7")
QUICK_BACKWARD = ("max 2x2/2 (indices)",)


def run(threads=(1, 2), quick=False, progress=True, only_shape=None, only_layout=None, only_pass=None,
        only_op=None):
    """only_shape, only_layout, only_pass, only_op: run only the cases with that shape name,
    layout, pass, and whose operation name contains op (None: all)."""
    rng = np.random.default_rng(0)
    results = {"area": "pool", "copy_gbps": {}, "rows": [], "torch": torch is not None}
    per_layout = len(QUICK_FORWARD) + len(QUICK_BACKWARD) if quick else len(_forward_cases()) + 5
    n_cases = (len(SHAPES) * len(LAYOUTS) - quick) * len(threads) * per_layout
    narrowed = only_shape or only_layout or only_pass or only_op
    bar = harness.Progress(n_cases, "pool") if progress and not narrowed else None
    repeats, target = (3, 0.01) if quick else (7, 0.03)
    # No BLAS competitor here (whose workers spin ~0.1 s after a call), so
    # --quick shortens the pause between competitors at 2 threads.
    cooldown = 0.02 if quick else None
    for shape_name, shape in SHAPES.items():
        if only_shape is not None and shape_name != only_shape:
            continue
        x_nchw = rng.standard_normal(shape, dtype=np.float32)
        arrays = {"NCHW": x_nchw, "NHWC": np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))}
        dst = np.empty_like(x_nchw)
        for nt in threads:
            with harness.limit_threads(nt):
                t = harness.time_alternating({"copy": lambda: np.copyto(dst, x_nchw)},
                                             repeats=repeats, target=target,
                                             cooldown=cooldown)
                copy_gbps = 2 * x_nchw.nbytes / t["copy"].median / 1e9
                results["copy_gbps"][f"{shape_name}/t{nt}"] = copy_gbps
                for layout in LAYOUTS:
                    if only_layout is not None and layout != only_layout:
                        continue
                    if quick and shape_name == "batch32" and layout == "NHWC":
                        continue  # --quick: the large batch in NCHW only
                    x = arrays[layout]
                    xt = _as_torch(x, layout) if torch is not None else None
                    rows = []
                    for name, fc, tc in _forward_cases():
                        if quick and name not in QUICK_FORWARD:
                            continue
                        out = _like(fc(x, layout))
                        comp = {"fastconv": lambda fc=fc: fc(x, layout),
                                "fastconv_out": lambda fc=fc, out=out: fc(x, layout, out)}
                        if torch is not None:
                            comp["torch"] = lambda tc=tc: tc(xt)
                        rows.append(("forward", name, comp, x.nbytes + _out_bytes(out)))
                    for name, fc, tc, nbytes in _backward_cases(x, layout, xt):
                        if quick and name not in QUICK_BACKWARD:
                            continue
                        out = _like(fc())
                        comp = {"fastconv": fc, "fastconv_out": lambda fc=fc, out=out: fc(out)}
                        if tc is not None:
                            comp["torch"] = tc
                        rows.append(("backward", name, comp, nbytes))
                    for direction, name, comp, nbytes in rows:
                        if (only_pass is not None and direction != only_pass) or (
                                only_op is not None and only_op not in name):
                            continue
                        # the copy alternates with the competitors too: each case's share of the
                        # copy bandwidth compares the two at the same moment of this noisy machine
                        comp = dict(comp, copy=lambda: np.copyto(dst, x_nchw))
                        t = harness.time_alternating(comp, repeats=repeats, target=target,
                                             cooldown=cooldown)
                        fc_s, out_s = t["fastconv"].median, t["fastconv_out"].median
                        case_gbps = 2 * x_nchw.nbytes / t["copy"].median / 1e9
                        row = {
                            "batch": shape[0], "shape": shape_name, "layout": layout, "threads": nt,
                            "direction": direction, "op": name, "bytes": nbytes,
                            "fastconv_s": fc_s, "fastconv_spread": (t["fastconv"].low, t["fastconv"].high),
                            "fastconv_gbps": nbytes / fc_s / 1e9,
                            "copy_gbps": case_gbps,
                            "pct_copy": 100 * nbytes / fc_s / 1e9 / case_gbps,
                            "fastconv_out_s": out_s,
                            "fastconv_out_spread": (t["fastconv_out"].low, t["fastconv_out"].high),
                            "pct_copy_out": 100 * nbytes / out_s / 1e9 / case_gbps,
                            "torch_s": None, "ratio_vs_torch": None,
                        }
                        if "torch" in t:
                            row["torch_s"] = t["torch"].median
                            row["torch_spread"] = (t["torch"].low, t["torch"].high)
                            row["ratio_vs_torch"] = t["torch"].median / fc_s
                        results["rows"].append(row)
                        if bar:
                            bar.step(f"{shape_name} {layout} t{nt} {direction} {name}")
    return results


def report(results) -> str:
    lines = []
    for key, gbps in results["copy_gbps"].items():
        lines.append(f"numpy.copyto bandwidth, {key.replace('/t', ', threads ')}: {gbps:.1f} GB/s (read + write; "
                     f"each case's % uses the copy timed alternately with it)")
    if not results.get("torch"):
        lines.append("PyTorch not installed: its columns are skipped.")
    lines.append("")
    lines.append("fastconv: a new result array per call, like PyTorch (the speed-up compares these); "
                 "out=: result arrays reused, as numpy.copyto does (a new array costs the OS a zeroing "
                 "pass on first write).  Bandwidth: bytes read + written.")
    lines.append("")
    headers = ["batch", "layout", "thr", "pass", "operation", "fastconv ms", "out= ms", "torch ms",
               "speed-up vs torch", "% of copy bw", "% of copy bw, out="]
    rows = []
    for r in results["rows"]:
        rows.append([
            r["batch"], r["layout"], r["threads"], r["direction"], r["op"],
            f"{r['fastconv_s'] * 1e3:.3f}", f"{r['fastconv_out_s'] * 1e3:.3f}",
            "-" if r["torch_s"] is None else f"{r['torch_s'] * 1e3:.3f}",
            "-" if r["ratio_vs_torch"] is None else f"{r['ratio_vs_torch']:.2f}x",
            f"{r['pct_copy']:.0f}%", f"{r['pct_copy_out']:.0f}%",
        ])
    lines.append(harness.markdown_table(headers, rows))
    lines.append("")
    groups = sorted({(r["batch"], r["threads"], r["direction"]) for r in results["rows"]},
                    key=lambda g: (-g[0], g[1], g[2] != "forward"))
    for batch, nt, direction in groups:
        sel = [r for r in results["rows"]
               if (r["batch"], r["threads"], r["direction"]) == (batch, nt, direction)]
        ratios = [r["ratio_vs_torch"] for r in sel if r["ratio_vs_torch"] is not None]
        fwd = [r for r in sel if r["direction"] == "forward"
               and r["op"].split()[0] in ("max", "avg") and "indices" not in r["op"]]
        line = f"batch {batch}, {nt} thread(s), {direction}:"
        if ratios:
            line += f" geometric-mean speed-up vs torch {harness.geomean(ratios):.2f}x (min {min(ratios):.2f}x)"
        if fwd:
            pct = [r["pct_copy"] for r in fwd]
            pct_out = [r["pct_copy_out"] for r in fwd]
            line += (f"; forward max/avg at {min(pct):.0f}%..{max(pct):.0f}% of copy bandwidth "
                     f"({min(pct_out):.0f}%..{max(pct_out):.0f}% with out=)")
        lines.append(line)
    slower = [r for r in results["rows"] if r["ratio_vs_torch"] is not None and r["ratio_vs_torch"] < 1]
    if slower:
        lines.append("\nSlower than PyTorch: " + "; ".join(
            f"batch {r['batch']} {r['layout']} t{r['threads']} {r['direction']} {r['op']} "
            f"({r['ratio_vs_torch']:.2f}x)" for r in slower))
    return "\n".join(lines)


def main(argv=None):
    def add_arguments(p):
        p.add_argument("--shape", choices=sorted(SHAPES), default=None, help="only this input shape")
        p.add_argument("--layout", choices=LAYOUTS, default=None, help="only this layout")
        p.add_argument("--pass", dest="direction", choices=("forward", "backward"), default=None,
                       help="only this pass")
        p.add_argument("--op", default=None, metavar="TEXT",
                       help="only the operations whose name contains TEXT (e.g. 'max 3x3')")

    harness.bench_main(__doc__, "Pooling: fastconv vs PyTorch and memory bandwidth", run, report, argv,
                       add_arguments=add_arguments,
                       run_kwargs=lambda a: {"only_shape": a.shape, "only_layout": a.layout,
                                             "only_pass": a.direction, "only_op": a.op},
                       quick_help="one case of each kind (QUICK_FORWARD, QUICK_BACKWARD; batch 32 in NCHW only), fewer and shorter timing rounds")


if __name__ == "__main__":
    main()
