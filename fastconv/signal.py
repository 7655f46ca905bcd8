"""NumPy/SciPy-compatible signal filtering: convolve, correlate, convolve2d, correlate2d, filter2d.

Drop-in replacements returning the same array (values, dtype, shape) as
``numpy.convolve`` / ``numpy.correlate`` and ``scipy.signal.convolve2d`` /
``scipy.signal.correlate2d``, raising the same exception types for the same
bad input, plus :func:`filter2d`, the same 2-D operation over a whole stack of
images at once (the batched call SciPy lacks).

How a call is computed
----------------------
Every call becomes one cross-correlation (a convolution is a correlation
with the flipped kernel; a 1-D signal is an image of one row), computed
directly in C unless ``method`` (below) picks an FFT.  The direct path:
the output is cut into tiles that the threads share (OpenMP); each tile
gathers the input it reads, with the boundary rule applied, into a small
per-thread block, and a SIMD kernel (AVX-512 or AVX2 + FMA where available,
portable C elsewhere) correlates it, sharing each input load between several
output rows (a long 1-D kernel is folded into rows of one vector of taps, 16
float32 / 8 float64 at AVX-512, 8 / 4 at AVX2, for the same reason; each
output is a plain dot product of its own terms, so its rounding error is
bounded by those terms, as NumPy's -- block-wise fast algorithms such as
Karatsuba's err in proportion to the whole block).
The GIL is released throughout, and the result is bitwise identical for
every thread count.

- float32 / float64 compute in their own precision.  float16 (NumPy's 1-D
  functions only: SciPy refuses it) computes in float32 and rounds the result
  to float16, as NumPy's own float16 dot product does.
- complex64 / complex128 run as four real correlations in one pass (the real
  and imaginary planes are two channels of each output).
- integers and bool are exact: they accumulate modulo 2**32 (result dtypes
  of at most 32 bits, AVX2 vectors) or 2**64 and are then truncated to the
  result dtype, which is exactly NumPy's and SciPy's wrap-around; bool
  (``numpy.convolve`` only) is "any a & v".
- dtypes the C core does not handle (object, longdouble, ...) are passed to
  NumPy itself (1-D) or computed by a NumPy loop over the kernel taps (2-D
  longdouble / clongdouble); SciPy's unsupported dtypes raise its error.

``method``
----------
Each function takes a keyword-only ``method``: ``"direct"`` always runs the
direct C path; ``"fft"`` runs an FFT on float and complex inputs; ``"auto"``
(the default) chooses per call, as ``scipy.signal.convolve(...,
method="auto")`` does.  Integer and bool inputs are always direct (exact),
whatever ``method`` says.

*One real 1-D signal* (float32 / float64; also a single one-row image of the
2-D functions) runs through fastconv's own overlap-save FFT in C
(``src_c/signal_fft.c``): blocks of N samples (a power of two, 2 or 4 times
the taps, at least 64; see :func:`_cfft_plan`) step N - taps + 1 apart; two
neighbouring blocks are the real and imaginary parts of one complex transform
(the kernel is real, so their circular convolutions stay apart), and 16
(float32) / 8 (float64) such pairs run at once, one per SIMD lane, through
in-place radix-4 transforms computed in the input's precision (forward in
digit-reversed order, the kernel's spectrum computed once in double precision
in that order, inverse back to natural order: no permutation pass), spread
over threads in batches that do not depend on the thread count.
``"auto"`` uses it from ``FFT_RULE["cfft_min_taps"]`` (224) taps where the
cost model (below) says it is faster, and guards its accuracy: an FFT's
rounding error is norm-wise (relative to the whole block), while NumPy's
direct sum is accurate for each output relative to its own sum of
``|products|``; so for each pair of blocks the C code checks

    C * eps * sqrt(log2 N) * rms(pair) * max|FFT(kernel)|  <=  (2 taps + 1) * eps * LB

with C = :data:`FFT_GUARD_C` (4), rms(pair) the root mean square of its
2N samples, and LB a lower bound of every output's sum of ``|products|``:
the largest sum of min ``|k|`` over disjoint windows of 15 taps, times the
smallest sum of ``|x|`` over the aligned chunks of 8 samples in the pair (15
consecutive samples always hold such a chunk).  The right side is half the
per-output tolerance ``2 (2 taps + 1) eps * sum|products|`` of the tests
against NumPy; the left side is an error model fitted on signals and kernels
of many shapes (noise, sines, offsets, steps, positive data; random, box,
windowed-sinc, decaying, alternating kernels): the largest measured ratio of
error to ``eps * sqrt(log2 N) * rms * max|FFT(kernel)|`` was 3.3 (14 on
sparse signals, which the lower bound rejects: chunks of zeros).  Pairs that
fail (loud next to quiet stretches, sparse signals, kernels with zero taps,
non-finite values: NaN and inf fail every comparison) and the outputs whose
windows reach outside the signal (no lower bound there) are recomputed by the
direct engine as plain dot products, so NaN and inf stay local as in NumPy.
On noise-like signals with random kernels the guard passes from about 224
taps (hence that threshold); below it too many pairs would be recomputed.

``"fft"`` on such a signal takes ``numpy.fft``'s blocks (below) instead where
their estimated time is lower (a few very long blocks would leave most SIMD
lanes idle), and so do both methods where the C FFT's workspace would pass
``_CFFT_MAX_BYTES`` (256 MiB: kernels of a few hundred thousand taps).

*Complex signals, stacks of signals and 2-D inputs* use ``numpy.fft``:
overlap-save blocks of ``max(8 * taps, 8192)`` points for 1-D signals (chunks
of blocks spread over the threads), one zero-padded 2-D transform per image
otherwise.  ``"auto"`` uses it only for inputs whose values are all finite
(an FFT would smear one NaN or inf over the whole output), with no per-output
guard.

The rule: the FFT is used when its estimated time is below the direct
estimate (for the C FFT, both on one thread, so that the choice, and so the
bits, never depend on the thread count), both from the cost model and
constants in :data:`FFT_RULE`: direct
time grows with outputs x kernel taps / threads, FFT time with n log n per
transform (the C FFT: per batch of lanes, with a factor for blocks beyond L2).
In practice a real 1-D signal of 10**6 samples takes the C FFT from 224 taps
(measured on a Zen 5, one thread: 224 taps float32 0.64 ms against 1.56 ms
direct, float64 1.21 against 3.17 ms); for 2-D images, at AVX2, on a
1024x1024 image, kernels up to 38x38 (float32) / 28x28 (float64) stay
direct.
FFT results agree with the direct ones within floating-point tolerance
(relative to the largest output for ``"fft"``; per output, as above, for
the C FFT under ``"auto"``), not bitwise; both paths are bitwise identical
for every thread count (the FFT's blocks do not depend on it).
"""
from __future__ import annotations

