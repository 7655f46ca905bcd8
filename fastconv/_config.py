"""Build and runtime configuration report."""
from __future__ import annotations

import platform
import sys

from . import _dispatch, _runtime
from ._version import __version__


def _openmp_runtime() -> str | None:
    """Path of the OpenMP runtime mapped into this process (Linux), if any."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if line.strip() else ""
                name = path.rsplit("/", 1)[-1]
                if name.startswith(("libgomp", "libomp", "libiomp")):
                    return path
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    """The CPU's model name, with its family and model numbers (a VM may report only "AMD EPYC")."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:
                    break  # the first processor's block is enough
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        return f"{fields['model name']} (family {fields['cpu family']}, model {fields['model']})"
    return fields["model name"]


def config() -> dict:
    """fastconv's build and runtime configuration as a dict.

    Keys: ``version``, ``python``, ``numpy``, ``compiler``, ``openmp``
    (``enabled``, ``version``, ``runtime``), ``isa`` (``active``, ``best``,
    ``available``), ``threads``, ``cpu`` and ``gemm_blocking``.
    """
    import numpy as np

    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "compiler": _runtime.compiler(),
        "openmp": {
            "enabled": _runtime.have_openmp(),
            "version": _runtime.openmp_version(),
            "runtime": _openmp_runtime(),
        },
        "isa": {
            "active": _dispatch.get_isa(),
            "best": _dispatch.isa_best(),
            "available": _dispatch.available_isas(),
        },
        "threads": _runtime.get_num_threads(),
        "cpu": _cpu_model(),
        "gemm_blocking": {
            "float32": _runtime.gemm_blocking(4),
            "float64": _runtime.gemm_blocking(8),
        },
    }


def show_config() -> None:
    """Print the version, compiler, OpenMP runtime, active ISA and thread count."""
    c = config()
    omp = c["openmp"]
    omp_text = (
        f"yes (OpenMP {omp['version']}, runtime {omp['runtime'] or 'not loaded'})"
        if omp["enabled"] else "no (serial build)"
    )
    lines = [
        f"fastconv {c['version']}",
        f"  python      : {c['python']}",
        f"  numpy       : {c['numpy']}",
        f"  compiler    : {c['compiler']}",
        f"  openmp      : {omp_text}",
        f"  cpu         : {c['cpu']}",
        f"  isa         : {c['isa']['active']} (best available: {c['isa']['best']}; "
        f"runnable: {', '.join(c['isa']['available'])})",
        f"  threads     : {c['threads']}",
        "  gemm tiles  : float32 {mr}x{nr} (mc={mc}, kc={kc}, nc={nc})".format(**c["gemm_blocking"]["float32"]),
        "                float64 {mr}x{nr} (mc={mc}, kc={kc}, nc={nc})".format(**c["gemm_blocking"]["float64"]),
    ]
    print("\n".join(lines))
