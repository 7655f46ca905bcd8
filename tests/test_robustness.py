"""Robustness across the whole public API: determinism for 1-4 OpenMP threads,
concurrent Python threads, fork/spawn/forkserver children, living beside
PyTorch, inputs left untouched, sizes that cannot be allocated, and leaks.

Every compute function of the public API appears in OPS below, so a new
function is covered by adding one line.
"""
import gc
import os
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import pytest

import fastconv


def _r(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# name -> function(rng) returning (callable, args tuple); the callable's
# outputs (an array or a tuple of arrays) are compared.
OPS = {
    "gemm": lambda r: (fastconv.gemm, (_r(r, 70, 90), _r(r, 90, 50))),
    "conv2d": lambda r: (fastconv.conv2d, (_r(r, 2, 5, 17, 19), _r(r, 8, 5, 3, 3), _r(r, 8), 1, 1)),
    "conv2d_nhwc_strided": lambda r: (
        lambda x, w: fastconv.conv2d(x, w, stride=2, padding="same", layout="NHWC"),
        (_r(r, 2, 15, 13, 6), _r(r, 4, 6, 5, 5))),
    "conv2d_depthwise": lambda r: (
        lambda x, w: fastconv.conv2d(x, w, padding=1, groups=6), (_r(r, 2, 6, 16, 16), _r(r, 6, 1, 3, 3))),
    "conv1d": lambda r: (fastconv.conv1d, (_r(r, 3, 4, 50), _r(r, 6, 4, 5))),
    "conv_transpose2d": lambda r: (
        lambda x, w: fastconv.conv_transpose2d(x, w, stride=2, padding=1),
        (_r(r, 2, 4, 9, 9), _r(r, 4, 3, 3, 3))),
    "conv_transpose1d": lambda r: (fastconv.conv_transpose1d, (_r(r, 2, 4, 20), _r(r, 4, 3, 5))),
    "conv2d_backward": lambda r: (
        lambda g, x, w: fastconv.conv2d_backward(g, x, w, padding=1),
        (_r(r, 2, 8, 12, 12), _r(r, 2, 5, 12, 12), _r(r, 8, 5, 3, 3))),
    "conv1d_backward": lambda r: (fastconv.conv1d_backward, (_r(r, 2, 6, 46), _r(r, 2, 4, 50), _r(r, 6, 4, 5))),
    "conv_transpose2d_backward": lambda r: (
        fastconv.conv_transpose2d_backward, (_r(r, 2, 3, 11, 11), _r(r, 2, 4, 9, 9), _r(r, 4, 3, 3, 3))),
    "conv_transpose1d_backward": lambda r: (
        fastconv.conv_transpose1d_backward, (_r(r, 2, 3, 24), _r(r, 2, 4, 20), _r(r, 4, 3, 5))),
    "im2col": lambda r: (lambda x: fastconv.im2col(x, 3, padding=1), (_r(r, 2, 3, 10, 11),)),
    "col2im": lambda r: (lambda c: fastconv.col2im(c, (10, 11), 3, padding=1), (_r(r, 2, 27, 110),)),
    "max_pool2d": lambda r: (
        lambda x: fastconv.max_pool2d(x, 3, 2, 1, return_indices=True), (_r(r, 2, 4, 23, 21),)),
    "avg_pool2d": lambda r: (lambda x: fastconv.avg_pool2d(x, 3, 1, 1), (_r(r, 2, 4, 23, 21),)),
    "max_pool1d": lambda r: (lambda x: fastconv.max_pool1d(x, 2), (_r(r, 2, 4, 31),)),
    "avg_pool1d": lambda r: (lambda x: fastconv.avg_pool1d(x, 3), (_r(r, 2, 4, 31),)),
    "adaptive_avg_pool2d": lambda r: (lambda x: fastconv.adaptive_avg_pool2d(x, 5), (_r(r, 2, 4, 23, 21),)),
    "adaptive_max_pool2d": lambda r: (lambda x: fastconv.adaptive_max_pool2d(x, 5), (_r(r, 2, 4, 23, 21),)),
    "global_avg_pool2d": lambda r: (fastconv.global_avg_pool2d, (_r(r, 2, 4, 23, 21),)),
    "global_max_pool2d": lambda r: (fastconv.global_max_pool2d, (_r(r, 2, 4, 23, 21),)),
    "stochastic_pool2d": lambda r: (
        lambda x: fastconv.stochastic_pool2d(x, 2, rng=7), (np.abs(_r(r, 2, 4, 22, 20)),)),
    "avg_pool2d_backward": lambda r: (
        lambda g: fastconv.avg_pool2d_backward(g, (2, 4, 23, 21), 3, 2, 1), (_r(r, 2, 4, 12, 11),)),
    "max_pool2d_backward": lambda r: (
        lambda x, g: fastconv.max_pool2d_backward(g, fastconv.max_pool2d(x, 2, return_indices=True)[1], x.shape),
        (_r(r, 2, 4, 22, 20), _r(r, 2, 4, 11, 10))),
    "adaptive_avg_pool2d_backward": lambda r: (
        lambda g: fastconv.adaptive_avg_pool2d_backward(g, (2, 4, 23, 21)), (_r(r, 2, 4, 5, 5),)),
    "max_unpool2d": lambda r: (
        lambda x: fastconv.max_unpool2d(*fastconv.max_pool2d(x, 2, return_indices=True), 2),
        (_r(r, 2, 4, 22, 20),)),
    "avg_unpool2d": lambda r: (lambda x: fastconv.avg_unpool2d(x, 2), (_r(r, 2, 4, 11, 10),)),
    "convolve": lambda r: (fastconv.convolve, (_r(r, 3000, dtype=np.float64), _r(r, 300, dtype=np.float64))),
    "correlate": lambda r: (
        lambda a, v: fastconv.correlate(a, v, "same"), (_r(r, 3000, dtype=np.float64), _r(r, 17, dtype=np.float64))),
    "convolve2d": lambda r: (
        lambda a, b: fastconv.convolve2d(a, b, "same", "symm"), (_r(r, 70, 90), _r(r, 5, 5))),
    "correlate2d": lambda r: (
        lambda a, b: fastconv.correlate2d(a, b, "full", "wrap"), (_r(r, 70, 90), _r(r, 4, 6))),
    "convolve2d_int": lambda r: (
        fastconv.convolve2d, (r.integers(-50, 50, (40, 30)), r.integers(-5, 5, (3, 3)))),
    "filter2d": lambda r: (fastconv.filter2d, (_r(r, 5, 40, 41), _r(r, 5, 5))),
    "linear": lambda r: (fastconv.linear, (_r(r, 7, 33), _r(r, 20, 33), _r(r, 20))),
    "linear_backward": lambda r: (fastconv.linear_backward, (_r(r, 7, 20), _r(r, 7, 33), _r(r, 20, 33))),
    "local_conv2d": lambda r: (fastconv.local_conv2d, (_r(r, 2, 3, 9, 8), _r(r, 7, 6, 4, 3, 3, 3), _r(r, 4))),
    "local_conv2d_backward": lambda r: (
        fastconv.local_conv2d_backward, (_r(r, 2, 4, 7, 6), _r(r, 2, 3, 9, 8), _r(r, 7, 6, 4, 3, 3, 3))),
    "tiled_conv2d": lambda r: (fastconv.tiled_conv2d, (_r(r, 2, 3, 9, 8), _r(r, 2, 2, 4, 3, 3, 3), _r(r, 4))),
    "tiled_conv2d_backward": lambda r: (
        fastconv.tiled_conv2d_backward, (_r(r, 2, 4, 7, 6), _r(r, 2, 3, 9, 8), _r(r, 2, 2, 4, 3, 3, 3))),
}


def _as_tuple(res):
    if isinstance(res, tuple):
        return tuple(x for x in res if x is not None)
    return (res,)


def _run(name, seed=0):
    fn, args = OPS[name](np.random.default_rng(seed))
    return _as_tuple(fn(*args))


def _assert_bitwise(a, b, what):
    assert len(a) == len(b), what
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype, what
        assert np.array_equal(x, y, equal_nan=True), what


def test_every_public_compute_function_is_covered():
    skip = {"available_isas", "config", "get_isa", "get_num_threads", "set_isa", "set_num_threads",
            "show_config", "threads", "conv_output_shape", "conv_output_size", "param_count",
            "local_weights_from_keras", "summary", "layers", "models", "optim"}
    missing = [n for n in fastconv.__all__ if n not in skip and n != "__version__"
               and callable(getattr(fastconv, n))
               and not any(key == n or key.startswith(n + "_") for key in OPS)]
    assert not missing, f"add these to OPS: {missing}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_bitwise_identical_for_1_to_4_threads(name):
    results = []
    for nt in (1, 2, 3, 4):
        with fastconv.threads(nt):
            results.append(_run(name))
    for nt, res in zip((2, 3, 4), results[1:]):
        _assert_bitwise(results[0], res, f"{name}: 1 vs {nt} threads")


@pytest.mark.parametrize("name", sorted(OPS))
def test_inputs_are_not_modified(name):
    fn, args = OPS[name](np.random.default_rng(3))
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    for a in args:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False  # read-only inputs must be accepted too
    fn(*args)
    for a, c in zip(args, copies):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, c, equal_nan=True)