import math
import operator
import os
import threading

import numpy as np

from . import _signal
from ._validate import all_finite as _all_finite
from ._validate import filter2d_batch as _filter2d_batch

__all__ = ["convolve", "correlate", "convolve2d", "correlate2d", "filter2d", "FFT_RULE"]

_FILL, _WRAP, _SYMM = 0, 1, 2
_BOUNDARIES = {"fill": _FILL, "pad": _FILL, "wrap": _WRAP, "circular": _WRAP,
               "symm": _SYMM, "symmetric": _SYMM}
_MODES_2D = {"valid": 0, "same": 1, "full": 2}
_NP_MODES = ("valid", "same", "full")
_METHODS = ("auto", "direct", "fft")

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_C64, _C128 = np.dtype(np.complex64), np.dtype(np.complex128)
_I32, _I64 = np.dtype(np.int32), np.dtype(np.int64)

#: Constants of ``method="auto"``, seconds per unit of work on one thread,
#: measured on an AVX2 + FMA machine (AMD Zen 3):
#: direct cost = ``direct_<dtype> * outputs * taps / threads`` (times 4 for a
#: complex input, times 4 again without AVX2); FFT cost = ``fft_1d_<dtype>``
#: (or ``fft_2d_<dtype>``) ``* n * log2(n)`` for every transform of n points
#: (a forward and an inverse transform per block of output, one for the
#: kernel; times 2 for complex), divided by the threads for 1-D signals, whose
#: blocks are spread over threads.  A folded real 1-D kernel counts its taps
#: after zero-padding (:func:`_fold_multiple`).  At AVX-512 the direct cost is
#: scaled by ``direct_avx512_factor_<dtype>``, fitted to the 1-D crossovers
#: measured on an AVX-512 machine (AMD Zen 5, 10**6 samples, one thread)
#: against the same FFT constants: float32 between 512 and 640 taps, float64
#: between 512 and 768 (its 512-bit kernels run a direct correlation about 1.7x faster than
#: the AVX2 ones, and its numpy.fft is also faster than the Zen 3's).
#: The C overlap-save FFT of one real 1-D signal (``cfft_*``, in the same
#: units as the direct constants, fitted on the Zen 5 at 10**6 samples):
#: ``cfft_1d_<dtype> * (1 + cfft_cache_step * max(0, log2(N) - 10)) *
#: batches_per_thread * 2 * lanes * N * log2(N)``, with 16 (float32) / 8
#: (float64) lanes; ``"auto"`` considers it from ``cfft_min_taps`` taps.
FFT_RULE = {
    "direct_float32": 3.0e-11,
    "direct_float64": 6.0e-11,
    "direct_avx512_factor_float32": 1.0,
    "direct_avx512_factor_float64": 0.75,
    "fft_1d_float32": 4.0e-10,
    "fft_1d_float64": 6.0e-10,
    "fft_2d_float32": 6.5e-10,
    "fft_2d_float64": 7.5e-10,
    "cfft_1d_float32": 1.7e-10,
    "cfft_1d_float64": 2.3e-10,
    "cfft_cache_step": 0.25,
    "cfft_min_taps": 224,
}

#: Largest workspace of the C FFT (all threads); beyond it numpy.fft's blocks run.
_CFFT_MAX_BYTES = 1 << 28

#: Constant C of the error model behind the guard of ``method="auto"``'s own
#: FFT (see the module documentation).
FFT_GUARD_C = 4.0

#: Overlap-save blocks of a 1-D FFT correlation are transformed in chunks of
#: this many blocks, spread over threads; a fixed chunk keeps the result
#: independent of the thread count.
_FFT_CHUNK = 16
_POOL = None
_POOL_PID = None
_POOL_LOCK = threading.Lock()


# ---------------------------------------------------------------------------
# argument normalisation
# ---------------------------------------------------------------------------

def _np_mode(mode) -> str:
    """numpy.convolve/correlate's mode rules: 'valid', 'same', 'full' or 0, 1, 2."""
    if isinstance(mode, str):
        if mode in _NP_MODES:
            return mode
        if mode and mode[0] in "vVsSfF":
            raise ValueError("Use one of 'valid', 'same', or 'full' for convolve/correlate mode")
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    if isinstance(mode, bool):
        raise TypeError("convolve/correlate mode not understood")
    try:
        m = operator.index(mode)
    except TypeError:
        raise TypeError("convolve/correlate mode not understood") from None
    if not -(2**31) <= m < 2**31:
        raise TypeError("convolve/correlate mode not understood")
    if m not in (0, 1, 2):
        raise ValueError("integer convolve/correlate mode must be 0, 1, or 2")
    return _NP_MODES[m]


def _mode_2d(mode) -> str:
    try:
        _MODES_2D[mode]
    except KeyError:
        raise ValueError("Acceptable mode flags are 'valid', 'same', or 'full'.") from None
    return mode


def _boundary_2d(boundary) -> int:
    try:
        return _BOUNDARIES[boundary]
    except KeyError:
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), "
                         f"and 'symmetric' (or 'symm'); got {boundary!r}.") from None


