"""fastconv.conv2d against torch.nn.functional.conv2d and a plain NumPy im2col + matmul.

The layer set of issue 3 (LeNet-5, AlexNet, ResNet, VGG, MobileNet depthwise),
float32, forward and backward (input + weight + bias gradients), both
layouts, at each requested thread count.  All competitors run in the same
process on the same arrays, alternating (benchmarks/harness.py); PyTorch
runs under torch.no_grad() with the same thread count (its NHWC case uses
channels_last tensors over the same memory); the backward competitor is
torch.ops.aten.convolution_backward, the kernel autograd calls.

Allocation: the timing process asks glibc (mallopt) to keep freed memory
instead of returning it to the kernel, as a long-running training process
effectively does; otherwise every call of a library that allocates large
blocks pays fresh page faults (on this VM up to 30 ms for one 14 MB output),
which would measure the kernel's page zeroing rather than the convolution.
Both libraries get the same allocator settings.

Peak memory: one fresh subprocess per (library, layer, layout, direction)
with glibc's malloc pinned to mmap every block above 128 KiB
(MALLOC_MMAP_THRESHOLD_, so freed workspaces really leave the process); it
allocates the inputs, warms the library up on a tiny layer, resets the peak
RSS (writing 5 to /proc/self/clear_refs), runs the layer once and reports
VmHWM minus the RSS just before the call: the memory the call itself
touched, output included, inputs excluded.  Python's tracemalloc cannot see
C mallocs, hence this method.

    python benchmarks/bench_conv.py [--quick] [--threads 1,2] [--json PATH] [--no-memory]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

import harness
import fastconv

# name, N, C_in, H, W, C_out, k, stride, pad, groups
LAYERS = [
    ("LeNet-5 conv1", 64, 1, 32, 32, 6, 5, 1, 0, 1),
    ("AlexNet conv1", 8, 3, 227, 227, 96, 11, 4, 2, 1),
    ("ResNet-50 conv1", 1, 3, 224, 224, 64, 7, 2, 3, 1),
    ("ResNet 3x3 64", 1, 64, 56, 56, 64, 3, 1, 1, 1),
    ("ResNet 1x1 256>64", 1, 256, 56, 56, 64, 1, 1, 0, 1),
    ("ResNet 3x3 256", 1, 256, 14, 14, 256, 3, 1, 1, 1),
    ("ResNet 1x1 1024>256", 1, 1024, 14, 14, 256, 1, 1, 0, 1),
    ("ResNet 3x3 512", 1, 512, 7, 7, 512, 3, 1, 1, 1),
    ("VGG 3x3 128", 8, 128, 56, 56, 128, 3, 1, 1, 1),
    ("MobileNet dw 3x3", 8, 144, 56, 56, 144, 3, 1, 1, 144),
]
LAYOUTS = ("NCHW", "NHWC")
# --quick: one layer of each kind (3x3, 1x1, depthwise), the NumPy competitor
# only where it takes milliseconds, peak memory of one layer
QUICK_LAYERS = (3, 4, 9)
QUICK_MEMORY_LAYER = 3


def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def flops(layer):
    _, n, c, h, w, k, ks, s, p, g = layer
    return 2.0 * n * k * (c // g) * ks * ks * out_size(h, ks, s, p) * out_size(w, ks, s, p)


def make_inputs(layer, layout, seed=0):
    _, n, c, h, w, k, ks, s, p, g = layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((k, c // g, ks, ks), dtype=np.float32) / np.sqrt(c // g * ks * ks)).astype(np.float32)
    b = rng.standard_normal(k, dtype=np.float32)
    go = rng.standard_normal((n, k, out_size(h, ks, s, p), out_size(w, ks, s, p)), dtype=np.float32)
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        go = np.ascontiguousarray(go.transpose(0, 2, 3, 1))
    return x, wt, b, go


# ---- competitors --------------------------------------------------------------

def fastconv_ops(layer, layout, x, w, b, go):
    _, n, c, h, wd, k, ks, s, p, g = layer
    fwd = lambda: fastconv.conv2d(x, w, b, s, p, 1, g, layout=layout)  # noqa: E731
    bwd = lambda: fastconv.conv2d_backward(go, x, w, s, p, 1, g, layout=layout)  # noqa: E731
    return fwd, bwd


def torch_ops(layer, layout, x, w, b, go):
    torch = harness.torch
    _, n, c, h, wd, k, ks, s, p, g = layer
    if layout == "NCHW":
        xt, got = torch.from_numpy(x), torch.from_numpy(go)
        wt = torch.from_numpy(w)
    else:  # the same NHWC memory seen as channels_last NCHW tensors
        xt, got = torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(go).permute(0, 3, 1, 2)
        wt = torch.from_numpy(w).contiguous(memory_format=torch.channels_last)
    bt = torch.from_numpy(b)
    F = torch.nn.functional

    def fwd():
        with torch.no_grad():
            return F.conv2d(xt, wt, bt, s, p, 1, g)

    def bwd():
        with torch.no_grad():
            return torch.ops.aten.convolution_backward(
                got, xt, wt, [k], [s, s], [p, p], [1, 1], False, [0, 0], g, [True, True, True])

    return fwd, bwd


def _windows(xp, ks, s, layout):
    """(N, OH, OW, C, k, k) view of the padded input's windows."""
    if layout == "NCHW":
        v = np.lib.stride_tricks.sliding_window_view(xp, (ks, ks), axis=(2, 3))[:, :, ::s, ::s]
        return v.transpose(0, 2, 3, 1, 4, 5)
    v = np.lib.stride_tricks.sliding_window_view(xp, (ks, ks), axis=(1, 2))[:, ::s, ::s]
    return v


