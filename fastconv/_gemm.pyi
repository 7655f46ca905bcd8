import numpy as np
import numpy.typing as npt

def gemm(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    c: npt.NDArray[np.floating],
    alpha: float,
    beta: float,
    nthreads: int = ...,
) -> None: ...
def _set_isa(level: int) -> int: ...
def _isa_active() -> int: ...