def test_eight_python_threads_at_once_match_serial():
    names = ["gemm", "conv2d", "conv2d_depthwise", "max_pool2d", "avg_pool2d", "convolve2d",
             "filter2d", "conv2d_backward", "linear", "correlate"]
    jobs = [(names[i % len(names)], i) for i in range(24)]
    expected = {job: _run(*job) for job in jobs}
    results, errors = {}, []
    barrier = threading.Barrier(8)

    def worker(k):
        try:
            barrier.wait()
            for job in jobs[k::8]:
                results[job] = _run(*job)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    for job in jobs:
        _assert_bitwise(expected[job], results[job], str(job))


def test_changing_thread_count_while_another_thread_computes():
    expected = _run("gemm", 5)
    stop = threading.Event()
    outcomes = []

    def compute():
        while not stop.is_set():
            outcomes.append(_run("gemm", 5))

    t = threading.Thread(target=compute)
    t.start()
    try:
        for n in (1, 3, 2, 4, 1, 2) * 5:
            fastconv.set_num_threads(n)
    finally:
        stop.set()
        t.join(timeout=120)
        fastconv.set_num_threads(max(1, os.cpu_count() or 1))
    assert outcomes
    for res in outcomes:
        _assert_bitwise(expected, res, "gemm under thread-count changes")


