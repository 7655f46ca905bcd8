"""fastconv.dask: a batch of 256 images through a conv + pool stack, cluster vs one process.

The stack (float32, NCHW): conv 3->32 3x3 pad 1, max pool 2, conv 32->64 3x3
pad 1, average pool 2, on 256 images of 3x64x64.  Competitors, alternating
in rounds after a warm-up (median, spread):

- one process: ``fastconv`` on the whole NumPy batch with t OpenMP threads,
  for each t of ``--threads``;
- a ``dask.distributed.LocalCluster`` of 2 worker processes x 1 thread, the
  input already resident on the workers (persisted), the result gathered back
  to the client: ``fastconv.dask.conv2d`` / ``max_pool2d`` / ``avg_pool2d``
  over batch chunks of 32 images, one OpenMP thread per task;
- the same cluster computing only the sum of the result (the features stay
  on the workers, as when they are written to storage there);
- the same graph on Dask's threaded scheduler (2 threads, one process).

Reported: images/s, the ratio single-process time / Dask time
(``ratio_vs_single_process``, above 1: Dask is faster) and the overhead, Dask
time minus the single-process time with as many threads as Dask uses (2).

    python benchmarks/bench_dask.py [--quick] [--threads 1,2] [--json PATH]
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile

import numpy as np

import harness
import fastconv

BATCH = 256
IMAGE = (3, 64, 64)
CHUNK = 32
WORKERS, WORKER_THREADS = 2, 1


def weights(rng):
    w1 = (rng.standard_normal((32, 3, 3, 3)) * 0.2).astype(np.float32)
    w2 = (rng.standard_normal((64, 32, 3, 3)) * 0.06).astype(np.float32)
    b1 = rng.standard_normal(32).astype(np.float32)
    b2 = rng.standard_normal(64).astype(np.float32)
    return w1, b1, w2, b2


def local_stack(x, w1, b1, w2, b2):
    y = fastconv.max_pool2d(fastconv.conv2d(x, w1, b1, padding=1), 2)
    return fastconv.avg_pool2d(fastconv.conv2d(y, w2, b2, padding=1), 2)


def dask_stack(x, w1, b1, w2, b2):
    import fastconv.dask as fd

    y = fd.max_pool2d(fd.conv2d(x, w1, b1, padding=1), 2)
    return fd.avg_pool2d(fd.conv2d(y, w2, b2, padding=1), 2)


@contextlib.contextmanager
def local_cluster():
    """A 2x1 LocalCluster whose workers start outside the source tree."""
    import distributed

    workdir = tempfile.mkdtemp(prefix="fastconv-bench-dask-")
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        cluster = distributed.LocalCluster(n_workers=WORKERS, threads_per_worker=WORKER_THREADS,
                                           processes=True, dashboard_address=None,
                                           local_directory=workdir, silence_logs=logging.ERROR)
        client = distributed.Client(cluster, timeout="60s", set_as_default=False)
        client.wait_for_workers(WORKERS, timeout=60)
    finally:
        os.chdir(previous)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def run(threads=(1, 2), quick=False, progress=True):
    import dask
    import dask.array as da

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH,) + IMAGE).astype(np.float32)
    params = weights(rng)
    results = {"area": "dask", "batch": BATCH, "image": IMAGE, "chunk": CHUNK,
               "workers": WORKERS, "worker_threads": WORKER_THREADS,
               "loadavg_before": os.getloadavg() if hasattr(os, "getloadavg") else None, "rows": []}
    bar = harness.Progress(3, "dask") if progress else None
    with local_cluster() as client:
        xd = da.from_array(x, chunks=(CHUNK,) + IMAGE)
        # the images live on the workers, as if read there: scattered, not in the graph
        parts = client.scatter([x[i:i + CHUNK] for i in range(0, BATCH, CHUNK)])
        x_cluster = client.persist(da.concatenate(
            [da.from_delayed(f, shape=(min(CHUNK, BATCH - i),) + IMAGE, dtype=x.dtype)
             for i, f in zip(range(0, BATCH, CHUNK), parts)]))
        y_cluster = dask_stack(x_cluster, *params)
        y_threads = dask_stack(xd, *params)
        want = local_stack(x, *params)
        got = y_cluster.compute(scheduler=client)
        if not np.array_equal(got, want):
            raise AssertionError("the cluster's result differs from the single process's")
        if bar:
            bar.step("cluster up, results checked")

        def single(t):
            def fn():
                with fastconv.threads(t):
                    local_stack(x, *params)
            return fn

        competitors = {f"single_t{t}": single(t) for t in threads}
        dask_threads = max(2, WORKERS * WORKER_THREADS)
        if 2 not in threads:
            competitors["single_t2"] = single(2)
        competitors["cluster"] = lambda: y_cluster.compute(scheduler=client)
        y_sum = y_cluster.sum()  # the features stay on the workers: no 17 MB back to the client
        competitors["cluster_sum"] = lambda: y_sum.compute(scheduler=client)
        competitors["threads"] = lambda: dask.compute(y_threads, scheduler="threads",
                                                      num_workers=dask_threads)
        # (autorange's first calls warm every competitor up)
        t = harness.time_alternating(competitors, repeats=3 if quick else 7, warmup=0, target=0.01,
                                     cooldown=0.0 if quick else 0.15)
        if bar:
            bar.step("timed")
    base2 = t["single_t2"].median
    for label, key, desc in [("local cluster 2 workers x 1 thread", "cluster", "cluster"),
                             ("local cluster 2x1, result kept on the workers (sum only back)",
                              "cluster_sum", "cluster_sum"),
                             ("threaded scheduler, 2 threads", "threads", "threads")]:
        for nt in threads:
            single_s = t[f"single_t{nt}"].median
            row = {
                "case": f"{label} vs 1 process x {nt} thread(s)",
                "scheduler": desc,
                "threads": nt,
                "dask_threads": dask_threads,
                "dask_s": t[key].median,
                "dask_spread": (t[key].low, t[key].high),
                "single_s": single_s,
                "single_spread": (t[f"single_t{nt}"].low, t[f"single_t{nt}"].high),
                "dask_images_per_s": BATCH / t[key].median,
                "single_images_per_s": BATCH / single_s,
                "ratio_vs_single_process": single_s / t[key].median,
                "overhead_s_vs_2_threads": t[key].median - base2,
            }
            results["rows"].append(row)
    if bar:
        bar.step("done")
    return results


def report(results) -> str:
    lines = [
        f"{results['batch']} images of {'x'.join(map(str, results['image']))} float32 through "
        f"conv 3->32 3x3, max pool 2, conv 32->64 3x3, avg pool 2; Dask batch chunks of "
        f"{results['chunk']}; cluster: {results['workers']} worker processes x "
        f"{results['worker_threads']} thread, one OpenMP thread per task.",
        f"Machine load average before the run: {results.get('loadavg_before')}.",
        "",
    ]
    headers = ["case", "Dask ms", "1 process ms", "Dask images/s", "1 process images/s",
               "ratio (1 process / Dask)", "overhead vs 1 process x 2 threads (ms)"]
    rows = []
    for r in results["rows"]:
        rows.append([
            r["case"], f"{r['dask_s'] * 1e3:.0f} ({r['dask_spread'][0] * 1e3:.0f}..{r['dask_spread'][1] * 1e3:.0f})",
            f"{r['single_s'] * 1e3:.0f} ({r['single_spread'][0] * 1e3:.0f}..{r['single_spread'][1] * 1e3:.0f})",
            f"{r['dask_images_per_s']:.0f}", f"{r['single_images_per_s']:.0f}",
            f"{r['ratio_vs_single_process']:.2f}x", f"{r['overhead_s_vs_2_threads'] * 1e3:+.0f}",
        ])
    lines.append(harness.markdown_table(headers, rows))
    return "\n".join(lines)


def main(argv=None):
    harness.bench_main(__doc__, "fastconv.dask: 2-worker local cluster vs one process", run, report, argv,
                       quick_help="3 rounds instead of 7 (under a minute)",
                       threads_help="thread counts of the single-process runs")


if __name__ == "__main__":
    main()
