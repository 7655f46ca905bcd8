"""fastconv's signal API against SciPy and NumPy.

Cases (mode "same", each at every requested thread count):
- 1024x1024 float32 and float64 images, 3x3 / 5x5 / 11x11 kernels:
  fastconv.correlate2d vs scipy.signal.correlate2d (direct) and
  scipy.signal.fftconvolve;
- a stack of 64 512x512 float32 images with a 5x5 Gaussian: fastconv.filter2d
  vs a loop of scipy.signal.correlate2d calls and one batched
  scipy.signal.fftconvolve(axes=(1, 2));
- 1-D signals of 10**6 samples with 16, 256 and 4096 taps: fastconv.convolve
  vs numpy.convolve and scipy.signal.oaconvolve.

SciPy and NumPy run single-threaded whatever the thread count (they have no
threaded path for these calls); fastconv uses the requested threads.
``ratio_vs_best_scipy`` is the speed-up over the faster of SciPy's direct and
FFT methods.  --quick uses 512x512 images, a stack of 16 256x256 images,
2.5 * 10**5 samples, fewer rounds and shorter pauses between competitors
(a smoke run; quote the full run).

    python benchmarks/bench_signal.py [--quick] [--threads 1,2] [--kinds signal] [--json PATH]
"""
from __future__ import annotations

import numpy as np

import harness
import fastconv

scipy_signal = None
if harness.scipy is not None:
    import scipy.signal as scipy_signal  # noqa: F811


def gaussian(n: int, dtype) -> np.ndarray:
    row = np.array([1.0])
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    g = np.outer(row, row)
    return (g / g.sum()).astype(dtype)


def cases(quick: bool, kinds=("image", "stack", "signal")):
    """--quick: 3x3 and 11x11 images, 256 and 4096 taps (no 5x5, no 16 taps).
    kinds: the case kinds to keep (--kinds)."""
    out = []
    for dt in ("float32", "float64"):
        for k in (3, 11) if quick else (3, 5, 11):
            out.append(("image", dt, k))
    out.append(("stack", "float32", 5))
    for dt in ("float32", "float64"):
        for taps in (256, 4096) if quick else (16, 256, 4096):
            out.append(("signal", dt, taps))
    return [c for c in out if c[0] in kinds]


def _time(competitors, quick, slow=False):
    kw = {"cooldown": 0.03} if quick else {}
    return harness.time_alternating(
        competitors,
        repeats=3 if quick or slow else 5,
        target=0.01 if quick else 0.03,
        **kw,
    )


