"""Shared benchmark harness: machine header, alternating timing, tables, JSON.

Rules every fastconv benchmark follows:
- every competitor runs in the same process, on the same inputs;
- competitors alternate within each round (A B C, A B C, ...), after a warm-up,
  so slow drifts of the machine hit all of them alike;
- the figure is the median of the rounds, with the spread (min..max) beside it;
- speed is quoted as a ratio against each competitor, with the thread count.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def optional(name):
    """Import a competitor if it is installed, else None (reported as skipped)."""
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return None


torch = optional("torch")
scipy = optional("scipy")
threadpoolctl = optional("threadpoolctl")


def blas_info() -> str:
    if threadpoolctl is None:
        return "unknown (threadpoolctl not installed)"
    infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    if not infos:
        return "none found"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in infos)


class limit_threads:
    """Run fastconv, NumPy's BLAS and PyTorch with the same thread count."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        import fastconv

        self._fc = fastconv.get_num_threads()
        fastconv.set_num_threads(self.n)
        self._tpl = threadpoolctl.threadpool_limits(self.n) if threadpoolctl else None
        if torch is not None:
            self._torch = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        import fastconv

        fastconv.set_num_threads(self._fc)
        if self._tpl is not None:
            self._tpl.unregister()
        if torch is not None:
            torch.set_num_threads(self._torch)


def measure_peak(nthreads: int, seconds: float = 0.3) -> float:
    """float32 FMA peak (GFLOP/s) of the active ISA on nthreads threads, measured now."""
    from fastconv import _runtime

    _runtime.fma_probe(100_000, nthreads)
    iters = 1_000_000
    while True:
        t0 = time.perf_counter()
        flops = _runtime.fma_probe(iters, nthreads)
        dt = time.perf_counter() - t0
        if dt > seconds:
            break
        iters *= 2
    best = flops / dt
    for _ in range(2):
        t0 = time.perf_counter()
        flops = _runtime.fma_probe(iters, nthreads)
        best = max(best, flops / (time.perf_counter() - t0))
    return best / 1e9


def header(threads) -> dict:
    import fastconv

    cfg = fastconv.config()
    info = {
        "cpu": cfg["cpu"],
        "cores": os.cpu_count(),
        "isa": cfg["isa"]["active"],
        "threads": list(threads),
        "fastconv": cfg["version"],
        "compiler": cfg["compiler"],
        "openmp_runtime": cfg["openmp"]["runtime"] or "not loaded",
        "numpy": np.__version__,
        "numpy_blas": blas_info(),
        "scipy": scipy.__version__ if scipy else "not installed (skipped)",
        "torch": torch.__version__ if torch else "not installed (skipped)",
        "python": platform.python_version(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
    }
    if os.environ.get("FASTCONV_BENCH_REMOVED_ENV"):
        info["removed_for_benchmark"] = os.environ["FASTCONV_BENCH_REMOVED_ENV"]
    return info


BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def drop_blas_overrides(argv=None) -> None:
    """Re-run this benchmark without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE.

    Those variables pin OpenBLAS to an older, slower kernel (and cache
    size) than the CPU supports, which would make NumPy a weaker competitor
    than it is on the user's machine.  The benchmark (never the tests)
    therefore replaces its own process with one that lacks them; the header
    records what was removed and the kernel threadpoolctl then reports.
    ``--keep-blas-env`` keeps them.
    """
    argv = sys.argv if argv is None else argv
    present = {k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ}
    if not present or "--keep-blas-env" in argv:
        return
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env["FASTCONV_BENCH_REMOVED_ENV"] = " ".join(f"{k}={v}" for k, v in present.items())
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + list(argv), env)


def print_header(info: dict, title: str) -> None:
    print(f"## {title}\n")
    for key, value in info.items():
        print(f"- {key}: {value}")
    print()


