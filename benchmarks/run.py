"""fastconv's benchmark comparisons: every area against every competitor installed.

    python benchmarks/run.py [--quick] [--threads 1,2] [--only gemm,conv,...] [--out DIR]

Each area (gemm, conv, pool, signal, local, train, dask) runs in its own process
(benchmarks/bench_<area>.py) so that one area's memory and thread pools never
disturb the next.  Inside an area, competitors (NumPy, SciPy, PyTorch; a
missing one is reported as skipped) run in the same process, alternating,
after a warm-up; the median of several rounds is reported with its spread.

Writes DIR/results.json and DIR/speedup_<area>.png (speed-up per case), with
DIR/gflops_<area>.png (GFLOP/s against the measured FMA peak) where the area
reports GFLOP/s and DIR/bandwidth_<area>.png (GB/s against the measured copy
bandwidth) where it reports GB/s.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

AREAS = ["gemm", "conv", "pool", "signal", "local", "train", "dask"]


def ratio_columns(row):
    """{competitor: speed-up} from a result row (keys ratio_vs_X / speedup_vs_X)."""
    out = {}
    for key, value in row.items():
        m = re.match(r"^(?:ratio|speedup)_vs_(\w+)$", key)
        if m and isinstance(value, (int, float)) and math.isfinite(value):
            out[m.group(1)] = float(value)
    if isinstance(row.get("speedup"), dict):
        out.update({k: float(v) for k, v in row["speedup"].items() if isinstance(v, (int, float))})
    return out


def case_label(row):
    if "case" in row:
        label = str(row["case"])
    elif {"m", "k", "n"} <= row.keys():
        label = f"{row.get('dtype', '')} {row['m']}x{row['k']}x{row['n']}"
    else:
        label = " ".join(str(v) for k, v in row.items() if isinstance(v, str))[:40]
    return f"{label} t{row.get('threads', '?')}"


def peak_for(row, peaks):
    """The measured FMA peak (GFLOP/s) at the row's thread count, halved for float64 (half the lanes)."""
    peak = peaks.get(str(row.get("threads")))
    if peak is None:
        return float("nan")
    return peak / 2 if str(row.get("dtype", "")) == "float64" else peak


def plot(area, result, out_dir, machine_peaks=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001
        print("  (matplotlib not installed: no plot)")
        return []
    rows = result.get("rows", [])
    labels = [case_label(r) for r in rows]
    comps = sorted({c for r in rows for c in ratio_columns(r)})
    if not rows or not comps:
        return []
    files = []

    def width_for(bars):
        """Figure width (inches): room for the case labels, capped so the PNG stays viewable."""
        return min(28, max(8, 0.3 * len(rows), 0.12 * bars))

    def save(fig, ax, ticks, title, name, legend_size=None):
        """Case labels under the ticks, title, legend; written to out_dir/name and closed."""
        ax.set_title(f"fastconv {area}: {title}")
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
        ax.legend(fontsize=legend_size)
        fig.tight_layout()
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)

    fig, ax = plt.subplots(figsize=(width_for(len(rows) * len(comps)), 5))
    width = 0.8 / len(comps)
    for i, comp in enumerate(comps):
        vals = [ratio_columns(r).get(comp, float("nan")) for r in rows]
        ax.bar([x + i * width for x in range(len(rows))], vals, width, label=f"vs {comp}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed-up of fastconv (x, log scale)")
    save(fig, ax, [x + 0.4 - width / 2 for x in range(len(rows))], "speed-up per case (higher is better)",
         f"speedup_{area}.png")

    peaks = {str(k): v for k, v in (result.get("peak_gflops") or machine_peaks or {}).items()}
    gf = [r.get("fastconv_gflops") for r in rows]
    if peaks and all(isinstance(g, (int, float)) for g in gf):
        fig, ax = plt.subplots(figsize=(width_for(len(rows)), 5))
        ax.bar(range(len(rows)), gf, color="tab:blue", label="fastconv")
        others = sorted({k for r in rows for k in r if k.endswith("_gflops") and k != "fastconv_gflops"})
        for k in others:
            ax.plot(range(len(rows)), [r.get(k, float("nan")) for r in rows], "o", label=k.replace("_gflops", ""))
        ax.step(range(len(rows)), [peak_for(r, peaks) for r in rows], where="mid", color="black",
                linestyle="--", linewidth=0.8,
                label="measured FMA peak at the case's thread count (fp32; half for float64)")
        ax.set_ylabel("GFLOP/s")
        save(fig, ax, range(len(rows)), "GFLOP/s against the measured peak", f"gflops_{area}.png", legend_size=7)

    copy_gbps = result.get("copy_gbps") or {}
    gb = [r.get("fastconv_gbps") for r in rows]
    if copy_gbps and all(isinstance(g, (int, float)) for g in gb):
        fig, ax = plt.subplots(figsize=(width_for(len(rows)), 5))
        ax.bar(range(len(rows)), gb, color="tab:blue", label="fastconv")
        ref = [r.get("copy_gbps") or copy_gbps.get(f"{r.get('shape')}/t{r.get('threads')}", float("nan"))
               for r in rows]
        ax.step(range(len(rows)), ref, where="mid", color="black", linestyle="--", linewidth=0.8,
                label="numpy.copyto bandwidth at the case's size and thread count, timed alternately with it")
        ax.set_ylabel("GB/s (bytes read + written)")
        save(fig, ax, range(len(rows)), "GB/s against the measured copy bandwidth", f"bandwidth_{area}.png",
             legend_size=7)
    return files