def run(threads=(1, 2), quick=False, progress=True, kinds=("image", "stack", "signal")):
    if scipy_signal is None:
        raise SystemExit("bench_signal needs SciPy (the competitor); install scipy")
    rng = np.random.default_rng(0)
    results = {"area": "signal", "rows": []}
    todo = [(nt, c) for nt in threads for c in cases(quick, kinds)]
    bar = harness.Progress(len(todo), "signal") if progress else None
    for nt, (kind, dt, k) in todo:
        row = {"threads": nt, "dtype": dt}
        with harness.limit_threads(nt):
            if kind == "image":
                side = 512 if quick else 1024
                img = rng.standard_normal((side, side)).astype(dt)
                ker = rng.standard_normal((k, k)).astype(dt)
                kflip = np.ascontiguousarray(ker[::-1, ::-1])
                t = _time({
                    "fastconv": lambda: fastconv.correlate2d(img, ker, "same"),
                    "scipy_correlate2d": lambda: scipy_signal.correlate2d(img, ker, "same"),
                    "scipy_fftconvolve": lambda: scipy_signal.fftconvolve(img, kflip, "same"),
                }, quick, slow=k == 11)
                row["case"] = f"{dt} {side}x{side} {k}x{k}"
                flops = 2.0 * img.size * k * k
            elif kind == "stack":
                n, side = (16, 256) if quick else (64, 512)
                stack = rng.standard_normal((n, side, side)).astype(dt)
                g = gaussian(k, dt)

                def scipy_loop():
                    return [scipy_signal.correlate2d(im, g, "same") for im in stack]

                t = _time({
                    "fastconv": lambda: fastconv.filter2d(stack, g),
                    "scipy_loop": scipy_loop,
                    "scipy_fftconvolve": lambda: scipy_signal.fftconvolve(stack, g[None], "same", axes=(1, 2)),
                }, quick, slow=True)
                row["case"] = f"{dt} {n}x{side}x{side} {k}x{k} gaussian"
                flops = 2.0 * stack.size * k * k
            else:
                n = 250_000 if quick else 1_000_000
                x = rng.standard_normal(n).astype(dt)
                h = rng.standard_normal(k).astype(dt)
                t = _time({
                    "fastconv": lambda: fastconv.convolve(x, h, "same"),
                    "numpy_convolve": lambda: np.convolve(x, h, "same"),
                    "scipy_oaconvolve": lambda: scipy_signal.oaconvolve(x, h, "same"),
                }, quick, slow=k >= 256)
                row["case"] = f"{dt} 1-D {n} x {k} taps"
                flops = 2.0 * n * k
        fc = t["fastconv"].median
        row["fastconv_s"] = fc
        row["fastconv_spread"] = (t["fastconv"].low, t["fastconv"].high)
        row["fastconv_gflops"] = flops / fc / 1e9
        for name, timing in t.items():
            if name == "fastconv":
                continue
            row[f"{name}_s"] = timing.median
            row[f"ratio_vs_{name}"] = timing.median / fc
        scipy_names = [n for n in t if n.startswith("scipy")]
        row["ratio_vs_best_scipy"] = min(t[n].median for n in scipy_names) / fc
        results["rows"].append(row)
        if bar:
            bar.step(f"{row['case']} t{nt}")
    return results


def report(results) -> str:
    headers = ["case", "thr", "fastconv ms", "GFLOP/s", "vs scipy direct", "vs scipy fft",
               "vs numpy", "vs best scipy"]
    rows = []
    for r in results["rows"]:
        direct = r.get("ratio_vs_scipy_correlate2d", r.get("ratio_vs_scipy_loop"))
        fft = r.get("ratio_vs_scipy_fftconvolve", r.get("ratio_vs_scipy_oaconvolve"))
        npy = r.get("ratio_vs_numpy_convolve")
        rows.append([
            r["case"], r["threads"], f"{r['fastconv_s'] * 1e3:.2f}", f"{r['fastconv_gflops']:.1f}",
            f"{direct:.1f}x" if direct else "-", f"{fft:.1f}x" if fft else "-",
            f"{npy:.1f}x" if npy else "-", f"{r['ratio_vs_best_scipy']:.1f}x",
        ])
    lines = [harness.markdown_table(headers, rows)]
    for nt in sorted({r["threads"] for r in results["rows"]}):
        sel = [r["ratio_vs_best_scipy"] for r in results["rows"] if r["threads"] == nt]
        lines.append(f"\ngeometric-mean speed-up vs the faster SciPy method, {nt} thread(s): "
                     f"{harness.geomean(sel):.2f}x")
    return "\n".join(lines)


def _add_arguments(p):
    p.add_argument("--kinds", default="image,stack,signal",
                   help="comma-separated case kinds to run: image, stack, signal (1-D); default all")


def _run_kwargs(args):
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in ("image", "stack", "signal")]
    if bad or not kinds:
        raise SystemExit(f"--kinds: unknown kind(s) {bad}; choose from image, stack, signal")
    return {"kinds": kinds}


def main(argv=None):
    harness.bench_main(__doc__, "Signal: fastconv vs scipy.signal and numpy.convolve", run, report, argv,
                       add_arguments=_add_arguments, run_kwargs=_run_kwargs)


if __name__ == "__main__":
    main()