def numpy_ops(layer, layout, x, w, b, go):
    """A plain NumPy im2col (sliding windows copied into a matrix) + matmul per group."""
    _, n, c, h, wd, k, ks, s, p, g = layer
    cg, kg = c // g, k // g
    oh, ow = out_size(h, ks, s, p), out_size(wd, ks, s, p)
    sp = ((0, 0), (0, 0), (p, p), (p, p)) if layout == "NCHW" else ((0, 0), (p, p), (p, p), (0, 0))
    wmat = w.reshape(g, kg, cg * ks * ks)

    def cols():
        xp = np.pad(x, sp)
        win = _windows(xp, ks, s, layout)                       # (N, OH, OW, C, k, k)
        return win.reshape(n, oh * ow, g, cg * ks * ks)

    def fwd():
        col = cols()
        y = np.empty((n, oh * ow, g, kg), np.float32)
        for gi in range(g):
            y[:, :, gi] = np.ascontiguousarray(col[:, :, gi]) @ wmat[gi].T
        y = y.reshape(n, oh, ow, k) + b
        return y if layout == "NHWC" else np.ascontiguousarray(y.transpose(0, 3, 1, 2))

    gomat = (go.transpose(0, 2, 3, 1) if layout == "NCHW" else go).reshape(n, oh * ow, g, kg)

    def bwd():
        col = cols()
        gw = np.empty_like(wmat)
        gcol = np.empty((n, oh * ow, g, cg * ks * ks), np.float32)
        for gi in range(g):
            cgi = np.ascontiguousarray(col[:, :, gi]).reshape(n * oh * ow, -1)
            ggi = np.ascontiguousarray(gomat[:, :, gi]).reshape(n * oh * ow, kg)
            gw[gi] = ggi.T @ cgi
            gcol[:, :, gi] = ggi.reshape(n, oh * ow, kg) @ wmat[gi]
        gcol = gcol.reshape(n, oh, ow, c, ks, ks)
        gxp = np.zeros((n, c, h + 2 * p, wd + 2 * p), np.float32)
        for r in range(ks):
            for q in range(ks):
                gxp[:, :, r:r + s * oh:s, q:q + s * ow:s] += gcol[..., r, q].transpose(0, 3, 1, 2)
        gx = gxp[:, :, p:p + h, p:p + wd]
        gb = gomat.sum(axis=(0, 1)).reshape(k)
        return (gx if layout == "NCHW" else gx.transpose(0, 2, 3, 1)), gw.reshape(w.shape), gb

    return fwd, bwd


