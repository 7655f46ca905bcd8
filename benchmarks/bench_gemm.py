"""fastconv.gemm against numpy.matmul (the BLAS NumPy ships, usually OpenBLAS).

Square sizes 64..2048 and the skinny shapes convolution produces, float32 and
float64, at each requested thread count; GFLOP/s, ratio to NumPy, and the
float32 FMA peak measured in the same run.

    python benchmarks/bench_gemm.py [--quick] [--threads 1,2] [--json PATH]
"""
from __future__ import annotations

import numpy as np

import harness
import fastconv

SQUARE = [64, 128, 256, 512, 1024, 2048]
SKINNY = [(64, 576, 3136), (256, 2304, 196), (6, 25, 50176), (512, 4608, 49)]


def cases(quick: bool):
    if quick:  # two square sizes and a convolution-shaped product
        return [(s, s, s) for s in (256, 1024)] + SKINNY[:1]
    return [(s, s, s) for s in SQUARE] + SKINNY


def run(threads=(1, 2), quick=False, dtypes=("float32", "float64"), progress=True):
    rng = np.random.default_rng(0)
    results = {"area": "gemm", "peak_gflops": {}, "rows": []}
    if quick:
        dtypes = dtypes[:1]  # float32 only (float64 in full runs)
    all_cases = [(dt, nt, c) for nt in threads for dt in dtypes for c in cases(quick)]
    bar = harness.Progress(len(all_cases), "gemm") if progress else None
    for nt in threads:
        with harness.limit_threads(nt):
            results["peak_gflops"][nt] = harness.measure_peak(nt)
    for dt, nt, (m, k, n) in all_cases:
        a = rng.standard_normal((m, k)).astype(dt)
        b = rng.standard_normal((k, n)).astype(dt)
        out_fc = np.empty((m, n), dt)
        out_np = np.empty((m, n), dt)
        with harness.limit_threads(nt):
            t = harness.time_alternating(
                {
                    "fastconv": lambda: fastconv.gemm(a, b, out=out_fc),
                    "numpy": lambda: np.matmul(a, b, out=out_np),
                },
                repeats=5 if quick else 7,
                target=0.01 if quick else 0.03,
            )
        flops = 2.0 * m * n * k
        row = {
            "dtype": dt, "threads": nt, "m": m, "k": k, "n": n,
            "fastconv_s": t["fastconv"].median, "numpy_s": t["numpy"].median,
            "fastconv_spread": (t["fastconv"].low, t["fastconv"].high),
            "numpy_spread": (t["numpy"].low, t["numpy"].high),
            "fastconv_gflops": flops / t["fastconv"].median / 1e9,
            "numpy_gflops": flops / t["numpy"].median / 1e9,
        }
        row["ratio_vs_numpy"] = t["numpy"].median / t["fastconv"].median
        results["rows"].append(row)
        if bar:
            bar.step(f"{dt} {m}x{k}x{n} t{nt}")
    return results


def report(results) -> str:
    lines = []
    for nt, peak in results["peak_gflops"].items():
        lines.append(f"Measured float32 FMA peak at {nt} thread(s): {peak:.1f} GFLOP/s")
    lines.append("")
    headers = ["dtype", "thr", "M x K x N", "fastconv ms", "numpy ms", "fastconv GFLOP/s",
               "numpy GFLOP/s", "speed-up vs numpy", "% fp32 peak"]
    rows = []
    for r in results["rows"]:
        peak = results["peak_gflops"][r["threads"]]
        rows.append([
            r["dtype"], r["threads"], f"{r['m']}x{r['k']}x{r['n']}",
            f"{r['fastconv_s'] * 1e3:.3f}", f"{r['numpy_s'] * 1e3:.3f}",
            f"{r['fastconv_gflops']:.1f}", f"{r['numpy_gflops']:.1f}",
            f"{r['ratio_vs_numpy']:.2f}x",
            f"{100 * r['fastconv_gflops'] / peak:.0f}%" if r["dtype"] == "float32" else "-",
        ])
    lines.append(harness.markdown_table(headers, rows))
    for dt in sorted({r["dtype"] for r in results["rows"]}):
        for nt in sorted({r["threads"] for r in results["rows"]}):
            sel = [r["ratio_vs_numpy"] for r in results["rows"] if r["dtype"] == dt and r["threads"] == nt]
            lines.append(f"\ngeometric-mean speed-up vs numpy, {dt}, {nt} thread(s): {harness.geomean(sel):.2f}x")
    return "\n".join(lines)


def main(argv=None):
    harness.bench_main(__doc__, "GEMM: fastconv.gemm vs numpy.matmul", run, report, argv,
                       add_arguments=lambda p: p.add_argument("--dtypes", default="float32,float64"),
                       run_kwargs=lambda args: dict(dtypes=tuple(args.dtypes.split(","))))


if __name__ == "__main__":
    main()
