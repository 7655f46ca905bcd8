"""fastconv: fast convolution, pooling and GEMM for NumPy arrays.

Hot paths are plain C parallelised with OpenMP, with AVX2/AVX-512 kernels
chosen at run time; the API follows NumPy, SciPy and PyTorch.

Multiprocessing: fastconv uses OpenMP.  A process forked after an OpenMP
parallel region has run may hang in the child with some runtimes (GNU
libgomp); prefer the ``spawn`` or ``forkserver`` start methods.
"""
from ._version import __version__

try:
    from . import _runtime
except ImportError as exc:  # pragma: no cover - only in an unbuilt source tree
    raise ImportError(
        "fastconv's compiled modules could not be imported. Build them with "
        "'pip install .' (or 'pip install -e .' for development), and run Python "
        f"from outside the source tree when fastconv is installed normally. ({exc})"
    ) from exc
from . import _dispatch
from ._config import config, show_config
from ._dispatch import available_isas, get_isa, set_isa
from ._threads import get_num_threads, set_num_threads, threads
from .linalg import gemm
# the functional API: each module's __all__ is its public list, re-exported here
from . import conv, local, pooling
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .signal import convolve, convolve2d, correlate, correlate2d, filter2d
from .local import *  # noqa: F401,F403
# the layer toolkit, pure Python over the functions above
from . import layers, models, optim
from .models import summary

_dispatch._apply_environment()

__all__ = [
    "__version__",
    "available_isas",
    "config",
    "gemm",
    "get_isa",
    "get_num_threads",
    "set_isa",
    "set_num_threads",
    "show_config",
    "threads",
]
__all__ += conv.__all__
__all__ += pooling.__all__
__all__ += ["convolve", "convolve2d", "correlate", "correlate2d", "filter2d"]
__all__ += local.__all__
__all__ += ["layers", "models", "optim", "summary"]
