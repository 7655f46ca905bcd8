"""Thread-count control for fastconv's OpenMP kernels.

fastconv reads the OpenMP thread count (``omp_get_max_threads()``) at every
call, so ``OMP_NUM_THREADS``, :func:`set_num_threads`, :func:`threads` and
``threadpoolctl.threadpool_limits`` all take effect on the next call.  As in
OpenMP itself the setting belongs to the calling Python thread.
"""
from __future__ import annotations

import contextlib
import operator

from . import _runtime


def get_num_threads() -> int:
    """Number of OpenMP threads the next fastconv call from this thread will use."""
    return _runtime.get_num_threads()


def _check_n(n, name="n") -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return n


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads fastconv uses from the calling thread.

    Parameters
    ----------
    n : int
        Thread count, at least 1.  More threads than cores is allowed but
        rarely useful.
    """
    _runtime.set_num_threads(_check_n(n))


@contextlib.contextmanager
def threads(n: int):
    """Context manager running the enclosed fastconv calls with ``n`` threads.

    Examples
    --------
    >>> import fastconv, numpy as np
    >>> with fastconv.threads(1):
    ...     c = fastconv.gemm(np.ones((4, 3)), np.ones((3, 2)))
    """
    n = _check_n(n)
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield n
    finally:
        set_num_threads(previous)