# ---- peak memory ----------------------------------------------------------------

_MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, {here!r})
import bench_conv as bc
lib, idx, layout, direction = {lib!r}, {idx}, {layout!r}, {direction!r}
layer = bc.LAYERS[idx]
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
tiny = ("tiny", 1, 4, 8, 8, 4, 3, 1, 1, 1)
ops = bc.torch_ops if lib == "torch" else bc.fastconv_ops
f, b = ops(tiny, layout, *bc.make_inputs(tiny, layout))
f(); b()
x, w, bias, go = bc.make_inputs(layer, layout)
fwd, bwd = ops(layer, layout, x, w, bias, go)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
res = fwd() if direction == "fwd" else bwd()
peak = status("VmHWM")
print(json.dumps({{"bytes": peak - before}}))
"""


def measure_memory(lib, idx, layout, direction, threads):
    env = dict(os.environ)
    env.update({"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "0",
                "OMP_NUM_THREADS": str(threads)})
    code = _MEMORY_CHILD.format(here=harness.HERE, lib=lib, idx=idx, layout=layout, direction=direction)
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        return json.loads(out.stdout.strip().splitlines()[-1])["bytes"]
    except Exception:  # noqa: BLE001 - reported as unavailable
        return None


# ---- driver ---------------------------------------------------------------------

def steady_malloc():
    """Keep freed heap memory in the process (no trimming, mmap only above 32 MiB)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        return True
    except (OSError, AttributeError):
        return False


def run(threads=(1, 2), quick=False, progress=True, memory=True, layers=None):
    steady_malloc()
    idx = list(layers if layers is not None else QUICK_LAYERS if quick else range(len(LAYERS)))
    mem_idx = ([QUICK_MEMORY_LAYER] if QUICK_MEMORY_LAYER in idx else idx[:1]) if quick else idx
    layers, mem_layers = [LAYERS[i] for i in idx], [LAYERS[i] for i in mem_idx]
    have_torch = harness.torch is not None
    results = {"area": "conv", "peak_gflops": {}, "rows": [], "memory": []}
    for nt in threads:
        with harness.limit_threads(nt):
            results["peak_gflops"][nt] = harness.measure_peak(nt, seconds=0.1 if quick else 0.3)
    cases = [(nt, lay, layer) for nt in threads for lay in LAYOUTS for layer in layers]
    bar = harness.Progress(len(cases), "conv") if progress else None
    for nt, layout, layer in cases:
        x, w, b, go = make_inputs(layer, layout)
        fc_f, fc_b = fastconv_ops(layer, layout, x, w, b, go)
        comps_f, comps_b = {"fastconv": fc_f}, {"fastconv": fc_b}
        if have_torch:
            comps_f["torch"], comps_b["torch"] = torch_ops(layer, layout, x, w, b, go)
        if not (quick and layer[-1] > 1):   # NumPy's grouped im2col takes seconds
            comps_f["numpy"], comps_b["numpy"] = numpy_ops(layer, layout, x, w, b, go)
        fl = flops(layer)
        for direction, comps, work in (("fwd", comps_f, fl), ("bwd", comps_b, 2 * fl)):
            with harness.limit_threads(nt):
                t = harness.time_alternating(comps, repeats=3 if quick else 7, target=0.01 if quick else 0.03)
            row = {"layer": layer[0], "threads": nt, "layout": layout, "direction": direction, "flops": work}
            for name, tm in t.items():
                row[f"{name}_s"] = tm.median
                row[f"{name}_spread"] = (tm.low, tm.high)
                row[f"{name}_gflops"] = work / tm.median / 1e9
            for other in ("torch", "numpy"):
                if other in t:
                    row[f"ratio_vs_{other}"] = t[other].median / t["fastconv"].median
            results["rows"].append(row)
        if bar:
            bar.step(f"{layer[0]} {layout} t{nt}")
    if memory:
        mem_threads = max(threads)
        mem_layouts = ("NCHW",) if quick else LAYOUTS
        for layout in mem_layouts:
            for idx, layer in enumerate(LAYERS):
                if layer not in mem_layers:
                    continue
                for direction in ("fwd", "bwd"):
                    entry = {"layer": layer[0], "layout": layout, "direction": direction, "threads": mem_threads,
                             "fastconv_bytes": measure_memory("fastconv", idx, layout, direction, mem_threads)}
                    if have_torch:
                        entry["torch_bytes"] = measure_memory("torch", idx, layout, direction, mem_threads)
                    results["memory"].append(entry)
    return results