def _python(code, timeout=180):
    # a script file (spawned children re-import __main__ from it), run outside
    # the source tree so that the installed package is imported
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "script.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        return subprocess.run([sys.executable, path], capture_output=True, text=True,
                              timeout=timeout, cwd=tmp)


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_child_processes_do_not_hang(method):
    r = _python(f"""
        import multiprocessing as mp
        import numpy as np
        import fastconv

        def work(seed):
            rng = np.random.default_rng(seed)
            x = rng.standard_normal((2, 3, 20, 20))
            w = rng.standard_normal((4, 3, 3, 3))
            a = rng.standard_normal((200, 200))
            return (fastconv.conv2d(x, w).tobytes(), fastconv.gemm(a, a).tobytes(),
                    fastconv.max_pool2d(x, 2).tobytes())

        if __name__ == "__main__":
            parent = [work(s) for s in range(3)]   # the parent runs OpenMP regions first
            ctx = mp.get_context("{method}")
            with ctx.Pool(2) as pool:
                child = pool.map(work, range(3))
            assert child == parent, "results differ in the child"
            print("ok")
        """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "ok" in r.stdout


@pytest.mark.parametrize("first", ["torch", "fastconv"])
def test_living_beside_pytorch(first):
    pytest.importorskip("torch")
    order = ["import torch", "import fastconv"]
    if first == "fastconv":
        order.reverse()
    r = _python("\n".join(order) + """
import numpy as np
rng = np.random.default_rng(0)
x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
for _ in range(3):
    ours = fastconv.conv2d(x, w, padding=1)
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    a = rng.standard_normal((300, 300)).astype(np.float32)
    np.testing.assert_allclose(fastconv.gemm(a, a), (torch.from_numpy(a) @ torch.from_numpy(a)).numpy(),
                               rtol=1e-4, atol=1e-3)
print("ok", fastconv.get_num_threads(), torch.get_num_threads())
""")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ok")


def test_threadpoolctl_sees_fastconv_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _run("gemm")
    openmp = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
    assert openmp
    with threadpoolctl.threadpool_limits(1):
        assert fastconv.get_num_threads() == 1


@pytest.mark.parametrize("first", ["torch", "fastconv"])
def test_threadpoolctl_controls_fastconv_beside_pytorch(first):
    """With PyTorch's OpenMP runtime in the process too (imported before or after
    fastconv), threadpoolctl lists the runtime fastconv reports in config(), its
    limits reach fastconv and are undone on exit, and neither library starts
    with more threads than the machine has cores."""
    pytest.importorskip("torch")
    pytest.importorskip("threadpoolctl")
    order = ["import torch", "import fastconv"]
    if first == "fastconv":
        order.reverse()
    r = _python("\n".join(order) + """
import os
import numpy as np
import threadpoolctl

cores = os.cpu_count()
assert 1 <= fastconv.get_num_threads() <= cores, (fastconv.get_num_threads(), cores)
assert 1 <= torch.get_num_threads() <= cores, (torch.get_num_threads(), cores)
a = np.random.default_rng(0).standard_normal((300, 300))
expected = fastconv.gemm(a, a)
torch.from_numpy(a) @ torch.from_numpy(a)

ours = fastconv.config()["openmp"]["runtime"]
assert ours, "config() names no OpenMP runtime"
listed = [i["filepath"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
assert os.path.realpath(ours) in {os.path.realpath(p) for p in listed}, (ours, listed)

before = fastconv.get_num_threads()
with threadpoolctl.threadpool_limits(1, user_api="openmp"):
    assert fastconv.get_num_threads() == 1
    assert np.array_equal(fastconv.gemm(a, a), expected)
assert fastconv.get_num_threads() == before
print("ok")
""")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("ok")


# ---- sizes that cannot exist -------------------------------------------------

HUGE = [
    ("gemm", lambda: fastconv.gemm(np.broadcast_to(np.float32(1), (2**20, 4)),
                                  np.broadcast_to(np.float32(1), (4, 2**20)))),
    ("conv2d", lambda: fastconv.conv2d(np.broadcast_to(np.float32(1), (2**10, 4, 2**15, 2**15)),
                                      np.ones((8, 4, 1, 1), np.float32))),
    ("max_pool2d", lambda: fastconv.max_pool2d(np.broadcast_to(np.float32(1), (2**10, 2**10, 2**14, 2**14)), 1)),
    ("convolve2d", lambda: fastconv.convolve2d(np.broadcast_to(np.float64(1), (2**21, 2**21)), np.ones((3, 3)))),
    ("im2col", lambda: fastconv.im2col(np.broadcast_to(np.float32(1), (64, 64, 2**12, 2**12)), 7, padding=3)),
    ("linear", lambda: fastconv.linear(np.broadcast_to(np.float32(1), (2**31, 4)), np.ones((2**12, 4), np.float32))),
]


@pytest.mark.parametrize("name,call", HUGE, ids=[h[0] for h in HUGE])
def test_impossible_sizes_raise_cleanly(name, call):
    with pytest.raises((MemoryError, ValueError)):
        call()


# ---- leaks ----------------------------------------------------------------------

def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


@pytest.mark.skipif(_rss_bytes() is None, reason="needs /proc/self/statm")
def test_repeated_calls_do_not_grow_memory():
    for name in OPS:          # warm up every path (allocator pools, caches)
        for _ in range(3):
            _run(name)
    gc.collect()
    before = _rss_bytes()
    for _ in range(15):
        for name in OPS:
            _run(name)
    gc.collect()
    grown = _rss_bytes() - before
    # a leak of even one small workspace per call would exceed this
    assert grown < 24 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over {15 * len(OPS)} calls"
