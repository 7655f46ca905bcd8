import numpy as np
import numpy.typing as npt

# (items, channels, outputs, in_h, in_w, in_rs, in_cs, kernel_h, kernel_w,
#  out_h, out_w, pad_top, pad_left, boundary, interleave)
_Geom = tuple[int, ...]

def geom_check(geom: _Geom) -> int: ...
def corr2d_f32(
    geom: _Geom, x: npt.NDArray[np.float32], x_off: npt.NDArray[np.intp],
    k: npt.NDArray[np.float32], k_off: npt.NDArray[np.intp],
    fill: npt.NDArray[np.float32], y: npt.NDArray[np.float32],
) -> None: ...
def corr2d_f64(
    geom: _Geom, x: npt.NDArray[np.float64], x_off: npt.NDArray[np.intp],
    k: npt.NDArray[np.float64], k_off: npt.NDArray[np.intp],
    fill: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
) -> None: ...
def corr2d_i32(
    geom: _Geom, x: npt.NDArray[np.int32], x_off: npt.NDArray[np.intp],
    k: npt.NDArray[np.int32], k_off: npt.NDArray[np.intp],
    fill: npt.NDArray[np.int32], y: npt.NDArray[np.int32],
) -> None: ...
def corr2d_i64(
    geom: _Geom, x: npt.NDArray[np.int64], x_off: npt.NDArray[np.intp],
    k: npt.NDArray[np.int64], k_off: npt.NDArray[np.intp],
    fill: npt.NDArray[np.int64], y: npt.NDArray[np.int64],
) -> None: ...
def _set_isa(level: int) -> int: ...
def _isa_active() -> int: ...

# (n, pad, taps, out_w, fft_n, guard, guard_c)
_FftParams = tuple[int, int, int, int, int, int, float]

def fftcorr1d_pairs(params: _FftParams) -> int: ...
def fftcorr1d_f32(
    params: _FftParams, x: npt.NDArray[np.float32], k: npt.NDArray[np.float32], fill: float,
    y: npt.NDArray[np.float32], bad: npt.NDArray[np.uint8],
) -> None: ...
def fftcorr1d_f64(
    params: _FftParams, x: npt.NDArray[np.float64], k: npt.NDArray[np.float64], fill: float,
    y: npt.NDArray[np.float64], bad: npt.NDArray[np.uint8],
) -> None: ...
