"""Runtime ISA dispatch across the compiled modules.

Every extension module links its own copy of the C core, and so its own
dispatch state; this module keeps them in step.  ``FASTCONV_ISA`` (one of
``generic``, ``avx2``, ``avx512``) forces a lower level at import time; a level
the CPU cannot run is refused with a clear error.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import pkgutil

from . import _runtime

ISA_LEVELS = ("generic", "avx2", "avx512")

def _modules():
    """Every compiled module of the package (each includes _isa.pxi)."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([package_dir])
        if info.name.startswith("_")
        and isinstance(info.module_finder, importlib.machinery.FileFinder)
        and any(
            os.path.exists(os.path.join(package_dir, info.name + suffix))
            for suffix in importlib.machinery.EXTENSION_SUFFIXES
        )
    )
    mods = [importlib.import_module(f"{__package__}.{name}") for name in names]
    return [m for m in mods if hasattr(m, "_set_isa")]


def isa_best() -> str:
    """The best ISA level this CPU and operating system support (and fastconv was built with)."""
    return ISA_LEVELS[_runtime.isa_best()]


def get_isa() -> str:
    """The ISA level fastconv's kernels run at now."""
    return ISA_LEVELS[_runtime._isa_active()]


def set_isa(name: str) -> None:
    """Run every kernel at ISA level ``name`` (``"generic"``, ``"avx2"``, ``"avx512"``).

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` for a level
    above what this CPU supports.
    """
    if not isinstance(name, str) or name.lower() not in ISA_LEVELS:
        raise ValueError(f"isa must be one of {ISA_LEVELS}, got {name!r}")
    level = ISA_LEVELS.index(name.lower())
    best = _runtime.isa_best()
    if level > best:
        raise RuntimeError(
            f"isa={name!r} is not supported on this CPU (the best available is {ISA_LEVELS[best]!r})"
        )
    for mod in _modules():
        if mod._set_isa(level) != 0:  # pragma: no cover - checked above
            raise RuntimeError(f"could not set isa={name!r} in {mod.__name__}")


def available_isas() -> list[str]:
    """Every ISA level this machine can run, lowest first."""
    return list(ISA_LEVELS[: _runtime.isa_best() + 1])


def _apply_environment() -> None:
    value = os.environ.get("FASTCONV_ISA", "").strip()
    if not value:
        return
    try:
        set_isa(value)
    except ValueError:
        raise ImportError(
            f"FASTCONV_ISA={value!r} is not a known ISA level; use one of {ISA_LEVELS}"
        ) from None
    except RuntimeError as exc:
        raise ImportError(f"FASTCONV_ISA={value!r}: {exc}") from None