def _method(method) -> str:
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of 'auto', 'direct', 'fft'; got {method!r}")
    return method


def _inputs_swap_needed(mode, shape1, shape2) -> bool:
    """SciPy's 'valid'-mode rule: the larger input goes first; neither larger is an error."""
    if mode != "valid":
        return False
    ok1 = all(a >= b for a, b in zip(shape1, shape2))
    ok2 = all(b >= a for a, b in zip(shape1, shape2))
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in "
                         f"every dimension (got shapes {tuple(shape1)} and {tuple(shape2)})")
    return not ok1


def _fill_value(fillvalue, dtype: np.dtype):
    """fillvalue as a scalar of dtype, with scipy.signal.convolve2d's conversion rules.

    Arrays must cast safely; Python and NumPy scalars (and sequences) are
    converted like ``numpy.asarray(fillvalue, dtype)``.  When that fails, the
    value is tried as complex (whose own errors propagate) and a ValueError
    says it could not be cast.
    """
    try:
        if isinstance(fillvalue, np.ndarray) and not np.can_cast(fillvalue.dtype, dtype, "safe"):
            raise TypeError("unsafe cast")
        value = np.asarray(fillvalue, dtype=dtype)
    except Exception:  # noqa: BLE001 - any failure takes SciPy's complex route
        tmp = np.asarray(fillvalue, dtype=np.complex128)
        tmp.astype(dtype)  # the same ComplexWarning / RuntimeWarning SciPy emits
        raise ValueError("could not cast `fillvalue` directly to the output type (it was "
                         f"first converted to complex); the output dtype is {dtype}.") from None
    if value.size != 1:
        if value.size == 0:
            raise ValueError("`fillvalue` cannot be an empty array.")
        raise ValueError("`fillvalue` must be scalar or an array with one element "
                         f"(got shape {value.shape}).")
    return value.reshape(())[()]


def _native_1d(dt: np.dtype) -> bool:
    return dt.kind in "biu" or (dt.kind == "f" and dt.itemsize <= 8) or (dt.kind == "c" and dt.itemsize <= 16)


def _native_2d(dt: np.dtype) -> bool:
    return dt.kind in "iu" or dt in (_F32, _F64, _C64, _C128)


# ---------------------------------------------------------------------------
# the engine: a stack of "extended" 2-D cross-correlations
# ---------------------------------------------------------------------------

def _map_index(j: np.ndarray, n: int, boundary: int) -> np.ndarray:
    """Coordinates j of the extended input mapped into [0, n), -1 for the fill value."""
    j = np.asarray(j, dtype=np.int64)
    inside = (j >= 0) & (j < n)
    if boundary == _FILL or n == 0:
        return np.where(inside, j, -1)
    if boundary == _WRAP:
        return np.mod(j, n)
    m = np.where(j >= 0, j, -(j + 1)) % (2 * n)
    return np.where(m >= n, 2 * n - 1 - m, m)


def _extend(x, row0, nrows, col0, ncols, boundary, fill):
    """x (..., H, W) extended to rows row0 + [0, nrows) and columns col0 + [0, ncols).

    The part inside x is one slice copy; only the borders go through index maps.
    """
    H, W = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (nrows, ncols), dtype=x.dtype)
    if H == 0 or W == 0:
        out[...] = fill
        return out
    # rows [ra, rb) and columns [ca, cb) of out lie inside x
    ra = min(max(-row0, 0), nrows)
    rb = max(min(H - row0, nrows), ra)
    ca = min(max(-col0, 0), ncols)
    cb = max(min(W - col0, ncols), ca)
    rows_in = x[..., row0 + ra:row0 + rb, :]
    out[..., ra:rb, ca:cb] = rows_in[..., col0 + ca:col0 + cb]
    for c0, c1 in ((0, ca), (cb, ncols)):
        if c1 > c0:
            if boundary == _FILL:
                out[..., ra:rb, c0:c1] = fill
            else:
                out[..., ra:rb, c0:c1] = rows_in[..., _map_index(np.arange(col0 + c0, col0 + c1), W, boundary)]
    for r0, r1 in ((0, ra), (rb, nrows)):
        if r1 > r0:
            if boundary == _FILL:
                out[..., r0:r1, :] = fill
            else:
                ri = _map_index(np.arange(row0 + r0, row0 + r1), H, boundary)
                ci = _map_index(np.arange(col0, col0 + ncols), W, boundary)
                out[..., r0:r1, :] = x[..., ri[:, None], ci[None, :]]
    return out


