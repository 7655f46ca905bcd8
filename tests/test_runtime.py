"""Configuration report, ISA selection and thread control."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastconv


def test_config_keys():
    cfg = fastconv.config()
    for key in ("version", "compiler", "openmp", "isa", "threads", "gemm_blocking"):
        assert key in cfg
    assert cfg["isa"]["active"] in cfg["isa"]["available"]
    assert cfg["isa"]["best"] == cfg["isa"]["available"][-1]
    assert cfg["version"] == fastconv.__version__


def test_show_config_prints(capsys):
    fastconv.show_config()
    out = capsys.readouterr().out
    assert fastconv.__version__ in out
    assert "isa" in out and "threads" in out and "openmp" in out


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/cpuinfo")
def test_best_isa_matches_cpu_flags():
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no cpu flags")
    import platform
    if platform.machine() not in ("x86_64", "AMD64"):
        assert fastconv.config()["isa"]["best"] == "generic"
        return
    if "avx512f" in flags:
        expected = "avx512"
    elif "avx2" in flags and "fma" in flags:
        expected = "avx2"
    else:
        expected = "generic"
    assert fastconv.config()["isa"]["best"] == expected


def test_set_isa_roundtrip_and_errors():
    previous = fastconv.get_isa()
    try:
        for name in fastconv.available_isas():
            fastconv.set_isa(name)
            assert fastconv.get_isa() == name
    finally:
        fastconv.set_isa(previous)
    with pytest.raises(ValueError, match="isa"):
        fastconv.set_isa("sse9")
    if "avx512" not in fastconv.available_isas():
        with pytest.raises(RuntimeError, match="not supported"):
            fastconv.set_isa("avx512")


def _run(code, **env):
    full_env = dict(os.environ)
    full_env.update(env)
    # run outside the source tree, so that the installed package is imported
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True, text=True,
                          timeout=120, cwd=tempfile.gettempdir())


def test_environment_forces_lower_isa():
    r = _run("import fastconv; print(fastconv.get_isa())", FASTCONV_ISA="generic")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "generic"


def test_environment_refuses_unsupported_isa():
    if "avx512" in fastconv.available_isas():
        pytest.skip("this CPU runs every level")
    r = _run("import fastconv", FASTCONV_ISA="avx512")
    assert r.returncode != 0
    assert "FASTCONV_ISA" in r.stderr and "not supported" in r.stderr
    r = _run("import fastconv", FASTCONV_ISA="bogus")
    assert r.returncode != 0 and "FASTCONV_ISA" in r.stderr


def test_threads_api():
    n0 = fastconv.get_num_threads()
    with fastconv.threads(1):
        assert fastconv.get_num_threads() == 1
        with fastconv.threads(3):
            assert fastconv.get_num_threads() == 3
        assert fastconv.get_num_threads() == 1
    assert fastconv.get_num_threads() == n0
    with pytest.raises(ValueError):
        fastconv.set_num_threads(0)
    with pytest.raises(TypeError):
        fastconv.set_num_threads(1.5)


def test_omp_num_threads_environment():
    r = _run("import fastconv; print(fastconv.get_num_threads())", OMP_NUM_THREADS="3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


def test_threadpoolctl_controls_fastconv():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    a = np.ones((200, 200))
    fastconv.gemm(a, a)
    libs = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
    assert libs, "fastconv's OpenMP runtime should be visible to threadpoolctl"
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastconv.get_num_threads() == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_matches_numpy(isa, dtype):
    """The C finiteness check behind algorithm='auto' (one inf, -inf or NaN
    anywhere, including the vector tails and the 65536-element task edges,
    at 1 and 2 threads) answers as numpy.isfinite(...).all(); huge finite
    values, subnormals and -0 are finite; strided and Fortran-ordered arrays
    too."""
    from fastconv._validate import all_finite
    rng = np.random.default_rng(7)
    info = np.finfo(dtype)
    lengths = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 65535, 65536, 65537, 131072 + 5]
    for n in lengths:
        base = rng.standard_normal(n).astype(dtype)
        if n:
            base[rng.integers(n, size=min(n, 4))] = rng.choice([info.max, -info.max, info.tiny / 4, -0.0], min(n, 4))
        for nt in (1, 2):
            with fastconv.threads(nt):
                assert all_finite(base) == bool(np.isfinite(base).all()), (n, nt)
                for pos in {0, n // 2, n - 1, 65535, 65536} if n else set():
                    if pos >= n:
                        continue
                    for bad in (np.inf, -np.inf, np.nan):
                        a = base.copy()
                        a[pos] = bad
                        assert not all_finite(a), (n, pos, bad, nt)
    m = rng.standard_normal((40, 30)).astype(dtype)
    assert all_finite(np.asfortranarray(m)) and all_finite(m[::2, 1::3])
    m[17, 5] = np.nan
    assert not all_finite(np.asfortranarray(m)) and not all_finite(m[1::2, ::5])