def autorange(fn, target: float = 0.02) -> int:
    """How many calls make one timing sample last about `target` seconds."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * target / max(dt, 1e-9) * 1.2))


@dataclass
class Timing:
    median: float
    low: float
    high: float
    samples: list = field(default_factory=list)


# Idle worker threads of a thread pool keep spinning after a call: OpenBLAS's
# for about 0.1 s (2**28 cycles), OpenMP runtimes for up to their block time.
# Run right after another library, a multi-threaded competitor would share
# its cores with those spinners; a pause between competitors lets them sleep.
COOLDOWN_SECONDS = 0.15


def time_alternating(competitors: dict, repeats: int = 7, warmup: int = 1, target: float = 0.02,
                     cooldown: float | None = None) -> dict:
    """Time callables round-robin; returns {name: Timing} in seconds per call.

    ``cooldown`` (seconds) is slept before each competitor's sample; by default
    COOLDOWN_SECONDS when more than one thread is in use, else 0.
    """
    if cooldown is None:
        import fastconv

        cooldown = COOLDOWN_SECONDS if fastconv.get_num_threads() > 1 else 0.0
    numbers = {}
    for name, fn in competitors.items():
        time.sleep(cooldown)
        for _ in range(warmup):
            fn()
        numbers[name] = autorange(fn, target)
    samples = {name: [] for name in competitors}
    for _ in range(repeats):
        for name, fn in competitors.items():
            n = numbers[name]
            if cooldown:
                time.sleep(cooldown)
                fn()  # one untimed call wakes the pool
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {
        name: Timing(statistics.median(s), min(s), max(s), s) for name, s in samples.items()
    }


def geomean(values):
    values = [v for v in values if v and v > 0 and math.isfinite(v)]
    if not values:
        return float("nan")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def markdown_table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total: int, label: str = ""):
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.enabled = sys.stderr.isatty() or os.environ.get("FASTCONV_PROGRESS") == "1"

    def step(self, what: str = ""):
        self.done += 1
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {what[:40]:<40}")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def save_json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def default(o):
        if isinstance(o, Timing):
            return asdict(o)
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        return str(o)

    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=default)


def parse_threads(text: str) -> list:
    """"1,2" -> [1, 2]; ValueError on anything but positive integers."""
    threads = [int(t) for t in text.split(",") if t.strip()]
    if not threads or min(threads) < 1:
        raise ValueError(f"thread counts must be positive integers, got {text!r}")
    return threads


def bench_main(description, title, run, report, argv=None, *, quick_help=None, threads_help=None,
               add_arguments=None, run_kwargs=None):
    """The command line every ``bench_<area>.py`` shares, and what it does.

    Options ``--quick``, ``--threads 1,2`` and ``--json PATH``, plus the
    area's own (``add_arguments(parser)``); then the machine header under
    ``title``, ``run(threads, quick, **run_kwargs(args))``, its ``report``
    printed as Markdown, and the results written to ``--json`` when given
    (benchmarks/run.py reads that file).  Returns the results.
    """
    if argv is None:                       # run from the command line
        drop_blas_overrides()
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep-blas-env", action="store_true",
                   help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (removed by default: they slow NumPy down)")
    p.add_argument("--quick", action="store_true", help=quick_help or "fewer cases and shorter timing rounds")
    p.add_argument("--threads", default="1,2", help=threads_help or "comma-separated thread counts (default 1,2)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results to this JSON file")
    p.add_argument("--no-header", action="store_true",
                   help="print the title without the machine description (run.py prints it once)")
    if add_arguments is not None:
        add_arguments(p)
    args = p.parse_args(argv)
    try:
        threads = parse_threads(args.threads)
    except ValueError as exc:
        p.error(str(exc))
    if args.no_header:
        print(f"## {title}\n")
    else:
        print_header(header(threads), title)
    sys.stdout.flush()
    results = run(threads, args.quick, **(run_kwargs(args) if run_kwargs else {}))
    print(report(results))
    if args.json:
        save_json(args.json, results)
    return results