def report(results) -> str:
    lines = []
    for nt, peak in results["peak_gflops"].items():
        lines.append(f"Measured float32 FMA peak at {nt} thread(s): {peak:.1f} GFLOP/s")
    rows = results["rows"]
    has_torch = any("torch_s" in r for r in rows)
    for direction in ("fwd", "bwd"):
        for nt in sorted({r["threads"] for r in rows}):
            for layout in LAYOUTS:
                sel = [r for r in rows if r["direction"] == direction and r["threads"] == nt and r["layout"] == layout]
                if not sel:
                    continue
                title = "forward" if direction == "fwd" else "backward (input + weight + bias gradients)"
                lines.append(f"\n### {title}, {layout}, {nt} thread(s)\n")
                headers = ["layer", "fastconv ms", "torch ms", "numpy ms", "fastconv GFLOP/s", "torch GFLOP/s",
                           "vs torch", "vs numpy"]
                table = []
                for r in sel:
                    table.append([
                        r["layer"], f"{r['fastconv_s'] * 1e3:.2f}",
                        f"{r['torch_s'] * 1e3:.2f}" if has_torch else "-",
                        f"{r['numpy_s'] * 1e3:.2f}" if "numpy_s" in r else "-",
                        f"{r['fastconv_gflops']:.1f}",
                        f"{r['torch_gflops']:.1f}" if has_torch else "-",
                        f"{r['ratio_vs_torch']:.2f}x" if has_torch else "-",
                        f"{r['ratio_vs_numpy']:.2f}x" if "ratio_vs_numpy" in r else "-",
                    ])
                lines.append(harness.markdown_table(headers, table))
                if has_torch:
                    g = harness.geomean([r["ratio_vs_torch"] for r in sel])
                    worst = min(sel, key=lambda r: r["ratio_vs_torch"])
                    lines.append(f"\ngeometric mean vs torch: {g:.2f}x (lowest: {worst['layer']} "
                                 f"{worst['ratio_vs_torch']:.2f}x)")
                vs_np = [r["ratio_vs_numpy"] for r in sel if "ratio_vs_numpy" in r]
                if vs_np:
                    lines.append(f"geometric mean vs numpy: {harness.geomean(vs_np):.2f}x")
    if results.get("memory"):
        lines.append("\n### peak memory of one call (MiB above the inputs; output included)\n")

        def mib(v):
            return "-" if v is None else f"{v / 2**20:.1f}"

        table = []
        for m in results["memory"]:
            ratio = "-"
            if m.get("torch_bytes") and m.get("fastconv_bytes") is not None:
                ratio = f"{m['fastconv_bytes'] / max(m['torch_bytes'], 1):.2f}"
            table.append([m["layer"], m["layout"], m["direction"], m["threads"], mib(m["fastconv_bytes"]),
                          mib(m.get("torch_bytes")), ratio])
        lines.append(harness.markdown_table(
            ["layer", "layout", "dir", "threads", "fastconv MiB", "torch MiB", "fastconv/torch"], table))
    return "\n".join(lines)


def _conv_arguments(p):
    p.add_argument("--no-memory", action="store_true", help="skip the per-layer peak-memory subprocesses")
    p.add_argument("--layers", default=None, help="comma-separated indices into LAYERS (default: all)")


def main(argv=None):
    harness.bench_main(__doc__, "Convolution: fastconv.conv2d vs torch.nn.functional.conv2d", run, report, argv,
                       add_arguments=_conv_arguments,
                       run_kwargs=lambda args: dict(
                           memory=not args.no_memory,
                           layers=[int(i) for i in args.layers.split(",")] if args.layers else None))


if __name__ == "__main__":
    main()