def main(argv=None):
    if argv is None:                       # run from the command line: NumPy at its own BLAS kernel
        import harness
        harness.drop_blas_overrides()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (removed by default: they slow NumPy down)")
    p.add_argument("--quick", action="store_true", help="fewer cases and rounds (about 3 minutes on 2 cores)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--only", default=",".join(AREAS), help=f"areas to run, from {','.join(AREAS)}")
    p.add_argument("--out", default="benchmark-results", help="folder for results.json and plots")
    args = p.parse_args(argv)

    areas = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        p.error(f"unknown area(s) {unknown}; choose from {AREAS}")
    threads = [int(t) for t in args.threads.split(",")]
    os.makedirs(args.out, exist_ok=True)

    import harness

    info = harness.header(threads)
    # one peak for the areas that report GFLOP/s without measuring their own
    info["fp32_fma_peak_gflops"] = {str(n): round(harness.measure_peak(n, 0.1 if args.quick else 0.3), 1)
                                    for n in threads}
    harness.print_header(info, "fastconv benchmark comparisons")
    print(f"Ratios are speed-ups of fastconv (competitor time / fastconv time): above 1 is faster.\n")
    sys.stdout.flush()

    summary = {"machine": info, "areas": {}, "geomeans": []}
    started = time.perf_counter()
    for index, area in enumerate(areas, 1):
        script = os.path.join(HERE, f"bench_{area}.py")
        if not os.path.exists(script):
            print(f"### {area}: skipped (no benchmark for this area yet)\n")
            summary["areas"][area] = {"skipped": "not implemented"}
            continue
        json_path = os.path.join(args.out, f"{area}.json")
        cmd = [sys.executable, script, "--threads", args.threads, "--json", json_path, "--no-header"]
        if args.keep_blas_env:
            cmd.append("--keep-blas-env")
        if args.quick:
            cmd.append("--quick")
            if area == "conv":  # peak memory is a subprocess per layer and library: full runs only
                cmd.append("--no-memory")
        print(f"### {area} (area {index} of {len(areas)})\n")
        sys.stdout.flush()
        env = dict(os.environ, FASTCONV_PROGRESS=os.environ.get("FASTCONV_PROGRESS", "1"))
        area_started = time.perf_counter()
        proc = subprocess.run(cmd, env=env)
        area_seconds = time.perf_counter() - area_started
        if proc.returncode != 0 or not os.path.exists(json_path):
            print(f"\n{area}: FAILED (exit code {proc.returncode})\n")
            summary["areas"][area] = {"failed": proc.returncode, "wall_seconds": area_seconds}
            continue
        with open(json_path) as f:
            result = json.load(f)
        result["wall_seconds"] = area_seconds
        summary["areas"][area] = result
        files = plot(area, result, args.out, info["fp32_fma_peak_gflops"])
        ratios = {}
        for row in result.get("rows", []):
            for comp, r in ratio_columns(row).items():
                ratios.setdefault((comp, row.get("threads")), []).append(r)
        if ratios:
            print()
            for (comp, nt), vals in sorted(ratios.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
                g = harness.geomean(vals)
                summary["geomeans"].append({"area": area, "vs": comp, "threads": nt, "geomean": g,
                                            "min": min(vals), "max": max(vals), "cases": len(vals)})
                print(f"{area}: geometric-mean speed-up vs {comp} at {nt} thread(s): "
                      f"{g:.2f}x over {len(vals)} cases")
        for path in files:
            print(f"plot: {path}")
        print(f"{area}: {area_seconds:.0f} s\n")
        sys.stdout.flush()

    summary["wall_seconds"] = time.perf_counter() - started
    if summary["geomeans"]:
        print("## Summary: speed-up of fastconv (competitor time / fastconv time)\n")
        print(harness.markdown_table(
            ["area", "vs", "threads", "geometric mean", "range", "cases"],
            [[g["area"], g["vs"], g["threads"], f"{g['geomean']:.2f}x", f"{g['min']:.2f}x..{g['max']:.2f}x",
              g["cases"]] for g in summary["geomeans"]]))
        print()
    out_json = os.path.join(args.out, "results.json")
    harness.save_json(out_json, summary)
    times = ", ".join(f"{a} {r['wall_seconds']:.0f} s" for a, r in summary["areas"].items() if "wall_seconds" in r)
    print(f"results: {out_json} (total {summary['wall_seconds']:.0f} s: {times})")


if __name__ == "__main__":
    main()
