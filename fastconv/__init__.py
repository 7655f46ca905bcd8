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
from .conv import (
    col2im,
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv_output_shape,
    conv_output_size,
    conv_transpose1d,
    conv_transpose1d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    im2col,
)

from .pooling import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool2d_backward,
    avg_unpool2d,
    global_avg_pool2d,
    global_max_pool2d,
    max_pool1d,
    max_pool2d,
    max_pool2d_backward,
    max_unpool2d,
    stochastic_pool2d,
)

from .signal import convolve, convolve2d, correlate, correlate2d, filter2d
from .local import (
    linear,
    linear_backward,
    local_conv2d,
    local_conv2d_backward,
    local_weights_from_keras,
    param_count,
    tiled_conv2d,
    tiled_conv2d_backward,
)
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
__all__ += [
    "col2im",
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_output_shape",
    "conv_output_size",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "im2col",
]
__all__ += [
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool2d_backward",
    "avg_unpool2d",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool1d",
    "max_pool2d",
    "max_pool2d_backward",
    "max_unpool2d",
    "stochastic_pool2d",
]
__all__ += ["convolve", "convolve2d", "correlate", "correlate2d", "filter2d"]
__all__ += [
    "linear",
    "linear_backward",
    "local_conv2d",
    "local_conv2d_backward",
    "local_weights_from_keras",
    "param_count",
    "tiled_conv2d",
    "tiled_conv2d_backward",
]
__all__ += ["layers", "models", "optim", "summary"]
