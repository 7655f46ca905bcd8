"""Type stub of the compiled pooling wrapper (fastconv/_pool.pyx).

Private: fastconv.pooling validates every argument, allocates the outputs and
builds the geometry tuple before calling these.  Arrays are 4-D in their
memory layout; outputs, gradients and indices are C-contiguous.
"""
from typing import Optional

import numpy as np
import numpy.typing as npt

# (batch, channels, in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w,
#  dilation_h, dilation_w, pad_top, pad_bottom, pad_left, pad_right, layout)
Geometry = tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int]
FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

MAX: int
AVG: int
ADAPTIVE_MAX: int
ADAPTIVE_AVG: int

def _set_isa(level: int) -> int: ...
def _isa_active() -> int: ...
def forward(
    kind: int,
    geom: Geometry,
    x: FloatArray,
    y: FloatArray,
    indices: Optional[IndexArray] = ...,
    count_include_pad: bool = ...,
    divisor_override: int = ...,
) -> None: ...
def stochastic(
    geom: Geometry, x: FloatArray, y: FloatArray, indices: Optional[IndexArray], seed: int, training: bool
) -> None: ...
def max_backward(geom: Geometry, grad_out: FloatArray, indices: IndexArray, grad_in: FloatArray) -> None: ...
def max_unpool(geom: Geometry, x: FloatArray, indices: IndexArray, y: FloatArray) -> None: ...
def avg_backward(
    geom: Geometry,
    grad_out: FloatArray,
    grad_in: FloatArray,
    adaptive: bool,
    count_include_pad: bool = ...,
    divisor_override: int = ...,
) -> None: ...
def avg_unpool(geom: Geometry, x: FloatArray, y: FloatArray) -> None: ...