def _next_fast_len(n: int) -> int:
    """Smallest 2**a * 3**b * 5**c >= n (lengths numpy.fft transforms fastest)."""
    if n <= 16:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            q = -(-n // p35)  # ceil
            p2 = 1 << (q - 1).bit_length()
            cand = p2 * p35
            if cand < best:
                best = cand
            p35 *= 3
        p5 *= 5
    return best


def _fft_plan(ct, items, out_h, out_w, kh, kw, threads):
    """(estimated FFT seconds, plan) of one extended correlation (see FFT_RULE)."""
    factor = 1.0 if np.dtype(ct).kind == "f" else 2.0
    prec = "float32" if ct in (_F32, _C64) else "float64"
    if out_h == 1 and kh == 1:
        # overlap-save: blocks of n samples give n - kw + 1 outputs each
        n = _next_fast_len(max(8 * kw, 8192))
        n = min(n, _next_fast_len(out_w + kw - 1))
        step = n - kw + 1
        frames = -(-out_w // step)
        chunks = -(-items * frames // _FFT_CHUNK)
        par = max(1, min(threads, chunks))
        cost = FFT_RULE["fft_1d_" + prec] * factor * n * math.log2(max(n, 2)) * (2 * items * frames / par + 1)
        return cost, ("1d", n, step, frames)
    nh = _next_fast_len(out_h + kh - 1)
    nw = _next_fast_len(out_w + kw - 1)
    size = nh * nw
    cost = FFT_RULE["fft_2d_" + prec] * factor * size * math.log2(max(size, 2)) * (2 * items + 1)
    return cost, ("2d", nh, nw)


def _cfft_plan(ct, out_w, kw, threads):
    """(estimated seconds, block length N) of the C overlap-save FFT (signal_fft.c) for
    one real 1-D correlation of out_w outputs and kw taps (see FFT_RULE): batches of
    16 (float32) / 8 (float64) pairs of blocks of N samples, spread over threads; N a
    power of two of at least 2 kw and 64, at most 4 kw rounded up (the cheaper by the
    model, whose cost per butterfly grows with N once a batch leaves L2)."""
    lanes = 16 if ct == _F32 else 8
    unit = FFT_RULE["cfft_1d_" + ct.name]

    def cost(N, nt):
        step = N - kw + 1
        batches = -(-(-(-out_w // step)) // (2 * lanes))
        per_thread = -(-batches // max(1, min(nt, batches)))
        lg = math.log2(N)
        return unit * (1 + FFT_RULE["cfft_cache_step"] * max(0.0, lg - 10)) * per_thread * 2 * lanes * N * lg

    lo = max(64, 1 << (2 * kw - 1).bit_length())
    # N is chosen for one thread: the blocks, and so the bits, must not depend on
    # the thread count
    N = min((lo, max(lo, 1 << (4 * kw - 1).bit_length())), key=lambda n: cost(n, 1))
    return cost(N, threads), N


def _cfft_correlate(x, k, out_w, pad_left, boundary, fill, N, guard):
    """The real 1-D correlation y[i] = sum_j k[j] xe[i + j - pad_left] (x of one row,
    float32 or float64) through the C overlap-save FFT; guard: recompute directly
    the pairs of blocks the accuracy guard rejects (method="auto")."""
    ct = x.dtype
    kw = k.shape[-1]
    xr = np.ascontiguousarray(x.reshape(-1))
    kr = np.ascontiguousarray(k.reshape(-1))
    pad = pad_left
    if boundary != _FILL:
        xr = _extend(x.reshape(1, -1), 0, 1, -pad_left, out_w + kw - 1, boundary, fill).reshape(-1)
        pad, fill = 0, ct.type(0)
    params = (xr.shape[0], pad, kw, out_w, N, int(guard), FFT_GUARD_C)
    bad = np.zeros(_signal.fftcorr1d_pairs(params) if guard else 0, dtype=np.uint8)
    y = np.empty(out_w, dtype=ct)
    if ct == _F32:
        _signal.fftcorr1d_f32(params, xr, kr, float(fill), y, bad)
    else:
        _signal.fftcorr1d_f64(params, xr, kr, float(fill), y, bad)
    return y


def _fold(ct, isa: str, kw: int) -> int:
    """Taps per row of a folded 1-D kernel of kw taps in the C engine (signal.c): one SIMD
    vector of the compute type ct (8 float32 / int32 or 4 float64 at AVX2; 16 / 8 at
    AVX-512 from 4 such rows, 64 / 32 taps: shorter kernels run the AVX2 kernel there);
    0 at the generic level, which does not fold."""
    if isa == "generic":
        return 0
    narrow = 8 if ct in (_F32, _I32) else 4
    return 2 * narrow if isa == "avx512" and kw >= 8 * narrow else narrow


def _fold_min_taps(fold: int) -> int:
    """The fewest taps the C engine folds (``KW >= 4 * fold`` in signal_impl.h); the
    Python side pads kernels from max(32, that) taps up to a multiple of the fold."""
    return max(32, 4 * fold)


def _fold_multiple(kw: int, fold: int) -> int:
    """The multiple of taps a long 1-D kernel is zero-padded to (at most 1/8 more taps,
    and a multiple of the fold), so that the C engine can fold it.  (The multiples above
    the fold were chosen for Karatsuba steps the engine no longer takes; padding to the
    fold alone would change the work done, so it awaits a timed change.)"""
    if kw >= 512:
        return max(64, fold)
    if kw >= 256:
        return max(32, fold)
    if kw >= 128:
        return max(16, fold)
    return max(8, fold)


def _direct_cost(ct, items, out_h, out_w, kh, kw, threads, isa):
    key = "direct_float32" if ct in (_F32, _C64) else "direct_float64"
    factor = 1.0 if np.dtype(ct).kind == "f" else 4.0
    if isa == "generic":
        factor *= 4.0
    elif isa == "avx512":
        factor *= FFT_RULE["direct_avx512_factor_" + ("float32" if ct in (_F32, _C64) else "float64")]
    per_output = FFT_RULE[key] * kh * kw
    fold = _fold(ct, isa, kw)
    if out_h == 1 and kh == 1 and ct in (_F32, _F64) and fold and kw >= _fold_min_taps(fold):
        mult = _fold_multiple(kw, fold)
        per_output = FFT_RULE[key] * (-(-kw // mult) * mult)
    return factor * per_output * items * out_h * out_w / max(threads, 1)


def _pool():
    """A lazily created thread pool for chunked FFTs (numpy.fft releases the GIL).

    Recreated in a forked child, where the parent's worker threads do not exist.
    """
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid():
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=max(2, min(64, os.cpu_count() or 2)),
                                       thread_name_prefix="fastconv-fft")
            _POOL_PID = os.getpid()
        return _POOL


def _fft_correlate(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, plan, threads):
    """The extended correlation through numpy.fft (float and complex only)."""
    kh, kw = k.shape[-2:]
    real = x.dtype.kind == "f" and k.dtype.kind == "f"
    rdt = np.result_type(x.dtype, k.dtype)
    kf = k[..., ::-1, ::-1]  # correlation = convolution with the flipped kernel
    fwd, inv = (np.fft.rfft, np.fft.irfft) if real else (np.fft.fft, np.fft.ifft)
    # Forward transforms run in double precision: numpy.fft's single-precision
    # forward transform is about twice slower than its double one (and less
    # accurate); the inverse runs in the result's precision, where it is fast.
    wide = np.float64 if real else np.complex128
    spec_dt = np.complex64 if rdt in (_F32, _C64) else np.complex128
    if plan[0] == "1d":
        _, n, step, frames = plan
        kf = np.broadcast_to(kf, batch + kf.shape[-2:]).reshape(-1, kw)
        items = kf.shape[0]
        total = (frames - 1) * step + n
        length = out_w + kw - 1
        # the extended signals, zero-padded to whole blocks
        ext = np.zeros((items, total), dtype=x.dtype)
        dst = ext[:, :length].reshape(batch + (1, length))
        if boundary == _FILL and x.shape[-2] == 1 and x.shape[-1] > 0:
            # one slice copy: the signal, and the fill value around it
            lo, hi = min(max(pad_left, 0), length), max(min(pad_left + x.shape[-1], length), 0)
            dst[..., :lo] = fill
            dst[..., max(hi, lo):] = fill
            if hi > lo:
                dst[..., lo:hi] = x[..., lo - pad_left:hi - pad_left]
        else:
            dst[...] = _extend(x, -pad_top, 1, -pad_left, length, boundary, fill)
        st = ext.strides
        # frame f of item i: samples f * step + [0, n)
        fr = np.lib.stride_tricks.as_strided(ext, shape=(items, frames, n),
                                             strides=(st[0], step * st[1], st[1]), writeable=False)
        spec_k = fwd(kf.astype(wide, copy=False), n=n, axis=-1)
        y = np.empty((items, frames, step), dtype=rdt)

        def work(sl):
            i, f0, f1 = sl
            spec = fwd(fr[i, f0:f1].astype(wide), n=n, axis=-1)
            spec *= spec_k[i]
            blocks = inv(spec.astype(spec_dt, copy=False), n=n, axis=-1)
            # circular convolution: samples kw - 1 .. n - 1 of each block are linear
            y[i, f0:f1] = blocks[:, kw - 1:]

        jobs = [(i, f0, min(frames, f0 + _FFT_CHUNK)) for i in range(items)
                for f0 in range(0, frames, _FFT_CHUNK)]
        if threads > 1 and len(jobs) > 1:
            # at most `threads` workers, each running a contiguous share of the jobs
            parts = min(threads, len(jobs))
            shares = [jobs[i * len(jobs) // parts:(i + 1) * len(jobs) // parts] for i in range(parts)]
            list(_pool().map(lambda share: [work(job) for job in share], shares))
        else:
            for job in jobs:
                work(job)
        out = y.reshape(items, frames * step)[:, :out_w]
        return out.reshape(batch + (1, out_w))
    _, nh, nw = plan
    e = _extend(x, -pad_top, out_h + kh - 1, -pad_left, out_w + kw - 1, boundary, fill)
    f2, i2 = (np.fft.rfft2, np.fft.irfft2) if real else (np.fft.fft2, np.fft.ifft2)
    # (not in place: the kernel stack may broadcast the image stack up)
    spec = f2(e.astype(wide), s=(nh, nw)) * f2(kf.astype(wide), s=(nh, nw))
    full = i2(spec.astype(spec_dt, copy=False), s=(nh, nw))
    y = full[..., kh - 1:kh - 1 + out_h, kw - 1:kw - 1 + out_w]
    return np.broadcast_to(y, batch + (out_h, out_w)).astype(rdt, copy=False)


def _taps_loop(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype):
    """The extended correlation as a NumPy loop over kernel taps (dtypes C lacks)."""
    kh, kw = k.shape[-2:]
    e = _extend(x.astype(dtype, copy=False), -pad_top, out_h + kh - 1, -pad_left,
                out_w + kw - 1, boundary, fill)
    k = k.astype(dtype, copy=False)
    out = np.zeros(batch + (out_h, out_w), dtype=dtype)
    for r in range(kh):
        for s in range(kw):
            out += k[..., r, s, None, None] * e[..., r:r + out_h, s:s + out_w]
    return out


def _plane_index(shape, batch):
    n = math.prod(shape)
    return np.broadcast_to(np.arange(n, dtype=np.intp).reshape(shape), batch).ravel()


def _c_correlate(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, ct):
    """The extended correlation on the C engine; x, k already of compute type ct."""
    H, W = x.shape[-2:]
    kh, kw = k.shape[-2:]
    items = math.prod(batch)
    xi = _plane_index(x.shape[:-2], batch)
    ki = _plane_index(k.shape[:-2], batch)
    if ct.kind == "c":
        # One group per complex plane: channels = its real and imaginary parts
        # (read in place, column stride 2), outputs = the real part
        # re*kr - im*ki and the imaginary part re*ki + im*kr, written straight
        # into the complex result (interleaved).  Kernels: [real, -imag, imag].
        rt = _F32 if ct == _C64 else _F64
        xr = np.ascontiguousarray(x).view(rt)
        kk = np.ascontiguousarray(np.stack([k.real, -k.imag, k.imag], axis=-3), dtype=rt)
        kk_size = kh * kw
        xo = xi * (2 * H * W)
        x_off = np.stack([xo, xo + 1], axis=-1)
        kb = ki * (3 * kk_size)
        k_off = np.stack([kb, kb + kk_size, kb + 2 * kk_size, kb], axis=-1)
        fl = np.array([np.real(fill), np.imag(fill)], dtype=rt)
        out = np.empty(batch + (out_h, out_w), dtype=ct)
        geom = (items, 2, 2, H, W, 2 * W, 2, kh, kw, out_h, out_w, pad_top, pad_left, boundary, 1)
        _call(rt, geom, xr.reshape(-1), x_off.reshape(-1), kk.reshape(-1), k_off.reshape(-1), fl,
              out.reshape(-1).view(rt))
        return out
    fold = _fold(ct, _active_isa(), kw) if ct in (_F32, _F64, _I32) else 0
    mult = _fold_multiple(kw, fold)
    if (fold and out_h == 1 and kh == 1 and kw >= _fold_min_taps(fold) and kw % mult and x.size
            and (ct == _I32 or (_finite(x) and _finite(k)
                                and (boundary != _FILL or np.isfinite(fill))))):
        # The C engine runs a 1-D kernel whose length is a multiple of the fold
        # (one SIMD vector of taps, see _fold) as a folded 2-D correlation
        # (1.5x faster).  Zero taps appended to the kernel read samples past
        # each window (integers or finite floats, so they add exact zeros) and
        # change no output.
        kw2 = -(-kw // mult) * mult
        k = np.concatenate([k, np.zeros(k.shape[:-1] + (kw2 - kw,), dtype=k.dtype)], axis=-1)
        kw = kw2
    xc = np.ascontiguousarray(x, dtype=ct)
    kc = np.ascontiguousarray(k, dtype=ct)
    fl = np.array([fill], dtype=ct)
    y = np.empty(batch + (out_h, out_w), dtype=ct)
    geom = (items, 1, 1, H, W, W, 1, kh, kw, out_h, out_w, pad_top, pad_left, boundary, 0)
    _call(ct, geom, xc.reshape(-1), xi * (H * W), kc.reshape(-1), ki * (kh * kw), fl, y.reshape(-1))
    return y


def _finite(a) -> bool:
    """Every value of the real array a is finite: its min and max are (they propagate
    NaN).  Two fast reductions, no temporary array."""
    return a.size == 0 or bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def _active_isa() -> str:
    from . import _dispatch

    return _dispatch.get_isa()


def _call(ct, geom, x, x_off, k, k_off, fill, y):
    if ct == _F32:
        _signal.corr2d_f32(geom, x, x_off, k, k_off, fill, y)
    elif ct == _F64:
        _signal.corr2d_f64(geom, x, x_off, k, k_off, fill, y)
    elif ct == _I32:
        _signal.corr2d_i32(geom, x, x_off, k, k_off, fill, y)
    else:
        _signal.corr2d_i64(geom, x, x_off, k, k_off, fill, y)


def _correlate_stack(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype, method):
    """out[b] = sum_{r,s} k[b][r, s] * xe[b](oh - pad_top + r, ow - pad_left + s), in dtype.

    x (..., H, W) and k (..., kh, kw) broadcast to ``batch``; xe is x extended
    by ``boundary`` (with ``fill``, a scalar of ``dtype``).  Integer dtypes wrap
    around exactly; bool is "any".
    """
    H, W = x.shape[-2:]
    kh, kw = k.shape[-2:]
    shape = batch + (out_h, out_w)
    if out_h == 0 or out_w == 0 or math.prod(batch) == 0:
        return np.zeros(shape, dtype=dtype)
    if kh == 0 or kw == 0:
        return np.zeros(shape, dtype=dtype)  # a sum over no tap
    if boundary != _FILL and (H == 0 or W == 0):
        raise ValueError("boundary 'wrap' and 'symm' need a non-empty input to wrap or "
                         f"reflect (got an input of shape {x.shape[-2:]})")
    if dtype.kind in "iub":
        # exact modulo 2**32 (results of at most 32 bits) or 2**64
        ct = _I32 if dtype.itemsize <= 4 else _I64
        fill_c = np.asarray(fill).astype(ct)
        out = _c_correlate(x.astype(ct, copy=False), k.astype(ct, copy=False), batch,
                           out_h, out_w, pad_top, pad_left, boundary, fill_c, ct)
        if dtype.kind == "b":
            return out != 0
        return out.astype(dtype, copy=False)
    if dtype.kind == "f" and dtype.itemsize == 2:
        out = _correlate_stack(x.astype(_F32), k.astype(_F32), batch, out_h, out_w, pad_top,
                               pad_left, boundary, np.float32(fill), _F32, method)
        return out.astype(dtype)
    if dtype not in (_F32, _F64, _C64, _C128):
        return _taps_loop(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype)

    x = x.astype(dtype, copy=False)
    k = k.astype(dtype, copy=False)
    if method != "direct":
        from . import _dispatch, _threads

        items = math.prod(batch)
        threads = _threads.get_num_threads()
        own = dtype in (_F32, _F64) and out_h == 1 and kh == 1 and items == 1 and x.shape[-2] == 1
        if own:
            # one real signal: the C overlap-save FFT unless its workspace would
            # be too large, and for method="fft" unless numpy.fft's blocks are
            # cheaper (a few very long blocks leave most SIMD lanes idle); the
            # choice is made for one thread, so that the bits do not depend on
            # the thread count
            own_cost, n_fft = _cfft_plan(dtype, out_w, kw, 1)
            lanes = 16 if dtype == _F32 else 8
            own = n_fft * (2 * lanes + 1) * dtype.itemsize * max(threads, 1) <= _CFFT_MAX_BYTES
            if method == "fft":
                own = own and own_cost <= _fft_plan(dtype, 1, 1, out_w, 1, kw, 1)[0]
        if own:
            # "auto" compares the costs on one thread too (the choice, and so the
            # bits, must not depend on the thread count); its guard recomputes
            # directly every output it cannot vouch for (non-finite values
            # included), so no finiteness test is needed first.
            use_fft = method == "fft" or (
                kw >= FFT_RULE["cfft_min_taps"]
                and own_cost < _direct_cost(dtype, items, out_h, out_w, kh, kw, 1,
                                            _dispatch.get_isa()))
            if use_fft:
                y = _cfft_correlate(x, k, out_w, pad_left, boundary, fill, n_fft, method == "auto")
                return y.reshape(batch + (1, out_w))
            return _c_correlate(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype)
        fft_cost, plan = _fft_plan(dtype, items, out_h, out_w, kh, kw, threads)
        use_fft = method == "fft"
        if method == "auto":
            direct = _direct_cost(dtype, items, out_h, out_w, kh, kw, threads, _dispatch.get_isa())
            use_fft = (fft_cost < direct and _all_finite(x) and _all_finite(k)
                       and (boundary != _FILL or np.isfinite(fill)))
        if use_fft:
            return _fft_correlate(x, k, batch, out_h, out_w, pad_top, pad_left, boundary,
                                  fill, plan, threads).astype(dtype, copy=False)
    return _c_correlate(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype)


# ---------------------------------------------------------------------------
# NumPy's 1-D functions
# ---------------------------------------------------------------------------

def _numpy_correlate(x, y, mode, dtype, method):
    """NumPy's correlation core: len(x) >= len(y) >= 1, no conjugation, no swap."""
    n1, n = x.shape[0], y.shape[0]
    if mode == "valid":
        pad, out_w = 0, n1 - n + 1
    elif mode == "same":
        pad, out_w = n // 2, n1
    else:
        pad, out_w = n - 1, n1 + n - 1
    out = _correlate_stack(x.reshape(1, n1), y.reshape(1, n), (), 1, out_w, 0, pad, _FILL,
                           dtype.type(0), dtype, method).reshape(out_w)
    if pad and dtype.kind in "fc":
        # NumPy sums only the products of overlapping samples, while the
        # engine also multiplies the zeros beyond the ends of x: an inf/NaN tap
        # there gives 0 * inf = NaN.  Such a product makes its output
        # non-finite, so only non-finite border outputs (at most n - 1 on each
        # side) can differ; they are summed again over their overlap alone.
        border = np.r_[0:min(pad, out_w), max(pad, n1 - n + pad + 1):out_w]
        redo = border[~np.isfinite(out[border])]
        if redo.size:
            x = x.astype(dtype, copy=False)
            y = y.astype(dtype, copy=False)
            for j in redo.tolist():
                lo = j - pad  # the sample of x under y[0]
                t0, t1 = max(0, -lo), min(n, n1 - lo)
                out[j] = np.dot(x[lo + t0:lo + t1], y[t0:t1]) if t1 > t0 else 0
    return out


def convolve(a, v, mode="full", *, method="auto"):
    """Discrete linear convolution of two 1-D sequences: ``numpy.convolve``.

    Same signature, result (values, dtype, shape) and errors as
    ``numpy.convolve(a, v, mode)``: the longer input comes first, scalars are
    1-element sequences, empty inputs raise ``ValueError``; integer and bool
    results are exact in NumPy's result dtype (with its wrap-around).

    Parameters
    ----------
    a, v : array_like, 1-D
        Input sequences.
    mode : {'full', 'valid', 'same'} or {2, 0, 1}, optional
        'full': every overlap (length ``len(a) + len(v) - 1``); 'same': length
        ``max(len(a), len(v))``, centred as NumPy centres it; 'valid': only full
        overlaps.
    method : {'auto', 'direct', 'fft'}, keyword-only
        See the module documentation; 'auto' may use an FFT for long float
        kernels.

    Returns
    -------
    ndarray
        Of dtype ``numpy.result_type(a, v)``.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    a = np.array(a, copy=None, ndmin=1)
    v = np.array(v, copy=None, ndmin=1)
    if len(a) == 0:
        raise ValueError("a cannot be empty")
    if len(v) == 0:
        raise ValueError("v cannot be empty")
    if len(v) > len(a):
        a, v = v, a
    mode = _np_mode(mode)
    method = _method(method)
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"object too deep for desired array: convolve needs 1-D inputs "
                         f"(got shapes {a.shape} and {v.shape})")
    dtype = np.result_type(a, v)
    if not _native_1d(dtype):
        return np.convolve(a, v, mode=mode)
    return _numpy_correlate(a, v[::-1], mode, dtype, method)


def correlate(a, v, mode="valid", *, method="auto"):
    """Cross-correlation of two 1-D sequences: ``numpy.correlate``.

    ``c[k] = sum_n a[n + k] * conj(v[n])``, with NumPy's signature, result
    (values, dtype, shape) and errors, including its rule for a shorter ``a``
    (the time-reversed, conjugated correlation of the swapped inputs).

    Parameters
    ----------
    a, v : array_like, 1-D
    mode : {'valid', 'same', 'full'} or {0, 1, 2}, optional
    method : {'auto', 'direct', 'fft'}, keyword-only

    Returns
    -------
    ndarray
        Of dtype ``numpy.result_type(a, v)``.

    Examples
    --------
    >>> import fastconv
    >>> fastconv.correlate([1, 2, 3], [0, 1, 0.5], "full")
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    mode = _np_mode(mode)
    method = _method(method)
    a = np.asarray(a)
    v = np.asarray(v)
    for arr in (a, v):
        if arr.ndim == 0:
            raise ValueError("object of too small depth for desired array: correlate needs "
                             "1-D inputs (got a scalar)")
        if arr.ndim > 1:
            raise ValueError(f"object too deep for desired array: correlate needs 1-D inputs "
                             f"(got shape {arr.shape})")
    dtype = np.result_type(a, v)
    if not _native_1d(dtype):
        return np.correlate(a, v, mode=mode)
    if len(a) == 0:
        raise ValueError("first array argument cannot be empty")
    if len(v) == 0:
        raise ValueError("second array argument cannot be empty")
    if dtype.kind == "c":
        v = np.conjugate(v.astype(dtype, copy=False))
    if len(a) < len(v):
        return _numpy_correlate(v, a, mode, dtype, method)[::-1].copy()
    return _numpy_correlate(a, v, mode, dtype, method)


# ---------------------------------------------------------------------------
# SciPy's 2-D functions and the batched filter
# ---------------------------------------------------------------------------

def _filter_core(x, k, mode, boundary, fillvalue, flip, method, batch, what):
    """scipy.signal's 2-D convolve2d (flip) / correlate2d core on broadcast stacks.

    x is the (possibly swapped) first input, k the second, already conjugated
    for a correlation.
    """
    dtype = np.result_type(x, k)
    fill = _fill_value(fillvalue, dtype) if boundary == _FILL else dtype.type(0)
    H, W = x.shape[-2:]
    kh, kw = k.shape[-2:]
    if mode == "full":
        out_h, out_w = H + kh - 1, W + kw - 1
        pad_top, pad_left = kh - 1, kw - 1
    elif mode == "same":
        out_h, out_w = H, W
        pad_top, pad_left = ((kh // 2, kw // 2) if flip else ((kh - 1) // 2, (kw - 1) // 2))
    else:
        out_h, out_w = H - kh + 1, W - kw + 1
        pad_top, pad_left = 0, 0
    if out_h < 0 or out_w < 0:
        raise ValueError(f"negative dimensions are not allowed: the {mode!r} output of inputs "
                         f"of shapes {(H, W)} and {(kh, kw)} would be {(out_h, out_w)}")
    if not (_native_2d(dtype) or dtype.kind in "fc" and dtype.itemsize > 8):
        raise ValueError(f"{what} not available for this type: {dtype} (SciPy supports "
                         "integers, float32, float64, longdouble and complex)")
    if flip:
        k = k[..., ::-1, ::-1]
    return _correlate_stack(x, k, batch, out_h, out_w, pad_top, pad_left, boundary, fill, dtype,
                            method)


def _two_d(in1, in2, mode, boundary, fillvalue, method, flip, what):
    in1 = np.asarray(in1)
    in2 = np.asarray(in2)
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{what} inputs must both be 2-D arrays (got shapes {in1.shape} and "
                         f"{in2.shape})")
    swap = _inputs_swap_needed(mode, in1.shape, in2.shape)
    if swap:
        in1, in2 = in2, in1
    mode = _mode_2d(mode)
    boundary = _boundary_2d(boundary)
    method = _method(method)
    if not flip:
        in2 = in2.conj()
    out = _filter_core(in1, in2, mode, boundary, fillvalue, flip, method, (), what)
    if swap and not flip:
        out = np.ascontiguousarray(out[::-1, ::-1])
    return out


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="auto"):
    """Convolve two 2-D arrays: ``scipy.signal.convolve2d``.

    Same signature, result (values, dtype, shape) and errors as SciPy: integer
    inputs give exact integer results in SciPy's dtype (with its wrap-around),
    complex inputs and a complex ``fillvalue`` work, bool and float16 raise
    ``ValueError`` as SciPy does.

    Parameters
    ----------
    in1, in2 : array_like, 2-D
    mode : {'full', 'valid', 'same'}, optional
        'same' has the shape of ``in1``, centred on the 'full' output.  In
        'valid' mode one input must be at least as large as the other in every
        dimension (they are swapped when ``in2`` is the larger).
    boundary : {'fill', 'wrap', 'symm'}, optional
        Pad with ``fillvalue``, wrap around periodically, or mirror with the
        edge repeated (also 'pad', 'circular', 'symmetric').  Kernels larger
        than the input wrap and mirror repeatedly, as in SciPy.
    fillvalue : scalar, optional
        Value outside ``in1`` for 'fill'; converted as SciPy converts it.
    method : {'auto', 'direct', 'fft'}, keyword-only
        See the module documentation.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> img = np.arange(16.0).reshape(4, 4)
    >>> fastconv.convolve2d(img, np.ones((3, 3)) / 9, mode="same", boundary="symm").shape
    (4, 4)
    """
    return _two_d(in1, in2, mode, boundary, fillvalue, method, True, "convolve2d")


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, method="auto"):
    """Cross-correlate two 2-D arrays: ``scipy.signal.correlate2d``.

    ``in2`` is conjugated; see :func:`convolve2d` for the arguments.  When
    'valid' mode swaps the inputs the result is reversed in both axes, as in
    SciPy.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.correlate2d(np.eye(3), np.ones((2, 2)), mode="valid")
    array([[2., 1.],
           [1., 2.]])
    """
    return _two_d(in1, in2, mode, boundary, fillvalue, method, False, "correlate2d")


def filter2d(images, kernel, mode="same", boundary="fill", fillvalue=0, *, convolve=False,
             method="auto"):
    """Filter every image of a stack with a 2-D kernel (or a stack of kernels) at once.

    ``out[i] = correlate2d(images[i], kernel[i], mode, boundary, fillvalue)``
    (``convolve2d`` with ``convolve=True``) for every index ``i`` of the
    broadcast leading dimensions, computed in one parallel C call.

    Parameters
    ----------
    images : array_like, shape (..., H, W)
    kernel : array_like, shape (..., kH, kW)
        Its leading dimensions broadcast against those of ``images`` (one
        kernel for all images, one per image, every kernel for every image
        with ``kernel[:, None]``, ...).
    mode, boundary, fillvalue : as in :func:`correlate2d` (default mode 'same').
    convolve : bool, keyword-only
        Convolve (flip the kernel) instead of correlating.
    method : {'auto', 'direct', 'fft'}, keyword-only

    Returns
    -------
    ndarray, shape (broadcast leading dims..., out_h, out_w)
        SciPy's dtype for the pair (integers stay integers).

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> stack = np.random.default_rng(0).random((8, 64, 64), dtype=np.float32)
    >>> g = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float32) / 256
    >>> fastconv.filter2d(stack, g, boundary="symm").shape
    (8, 64, 64)
    """
    x = np.asarray(images)
    k = np.asarray(kernel)
    batch = _filter2d_batch(x.shape, k.shape)
    swap = _inputs_swap_needed(mode, x.shape[-2:], k.shape[-2:])
    if swap:
        x, k = k, x
    mode = _mode_2d(mode)
    boundary = _boundary_2d(boundary)
    method = _method(method)
    flip = bool(convolve)
    if not flip:
        k = k.conj()
    out = _filter_core(x, k, mode, boundary, fillvalue, flip, method, tuple(batch), "filter2d")
    if swap and not flip:
        out = np.ascontiguousarray(out[..., ::-1, ::-1])
    return out
